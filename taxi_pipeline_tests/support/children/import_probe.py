"""`python -m taxi_pipeline_tests.support.children.import_probe`: imports every module of `taxi_pipeline`
and prints, as JSON, what the imports did to the process: environment variables read from
`taxi_pipeline` code, whether `sys.excepthook` changed, and warning filters added."""

import importlib
import json
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


def main() -> None:
    """Import everything and print the report."""
    for name in DEPENDENCIES:
        importlib.import_module(name)
    filters_before = list(warnings.filters)
    sys.excepthook = sentinel_excepthook
    environ = os.environ = WatchedEnviron(os.environ)

    modules = [m.name for m in pkgutil.walk_packages(taxi_pipeline.__path__, "taxi_pipeline.")]
    for name in modules:
        importlib.import_module(name)

    print(
        json.dumps(
            {
                "modules": modules,
                "environment_read": sorted(environ.read),
                "excepthook_replaced": sys.excepthook is not sentinel_excepthook,
                "warning_filters_added": [str(f) for f in warnings.filters if f not in filters_before],
            }
        )
    )


if __name__ == "__main__":
    main()
