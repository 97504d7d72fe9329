# Each target sets itself up: a virtual environment in .venv with the pinned install, made once
# and remade when setup.py or pyproject.toml change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# bqemulator (the BigQuery emulator the gcp tests start) lives apart: it needs duckdb 1.5.5 and
# the spatial extension installed from its wheel, since it cannot download it offline.
BQEMU_VENV := .venv-bqemulator
BQEMU_INSTALLED := $(BQEMU_VENV)/.installed
BQEMU_PINS := bqemulator==1.4.0 duckdb==1.5.5 duckdb-extension-spatial==1.5.5 duckdb-extensions==1.5.5 numpy==2.4.6
# The course's Prefect flow (benchmarks/prefect_flow.py) runs apart too: prefect 2.7.7 with its
# dependencies pinned at January 2023 (benchmarks/prefect-requirements.txt). Not part of `test`.
PREFECT_VENV := .venv-prefect
PREFECT_INSTALLED := $(PREFECT_VENV)/.installed
PREFECT_PINS := benchmarks/prefect-requirements.txt
export DAGSTER_HOME := $(CURDIR)/.dagster_home

# The offline mirrors of every month of each source (deploy/mirror.py): the bundled real months
# as they are, a small generated file for every other month.
COURSE_MIRROR := $(CURDIR)/data/mirror/course
TLC_MIRROR := $(CURDIR)/data/mirror/tlc
# The demo's months are real files of the course's release (taxi_pipeline_tests/data/release),
# read from the course's offline mirror, as `make dev-demo` reads them.
DEMO_SOURCE = file://$(COURSE_MIRROR)
DEMO_PARTITIONS := 'green|2020-04-01' 'yellow|2021-01-01' 'fhv|2019-01-01' 'fhv|2020-01-01'
# `make demo` and `make dev-demo` share an instance and data of their own, with the same settings,
# so a running `make dev-demo` runs the demo's runs as the demo would; `make dev` (the online
# source) keeps .dagster_home and data/ and never sees them.
DEMO_HOME := $(CURDIR)/.dagster_home/demo
DEMO_DATA := $(CURDIR)/data/demo
DEMO_ENV := DAGSTER_HOME=$(DEMO_HOME) TAXI_SOURCE_URL=$(DEMO_SOURCE) TAXI_LAKE_DIR=$(DEMO_DATA)/lake \
  TAXI_DUCKDB_PATH=$(DEMO_DATA)/warehouse.duckdb
DEMO_LOG := $(DEMO_DATA)/demo.log
# The TLC demo's own instance and data (`make dev-tlc-demo`).
TLC_DEMO_HOME := $(CURDIR)/.dagster_home/tlc-demo
TLC_DEMO_DATA := $(CURDIR)/data/tlc-demo
TLC_DEMO_ENV := DAGSTER_HOME=$(TLC_DEMO_HOME) TAXI_SOURCE=tlc TAXI_SOURCE_URL=file://$(TLC_MIRROR)/trip-data \
  TAXI_LAKE_DIR=$(TLC_DEMO_DATA)/lake TAXI_DUCKDB_PATH=$(TLC_DEMO_DATA)/warehouse.duckdb

.PHONY: install venvs demo lint test dev dev-demo dev-tlc-demo mirrors image docker-engine bench bench-containers bench-backfill bench-fhvhv bench-year bench-targets bench-postgres prefect-venv postgres-server clean

install: $(INSTALLED)

# Each venv gets the pinned uv from its own pip, and uv installs the packages: the same versions
# pip resolves, in seconds where pip takes over a minute for the project's (docs/testing.md).
UV_VERSION := 0.13.9
define uv_venv
	$(PYTHON) -m venv $(1)
	$(1)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(1)/bin/uv pip install --quiet --python $(1)/bin/python $(2)
endef

# The bytecode is compiled at install (on every core): every process of the tests and the UI
# imports Dagster from it, and where PYTHONDONTWRITEBYTECODE is set nothing else would write it.
$(INSTALLED): setup.py pyproject.toml
	$(call uv_venv,$(VENV),--compile-bytecode -e '.[dev]')
	touch $@

