#!/usr/bin/env python3
"""Serving benchmark (issue 17): server CPU per DescribeDomainReport request against a trivial
handler's, with `wrk` as the client (a C client costs far less CPU per request than ours).

    cargo build --release -p threatintel -p threatintel-loadgen
    scripts/bench-serve.py [--names 1000000] [--top 100000] [--pdns 1000000] [--ip-networks 0]
                           [--seconds 10] [--rounds 1] [--signed] [--postgres URL] [--work DIR]
                           [--enrich MODE]

It builds a store through `threatintel import` only (a generated plain list of `--names` listed
names, a ranked top-site list of `--top` allowlisted names, `--pdns` passive-DNS A records in
COF, two thirds on listed names and a third on top sites; with `--ip-networks N`, address
records on networks around the first N resolved addresses), starts the release server in
anonymous mode (or with an access key, `--signed`) and the trivial handler
(`threatintel-loadgen --serve-trivial`), and runs `wrk -t2 -c64` against each: the trivial
handler, then listed, allowlisted and unknown names, then the mix (40% listed, 20% allowlisted,
40% unknown), every request asking for all four Fields, and the trivial handler again after each
of them. Names are drawn uniformly over the whole store. For each run it prints requests/s,
p50/p99, non-2xx answers and the server's CPU per request (utime+stime from /proc/PID/stat over
the run ÷ requests), with its user and system parts and its ratio to the trivial handler's: the
mean of the trivial runs just before and just after it (this host's speed drifts by tens of
percent between minutes; bracketing each run cancels a steady drift, one trivial run a round
would not) (the system part is mostly the loopback TCP path,
whose cost differs between hosts and moves the ratios from host to host). A second trivial
handler whose body is padded to `--padded-trivial` bytes (default
1024, about a listed report's) is measured too: what answering with a report-sized body costs
when nothing is computed. `--postgres URL` imports into PostgreSQL instead (schema `--pg-schema`, default `bench_serve`,
dropped first) and also prints the CPU of the PostgreSQL backends serving the server's connections
(found through pg_stat_activity.client_port and the server's sockets). `--signed` sends
V1-signed requests, precomputed with fresh nonces (a file per category; wrk never reuses a
line; the server's `max_nonces` is raised to remember them all). The import's records/s are printed too. Inputs and stores are kept in `--work` (default
target/bench-serve) and rebuilt when the sizes change. `--enrich off|background|inline` sets the
server's live-enrichment mode (default background, as `serve`'s: every unknown name asked is
queued for lookups, which fail at once without network and are recorded with their backoff).
`--bin-dir DIR` runs the binaries of another build (a copy, or another `--target-dir`'s
release directory), to compare two builds on the same store. `--rounds N` runs the trivial handler and the categories N times in turn and ends with each
one's median (of the CPU per request, and of the bracketed ratios): the host's drift is not
steady either.
`--instructions SECONDS` counts instead what does not drift: each process runs under valgrind's
callgrind (installed when missing), a 3 s warm-up is not counted, then `wrk -t1 -c1` sends
SECONDS of requests, and the instructions the process executed are divided by the requests
(user space only: the kernel's share of a request is not counted). The server starts in a
minute or two under valgrind (the heuristic judge's model is built first).

Client, server and PostgreSQL share the machine's cores, so CPU per request is the figure to
compare across runs; requests/s and latency move with the machine's other load.

Figures measured with it, dated, with their commands: docs/benchmarks.md.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RELEASE = REPO / "target" / "release"
FIELDS = "ThreatTypes,Intelligences,AttackPreferenceTop5,AttackCntByThreatType"
KEY_ID, KEY_SECRET = "LTAIbenchserve", "bench-serve-secret"
TLDS = ["com", "net", "org", "info", "xyz", "top", "ru", "cn"]
PG_SCHEMA = "bench_serve"
TICKS = os.sysconf("SC_CLK_TCK")
# The last lines of a request file are the 2 s warm-up's.
WARMUP_LINES = 100_000

WRK_LUA = r"""
-- Each thread reads its share (every n-th line, from its own offset) of lines first..last-1 of
-- the request file and sends them in order: the warm-up and the measured run use different
-- lines, so a signed line is never sent twice (unless a run outlasts its lines).
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local nthreads, first, last = tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  paths = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i >= first and i < last and i % nthreads == id then paths[#paths + 1] = line end
    i = i + 1
  end
  next_path = 1
end
function request()
  local path = paths[next_path]
  next_path = next_path + 1
  if next_path > #paths then next_path = 1 end
  return wrk.format("GET", path)
end
function done(summary, latency, requests)
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def scrambled(i: int) -> int:
    """A number that looks random but is a function of `i` (Knuth's multiplicative hash)."""
    return (i * 2654435761) % 1_000_003


def listed_name(i: int) -> str:
    # A registrable name per record, a tenth of them one label below it (a host of a listed zone).
    base = f"bad{i}x{scrambled(i)}.{TLDS[i % len(TLDS)]}"
    return f"www.{base}" if i % 10 == 0 else base


def top_name(i: int) -> str:
    return f"site{i}y{scrambled(i + 7)}.{TLDS[(i * 7) % len(TLDS)]}"


def unknown_name(rng: random.Random) -> str:
    return f"never{rng.randrange(10**9)}z.{rng.choice(TLDS)}"


def build_inputs(work: Path, names: int, top: int, pdns: int, networks: int) -> dict:
    marker = work / "inputs.json"
    sizes = {"names": names, "top": top, "pdns": pdns, "generator": 2}
    if networks:
        sizes["networks"] = networks
    files = {"list": work / "listed.txt", "top": work / "top.csv", "pdns": work / "pdns.jsonl",
             "networks": work / "networks.txt"}
    if marker.exists() and json.loads(marker.read_text()) == sizes:
        return files
    with files["list"].open("w") as out:
        for i in range(names):
            out.write(listed_name(i) + "\n")
    with files["top"].open("w") as out:
        for i in range(top):
            out.write(f"{i + 1},{top_name(i)}\n")
    rng = random.Random(17)
    now = int(time.time())
    with files["pdns"].open("w") as out, files["networks"].open("w") as out_networks:
        for i in range(pdns):
            if i % 3 == 2 and top:
                rrname = top_name(rng.randrange(top))
            else:
                rrname = listed_name(rng.randrange(max(names, 1)))
            ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            first = now - rng.randrange(86400 * 60, 86400 * 400)
            last = min(now - 3600, first + rng.randrange(86400 * 300))
            out.write(f'{{"count":{rng.randrange(1, 5000)},"rrname":"{rrname}","rrtype":"A",'
                      f'"rdata":["{ip}"],"time_first":{first},"time_last":{last}}}\n')
            # Networks around some of the resolved addresses: /24s, every fourth a /16 as well.
            if i < networks:
                octets = ip.split(".")
                out_networks.write(f"{'.'.join(octets[:3])}.0/24\n")
                if i % 4 == 0:
                    out_networks.write(f"{'.'.join(octets[:2])}.0.0/16\n")
    marker.write_text(json.dumps(sizes))
    return files


def write_config(work: Path, args, nonces: int) -> Path:
    """The server's config; it remembers `nonces` nonces (every signed line the run may send:
    past `server.max_nonces` a server refuses signed requests, and a fast host's signed rounds
    send more than the default two million within the timestamp window)."""
    store = (f'url = "{args.postgres}"\nschema = "{args.pg_schema}"\n' if args.postgres
             else f'path = "{work / "store.db"}"\n')
    config = work / ("pg.toml" if args.postgres else "sqlite.toml")
    config.write_text(
        f"[store]\n{store}load_demo_when_empty = false\n"
        f'[enrich]\nmode = "{args.enrich}"\n'
        "[server]\nanonymous = true\nanonymous_rate_per_sec = 0\n"
        f"max_nonces = {max(nonces, 2_000_000)}\n"
        f'[[server.access_keys]]\nid = "{KEY_ID}"\nsecret = "{KEY_SECRET}"\nrate_per_sec = 0\n')
    return config


def psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", url, "-Atqc", sql], check=True, capture_output=True, text=True).stdout


def store_holds_names(args, work: Path) -> bool:
    """Whether the store a marker speaks of is there and holds names."""
    if args.postgres:
        exists = psql(args.postgres, f"SELECT to_regclass('{args.pg_schema}.row_counts') IS NOT NULL")
        return exists.strip() == "t" and psql(
            args.postgres, f"SELECT names > 0 FROM {args.pg_schema}.row_counts").strip() == "t"
    return (work / "store.db").exists()


def build_store(work: Path, files: dict, config: Path, args) -> None:
    marker = work / ("store-pg.json" if args.postgres else "store.json")
    wanted = json.loads((work / "inputs.json").read_text())
    # The marker says what the store was built from; the store itself may be gone since (a
    # dropped schema would otherwise be benchmarked empty, every name unknown).
    if marker.exists() and json.loads(marker.read_text()) == wanted and store_holds_names(args, work):
        print(f"store: reusing the one built from {wanted}")
        return
    if args.postgres:
        psql(args.postgres, f"DROP SCHEMA IF EXISTS {args.pg_schema} CASCADE")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(work / "store.db") + suffix).unlink(missing_ok=True)
    imports = [("list", "domain_list", "bench-list", wanted["names"]),
               ("top", "ranked_top_list", "bench-top", wanted["top"]),
               ("pdns", "passive_dns", "bench-pdns", wanted["pdns"])]
    if wanted.get("networks"):
        lines = sum(1 for _ in files["networks"].open())
        imports.append(("networks", "domain_list", "bench-networks", lines))
    for key, fmt, source, records in imports:
        start = time.monotonic()
        subprocess.run([str(RELEASE / "threatintel"), "--config", str(config), "import", "--format", fmt,
                        "--source", source, str(files[key])], check=True, stdout=subprocess.DEVNULL)
        took = time.monotonic() - start
        print(f"import {fmt:16} {records:>9,} records in {took:6.1f} s: {records / took:>9,.0f} records/s")
    marker.write_text(json.dumps(wanted))


