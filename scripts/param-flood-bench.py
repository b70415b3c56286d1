#!/usr/bin/env python3
"""Parameter-flood benchmark: the server's CPU time for refusing unauthenticated POSTs of a
1 MiB form body of 120,000 parameters (issue 13 §1: each cost about two minutes of CPU when
parameters were decoded in quadratic time, before authentication).

    cargo build -p threatintel && scripts/param-flood-bench.py [--binary PATH] [--requests N]

Starts `threatintel serve` on 127.0.0.1 with an empty store, sends N requests with the body
announced by Content-Length (refused unread) and N chunked (read up to server.max_rpc_bytes,
then refused), and prints the server's CPU time per request from /proc/PID/stat (user +
system), which does not depend on the client or the machine's other load; wall time is shown
too. Every answer must be a 413 RequestBodyTooLarge.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def send(port, head, body):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(head)
        try:
            s.sendall(body)
        except OSError:
            pass  # the server answered and closed before the end of the body
        answer = b""
        s.settimeout(30)
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except OSError:
            pass
    status = answer.split(b" ", 2)[1:2]
    if status != [b"413"] or b"RequestBodyTooLarge" not in answer:
        sys.exit(f"unexpected answer: {answer[:300]!r}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(REPO / "target" / "debug" / "threatintel"))
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    body = "&".join(f"p{i}=1" for i in range(120_000)).encode()
    assert len(body) > 1 << 20
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 16384]), body[i : i + 16384])
        for i in range(0, len(body), 16384)
    ) + b"0\r\n\r\n"
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "config.toml"
        config.write_text(
            f'[store]\npath = "{work}/store.db"\nload_demo_when_empty = false\n'
            '[server]\nlisten = "127.0.0.1:0"\n'
            '[[server.access_keys]]\nid = "LTAIbenchKey000000001"\nsecret = "bench-secret"\n'
        )
        server = subprocess.Popen(
            [args.binary, "--config", str(config), "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = server.stdout.readline()
            port = int(re.search(r":(\d+)$", line.strip()).group(1))
            form = "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
            cases = [
                ("announced", f"POST / HTTP/1.1\r\nHost: x\r\n{form}Content-Length: {len(body)}\r\n\r\n", body),
                ("chunked", f"POST / HTTP/1.1\r\nHost: x\r\n{form}Transfer-Encoding: chunked\r\n\r\n", chunked),
            ]
            for name, head, payload in cases:
                cpu, wall = cpu_seconds(server.pid), time.monotonic()
                for _ in range(args.requests):
                    send(port, head.encode(), payload)
                cpu, wall = cpu_seconds(server.pid) - cpu, time.monotonic() - wall
                print(
                    f"{name:9} 1 MiB body, {args.requests} requests: server CPU "
                    f"{cpu / args.requests * 1000:.2f} ms/request, wall "
                    f"{wall / args.requests * 1000:.2f} ms/request"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
