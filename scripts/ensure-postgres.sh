#!/usr/bin/env bash
# Makes sure the PostgreSQL the store tests use is up: 127.0.0.1:5432, trust auth, database
# `test`, user $PGUSER (default postgres). Starts the machine's local cluster if nothing
# answers, waits up to 30 s for it, and creates the database if it is missing. Idempotent.
set -euo pipefail

host=127.0.0.1
port=5432
user="${PGUSER:-postgres}"

ready() { pg_isready -h "$host" -p "$port" -t 1 >/dev/null 2>&1; }

if ! ready; then
  # Exit status 2: no answer at all, so start the cluster; otherwise it is starting up.
  status=0
  pg_isready -h "$host" -p "$port" -t 1 >/dev/null 2>&1 || status=$?
  if [ "$status" -eq 2 ]; then
    if [ ! -d /etc/postgresql ] || [ -z "$(ls /etc/postgresql)" ]; then
      echo "ensure-postgres: nothing answers on $host:$port and no local cluster is installed" \
        "(/etc/postgresql is empty)" >&2
      exit 1
    fi
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    echo "ensure-postgres: starting PostgreSQL $version/main for $host:$port"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  deadline=$((SECONDS + 30))
  until ready; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "ensure-postgres: PostgreSQL on $host:$port is not ready after 30 s" >&2
      pg_isready -h "$host" -p "$port" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
fi

exists="$(psql -h "$host" -p "$port" -U "$user" -d postgres -Atqc \
  "SELECT 1 FROM pg_database WHERE datname = 'test'")"
if [ "$exists" != 1 ]; then
  echo "ensure-postgres: creating database test"
  createdb -h "$host" -p "$port" -U "$user" test
fi
psql -h "$host" -p "$port" -U "$user" -d test -Atqc 'SELECT 1' >/dev/null
echo "ensure-postgres: PostgreSQL is ready on $host:$port (database test, user $user)"
