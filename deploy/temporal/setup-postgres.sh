#!/bin/sh
# One-shot schema setup for the compose cluster (runs in temporalio/admin-tools, service
# `temporal-admin-tools`). Creates the default and visibility databases if missing and brings both schemas
# up to the versions shipped in the image. Idempotent: safe on every `docker compose up`, and the way to
# migrate after bumping the image versions (one minor version at a time).
#
# Env: POSTGRES_SEEDS (host), DB_PORT, POSTGRES_USER, SQL_PASSWORD (read by temporal-sql-tool),
#      DBNAME (default temporal), VISIBILITY_DBNAME (default temporal_visibility),
#      SCHEMA_ROOT (default: the image's /etc/temporal/schema/postgresql/v12; `npm run cluster` points it at
#      schema/postgresql/v12 of the go.temporal.io/server module it built the tools from).
set -eu

HOST="${POSTGRES_SEEDS:-postgresql}"
PORT="${DB_PORT:-5432}"
USER_NAME="${POSTGRES_USER:-temporal}"
SCHEMA_ROOT="${SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}"

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$HOST" -p "$PORT" -u "$USER_NAME" "$@"
}

# $1 = database name, $2 = schema folder under $SCHEMA_ROOT (temporal | visibility)
setup_database() {
  echo "schema setup: database $1 ($2)"
  # `create` fails when the database exists; a real connection problem fails the next command anyway.
  sql_tool --db "$1" create || echo "database $1 already exists"
  sql_tool --db "$1" setup-schema -v 0.0
  sql_tool --db "$1" update-schema -d "$SCHEMA_ROOT/$2/versioned"
}

echo "waiting for PostgreSQL at $HOST:$PORT ..."
tries=0
until nc -z -w 5 "$HOST" "$PORT"; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || { echo "PostgreSQL at $HOST:$PORT is not reachable" >&2; exit 1; }
  sleep 2
done

setup_database "${DBNAME:-temporal}" temporal
setup_database "${VISIBILITY_DBNAME:-temporal_visibility}" visibility
echo "schema setup complete"
