#!/usr/bin/env python3
"""Import throughput benchmark: builds large inputs from real corpus files and imports each
into a fresh SQLite store with the release binary, printing records/s as `import` reports it.

    cargo build --release -p threatintel && scripts/import-bench.py [--work DIR] [--only NAME]

Inputs (written once to DIR, default target/import-bench, and reused):
  list    5,000,000-line plain domain list (one name per line)
  stix    STIX 2.1 bundle: the TweetFeed week bundle's indicators repeated to 300,000, renamed
  misp    MISP event: the largest TweetFeed MISP event's attributes repeated to 300,000, renamed
  urlhaus URLhaus CSV export: the corpus export's rows repeated to 500,000, hosts renamed
Every repeated domain or URL gets a distinct host (`b<n>-` prefixed; addresses become names under
example.net), so each run adds it; STIX address and file indicators are repeated as they are.

Measured with it when the stores' schemas were chosen (ARCHITECTURE.md gives the choices, not the
figures): foreign-key checks cost SQLite bulk imports about a third of their time and doubled
PostgreSQL's import time, so neither store declares foreign keys.
"""

import argparse
import copy
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
BINARY = REPO / "target" / "release" / "threatintel"


IPV4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
URL_HOST = re.compile(r"^(\w+://)([^/:?#\s]+)")


def rename(host: str, i: int) -> str:
    """A name of its own for copy `i` of `host` (an address becomes a name under example.net)."""
    if IPV4.match(host):
        return f"b{i}-{host.replace('.', '-')}.example.net"
    return f"b{i}-{host}"


def rename_url(url: str, i: int) -> str:
    return URL_HOST.sub(lambda m: m.group(1) + rename(m.group(2), i), url, count=1)


def build_list(path: Path) -> None:
    rng = random.Random(7)
    with path.open("w") as out:
        for i in range(5_000_000):
            out.write(f"host{i}.bad{rng.randrange(10**9)}.com\n")


def build_stix(path: Path) -> None:
    bundle = json.loads((CORPUS / "cti_formats/stix21/tweetfeed/week.json").read_text())
    others = [o for o in bundle["objects"] if o["type"] != "indicator"]
    templates = [o for o in bundle["objects"] if o["type"] == "indicator"]
    objects = list(others)
    for i in range(300_000):
        ind = copy.copy(templates[i % len(templates)])
        ind["id"] = f"indicator--{i:08x}-0000-4000-8000-000000000000"
        value = re.search(r"'([^']*)'", ind["pattern"]).group(1)
        if ind["pattern"].startswith("[domain-name:"):
            value = rename(value, i)
        elif ind["pattern"].startswith("[url:"):
            value = rename_url(value, i)
        ind["pattern"] = re.sub(r"'[^']*'", lambda _: f"'{value}'", ind["pattern"], count=1)
        ind["name"] = value
        objects.append(ind)
    bundle["objects"] = objects
    path.write_text(json.dumps(bundle))


def build_misp(path: Path) -> None:
    template = CORPUS / "cti_formats/misp/feeds/tweetfeed_last7/cbaa3579-deb7-524b-accb-765151c0ce58.json"
    doc = json.loads(template.read_text())
    attrs = [a for a in doc["Event"]["Attribute"] if a["type"] in ("domain", "hostname", "url")]
    out = []
    for i in range(300_000):
        a = dict(attrs[i % len(attrs)])
        a["uuid"] = f"{i:08x}-0000-4000-8000-000000000000"
        a["value"] = rename_url(a["value"], i) if a["type"] == "url" else rename(a["value"], i)
        out.append(a)
    doc["Event"]["Attribute"] = out
    path.write_text(json.dumps(doc))


def build_urlhaus(path: Path) -> None:
    lines = (CORPUS / "abusech_feeds/visible/urlhaus_2025-04-21.csv").read_text().splitlines()
    header, rows = lines[0], [r for r in lines[1:] if r and not r.startswith("#")]
    with path.open("w") as out:
        out.write(header + "\n")
        for i in range(500_000):
            row = rows[i % len(rows)]
            url = row.split('","')[2]
            out.write(row.replace(url, rename_url(url, i), 1) + "\n")


INPUTS = {
    "list": ("list5m.txt", build_list, ["--format", "domain_list", "--source", "bench-list"]),
    "stix": ("stix-300k.json", build_stix, ["--source", "bench-stix"]),
    "misp": ("misp-300k.json", build_misp, ["--source", "bench-misp"]),
    "urlhaus": ("urlhaus-500k.csv", build_urlhaus, ["--source", "bench-urlhaus"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=REPO / "target" / "import-bench")
    parser.add_argument("--only", choices=sorted(INPUTS))
    args = parser.parse_args()
    if not BINARY.exists():
        print(f"{BINARY} is missing: cargo build --release -p threatintel", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    for name, (file, build, flags) in INPUTS.items():
        if args.only and name != args.only:
            continue
        path = args.work / file
        if not path.exists():
            print(f"building {path} ...", file=sys.stderr)
            build(path)
        store = args.work / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
        started = time.monotonic()
        done = subprocess.run(
            [str(BINARY), "--store", str(store), "import", str(path), *flags],
            capture_output=True,
            text=True,
        )
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        output = (done.stdout + done.stderr).splitlines()
        summary = next((line for line in output if "records/s" in line), "(no summary)")
        print(f"{name:8} {elapsed:6.1f} s  {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
