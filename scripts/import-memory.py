#!/usr/bin/env python3
"""Import memory benchmark: generates hostile inputs and prints the peak memory of
`threatintel import` on each, into a fresh SQLite store, with the release binary.

    cargo build --release -p threatintel && scripts/import-memory.py [--work DIR] [--only NAME]

Inputs (written once to DIR, default target/import-memory, and reused):
  line-200m   one 200 MB line without a line ending (--format domain_list, --rejects file)
  list-1g     a 1 GB plain domain list (one distinct name per line)
  stix-120m   a 120 MB STIX 2.1 bundle of indicators (under the 128 MiB document limit)
  stix-200m   a 200 MB STIX bundle (over the limit: refused)
  whois-50m   a WHOIS answer with a 50 MB `Registrar:` line (over the 4 MiB limit: refused)
  bomb-gz     2 GiB of zeros, gzip-compressed (expands past its limit: refused)

For each it prints the exit status, the peak resident set (ru_maxrss of the process, which
counts SQLite's page cache and its memory-mapped file pages) and the peak of RssAnon (the
heap: what the import itself holds), sampled from /proc every 20 ms, and the rejects file's
size where one is written. The SQLite write cache is `store.write_cache_mib` (256 MiB by default) plus up to
`mmap_size` (1 GiB) of mapped file pages, which are RssFile, not RssAnon.
"""

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BINARY = REPO / "target" / "release" / "threatintel"
MB = 1 << 20


def build_line(path: Path) -> None:
    chunk = b"a" * MB
    with path.open("wb") as out:
        for _ in range(200):
            out.write(chunk)


def build_list(path: Path) -> None:
    rng = random.Random(7)
    with path.open("w") as out:
        written, i = 0, 0
        while written < 1000 * MB:
            lines = "".join(
                f"host{i + k}.bad{rng.randrange(10**9)}.com\n" for k in range(10_000)
            )
            out.write(lines)
            written += len(lines)
            i += 10_000


def build_stix(path: Path, size: int) -> None:
    with path.open("w") as out:
        out.write('{"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": [\n')
        written, i = 0, 0
        while written < size:
            ind = {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{i:08x}-0000-4000-8000-000000000000",
                "created": "2025-06-01T00:00:00.000Z",
                "modified": "2025-06-01T00:00:00.000Z",
                "indicator_types": ["malicious-activity"],
                "pattern": f"[domain-name:value = 'h{i}.evil.example']",
                "pattern_type": "stix",
                "valid_from": "2025-06-01T00:00:00Z",
                "labels": ["phishing"],
            }
            line = ("," if i else "") + json.dumps(ind) + "\n"
            out.write(line)
            written += len(line)
            i += 1
        out.write("]}\n")


def build_whois(path: Path) -> None:
    with path.open("w") as out:
        out.write("Domain Name: EXAMPLE.COM\nRegistrar: ")
        for _ in range(50):
            out.write("R" * MB)
        out.write("\nCreation Date: 2020-01-01T00:00:00Z\nName Server: NS1.EXAMPLE.NET\n")


def build_bomb(path: Path) -> None:
    chunk = bytes(MB)
    with gzip.open(path, "wb", compresslevel=6) as out:
        for _ in range(2048):
            out.write(chunk)


INPUTS = {
    "line-200m": ("line-200m.txt", build_line, ["--format", "domain_list"]),
    "list-1g": ("list-1g.txt", build_list, []),
    "stix-120m": ("stix-120m.json", lambda p: build_stix(p, 120 * MB), []),
    "stix-200m": ("stix-200m.json", lambda p: build_stix(p, 200 * MB), []),
    "whois-50m": ("example.com.whois.txt", build_whois, []),
    "bomb-gz": ("bomb.txt.gz", build_bomb, ["--format", "domain_list"]),
}


def anon_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(name: str, work: Path) -> None:
    file_name, build, args = INPUTS[name]
    path = work / file_name
    if not path.exists():
        print(f"{name}: generating {path}", file=sys.stderr)
        build(path)
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir()
    rejects = work / f"{name}.rejects.tsv"
    cmd = [
        str(BINARY),
        "--store",
        str(store / "s.db"),
        "import",
        "--rejects",
        str(rejects),
        *args,
        str(path),
    ]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak_anon = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak_anon[0] = max(peak_anon[0], anon_kb(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.join()
    seconds = time.monotonic() - started
    out = (proc.stdout.read() + proc.stderr.read()).decode(errors="replace").strip()
    size = path.stat().st_size
    print(
        f"{name}: input {size / MB:.0f} MB, exit {proc.returncode}, {seconds:.1f} s "
        f"(user {usage.ru_utime:.1f} s), peak RSS {usage.ru_maxrss / 1024:.0f} MB, "
        f"peak RssAnon {peak_anon[0] / 1024:.0f} MB, "
        f"rejects file {rejects.stat().st_size / 1024:.1f} KB"
    )
    for line in out.splitlines()[:3]:
        print(f"    {line[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=REPO / "target" / "import-memory")
    parser.add_argument("--only", choices=sorted(INPUTS), action="append")
    opts = parser.parse_args()
    if not BINARY.exists():
        sys.exit(f"{BINARY} is missing: cargo build --release -p threatintel")
    opts.work.mkdir(parents=True, exist_ok=True)
    for name in opts.only or INPUTS:
        run(name, opts.work)


if __name__ == "__main__":
    main()
