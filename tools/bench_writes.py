#!/usr/bin/env python3
"""Benchmark: the write tail under concurrency, against a real server.

    python tools/bench_writes.py [--script PATH] [--clients 8] [--seconds 10]
                                 [--users 200] [--kind patch|create|mixed]

Starts `python PATH serve` (default: this checkout's scimlite.py) on a
fresh database and a free loopback port, seeds --users users, then runs
--clients threads for --seconds, each on its own keep-alive connection,
sending one kind of write: `patch` is Microsoft Entra's PATCH (Replace
displayName and active, active as the string "True"/"False") on a random
seeded user, `create` POSTs new users, `mixed` is half each.  Prints
requests, throughput, p50/p90/p99/p99.9/max latency and every non-2xx
status by code, with the commit the script came from.  --script PATH
measures another checkout (a git worktree of an older commit) with the
same harness.  SCIMLITE_* variables are dropped from the server's
environment so every run uses the defaults.  Figures, not assertions.

--flushes runs the server under `strace -f --seccomp-bpf -e
trace=fsync,fdatasync` (Linux; only those calls stop the process) and
prints the disk flushes per acknowledged write inside the timed window:
what group commit lowers.  strace makes each flush a little slower, so
throughput under --flushes is not the figure to quote.
"""
import argparse
import collections
import http.client
import itertools
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTENT_TYPE = "application/scim+json"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BASE = "/scim/v2"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def describe_commit(script):
    """The short commit of the script's checkout, marked if it has local edits."""
    git = ["git", "-C", str(script.parent)]
    done = subprocess.run([*git, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return "unknown (not a git checkout)"
    edited = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", script.name])
    return done.stdout.strip() + (" + uncommitted edits" if edited.returncode else "")


def clean_env():
    """The environment without SCIMLITE_*: every run measures the defaults."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SCIMLITE_")}


def start_server(script, directory, port, flushes=None):
    """The server; with `flushes` (a path), under strace writing each
    fsync/fdatasync there with its time (see count_flushes)."""
    db, log = Path(directory) / "bench.db", Path(directory) / "server.log"
    command = [sys.executable, str(script), "serve", "--db", str(db), "--port", str(port)]
    if flushes:
        command = ["strace", "-f", "--seccomp-bpf", "-qq", "-ttt", "-e",
                   "trace=fsync,fdatasync", "-o", str(flushes), *command]
    # A file, not a pipe: a pipe no one reads fills and stalls the server on its
    # own log lines.  Append mode, so our reads never move its write offset.
    with open(log, "a") as out:
        server = subprocess.Popen(command, stdout=out, stderr=out, env=clean_env())
    return server, log, db


def stop_server(server):
    """SIGTERM to the server (under strace, to the process strace runs:
    strace itself would detach and leave it running)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    pids = children.read_text().split() if children.exists() else []
    for pid in pids or [server.pid]:
        os.kill(int(pid), signal.SIGTERM)
    server.wait(timeout=30)


def wait_for_port(server, port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not listen on port {port} in {timeout} s")


def read_token(script, log, db):
    """The first start prints the token; failing that, mint one."""
    for line in log.read_text().splitlines():
        if "Secret Token:" in line:
            return line.split("Secret Token:", 1)[1].strip()
    command = [sys.executable, str(script), "mint-key", "bench", "--db", str(db)]
    done = subprocess.run(command, capture_output=True, text=True, env=clean_env(),
                          check=True)
    return done.stdout.strip()


class Client:
    """One keep-alive connection; send() returns (status, body, milliseconds)."""

    def __init__(self, port, token):
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPE,
                        "Accept": CONTENT_TYPE}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(self, method, path, body=None):
        payload = None if body is None else json.dumps(body)
        began = time.perf_counter()
        try:
            self.conn.request(method, path, payload, self.headers)
            response = self.conn.getresponse()
            status, data = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            # A dropped connection is a result too; the next request reconnects.
            self.conn.close()
            status, data = type(exc).__name__, b""
        return status, data, (time.perf_counter() - began) * 1000


def new_user(name, number):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name, "displayName": f"User {number}", "active": True}


def seed(client, count):
    ids = []
    for i in range(count):
        status, data, _ = client.send("POST", f"{BASE}/Users",
                                      new_user(f"user{i}@example.com", i))
        if status != 201:
            raise RuntimeError(f"seeding user {i}: {status} {data[:200]!r}")
        ids.append(json.loads(data)["id"])
    return ids


def entra_patch(rng, ids, tag):
    # Microsoft Entra's shape: capitalised "Replace", booleans as strings.
    body = {"schemas": [PATCH_URN], "Operations": [
        {"op": "Replace", "path": "displayName", "value": f"Renamed {tag}"},
        {"op": "Replace", "path": "active", "value": rng.choice(["False", "True"])}]}
    return "PATCH", f"{BASE}/Users/{rng.choice(ids)}", body


def create(rng, ids, tag):
    return "POST", f"{BASE}/Users", new_user(f"new{tag}@example.com", tag)


WRITES = {"patch": entra_patch, "create": create}


def hammer(client, kind, ids, number, deadline, results):
    rng = random.Random(number)
    for n in itertools.count():
        if time.perf_counter() >= deadline:
            return
        label = rng.choice(list(WRITES)) if kind == "mixed" else kind
        status, _, ms = client.send(*WRITES[label](rng, ids, f"{number}-{n}"))
        results.append((label, status, ms))


def count_flushes(path, began, ended):
    """fsync and fdatasync calls that strace saw between two time.time()s."""
    count = 0
    for line in Path(path).read_text().splitlines():
        fields = line.split(None, 2)     # pid, seconds since the epoch, the call
        if len(fields) == 3 and fields[2].startswith(("fsync(", "fdatasync(")) and \
                began <= float(fields[1]) <= ended:
            count += 1
    return count


def run_all(threads):
    """Start every thread, wait for all of them; the seconds it took."""
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def percentile(ordered, fraction):
    """Nearest rank: the smallest sample at or above `fraction` of them."""
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]


