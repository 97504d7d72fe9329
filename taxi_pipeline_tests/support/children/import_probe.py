"""`python -m taxi_pipeline_tests.support.children.import_probe`: imports every module of `taxi_pipeline`
(and the deployments' `taxi_pipeline_deploy`), then loads the definitions, and prints, as JSON,
what that did to the process: environment variables read from `taxi_pipeline` code during the
imports, and for imports and loading together whether `sys.excepthook` changed, and the atexit
handlers, warning filters, logger filters and handlers added."""

import atexit
import importlib
import json
import logging
import os
import pkgutil
import sys
import warnings
from collections.abc import MutableMapping
from pathlib import Path

import taxi_pipeline

PACKAGE_DIR = str(Path(taxi_pipeline.__file__).parent)
# What the project's modules import anyway; imported first, so that their own warning filters
# and environment reads are not counted as the project's.
DEPENDENCIES = [
    "dagster",
    "dagster_duckdb",
    "dagster_gcp",
    "duckdb",
    "gcsfs",
    "google.cloud.bigquery",
    "pandas",
    "psycopg",
    "pyarrow",
    "pyarrow.csv",
    "pyarrow.parquet",
    "requests",
    "upath",
    "dateutil.relativedelta",
    "matplotlib.pyplot",  # the report's chart; registers its own atexit handlers (and PIL's)
]


_PLUMBING = (os.getenv.__code__.co_filename, MutableMapping.get.__code__.co_filename, __file__)


def _called_from_the_project() -> bool:
    """Whether the code that reads the variable (the first frame past os.getenv and the mapping
    methods) is the project's own; reads inside libraries the project calls do not count."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in _PLUMBING:
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith(PACKAGE_DIR)


class WatchedEnviron(MutableMapping):
    """`os.environ` that notes every variable the project's code reads (or all of them, "*",
    when it iterates)."""

    def __init__(self, real):
        self.real, self.read = real, set()

    def __getitem__(self, name):
        if _called_from_the_project():
            self.read.add(name)
        return self.real[name]

    def __contains__(self, name):
        if _called_from_the_project():
            self.read.add(name)
        return name in self.real

    def __iter__(self):
        if _called_from_the_project():
            self.read.add("*")
        return iter(self.real)

    def __len__(self):
        return len(self.real)

    def __setitem__(self, name, value):
        self.real[name] = value

    def __delitem__(self, name):
        del self.real[name]


def sentinel_excepthook(kind, value, traceback):
    """Stands in for the interpreter's hook, to see whether an import replaces it."""
    sys.__excepthook__(kind, value, traceback)


def logging_state() -> dict[str, list[str]]:
    """Every logger's filters and handlers, by logger name."""
    loggers = {"": logging.getLogger(), **logging.Logger.manager.loggerDict}
    return {
        name: [repr(f) for f in logger.filters] + [repr(h) for h in logger.handlers]
        for name, logger in loggers.items()
        if isinstance(logger, logging.Logger)
    }


def main() -> None:
    """Import everything, load the definitions, and print the report."""
    for name in DEPENDENCIES:
        importlib.import_module(name)
    filters_before = list(warnings.filters)
    logging_before = logging_state()
    atexit_before = atexit._ncallbacks()
    sys.excepthook = sentinel_excepthook
    real_environ = os.environ
    environ = os.environ = WatchedEnviron(os.environ)

    modules = [m.name for m in pkgutil.walk_packages(taxi_pipeline.__path__, "taxi_pipeline.")]
    modules += ["taxi_pipeline_deploy.pools", "taxi_pipeline_deploy.run_launcher"]
    for name in modules:
        importlib.import_module(name)

    # Then the code location, loaded as Dagster loads it, with settings it accepts.
    os.environ = real_environ  # noqa: B003 (puts back the real mapping the watch stood in for)
    for name in [n for n in os.environ if n.startswith(("TAXI_", "GCS_", "GCP_", "BQ_"))]:
        del os.environ[name]
    os.environ["TAXI_LAKE_DIR"] = sys.argv[1]
    import dagster as dg

    from taxi_pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs())

    logging_after = logging_state()
    print(
        json.dumps(
            {
                "modules": modules,
                "environment_read": sorted(environ.read),
                "excepthook_replaced": sys.excepthook is not sentinel_excepthook,
                "warning_filters_added": [str(f) for f in warnings.filters if f not in filters_before],
                "atexit_handlers_added": atexit._ncallbacks() - atexit_before,
                "logging_added": {
                    name: added
                    for name, state in logging_after.items()
                    if (added := [x for x in state if x not in logging_before.get(name, [])])
                },
            }
        )
    )


if __name__ == "__main__":
    main()
