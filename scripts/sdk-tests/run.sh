#!/usr/bin/env bash
# The official Alibaba Cloud Python SDKs against a real `threatintel serve` on 127.0.0.1.
#
#   scripts/sdk-tests/run.sh            (CI runs it through `cargo test -p threatintel-api`)
#   scripts/sdk-tests/run.sh --tls DIR  the same over HTTPS: DIR holds cert.pem and key.pem (the
#                                       server's, under [server.tls]) and ca.pem (what the SDKs
#                                       trust); crates/api/tests/api/sdk.rs generates them
#
# 1. A venv in target/sdk-venv with the SDK versions the protocol reference was written against
#    (aliyun-rpc-protocol.md §1), from PyPI; reused when it already has them.
# 2. `cargo build -p threatintel --bin threatintel` (debug), unless THREATINTEL_BIN names a binary.
# 3. A temporary config (two access keys, one limited to 3 requests per second) and store,
#    fixture evidence generated from fixtures/evidence.jsonl.template with times relative to now.
# 4. `threatintel serve --listen 127.0.0.1:0`, the port read from its `listening on` line.
# 5. test_sdks.py; the server is stopped whatever happens.
#
# Needs python3 with venv and pip, and PyPI; without them it fails (exit 2) saying so.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
HERE="$ROOT/scripts/sdk-tests"
VENV="$ROOT/target/sdk-venv"
PYTHON=${PYTHON:-python3}

# The versions of aliyun-rpc-protocol.md §1.
PACKAGES=(
  "alibabacloud-sasti20200512==1.0.3"
  "alibabacloud-tea-openapi==0.4.6"
  "darabonba-core==1.0.9"
  "alibabacloud-tea==0.4.3"
  "alibabacloud-credentials==1.0.12"
  "alibabacloud-openapi-util==0.2.4"
  "alibabacloud-tea-util==0.3.15"
  "alibabacloud-endpoint-util==0.0.4"
  "alibabacloud-gateway-spi==0.0.4"
  "aliyun-python-sdk-sasti==1.0.0"
  "aliyun-python-sdk-core==2.16.1"
)

say() { echo "sdk-tests: $*"; }
fail() { echo "sdk-tests: FAILED: $*" >&2; exit 2; }

TLS_DIR=
case "${1:-}" in
  "") ;;
  --tls)
    TLS_DIR=${2:?--tls needs a directory}
    TLS_DIR=$(cd "$TLS_DIR" && pwd)
    for f in cert.pem key.pem ca.pem; do
      [ -f "$TLS_DIR/$f" ] || fail "--tls $TLS_DIR has no $f"
    done
    ;;
  *) fail "unknown argument $1 (usage: run.sh [--tls DIR])" ;;
esac

started=$(date +%s)

# 1. The venv.
command -v "$PYTHON" >/dev/null 2>&1 \
  || fail "$PYTHON not found: the official SDK tests need Python 3 (with venv and pip)"
want=$(printf '%s\n' "${PACKAGES[@]}" | tr 'A-Z_' 'a-z-' | sort)
have() {
  "$VENV/bin/python" -m pip list --format=freeze --disable-pip-version-check 2>/dev/null \
    | tr 'A-Z_' 'a-z-' | sort
}
if [ -x "$VENV/bin/python" ] && [ -z "$(comm -23 <(echo "$want") <(have))" ]; then
  say "reusing $VENV"
else
  say "creating $VENV and installing ${PACKAGES[*]} from PyPI"
  venv_started=$(date +%s)
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" \
    || fail "cannot create a venv with $PYTHON (on Debian: apt-get install python3-venv)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "${PACKAGES[@]}" \
    || { rm -rf "$VENV"; fail "pip could not install the SDKs from PyPI (is PyPI reachable?)"; }
  say "venv ready in $(( $(date +%s) - venv_started ))s"
fi

