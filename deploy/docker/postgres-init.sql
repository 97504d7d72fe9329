-- Run once, when the Postgres container first starts on an empty volume: the warehouse
-- (TAXI_POSTGRES_URL) gets a database of its own beside Dagster's storage.
CREATE DATABASE taxi;
