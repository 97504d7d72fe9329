#!/bin/sh
# What the public postgres image does at start, in the part deploy/docker-compose.yaml uses: on
# an empty data folder, a cluster whose superuser is POSTGRES_USER with POSTGRES_PASSWORD, the
# database POSTGRES_DB, then each /docker-entrypoint-initdb.d/*.sql; then the server on every
# interface of the container, password logins from the network.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password_file=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" > "$password_file"
  initdb --username="$POSTGRES_USER" --pwfile="$password_file" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl --wait --silent -o "-c listen_addresses=''" start
  if [ "$POSTGRES_DB" != postgres ]; then
    psql --username="$POSTGRES_USER" --dbname=postgres --quiet -c "CREATE DATABASE \"$POSTGRES_DB\""
  fi
  for script in /docker-entrypoint-initdb.d/*.sql; do
    if [ -e "$script" ]; then psql --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" --quiet -f "$script"; fi
  done
  pg_ctl --wait --silent -m fast stop
fi
exec postgres -c listen_addresses='*'