# 2. The binary.
if [ -n "${THREATINTEL_BIN:-}" ]; then
  BIN=$THREATINTEL_BIN
else
  say "building threatintel (debug)"
  cargo build --quiet -p threatintel --bin threatintel
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/threatintel"
fi
[ -x "$BIN" ] || fail "no threatintel binary at $BIN"

# 3. Config, store and fixture evidence in a temporary directory.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/threatintel-sdk-tests.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

KEY_ID="LTAIsdkTestKey0000001"
KEY_SECRET="sdk-test-secret-0001"
LIMITED_ID="LTAIsdkLimited0000001"
LIMITED_SECRET="sdk-limited-secret-01"
cat >"$WORK/config.toml" <<EOF
[store]
path = "$WORK/store.db"
load_demo_when_empty = false

[server]
listen = "127.0.0.1:0"
host_id = "threatintel-sdk-tests"

# Background enrichment on, kept on this machine: every upstream is a closed port on
# 127.0.0.1, so each lookup fails at once and reports answer from the store.
[enrich]
mode = "background"
kinds = ["whois", "dns", "tls"]
whois_root = "127.0.0.1:9"
dns_upstreams = ["127.0.0.1:9"]
allow_private_addresses = true

[[server.access_keys]]
id = "$KEY_ID"
secret = "$KEY_SECRET"
rate_per_sec = 0

[[server.access_keys]]
id = "$LIMITED_ID"
secret = "$LIMITED_SECRET"
rate_per_sec = 3
EOF
PROTOCOL=(--protocol http)
if [ -n "$TLS_DIR" ]; then
  printf '\n[server.tls]\ncert = "%s"\nkey = "%s"\n' "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem" \
    >>"$WORK/config.toml"
  PROTOCOL=(--protocol https --ca "$TLS_DIR/ca.pem")
fi

"$VENV/bin/python" - "$HERE/fixtures/evidence.jsonl.template" "$WORK/evidence.jsonl" <<'EOF'
import re, sys
from datetime import datetime, timedelta, timezone
now = datetime.now(timezone.utc).replace(microsecond=0)
def at(m):
    days = int(m.group(2)) * (-1 if m.group(1) == "-" else 1)
    return (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
text = open(sys.argv[1], encoding="utf-8").read()
open(sys.argv[2], "w", encoding="utf-8").write(re.sub(r"@NOW([+-])(\d+)d@", at, text))
EOF
"$BIN" --config "$WORK/config.toml" --store "$WORK/store.db" import "$WORK/evidence.jsonl" \
  >"$WORK/import.log" 2>&1 || { cat "$WORK/import.log" >&2; fail "import of the fixture evidence"; }

# 4. The server.
"$BIN" --config "$WORK/config.toml" --store "$WORK/store.db" serve --listen 127.0.0.1:0 \
  >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
ADDR=
for _ in $(seq 1 300); do
  ADDR=$(sed -n 's|^listening on https\{0,1\}://||p' "$WORK/serve.out" | head -n 1)
  [ -n "$ADDR" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.err" >&2; fail "the server exited"; }
  sleep 0.1
done
[ -n "$ADDR" ] || { cat "$WORK/serve.err" >&2; fail "the server did not say where it listens"; }
case "$ADDR" in
  127.0.0.1:*) ;;
  *) fail "the server listens on $ADDR, not on 127.0.0.1" ;;
esac
say "server on $ADDR (${PROTOCOL[1]})"

# 5. The tests.
status=0
"$VENV/bin/python" "$HERE/test_sdks.py" \
  --endpoint "$ADDR" "${PROTOCOL[@]}" \
  --key "$KEY_ID" --secret "$KEY_SECRET" \
  --limited-key "$LIMITED_ID" --limited-secret "$LIMITED_SECRET" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 40 lines)" >&2
  tail -n 40 "$WORK/serve.err" >&2
fi
say "finished in $(( $(date +%s) - started ))s with status $status"
exit "$status"
