"""The GCS lake against fake-gcs-server: fail-fast settings and all-or-nothing uploads."""

import base64
import json

import dagster as dg
import pytest

from taxi_pipeline.defs.lake.files import atomic_writer, publish
from taxi_pipeline.defs.lake.io_managers import written_file_metadata
from taxi_pipeline.defs.lake.resources import GCSLake
from taxi_pipeline.settings import SettingError

pytestmark = pytest.mark.gcp


def setup(lake: GCSLake) -> None:
    with dg.build_resources({"lake": lake}) as resources:
        resources.lake.root()


def test_bucket_root_is_a_gs_path(gcp_names):
    root = GCSLake(bucket=gcp_names["GCS_BUCKET"]).root()

    assert str(root / "data/green/x.parquet") == f"gs://{gcp_names['GCS_BUCKET']}/data/green/x.parquet"


def test_missing_bucket_fails_naming_the_setting(gcp_servers):
    with pytest.raises(dg.DagsterResourceFunctionError) as raised:
        setup(GCSLake(bucket="no-such-bucket"))

    assert isinstance(raised.value.__cause__, SettingError)
    assert str(raised.value.__cause__) == "GCS bucket 'no-such-bucket' (GCS_BUCKET) does not exist"


def test_bad_base64_key_names_the_setting_not_the_value(gcp_names):
    with pytest.raises(SettingError, match="GCP_CREDENTIALS_B64 is not a base64") as raised:
        GCSLake(bucket=gcp_names["GCS_BUCKET"], gcp_credentials="c2VjcmV0LXZhbHVl!").root()

    assert "c2VjcmV0" not in str(raised.value)


def test_base64_key_is_used_instead_of_adc(gcp_names, gcp_servers, monkeypatch):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    encoded = base64.b64encode(json.dumps(gcp_servers.key).encode()).decode()
    lake = GCSLake(bucket=gcp_names["GCS_BUCKET"], gcp_credentials=encoded)

    setup(lake)
    path = lake.root() / "probe.txt"
    path.write_bytes(b"ok")

    assert path.read_bytes() == b"ok"


def test_failed_write_leaves_the_previous_object(gcp_names, gcp_servers):
    path = GCSLake(bucket=gcp_names["GCS_BUCKET"]).root() / "data/green/green_tripdata_2020-04.parquet"
    path.write_bytes(b"previous complete file")

    with pytest.raises(RuntimeError):
        with atomic_writer(path) as f:
            f.write(b"x" * (8 << 20))  # more than one upload chunk
            raise RuntimeError("crash mid-write")

    assert path.read_bytes() == b"previous complete file"
    objects = list((gcp_servers.gcs_root / gcp_names["GCS_BUCKET"]).rglob("*"))
    assert [p.name for p in objects if p.is_file()] == ["green_tripdata_2020-04.parquet"]


def test_upload_streams_a_local_file_and_reports_uri_and_console(gcp_names, tmp_path):
    local = tmp_path / "raw.csv.gz"
    local.write_bytes(b"z" * 1000)
    path = GCSLake(bucket=gcp_names["GCS_BUCKET"]).root() / "raw/green/green_tripdata_2020-04.csv.gz"

    publish(local, path)

    assert path.read_bytes() == b"z" * 1000 and not local.exists()
    metadata = written_file_metadata(path)
    assert metadata["bytes"].value == 1000
    assert metadata["uri"].value == f"gs://{gcp_names['GCS_BUCKET']}/raw/green/green_tripdata_2020-04.csv.gz"
    assert metadata["console"].value.endswith(
        f"/_details/{gcp_names['GCS_BUCKET']}/raw/green/green_tripdata_2020-04.csv.gz"
    )
