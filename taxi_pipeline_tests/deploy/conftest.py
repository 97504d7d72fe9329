"""The docker tests' engine and images start building in the background as soon as a session
that runs any of them has collected its tests (support/docker_engine.py). Under pytest-xdist every
worker collects every test: there the docker module's fixture starts them, in its worker only."""

import os

from taxi_pipeline_tests.support.docker_engine import start_images


def pytest_collection_finish(session):
    if session.config.option.collectonly or "PYTEST_XDIST_WORKER" in os.environ:
        return
    if any(item.get_closest_marker("docker") for item in session.items):
        start_images(session.config)
