#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). Needs:
# - the Rust toolchain (1.85 or newer);
# - Redis (redis-server, redis-cli): started on 127.0.0.1:6379 below when nothing answers there;
# - PostgreSQL (pg_isready, psql, createdb; a local cluster that pg_ctlcluster can start):
#   scripts/ensure-postgres.sh makes sure it answers on 127.0.0.1:5432 with trust auth and a
#   database `test`;
# - chromium and chromium-driver (Debian): installed below with apt when missing;
# - Python 3 with venv: the SDK tests install the official Alibaba Cloud SDKs from PyPI into
#   target/sdk-venv on first run.
# Tests over the full corpus read ../shared/corpus beside the repository; without it they say
# they were skipped (the files the other tests read are in testdata/).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== services the tests talk to (127.0.0.1 only)"
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "${TMPDIR:-/tmp}" --logfile "${TMPDIR:-/tmp}/threatintel-test-redis.log"
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

./scripts/ensure-postgres.sh

echo "== real consumers of the exports (crates/export/tests)"
if ! command -v unbound >/dev/null || ! command -v dig >/dev/null; then
  echo "installing unbound and dig (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends unbound dnsutils
fi
./scripts/export-venv.sh

echo "== headless Chromium for the console's browser test (crates/api/tests/api/browser.rs)"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing chromium and chromium-driver (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

if [ -d fuzz ]; then
  echo "== fuzz targets build"
  (cd fuzz && cargo check --locked --quiet 2>/dev/null || cargo check --quiet)
fi
echo "== all green"
