#!/usr/bin/env bash
# Benchmarks of exports and retro-hunts (issue 15), on the release binary:
#
# - export: a store of N (1,000,000) active names built through `threatintel import` of a
#   generated plain list, then `threatintel export --format F --out ...` for every format under
#   /usr/bin/time -v. Target: under 5 s and 300 MB RSS each.
# - scan: a generated Zeek dns.log of LINES (5,000,000) lines, 1% of them queries for names of
#   the store, scanned with `threatintel scan --format zeek`. Target: at least 1,000,000 lines/s;
#   the peak RSS (matcher and all) under 300 MB.
#
# Usage: cargo build --release -p threatintel && scripts/bench-export.sh
#        (N=..., LINES=..., DIR=... to change the sizes or keep the files; with DIR, the store
#        is kept too and reused by the next run: delete DIR/store.db to measure the import)
# Prints one line per measurement: wall seconds, CPU seconds (user+sys, less disturbed by other
# load on the machine than the wall clock) and peak RSS.
#
# Figures (the 2-core machine, idle before the changes, shared after them):
# see the tables in docs/export.md ("Performance").
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/threatintel}
N=${N:-1000000}
LINES=${LINES:-5000000}
DIR=${DIR:-$(mktemp -d /tmp/bench-export-XXXXXX)}
[ -x "$BIN" ] || { echo "bench-export: build $BIN first (cargo build --release -p threatintel)" >&2; exit 2; }
mkdir -p "$DIR"
STORE="$DIR/store.db"

# The generated list, log and store are kept in DIR and reused (delete them after changing N or
# LINES).
[ -s "$DIR/names.txt" ] && [ -s "$DIR/dns.log" ] || python3 - "$DIR" "$N" "$LINES" <<'EOF'
import sys, time
out, n, lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tlds = ["com", "net", "org", "info", "xyz", "top", "ru", "cn"]
def listed(i):
    return f"h{i % 7}.bad{i:07d}x.{tlds[i % len(tlds)]}"
with open(f"{out}/names.txt", "w") as f:
    for i in range(n):
        f.write(listed(i) + "\n")
now = time.time()
with open(f"{out}/dns.log", "w") as f:
    f.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n")
    f.write("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n")
    for j in range(lines):
        name = listed((j * 7919) % n) if j % 100 == 0 else f"www.benign{j % 200000}.example.org"
        f.write(f"{now + j / 1000:.6f}\tC{j:x}\t10.0.{(j >> 8) % 256}.{j % 256}\t5{j % 9999}\t10.0.0.1\t53\tudp\t{j % 65536}\t0.001\t{name}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t192.0.2.1\t300.000000\tF\n")
EOF

measure() {
  local label=$1 count=$2; shift 2
  /usr/bin/time -v "$@" 2> "$DIR/time.txt" > "$DIR/stdout.txt" || { cat "$DIR/time.txt" >&2; exit 1; }
  python3 - "$label" "$count" "$DIR/time.txt" <<'EOF'
import sys, re
label, count, text = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read()
def field(name):
    return re.search(re.escape(name) + r": (.*)", text).group(1)
parts = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
rss = int(field("Maximum resident set size (kbytes)")) / 1024
rate = f"  {count / wall:,.0f} lines/s wall, {count / cpu:,.0f} lines/s CPU" if count else ""
print(f"{label:<10} wall {wall:6.2f} s  cpu {cpu:6.2f} s  max RSS {rss:6.0f} MB{rate}")
EOF
}

if [ -s "$STORE" ]; then
  echo "import     (reusing $STORE)"
else
  measure import 0 "$BIN" --store "$STORE" import --source bench --reliability A --threat-type "C&C Server" "$DIR/names.txt"
fi
for format in rpz hosts adblock dnsmasq unbound suricata csv stix misp; do
  out="$DIR/export.$format"
  [ "$format" = misp ] && out="$DIR/misp-feed"
  measure "$format" 0 "$BIN" --store "$STORE" export --format "$format" --out "$out"
  grep -m1 "^exported" "$DIR/time.txt" | sed 's/^/           /'
done
measure scan "$LINES" "$BIN" --store "$STORE" scan --format zeek --output json "$DIR/dns.log"
echo "files in $DIR"
