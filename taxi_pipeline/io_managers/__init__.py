"""IO managers of the lake, and the lake's layout (the same under a folder or gs://bucket)."""

RAW_FILE_TEMPLATE = "raw/{color}/{color}_tripdata_{month}.csv.gz"
STAGING_FILE_TEMPLATE = "staging/{color}/{color}_tripdata_{month}.parquet"
LAKE_FILE_TEMPLATE = "data/{color}/{color}_tripdata_{month}.parquet"
