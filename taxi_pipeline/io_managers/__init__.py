"""IO managers of the lake: the raw zone's files and the canonical parquet of staging and data."""
