"""`taxi_pipeline_deploy`: workarounds of Dagster 1.13.27 bugs that the deployments use
(deploy/dagster.yaml, deploy/docker-compose.yaml), kept out of the pipeline package. Each module
names the upstream issue; remove it when the pinned Dagster fixes that."""
