"""No secret in the event log, the instance's files, the CLI output or the UI's snapshot; URLs and
paths built only from a partition's fixed color and month; servers on 127.0.0.1."""

import base64
import json
import re
from datetime import date

import pytest

from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.defs.warehouse.postgres import _redacted
from taxi_pipeline.partitions import split_partition_key
from taxi_pipeline.settings import SettingError, Settings, redact_url
from taxi_pipeline_tests.support.files import files_holding
from taxi_pipeline_tests.support.http_server import serve
from taxi_pipeline_tests.support.runs import PROJECT_DIR, cli_env, materialize_command, run_cli

pytestmark = pytest.mark.faults

SECRETS = {
    # percent-encoded in the URL, as the README asks: neither form may appear
    "password": "s3cret%2FTOKEN%40pw",
    "password_decoded": "s3cret/TOKEN@pw",
    "webhook": "whk-TOKEN-4b1d",
    "gcp": base64.b64encode(json.dumps({"type": "service_account", "private_key": "gcp-TOKEN-key"}).encode()).decode(),
}


@pytest.mark.cli
def test_planted_secrets_appear_nowhere_after_a_success_and_a_failure(tmp_path, release_url):
    secret_url = release_url.replace("http://", f"http://reader:{SECRETS['password']}@")
    env = cli_env(
        tmp_path,
        secret_url,
        TAXI_WEBHOOK_URL=f"http://127.0.0.1:9/hooks/{SECRETS['webhook']}",
        GCP_CREDENTIALS_B64=SECRETS["gcp"],
    )
    success = run_cli(materialize_command("fhv|2019-01-01"), env)
    failure = run_cli(materialize_command("fhv|2021-07-01"), env)  # 404: the error names the URL

    assert success.returncode == 0, success.stderr[-3000:]
    assert failure.returncode != 0
    assert "fhv 2021-07 is not published: http://***@127.0.0.1:" in failure.stderr + failure.stdout
    home = tmp_path / "dagster_home"
    assert list(home.rglob("*.db"))  # the run and event storage that the UI reads
    for name, secret in SECRETS.items():
        for text in (success.stdout, success.stderr, failure.stdout, failure.stderr):
            assert secret not in text, name
        assert files_holding(home, secret) == [], name  # events, metadata, errors, stack traces, logs


# Passwords with a character that must be percent-encoded in a URL, left unencoded: each makes
# the URL parse as another host, port or path, which redaction by urlsplit used to show in full.
UNENCODED = {
    "/": "Ld/s3cret-TOKEN",
    "#": "Ld#s3cret-TOKEN",
    "?": "Ld?s3cret-TOKEN",
    "@": "Ld@s3cret-TOKEN",
}
SETTING_URLS = {
    "TAXI_SOURCE_URL": "http://reader:{password}@127.0.0.1:8000/release",
    "TAXI_POSTGRES_URL": "postgresql://taxi_loader:{password}@127.0.0.1:48011/taxi",
}


def assert_shows_no_part(text: str, password: str) -> None:
    for part in (password, "s3cret-TOKEN", "Ld", "taxi_loader", "reader"):
        assert part not in text, (part, text)


@pytest.mark.parametrize("setting", sorted(SETTING_URLS))
@pytest.mark.parametrize("char", sorted(UNENCODED))
def test_an_unencoded_password_is_refused_naming_the_setting_and_no_part_of_it(setting, char, tmp_path):
    password = UNENCODED[char]
    url = SETTING_URLS[setting].format(password=password)
    env = {setting: url, "TAXI_LAKE_DIR": str(tmp_path / "lake")}
    if setting == "TAXI_POSTGRES_URL":
        env["TAXI_WAREHOUSE"] = "postgres"

    with pytest.raises(SettingError) as raised:
        Settings.from_environment(env)

    message = str(raised.value)
    assert message.startswith(f"{setting} does not parse as one URL: expected ")
    assert "percent-encoded" in message and "%2F" in message
    assert_shows_no_part(message, password)


def test_redaction_replaces_the_whole_user_info_and_leaves_other_text_alone():
    # Replacing the password's text elsewhere turned taxi_admin into ta***i_admin, and showed the password.
    url = "postgresql://taxi_admin:x@127.0.0.1:5432/taxi"
    text = f'role "taxi_admin" failed on {url}; next: taxi_admin'

    assert _redacted(text, url) == 'role "taxi_admin" failed on postgresql://***@127.0.0.1:5432/taxi; next: taxi_admin'
    for password in UNENCODED.values():
        assert redact_url(f"postgresql://taxi_loader:{password}@127.0.0.1:48011/taxi") == (
            "postgresql://***@127.0.0.1:48011/taxi"
        )


