"""`python -m taxi_pipeline_deploy.pools`: gives every pool the project's assets use its default
limit in the instance, before a daemon on a Postgres instance starts runs (deploy/docker-compose.yaml).

Works around dagster-io/dagster#33552 (open; seen with dagster 1.13.27 and dagster-postgres
0.29.27): a pool's limit row is created on the first claim of a slot, and when two runs make that
claim at once on Postgres the loser's INSERT aborts its transaction, so the run fails with
"current transaction is aborted". With the rows in place before any run starts, no claim creates
one. Remove this module once the pinned Dagster creates the row with INSERT ... ON CONFLICT.
"""

import dagster as dg

from taxi_pipeline.definitions import defs


def asset_pools(definitions: dg.Definitions) -> set[str]:
    """The pools the definitions' assets run in."""
    return {assets_def.op.pool for assets_def in definitions.assets if assets_def.op.pool}


def main() -> None:
    """Create the missing pools' limit rows from the instance's `concurrency.pools.default_limit`."""
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        for pool in sorted(asset_pools(defs()) - storage.get_concurrency_keys()):
            storage.initialize_concurrency_limit_to_default(pool)
            print(f"pool {pool}: limit {instance.get_concurrency_config().pool_config.default_pool_limit}")


if __name__ == "__main__":
    main()