def anonymous_path(domain: str) -> str:
    query = urllib.parse.urlencode({"Action": "DescribeDomainReport", "Version": "2020-05-12",
                                    "Domain": domain, "Field": FIELDS, "Format": "JSON"})
    return "/?" + query


def enc(s: str) -> str:
    return urllib.parse.quote(s, safe="-_.~")


def signed_path(domain: str, nonce: str, timestamp: str) -> str:
    params = sorted({"AccessKeyId": KEY_ID, "Action": "DescribeDomainReport", "Domain": domain,
                     "Field": FIELDS, "Format": "JSON", "SignatureMethod": "HMAC-SHA1",
                     "SignatureNonce": nonce, "SignatureVersion": "1.0", "Timestamp": timestamp,
                     "Version": "2020-05-12"}.items())
    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in params)
    to_sign = "GET&%2F&" + enc(query)  # wrk sends GET
    digest = hmac.new(f"{KEY_SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return f"/?{query}&Signature={enc(base64.b64encode(digest).decode())}"


def draw(category: str, rng: random.Random, sizes: dict) -> str:
    if category == "mix":
        roll = rng.random()
        category = "listed" if roll < 0.4 else "allowlisted" if roll < 0.6 else "unknown"
    if category == "listed":
        return listed_name(rng.randrange(sizes["names"]))
    if category == "allowlisted":
        return top_name(rng.randrange(sizes["top"]))
    return unknown_name(rng)


def request_file(work: Path, category: str, count: int, sizes: dict, signed: bool) -> Path:
    path = work / f"requests-{category}{'-signed' if signed else ''}.txt"
    rng = random.Random(category)
    prefix = uuid.uuid4().hex[:16]
    timestamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with path.open("w") as out:
        for i in range(count):
            domain = draw(category, rng, sizes)
            out.write((signed_path(domain, f"{prefix}{i:016x}", timestamp) if signed
                       else anonymous_path(domain)) + "\n")
    return path


def cpu_split(pid: int) -> tuple:
    """The process's (user, system) CPU ticks: utime and stime, fields 14 and 15."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def cpu_ticks(pid: int) -> int:
    return sum(cpu_split(pid))


def socket_ports(pid: int) -> set:
    """Local TCP ports of `pid`'s sockets."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def pg_backends(url: str, server_pid: int) -> list:
    ports = socket_ports(server_pid)
    rows = psql(url, "SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL")
    return [int(p) for p, port in (r.split("|") for r in rows.split()) if int(port) in ports]


def wrk(url: str, lua: Path, requests: Path, lines: range, seconds: int, args) -> dict:
    out = subprocess.run(["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s",
                          "--latency", "-s", str(lua), url, "--", str(requests), str(args.threads),
                          str(lines.start), str(lines.stop)],
                         check=True, capture_output=True, text=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRK "))
    return json.loads(line[4:])


def measure(label: str, url: str, pid: int, lua: Path, requests: Path, args, backends=(),
            round_no: int = 0, warm: bool = True) -> dict:
    total = sum(1 for _ in requests.open())
    if round_no == 0 and warm:
        # Later rounds follow warm runs; warming again would resend signed lines (replays).
        wrk(url, lua, requests, range(total - WARMUP_LINES, total), 2, args)
    backends_of = backends
    backends = list(backends() if callable(backends) else backends)
    before = cpu_split(pid)
    pg_before = {b: cpu_ticks(b) for b in backends if Path(f"/proc/{b}").exists()}
    # Signed, each round sends its own share of the lines (a signed line is never sent twice);
    # anonymous, every round all of them.
    share = (total - WARMUP_LINES) // (args.rounds if args.signed else 1)
    first = round_no * share if args.signed else 0
    lines = range(first, first + share)
    result = wrk(url, lua, requests, lines, args.seconds, args)
    per_request = lambda ticks: ticks * 1e6 / TICKS / max(result["requests"], 1)
    after = cpu_split(pid)
    result["user_us"], result["system_us"] = (per_request(a - b) for a, b in zip(after, before))
    result["cpu_us"] = result["user_us"] + result["system_us"]
    if callable(backends_of):
        # Backends the pool opened during the run count from their start.
        for b in backends_of():
            pg_before.setdefault(b, 0)
    if pg_before:
        used = sum(cpu_ticks(b) - t for b, t in pg_before.items() if Path(f"/proc/{b}").exists())
        result["pg_cpu_us"] = used * 1e6 / TICKS / max(result["requests"], 1)
    result["rate"] = result["requests"] * 1e6 / max(result["duration_us"], 1)
    result["label"] = label
    if args.signed and not label.startswith("trivial") and result["requests"] > share:
        print(f"bench-serve: {label} sent {result['requests']:,} requests from "
              f"{share:,} signed lines: the repeated ones were refused as replays "
              f"(raise the lines per second in main)", file=sys.stderr, flush=True)
    return result


def callgrind_total(dump: Path) -> int:
    """The instructions a callgrind dump counted: its `summary:` line (callgrind_annotate's
    program totals)."""
    for line in dump.read_text().splitlines():
        if line.startswith("summary: "):
            return int(line.split()[1])
    sys.exit(f"bench-serve: no summary line in {dump}")


def instructions(label: str, command: list, url_of, lua: Path, requests: Path, args) -> float:
    """Instructions per request of the process `command` starts, under callgrind: a warm-up on
    the request file's last lines, then the counters zeroed and `args.instructions` seconds of
    requests on one connection, then a dump."""
    dump = args.work / f"callgrind.{label.replace(' ', '-')}"
    for old in args.work.glob(f"{dump.name}*"):
        old.unlink()
    process = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={dump}",
                                *command], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    one = argparse.Namespace(threads=1, connections=1)
    total = sum(1 for _ in requests.open())
    try:
        line = process.stdout.readline()
        if not line:
            sys.exit(f"bench-serve: {label} did not start under valgrind")
        url = url_of(line)
        wrk(url, lua, requests, range(total - WARMUP_LINES, total), 3, one)
        subprocess.run(["callgrind_control", "-z", str(process.pid)], check=True,
                       capture_output=True)
        result = wrk(url, lua, requests, range(0, total - WARMUP_LINES), args.instructions, one)
        subprocess.run(["callgrind_control", "-d", str(process.pid)], check=True,
                       capture_output=True)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait()
    return callgrind_total(Path(f"{dump}.1")) / max(result["requests"], 1)


def count_instructions(config: Path, lua: Path, trivial_requests: Path, requests: dict,
                       args) -> None:
    """`--instructions`: the trivial handler's and each category's instructions per request."""
    if shutil.which("valgrind") is None:
        subprocess.run(["apt-get", "install", "-y", "valgrind"], check=True,
                       stdout=subprocess.DEVNULL)
    print(f"callgrind, wrk -t1 -c1 -d{args.instructions}s, instructions per request "
          f"(user space)", flush=True)
    base = instructions("trivial", [str(RELEASE / "threatintel-loadgen"), "--serve-trivial"],
                        str.strip, lua, trivial_requests, args)
    print(f"{'trivial':12} {base:>9,.0f} instructions/req (1.00x trivial)", flush=True)
    server = [str(RELEASE / "threatintel"), "--config", str(config), "serve",
              "--listen", "127.0.0.1:0"]
    for category, path in requests.items():
        count = instructions(category, server, lambda line: line.split()[-1], lua, path, args)
        print(f"{category:12} {count:>9,.0f} instructions/req ({count / base:4.2f}x trivial)",
              flush=True)


def report(result: dict, trivial_us: float) -> None:
    """One run's line, its ratio against `trivial_us`, the trivial handler's CPU per request."""
    ratio = result["cpu_us"] / trivial_us if trivial_us else float("nan")
    pg = f"  PostgreSQL {result['pg_cpu_us']:6.1f} µs/req" if "pg_cpu_us" in result else ""
    print(f"{result['label']:12} {result['rate']:>9,.0f} req/s  p50 {result['p50_us'] / 1000:6.2f} ms  "
          f"p99 {result['p99_us'] / 1000:6.2f} ms  non-2xx {result['non2xx']:>6}  "
          f"server {result['cpu_us']:6.1f} µs/req ({ratio:4.2f}x trivial; "
          f"{result['user_us']:.1f} user + {result['system_us']:.1f} system){pg}", flush=True)


def summarize(rounds: list) -> None:
    """The median of each run's rounds (CPU per request and its ratio to the trivial handler
    around it) and its worst p99."""
    print(f"median of {len(rounds)} rounds (each ratio against the trivial runs around it):")
    for label in rounds[0]:
        runs = [r[label] for r in rounds]
        cpu = statistics.median(run["cpu_us"] for run in runs)
        ratio = statistics.median(run["cpu_us"] / run["trivial_us"] for run in runs)
        pg = (f"  PostgreSQL {statistics.median(run['pg_cpu_us'] for run in runs):6.1f} µs/req"
              if all("pg_cpu_us" in run for run in runs) else "")
        print(f"{label:12} {statistics.median(run['rate'] for run in runs):>9,.0f} req/s  "
              f"worst p99 {max(run['p99_us'] for run in runs) / 1000:6.2f} ms  "
              f"server {cpu:6.1f} µs/req ({ratio:4.2f}x trivial){pg}", flush=True)


def main() -> int:
    global RELEASE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", type=int, default=1_000_000)
    parser.add_argument("--top", type=int, default=100_000)
    parser.add_argument("--pdns", type=int, default=1_000_000)
    parser.add_argument("--ip-networks", type=int, default=0,
                        help="also import address records on networks around the first N resolved "
                             "addresses (a /24 each, every fourth a /16 too)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--signed", action="store_true", help="V1-signed requests instead of anonymous ones")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL store at URL")
    parser.add_argument("--pg-schema", default=PG_SCHEMA, help=f"its schema (default {PG_SCHEMA}; dropped first)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure the trivial handler and every category this many times in turn, "
                             "and print each one's median (the host's speed drifts between runs)")
    parser.add_argument("--only", choices=["listed", "allowlisted", "unknown", "mix"], action="append")
    parser.add_argument("--work", type=Path, default=REPO / "target" / "bench-serve")
    parser.add_argument("--padded-trivial", type=int, default=1024, metavar="BYTES",
                        help="also measure the trivial handler with a body padded to BYTES (about a "
                             "listed report's; 0: not), beside the small one the ratios use")
    parser.add_argument("--enrich", choices=["off", "background", "inline"], default="background",
                        help="the server's [enrich] mode (serve's default: background)")
    parser.add_argument("--instructions", type=int, metavar="SECONDS",
                        help="count instructions per request under callgrind instead (one "
                             "connection, SECONDS of requests each)")
    parser.add_argument("--bin-dir", type=Path, default=REPO / "target" / "release",
                        help="where threatintel and threatintel-loadgen are (default target/release): "
                             "another build's, to compare two builds on the same store")
    args = parser.parse_args()
    RELEASE = args.bin_dir.resolve()
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
    for binary in ("threatintel", "threatintel-loadgen"):
        if not (RELEASE / binary).exists():
            sys.exit(f"bench-serve: no {RELEASE / binary}; cargo build --release -p threatintel -p threatintel-loadgen")
    args.work.mkdir(parents=True, exist_ok=True)
    files = build_inputs(args.work, args.names, args.top, args.pdns, args.ip_networks)
    # Signed lines are used once: enough for the server's pace on an idle 2-core machine
    # (about 50,000 answers/s); a run that outlasts its lines reuses nonces and says so.
    count = args.rounds * args.seconds * 150_000 + WARMUP_LINES if args.signed else 300_000
    categories = args.only or ["listed", "allowlisted", "unknown", "mix"]
    config = write_config(args.work, args, len(categories) * count if args.signed else 0)
    build_store(args.work, files, config, args)
    sizes = {"names": args.names, "top": args.top}
    lua = args.work / "requests.lua"
    lua.write_text(WRK_LUA)
    if args.instructions:
        count_instructions(config, lua, request_file(args.work, "mix", count, sizes, args.signed),
                           {c: request_file(args.work, c, count, sizes, args.signed)
                            for c in categories}, args)
        return 0

    server = subprocess.Popen([str(RELEASE / "threatintel"), "--config", str(config), "serve",
                               "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    trivial = subprocess.Popen([str(RELEASE / "threatintel-loadgen"), "--serve-trivial"],
                               stdout=subprocess.PIPE, text=True)
    padded = (subprocess.Popen([str(RELEASE / "threatintel-loadgen"), "--serve-trivial",
                                "--trivial-body-bytes", str(args.padded_trivial)],
                               stdout=subprocess.PIPE, text=True) if args.padded_trivial else None)
    try:
        trivial_url = trivial.stdout.readline().strip()
        line = server.stdout.readline()
        if not line.startswith("listening on "):
            sys.exit(f"bench-serve: the server did not start: {line!r}")
        server_url = line.split()[-1]
        mode = "V1-signed" if args.signed else "anonymous"
        backend = "PostgreSQL" if args.postgres else "SQLite"
        if args.postgres:
            # The buffer pool decides much of an import of records on stored names (README).
            backend += f" (shared_buffers {psql(args.postgres, 'SHOW shared_buffers').strip()})"
        print(f"{backend} store ({args.names:,} listed, {args.top:,} top sites, {args.pdns:,} pDNS), "
              f"{mode}, enrich {args.enrich}, wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}")
        trivial_requests = request_file(args.work, "mix", count, sizes, args.signed)
        padded_url = padded.stdout.readline().strip() if padded else None
        backends = (lambda: pg_backends(args.postgres, server.pid)) if args.postgres else ()
        requests = {c: request_file(args.work, c, count, sizes, args.signed) for c in categories}
        rounds = []
        for round_no in range(args.rounds):
            if args.rounds > 1:
                print(f"round {round_no + 1} of {args.rounds}", flush=True)
            base = measure("trivial", trivial_url, trivial.pid, lua, trivial_requests, args,
                           round_no=round_no)
            base["trivial_us"] = base["cpu_us"]
            report(base, base["trivial_us"])
            results = {"trivial": base}
            if padded:
                label = f"trivial {args.padded_trivial}B"
                results[label] = measure(label, padded_url, padded.pid, lua, trivial_requests,
                                         args, round_no=round_no)
                results[label]["trivial_us"] = base["cpu_us"]
                report(results[label], base["cpu_us"])
            before = base
            for category in categories:
                result = measure(category, server_url, server.pid, lua, requests[category], args,
                                 backends, round_no)
                after = measure("trivial", trivial_url, trivial.pid, lua, trivial_requests, args,
                                round_no=round_no, warm=False)
                result["trivial_us"] = (before["cpu_us"] + after["cpu_us"]) / 2
                report(result, result["trivial_us"])
                report(after, base["cpu_us"])
                results[category] = result
                before = after
            rounds.append(results)
        if args.rounds > 1:
            summarize(rounds)
    finally:
        for process in (p for p in (server, trivial, padded) if p):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