def report(label, rows, seconds):
    ordered = sorted(ms for _, _, ms in rows)
    if not ordered:
        print(f"  {label:<7} no requests")
        return
    figures = "  ".join(f"{name} {percentile(ordered, f):7.1f}" for name, f in
                        (("p50", .5), ("p90", .9), ("p99", .99), ("p99.9", .999)))
    print(f"  {label:<7} {len(rows):6d} requests  {len(rows) / seconds:7.1f}/s   "
          f"{figures}  max {ordered[-1]:7.1f} ms")
    failures = collections.Counter(status for _, status, _ in rows
                                   if not (isinstance(status, int) and status < 300))
    for status, count in sorted(failures.items(), key=str):
        print(f"          {count:6d} x {status}")


def measure(script, directory, kind, clients, seconds, users, flushes=False):
    """One run: ([(kind, status, ms)], seconds it took, the fsync and
    fdatasync calls in that time or None)."""
    port = free_port()
    trace = Path(directory) / "flushes.txt" if flushes else None
    server, log, db = start_server(script, directory, port, trace)
    try:
        wait_for_port(server, port)
        token = read_token(script, log, db)
        ids = seed(Client(port, token), users)
        results = []           # list.append is atomic; no lock needed
        deadline = time.perf_counter() + seconds
        threads = [threading.Thread(target=hammer, daemon=True,
                                    args=(Client(port, token), kind, ids, n,
                                          deadline, results))
                   for n in range(clients)]
        began = time.time()
        elapsed = run_all(threads)
        ended = time.time()
    except Exception:
        print("server output:\n" + log.read_text()[-4000:], file=sys.stderr)
        raise
    finally:
        stop_server(server)
    return results, elapsed, count_flushes(trace, began, ended) if trace else None


def acknowledged(results):
    return sum(isinstance(status, int) and status < 300 for _, status, _ in results)


def run(args, script, directory):
    results, elapsed, flushes = measure(script, directory, args.kind, args.clients,
                                        args.seconds, args.users, args.flushes)
    print(f"{args.clients} clients for {elapsed:.1f} s over keep-alive connections, "
          f"{args.users} seeded users, kind {args.kind}")
    if args.kind == "mixed":
        for label in WRITES:
            report(label, [row for row in results if row[0] == label], elapsed)
    report("all", results, elapsed)
    if flushes is not None:
        done = acknowledged(results)
        print(f"  flushes {flushes} fsync/fdatasync for {done} acknowledged writes: "
              f"{flushes / max(done, 1):.2f} per write")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, default=ROOT / "scimlite.py")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--kind", choices=("patch", "create", "mixed"), default="patch")
    parser.add_argument("--flushes", action="store_true",
                        help="count the disk flushes per write (under strace)")
    args = parser.parse_args(argv)
    script = args.script.resolve()
    print(f"scimlite {script} at commit {describe_commit(script)}; "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; Waitress over loopback")
    with tempfile.TemporaryDirectory() as directory:
        try:
            run(args, script, directory)
        except KeyboardInterrupt:
            sys.exit(130)      # the server is already stopped; no traceback


if __name__ == "__main__":
    main()
