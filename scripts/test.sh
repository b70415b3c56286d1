#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). Needs only the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

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