@pytest.mark.cli
def test_planted_unencoded_passwords_appear_nowhere_in_the_outputs_or_dagster_home(tmp_path, release_url):
    source_password, postgres_password = UNENCODED["/"], UNENCODED["@"].replace("Ld", "Pg")
    source_url = release_url.replace("http://", f"http://reader:{source_password}@")
    postgres_url = SETTING_URLS["TAXI_POSTGRES_URL"].format(password=postgres_password)
    for name in ("source", "postgres"):
        (tmp_path / name).mkdir()

    runs = [
        run_cli(materialize_command("fhv|2019-01-01"), cli_env(tmp_path / "source", source_url)),
        run_cli(
            materialize_command("fhv|2019-01-01"),
            cli_env(tmp_path / "postgres", release_url, TAXI_WAREHOUSE="postgres", TAXI_POSTGRES_URL=postgres_url),
        ),
    ]

    for run, setting in zip(runs, ("TAXI_SOURCE_URL", "TAXI_POSTGRES_URL"), strict=True):
        assert run.returncode != 0
        assert f"{setting} does not parse as one URL" in run.stdout + run.stderr, run.stderr[-3000:]
    for secret in (source_password, postgres_password, "s3cret-TOKEN"):
        for run in runs:
            assert secret not in run.stdout + run.stderr
        for home in (tmp_path / "source" / "dagster_home", tmp_path / "postgres" / "dagster_home"):
            assert files_holding(home, secret) == []


def test_the_ui_shows_setting_names_not_values(monkeypatch):
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    from taxi_pipeline.definitions import build_definitions
    from taxi_pipeline.settings import Settings

    monkeypatch.setenv("TAXI_SOURCE_URL", f"https://reader:{SECRETS['password']}@example.org/releases")
    monkeypatch.setenv("TAXI_WEBHOOK_URL", f"https://hooks.example.org/{SECRETS['webhook']}")
    repository = build_definitions(Settings.from_environment()).get_repository_def()

    snapshot = serialize_value(RepositorySnap.from_def(repository))  # what the UI is served

    assert SECRETS["password"] not in snapshot and SECRETS["webhook"] not in snapshot
    assert "TAXI_SOURCE_URL" in snapshot and "TAXI_WEBHOOK_URL" in snapshot


@pytest.mark.parametrize(
    "key",
    [
        "green/../../etc|2020-04-01",
        "../green|2020-04-01",
        "green|2020-04-01/../../x",
        "green|../2020-04-01",
        "green|2020-04-01?x=1",
        "green|2020-04-01#x",
        "gr%2Feen|2020-04-01",
        "green|20200401",
    ],
)
def test_a_malformed_partition_key_cannot_add_path_segments(key):
    source = TripSourceResource(base_url="https://example.org/releases")
    try:
        color, month = split_partition_key(key)
        url = source.file_url(color, month)
    except ValueError:
        return  # refused
    assert re.fullmatch(r"https://example.org/releases/(yellow|green|fhv)/\1_tripdata_\d{4}-\d{2}\.csv\.gz", url)


def test_urls_take_only_the_color_and_the_month():
    source = TripSourceResource(base_url="https://example.org/releases/")

    assert source.file_url("fhv", date(2020, 2, 29)) == "https://example.org/releases/fhv/fhv_tripdata_2020-02.csv.gz"


def test_servers_bind_to_127_0_0_1():
    server, url = serve(object)
    try:
        assert server.server_address[0] == "127.0.0.1" and url.startswith("http://127.0.0.1:")
    finally:
        server.server_close()
    makefile = (PROJECT_DIR / "Makefile").read_text()
    # Every UI target runs $(UI), and nothing else starts a webserver.
    [ui] = [line for line in makefile.splitlines() if line.startswith("UI :=")]
    assert "$(DG) dev" in ui and "-h 127.0.0.1" in ui
    starts = [line for line in makefile.splitlines() if "dagster dev" in line or "$(DG) dev" in line]
    assert starts == [ui]
    # No test or helper binds to every interface; the Dockerfile's code server binds 0.0.0.0
    # inside its container on purpose, and is not started here.
    for path in (PROJECT_DIR / "taxi_pipeline_tests").rglob("*.py"):
        if path.name != "test_security.py":
            assert "0.0.0.0" not in path.read_text() or "defaults are https on 0.0.0.0" in path.read_text(), path


@pytest.mark.cli
@pytest.mark.postgres
def test_a_refused_postgres_password_with_encoded_specials_appears_nowhere(tmp_path, release_url, postgres_url):
    # A wrong password, percent-encoded as the README asks: libpq's refusal is shown, the password never.
    encoded, decoded = "Wr%2Fong%40s3cret-TOKEN", "Wr/ong@s3cret-TOKEN"
    user_info = postgres_url.split("//")[1].rpartition("@")[0]
    url = postgres_url.replace(user_info, f"taxi_loader:{encoded}")
    env = cli_env(tmp_path, release_url, TAXI_WAREHOUSE="postgres", TAXI_POSTGRES_URL=url)

    run = run_cli(materialize_command("fhv|2019-01-01"), env)

    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "warehouse_trips failed: cannot connect to the Postgres warehouse taxi_loader@127.0.0.1:" in output
    assert 'password authentication failed for user "taxi_loader"' in output
    for secret in (encoded, decoded, "s3cret-TOKEN"):
        assert secret not in output
        assert files_holding(tmp_path / "dagster_home", secret) == []