$(BQEMU_INSTALLED):
	$(call uv_venv,$(BQEMU_VENV),$(BQEMU_PINS))
	$(BQEMU_VENV)/bin/python -c "import duckdb; from duckdb_extensions import import_extension; \
	  import_extension('spatial'); duckdb.sql('LOAD spatial')"
	touch $@

prefect-venv: $(PREFECT_INSTALLED)

$(PREFECT_INSTALLED): $(PREFECT_PINS)
	$(call uv_venv,$(PREFECT_VENV),-r $(PREFECT_PINS))
	PREFECT_HOME=$(PREFECT_VENV)/prefect-home $(PREFECT_VENV)/bin/prefect version
	touch $@

# The UI tests drive Debian's chromium through Playwright (which never downloads a browser here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "the UI tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi

# The postgres tests start their own throwaway cluster with the server binaries of Debian's
# postgresql (initdb, pg_ctl, postgres); checked on every run, installed when missing.
PG_INITDB_GLOB ?= /usr/lib/postgresql/*/bin/initdb
postgres-server:
	@if ! ls $(PG_INITDB_GLOB) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's postgresql for the postgres tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "the postgres tests need PostgreSQL's server: sudo apt-get install postgresql" >&2; exit 1; fi; \
	fi

# The docker tests (taxi_pipeline_tests/deploy/test_docker_deployment.py) build a Debian base with debootstrap, the image
# on it, and run deploy/docker-compose.yaml on Debian's Docker engine; they start `dockerd` when
# none answers and stop it after. Installed when missing (as root), else the command is printed.
DOCKER_TOOLS := dockerd debootstrap docker-compose
docker-engine:
	@missing=; for tool in $(DOCKER_TOOLS); do command -v $$tool >/dev/null || missing=yes; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's docker.io, debootstrap and docker-compose for the docker tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap docker-compose >/dev/null; \
	  else echo "the docker tests need: sudo apt-get install docker.io debootstrap docker-compose && sudo dockerd &" >&2; exit 1; fi; \
	fi

# The project's image on the public python:3.11-slim-bookworm (or BASE_IMAGE=...), tagged by its
# content and as taxi-pipeline:latest: the wheels are downloaded here, the build is offline.
BASE_IMAGE ?= python:3.11-slim-bookworm
image: $(INSTALLED)
	PYTHON=$(BIN)/python deploy/build-image.sh $(BASE_IMAGE)

$(DAGSTER_HOME)/dagster.yaml $(DEMO_HOME)/dagster.yaml $(TLC_DEMO_HOME)/dagster.yaml: deploy/dagster.yaml
	mkdir -p $(@D)
	cp deploy/dagster.yaml $@

# dg finds the project by pyproject.toml's [tool.dg] and checks that the project's venv is the
# active one; the targets run it without activating, so they say which venv is meant.
DG := VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg

# Through the demo instance's queue, as `make dev-demo` runs them (deploy/demo.py): the zone table
# first (the audit checks location ids against it), then each month as a run of trips_job, then the
# report by its automation sensor. The daemon is the running `make dev-demo`'s, else the demo's own.
demo: $(INSTALLED) $(DEMO_HOME)/dagster.yaml
	@mkdir -p $(DEMO_DATA) && : > $(DEMO_LOG)
	@$(BIN)/python -m deploy.mirror course $(COURSE_MIRROR)
	@echo "running the demo's months through the daemon (log: $(DEMO_LOG))"
	@$(DEMO_ENV) $(BIN)/python deploy/demo.py --log $(DEMO_LOG) $(DEMO_PARTITIONS) \
	  || { tail -n 30 $(DEMO_LOG); exit 1; }
	@echo "rows per (color, month) in the warehouse:"
	@$(DEMO_ENV) $(BIN)/python -m taxi_pipeline.defs.report

# The linter and the formatter, configured in pyproject.toml, over the whole tree; and `dg check
# defs`, which loads the code location as the UI would.
lint: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(DG) check defs

# The two virtual environments at once.
venvs:
	@$(MAKE) --no-print-directory -j2 $(INSTALLED) $(BQEMU_INSTALLED)

# Two workers, each taking whole files (a module's servers start once), in the order conftest.py
# gives them (the longest first) rather than xdist's (files with the most tests first): much of the
# suite waits on daemons, servers and image builds, which the other worker's tests overlap.
test: venvs lint $(CHROMIUM) postgres-server docker-engine
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=25

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks.run --rows 1369765 7000000 --repeats 3

# A generated 20 M-row fhvhv month through the four trip assets (TAXI_SOURCE=tlc) against
# read_table, and the conversion in 1 M-row and one row group; months cached in data/bench/.
bench-fhvhv: $(INSTALLED)
	$(BIN)/python -m benchmarks.fhvhv --rows 20000000 --repeats 1

# Nine small green months as one backfill through the Dagster daemon against the course's
# Prefect 2.7.7 flow on the same files, side by side.
bench-backfill: $(INSTALLED) prefect-venv
	$(BIN)/python -m benchmarks.backfill --repeats 2

# A year (the twelve months of yellow 2020 at their published sizes, generated once into
# benchmarks/out/) as one backfill beside the course's Prefect flow, with twenty tiny months first
# to measure the fixed cost per run: prints the pick-up, c_run and c_row apart.
bench-year: $(INSTALLED) prefect-venv
	$(BIN)/python -m benchmarks.year

# Every performance target in one table: the backfill, the year with c_run and c_row, the 7 M-row
# month, the 20 M-row fhvhv month into DuckDB and into Postgres, each beside its reference.
bench-targets: $(INSTALLED) prefect-venv postgres-server
	$(BIN)/python -m benchmarks.targets --fhvhv-rows 20000000

# The same backfill on one machine (deploy/dagster.yaml, a process per run) and through
# deploy/docker-compose.yaml (a container per run, DockerRunLauncher), side by side.
bench-containers: $(INSTALLED) docker-engine
	$(BIN)/python -m benchmarks.container_start --repeats 2

# The course's pandas to_sql against PostgresWarehouse.load_slice, on a throwaway cluster.
bench-postgres: $(INSTALLED) postgres-server
	$(BIN)/python -m benchmarks.postgres_load --rows 1369765 --repeats 3

# The UI (webserver and daemon) on 127.0.0.1 only, started by `dg dev` (Dagster's older command
# for it greets with a notice that `dg dev` supersedes it).
UI_PORT ?= 3000
UI := $(DG) dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

dev: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	@echo "make dev reads the trip files from the source's release over the network;"
	@echo "offline, use make dev-demo (the course's months) or make dev-tlc-demo (the TLC's)"
	$(UI)

# Offline mirrors of each source's whole range (deploy/mirror.py), made once into data/mirror/ in
# seconds: the bundled real months byte for byte, a small generated file for every other month,
# marked as generated in the file; the slices, metadata and report say `course (generated)`.
mirrors: $(INSTALLED)
	@$(BIN)/python -m deploy.mirror course $(COURSE_MIRROR)
	@$(BIN)/python -m deploy.mirror tlc $(TLC_MIRROR)

# The UI on the demo's instance and data, against the course's offline mirror: a backfill of any
# range succeeds offline (the demo's months are the same bytes as in the bundled folder), and
# `make demo` beside it hands its runs to this daemon.
dev-demo: $(INSTALLED) $(DEMO_HOME)/dagster.yaml
	@$(BIN)/python -m deploy.mirror course $(COURSE_MIRROR)
	$(DEMO_ENV) $(UI)

# The UI with TAXI_SOURCE=tlc on the TLC's offline mirror (trip-data/ beside misc/, from
# TAXI_FIRST_MONTH, default 2019-01), on an instance and data of its own (TLC_DEMO_ENV).
dev-tlc-demo: $(INSTALLED) $(TLC_DEMO_HOME)/dagster.yaml
	@$(BIN)/python -m deploy.mirror tlc $(TLC_MIRROR)
	$(TLC_DEMO_ENV) $(UI)

clean:
	rm -rf data .dagster_home
