"""A Docker engine and the images the deployment tests need, on a machine that reaches no
container registry: `dockerd` started when none answers (and stopped after), a Debian bookworm
base made by debootstrap and `docker import`, the project's image built on it by
deploy/build-image.sh, and a Postgres stand-in (taxi_pipeline_tests/support/postgres_image/). Every
image is tagged by a hash of what it is made from, so a second session reuses it at once. A
session with docker tests starts all this in a thread as soon as its tests are collected
(taxi_pipeline_tests/deploy/conftest.py), so that a cold build overlaps the tests before them."""

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from taxi_pipeline_tests.support.processes import log_tail, wait_until_ready
from taxi_pipeline_tests.support.runs import PROJECT_DIR

SUITE = "bookworm"
# Python 3.11 with venv for the project's image; PostgreSQL 15 for the stand-in of the public
# postgres image. One base for both: one debootstrap (~1 min).
BASE_PACKAGES = ("python3", "python3-venv", "postgresql")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
POSTGRES_STANDIN = PROJECT_DIR / "taxi_pipeline_tests" / "support" / "postgres_image"
INSTALL_HINT = (
    "the docker tests need a Docker engine, debootstrap and compose: as root, "
    "apt-get install docker.io debootstrap docker-compose && dockerd &"
)


def docker(*args: str, timeout: float = 900, stdin=None) -> str:
    """`docker ARGS`'s output; RuntimeError with its stderr when it fails."""
    done = subprocess.run(["docker", *args], stdin=stdin, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def engine_answers() -> bool:
    """Whether a Docker engine answers on this machine."""
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@contextmanager
def docker_engine(log: Path) -> Iterator[None]:
    """A Docker engine for the length of the block: the one that answers, or `dockerd` started
    here (as root) and stopped at the end with what it ran."""
    if engine_answers():
        yield
        return
    if os.geteuid() != 0 or not shutil.which("dockerd"):
        raise RuntimeError(INSTALL_HINT)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            ["dockerd", "--host", "unix:///var/run/docker.sock"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if not wait_until_ready(proc, "dockerd", log, engine_answers, timeout=60, interval=0.5):
            raise TimeoutError(f"dockerd did not answer within 60 s:\n{log_tail(log)}")
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def image_exists(name: str) -> bool:
    """Whether the engine has an image of that name."""
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb.debian.org when none is named)."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        if found := re.search(r"^URIs:\s*(\S+/debian)/?\s*$", sources.read_text(), re.MULTILINE):
            return found.group(1)
    sources_list = Path("/etc/apt/sources.list")
    if sources_list.exists():
        if found := re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?\s+\S+", sources_list.read_text(), re.MULTILINE):
            return found.group(1)
    return DEFAULT_MIRROR


def _content_tag(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:12]


BASE_IMAGE = f"taxi-pipeline-testbase:{SUITE}-{_content_tag(SUITE, *BASE_PACKAGES)}"


def debian_base_image(workdir: Path) -> str:
    """A Debian bookworm image with BASE_PACKAGES, made by debootstrap from this machine's Debian
    mirror and `docker import` (root only); its name."""
    name = BASE_IMAGE
    if image_exists(name):
        return name
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        raise RuntimeError(INSTALL_HINT)
    rootfs = workdir / "rootfs"
    command = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, str(rootfs)]
    done = subprocess.run([*command, debian_mirror()], capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr}")
    for package in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        package.unlink()  # the downloaded packages, installed already
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    try:
        docker("import", "-", name, stdin=tar.stdout)
    finally:
        tar.stdout.close()
        tar.wait()
        shutil.rmtree(rootfs)
    return name


def postgres_standin_image(base: str) -> str:
    """The stand-in for the public postgres image, built on `base`; its name."""
    files = sorted(POSTGRES_STANDIN.iterdir())
    name = f"taxi-pipeline-testpg:{_content_tag(image_id(base), *(f.read_bytes() for f in files))}"
    if not image_exists(name):
        docker("build", "--quiet", "--build-arg", f"BASE_IMAGE={base}", "-t", name, str(POSTGRES_STANDIN))
    return name


def image_id(name: str) -> str:
    """The engine's id of an image."""
    return docker("image", "inspect", "--format", "{{.Id}}", name).strip()


def _build_image_script(*args: str, log: Path) -> str:
    """deploy/build-image.sh ARGS, as a user runs it, its stderr appended to `log`; its stdout."""
    with open(log, "a") as err:
        done = subprocess.run(
            [str(PROJECT_DIR / "deploy" / "build-image.sh"), *args],
            cwd=PROJECT_DIR,
            env=os.environ | {"PYTHON": sys.executable},  # the tests' pip downloads the wheels
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=1800,
        )
    if done.returncode != 0:
        raise RuntimeError(f"deploy/build-image.sh {' '.join(args)} failed ({done.returncode}):\n{log_tail(log)}")
    return done.stdout


def project_image(base: str, log: Path) -> tuple[str, float]:
    """deploy/build-image.sh on `base`, as a user runs it; the image's name and the seconds it
    took (a few when an image of the same content exists)."""
    started = time.monotonic()
    return _build_image_script(base, log=log).strip().splitlines()[-1], time.monotonic() - started


@dataclass(frozen=True)
class DeploymentImages:
    """The images the deployment tests run: the project's, the Postgres stand-in, and their base."""

    base: str
    project: str
    postgres: str
    seconds: float  # to build or find them


def build_images(workdir: Path) -> DeploymentImages:
    """The base, the project's image and the Postgres stand-in, each built where missing. Cold,
    the image's wheels download while debootstrap makes the base (both wait mostly on the
    network), and the stand-in builds beside the project's image."""
    started = time.monotonic()
    log = workdir / "build-image.log"
    with ThreadPoolExecutor(max_workers=2) as pool:
        wheels = None if image_exists(BASE_IMAGE) else pool.submit(_build_image_script, "--wheels-only", log=log)
        base = debian_base_image(workdir)
        postgres = pool.submit(postgres_standin_image, base)
        if wheels:
            wheels.result()
        project, _ = project_image(base, log)
        return DeploymentImages(base, project, postgres.result(), time.monotonic() - started)


class ImagesInBackground:
    """A Docker engine (docker_engine) and build_images, started in a thread at once; `result()`
    waits for them, `close()` stops an engine started here."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="taxi-pipeline-docker-"))
        self._engine = ExitStack()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docker-images")
        self._images = self._thread.submit(self._prepare)

    def _prepare(self) -> DeploymentImages:
        # One build on the machine at a time: under pytest-xdist the controller starts it at once
        # and the worker that runs the docker tests waits here, then finds the engine and images.
        with open(BUILD_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._engine.enter_context(docker_engine(self.workdir / "dockerd.log"))
            return build_images(self.workdir)

    def result(self) -> DeploymentImages:
        return self._images.result()

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._engine.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


_IMAGES = pytest.StashKey[ImagesInBackground]()
BUILD_LOCK = Path(tempfile.gettempdir()) / "taxi-pipeline-docker-images.lock"


def start_images(config: pytest.Config) -> ImagesInBackground:
    """The session's ImagesInBackground, started now if not yet; stopped when the session ends."""
    if _IMAGES not in config.stash:
        config.stash[_IMAGES] = images = ImagesInBackground()
        config.add_cleanup(images.close)
    return config.stash[_IMAGES]
