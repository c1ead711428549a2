#!/usr/bin/env python3
"""Benchmark: scimlite beside its ceiling and a peer, over real sockets.

    python tools/bench.py                          # the full run (about 10 minutes)
    python tools/bench.py --quick                  # 1 round of 2 s, sizes 1000,10000
    python tools/bench.py [--script PATH] [--threads 8] [--connections 8]
                          [--rounds 3] [--seconds 5] [--users 1000]
                          [--sizes 1000,10000,100000] [--only scimlite,ceiling]
                          [--skip-growth]

Needs `wrk` (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)
and, for the peer column, `pip install scim2-server`; on Debian or Ubuntu,
run as root, the benchmark installs both itself when they are missing.

Three contenders, each its own process on a free loopback port, each on
Waitress with --threads worker threads (8: scimlite's default):

  scimlite      `python SCRIPT serve` (default: this checkout's scimlite.py;
                --script measures another checkout, e.g. a git worktree)
  ceiling       tools/bench_ceiling.py: bare Bottle + Waitress + peewee doing
                the one query each route needs, no auth: what this stack allows
  scim2-server  tools/bench_peer.py: python-scim's server, in memory (not
                durable), as a reference column

Part 1, at --users users (1,000): lookup by `userName eq`, GET by id, a deep
list page of 100, and Entra's PATCH are driven by wrk (tools/bench/
workload.lua, --connections connections); creates and Entra's cycle (look a
missing userName up, then create it) by --connections keep-alive Python
clients; a 1,000-member group (10 PATCHes adding 100 members, then a GET)
by one client.  Every server starts fresh each round; rounds are
interleaved (each round runs every workload on every server) and the table
shows the median of the rounds: requests/s, p50, p99, the server's CPU
milliseconds per request (utime+stime from /proc: the figure that stays
put on a noisy machine) and requests/s as a fraction of the ceiling's.

Part 2, growth: a fresh scimlite (and ceiling) database per --sizes size,
seeded through scimlite's Python API (the seed time is printed), then one
connection on lookup, GET and the deep page: p50 per size and the
server's peak RSS; at the largest size of at least 10,000 users, the GET of
a 10,000-member group.

The last line is one line of JSON with every figure, for diffing runs.
Figures, not assertions: the test suite never times anything.
"""
import argparse
import contextlib
import importlib
import importlib.metadata
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

from bench_writes import (Client, clean_env, describe_commit, free_port, percentile,
                          wait_for_port)

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
LUA = TOOLS / "bench" / "workload.lua"
CONTENT_TYPE = "application/scim+json"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CONTENDERS = ("scimlite", "ceiling", "scim2-server")
BASELINE = "ceiling"
GROWTH_CONTENDERS = ("scimlite", "ceiling")   # scim2-server lives in memory, seeded over HTTP
TIMED_WORKLOADS = {          # name: (title, driver)
    "lookup": ('lookup userName eq "x"', "wrk"),
    "get": ("GET /Users/{id}", "wrk"),
    "list": ("deep list page (startIndex=N-99, count=100)", "wrk"),
    "patch": ("PATCH, Entra's form (Replace displayName, active)", "wrk"),
    "create": ("create (POST /Users)", "python"),
    "entra": ("Entra cycle (lookup a missing userName, then create it), per cycle",
              "python"),
}
GROUP_SIZE, GROUP_BATCH = 1000, 100
BIG_GROUP_SIZE, BIG_GROUP_BATCH = 10000, 1000

# Runs in a subprocess with the measured checkout on sys.path, so that the
# benchmark never imports the scimlite it measures.
SEED_SCIMLITE = """
import importlib, json, sys, time
sys.path.insert(0, sys.argv[1])
scimlite = importlib.import_module(sys.argv[2])
with open(sys.argv[4], encoding="utf-8") as handle:
    users = json.load(handle)
app = scimlite.create_app({"db": sys.argv[3], "mailer": "memory", "license_mails": []})
began = time.perf_counter()
scimlite.import_document(app.scimlite, users)
seconds = time.perf_counter() - began
token = app.scimlite.mint_key("bench")
app.scimlite.close()
print(json.dumps({"token": token, "seconds": seconds}))
"""


###############################################################################
# Users and the files wrk reads ###############################################
###############################################################################

def seed_users(count):
    """The same users for every contender; ids fixed so files can be shared."""
    users = []
    for i in range(count):
        name = f"user{i:06d}@example.com"
        users.append({"schemas": [USER_URN], "id": str(uuid.UUID(int=i + 1)),
                      "userName": name, "active": True, "displayName": f"User {i}",
                      "name": {"givenName": "User", "familyName": f"N{i}"},
                      "emails": [{"value": name, "type": "work", "primary": True}]})
    return users


def new_user(name, number):
    return {"schemas": [USER_URN], "userName": name, "active": True,
            "displayName": f"New {number}", "name": {"givenName": "New", "familyName": "U"},
            "emails": [{"value": name, "type": "work", "primary": True}]}


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle)
    return path


def write_targets(path, ids, names):
    """One line per user for workload.lua: the id, a tab, the userName
    percent-encoded for a filter value."""
    with open(path, "w", encoding="utf-8") as handle:
        for user_id, name in zip(ids, names):
            handle.write(f"{user_id}\t{urllib.parse.quote(name, safe='')}\n")
    return path


###############################################################################
# Processes: start, watch (/proc), stop ########################################
###############################################################################

class Contender:
    """One server process and what the workloads need to address it."""

    def __init__(self, name, process, port, base, token, ids, names, log):
        self.name, self.process, self.port, self.base = name, process, port, base
        self.token, self.ids, self.names, self.log = token, ids, names, log
        self.targets = None       # the file workload.lua reads, written on start
        self.seed_seconds = None

    @property
    def pid(self):
        return self.process.pid


def launch(command, log, **options):
    # A file, not a pipe: a pipe no one reads fills and stalls the server.
    with open(log, "a") as out:
        return subprocess.Popen(command, stdout=out, stderr=out, env=clean_env(), **options)


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat (fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()   # the name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def run_checked(command, what):
    done = subprocess.run(command, capture_output=True, text=True, env=clean_env())
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def seed_scimlite(script, db, users_file):
    """Import the users in a subprocess; the token and the seconds it took."""
    command = [sys.executable, "-c", SEED_SCIMLITE, str(script.parent), script.stem,
               str(db), str(users_file)]
    return json.loads(run_checked(command, "seeding scimlite").splitlines()[-1])


def start_scimlite(args, work, users, users_file, stack):
    db, log, config = work / "scimlite.db", work / "scimlite.log", work / "scimlite.toml"
    seeded = seed_scimlite(args.script, db, users_file)
    config.write_text(f'threads = {args.threads}\nmailer = "console"\n'
                      'log_level = "warning"\n')
    port = free_port()
    process = launch([sys.executable, str(args.script), "serve", "--config", str(config),
                      "--db", str(db), "--port", str(port)], log)
    stack.callback(stop, process)
    contender = Contender("scimlite", process, port, "/scim/v2", seeded["token"],
                          [u["id"] for u in users], [u["userName"] for u in users], log)
    contender.seed_seconds = seeded["seconds"]
    return contender


def start_ceiling(args, work, users, users_file, stack):
    db, log = work / "ceiling.db", work / "ceiling.log"
    script = TOOLS / "bench_ceiling.py"
    began = time.perf_counter()
    run_checked([sys.executable, str(script), "seed", "--db", str(db),
                 "--users", str(users_file)], "seeding the ceiling")
    seconds = time.perf_counter() - began
    port = free_port()
    process = launch([sys.executable, str(script), "serve", "--db", str(db),
                      "--port", str(port), "--threads", str(args.threads)], log)
    stack.callback(stop, process)
    contender = Contender("ceiling", process, port, "/scim/v2", "none",
                          [u["id"] for u in users], [u["userName"] for u in users], log)
    contender.seed_seconds = seconds
    return contender


def start_scim2_server(args, work, users, users_file, stack):
    log, port, token = work / "scim2-server.log", free_port(), uuid.uuid4().hex
    process = launch([sys.executable, str(TOOLS / "bench_peer.py"), "--port", str(port),
                      "--threads", str(args.threads), "--token", token], log)
    stack.callback(stop, process)
    contender = Contender("scim2-server", process, port, "/v2", token, [],
                          [u["userName"] for u in users], log)
    wait_until_listening(contender)
    began = time.perf_counter()
    contender.ids = seed_over_http(contender, users, args.connections)
    contender.seed_seconds = time.perf_counter() - began
    return contender


def wait_until_listening(contender):
    try:
        wait_for_port(contender.process, contender.port, timeout=120)
    except RuntimeError as exc:
        tail = Path(contender.log).read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{contender.name}: {exc}; its output:\n{tail}") from None


STARTERS = {"scimlite": start_scimlite, "ceiling": start_ceiling,
            "scim2-server": start_scim2_server}


def start_contenders(names, args, work, users, users_file, stack):
    contenders = []
    for name in names:
        directory = work / name
        directory.mkdir(exist_ok=True)
        contender = STARTERS[name](args, directory, users, users_file, stack)
        wait_until_listening(contender)
        contender.targets = write_targets(directory / "targets.txt", contender.ids,
                                          contender.names)
        contenders.append(contender)
    return contenders


###############################################################################
# Clients: keep-alive Python connections, and wrk #############################
###############################################################################

class Connection(Client):
    """bench_writes' keep-alive client, on a contender's base path."""

    def __init__(self, contender):
        super().__init__(contender.port, contender.token)
        self.base = contender.base

    def send(self, method, path, body=None):
        return super().send(method, self.base + path, body)

    def expect(self, status, method, path, body=None):
        got, data, ms = self.send(method, path, body)
        if got != status:
            raise RuntimeError(f"{method} {path}: {got} {data[:300]!r}")
        return json.loads(data) if data else None, ms


def seed_over_http(contender, users, clients):
    """POST every user (without its id: the server assigns one); their ids."""
    ids = [None] * len(users)

    def post(numbers):
        connection = Connection(contender)
        for n in numbers:
            body = {k: v for k, v in users[n].items() if k != "id"}
            ids[n] = connection.expect(201, "POST", "/Users", body)[0]["id"]
    each_in_threads(post, [range(k, len(users), clients) for k in range(clients)])
    return ids


def each_in_threads(work, parts):
    failures = []

    def guarded(part):
        try:
            work(part)
        except Exception as exc:          # re-raised below, in the main thread
            failures.append(exc)
    threads = [threading.Thread(target=guarded, args=(part,), daemon=True) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def wrk_command(contender, kind, args, connections, start):
    url = f"http://127.0.0.1:{contender.port}"
    return ["wrk", "--threads", str(min(2, connections)), "--connections", str(connections),
            "--duration", f"{args.seconds}s", "--timeout", "30s", "--script", str(LUA),
            "--header", f"Authorization: Bearer {contender.token}",
            "--header", f"Content-Type: {CONTENT_TYPE}",
            "--header", f"Accept: {CONTENT_TYPE}",
            url, "--", kind, contender.base, str(contender.targets), str(start)]


def run_wrk(contender, kind, args, connections):
    """One wrk run: requests/s, p50, p99 and server CPU per request."""
    start = max(1, len(contender.ids) - 99)
    before = cpu_seconds(contender.pid)
    output = run_checked(wrk_command(contender, kind, args, connections, start), "wrk")
    used = cpu_seconds(contender.pid) - before
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    figures = json.loads(line[len("BENCH "):])
    return run_figures(figures["requests"], figures["seconds"], figures["p50_ms"],
                       figures["p99_ms"], used, figures["non2xx"] + figures["socket_errors"])


def run_figures(done, seconds, p50, p99, cpu_used, errors):
    """What a run reports: throughput, latency, the server's CPU per request."""
    return {"rps": round(done / seconds, 1), "p50_ms": round(p50, 3),
            "p99_ms": round(p99, 3), "cpu_ms": round(cpu_used * 1000 / max(done, 1), 3),
            "requests": done, "errors": errors}


def create_once(connection, tag):
    name = f"new-{tag}@example.com"
    status, _, ms = connection.send("POST", "/Users", new_user(name, tag))
    return status == 201, ms


def entra_cycle(connection, tag):
    """Entra ID looks a user up by userName before it creates it."""
    name = f"entra-{tag}@example.com"
    query = urllib.parse.quote(f'userName eq "{name}"')
    status, data, looked = connection.send("GET", f"/Users?filter={query}")
    found_none = status == 200 and json.loads(data)["totalResults"] == 0
    status, _, created = connection.send("POST", "/Users", new_user(name, tag))
    return found_none and status == 201, looked + created


PYTHON_JOBS = {"create": create_once, "entra": entra_cycle}


def run_python(contender, kind, args, round_number):
    """--connections threads, each one connection, for --seconds."""
    job, samples, failures = PYTHON_JOBS[kind], [], []   # list.append is atomic

    def hammer(number):
        connection, deadline = Connection(contender), time.perf_counter() + args.seconds
        n = 0
        while time.perf_counter() < deadline:
            ok, ms = job(connection, f"r{round_number}-t{number}-{n}")
            (samples if ok else failures).append(ms)
            n += 1
    before, began = cpu_seconds(contender.pid), time.perf_counter()
    each_in_threads(hammer, range(args.connections))
    elapsed, used = time.perf_counter() - began, cpu_seconds(contender.pid) - before
    ordered = sorted(samples + failures)
    return run_figures(len(ordered), elapsed, percentile(ordered, .5),
                       percentile(ordered, .99), used, len(failures))


def build_group(contender, connection, size, batch, name):
    """Create a group and add `size` seeded users in PATCHes of `batch`."""
    group, _ = connection.expect(201, "POST", "/Groups",
                                 {"schemas": [GROUP_URN], "displayName": name})
    path, took = f"/Groups/{group['id']}", 0.0
    for first in range(0, size, batch):
        members = [{"value": i} for i in contender.ids[first:first + batch]]
        status, data, ms = connection.send("PATCH", path, {"schemas": [PATCH_URN],
            "Operations": [{"op": "add", "path": "members", "value": members}]})
        if status not in (200, 204):
            raise RuntimeError(f"PATCH {path}: {status} {data[:300]!r}")
        took += ms
    return path, took


def run_group(contender, args, round_number):
    """The 1,000-member group: 10 PATCHes of 100, then a GET; their total time."""
    connection = Connection(contender)
    before = cpu_seconds(contender.pid)
    path, took = build_group(contender, connection, GROUP_SIZE, GROUP_BATCH,
                             f"Bench group {round_number}")
    group, ms = connection.expect(200, "GET", path)
    used = cpu_seconds(contender.pid) - before
    if len(group.get("members", [])) != GROUP_SIZE:
        raise RuntimeError(f"{contender.name}: the group has {len(group['members'])} members")
    return {"total_ms": round(took + ms, 1), "cpu_ms": round(used * 1000), "requests": 11}


def warm_up(contender):
    """A few requests of each read, so that no first-request cost lands in a run."""
    connection = Connection(contender)
    for user_id, name in list(zip(contender.ids, contender.names))[:20]:
        query = urllib.parse.quote(f'userName eq "{name}"')
        connection.send("GET", f"/Users?filter={query}")
        connection.send("GET", f"/Users/{user_id}")
    connection.send("GET", f"/Users?startIndex={max(1, len(contender.ids) - 99)}&count=100")


###############################################################################
# Part 1: the side-by-side rounds #############################################
###############################################################################

def run_workload(contender, kind, args, round_number):
    if kind == "group":
        if contender.name == BASELINE:
            return None          # the ceiling has no groups
        return run_group(contender, args, round_number)
    if TIMED_WORKLOADS[kind][1] == "wrk":
        return run_wrk(contender, kind, args, args.connections)
    return run_python(contender, kind, args, round_number)


def run_round(args, names, work, users, users_file, round_number, results):
    # Reads first, at exactly --users users; then the writes, which add users;
    # the group last, since a user in a group may cost more to render.
    with contextlib.ExitStack() as stack:
        contenders = start_contenders(names, args, work, users, users_file, stack)
        for contender in contenders:
            warm_up(contender)
        turn = round_number % len(contenders)       # no server always goes first
        contenders = contenders[turn:] + contenders[:turn]
        for kind in [*TIMED_WORKLOADS, "group"]:
            for contender in contenders:
                figures = run_workload(contender, kind, args, round_number)
                results.setdefault(kind, {}).setdefault(contender.name, []).append(figures)
                print(f"  round {round_number}: {kind:<7} {contender.name:<13} "
                      f"{describe_figures(figures)}", file=sys.stderr, flush=True)


def describe_figures(figures):
    if figures is None:
        return "n/a"
    if "total_ms" in figures:
        return f"{figures['total_ms']:.0f} ms total"
    return (f"{figures['rps']:.0f}/s  p99 {figures['p99_ms']:.1f} ms  "
            f"CPU {figures['cpu_ms']:.2f} ms/req  errors {figures['errors']}")


def median_figures(rounds):
    """Each figure's median over the rounds (each figure on its own)."""
    measured = [r for r in rounds if r is not None]
    if not measured:
        return None
    return {key: round(statistics.median(r[key] for r in measured), 3)
            for key in measured[0]}


def summarize(results):
    """The medians, each with its requests/s as a fraction of the ceiling's."""
    summary = {kind: {name: median_figures(rounds) for name, rounds in by_name.items()}
               for kind, by_name in results.items()}
    for by_name in summary.values():
        base = (by_name.get(BASELINE) or {}).get("rps")
        for figures in by_name.values():
            if figures and base and "rps" in figures:
                figures["x_ceiling"] = round(figures["rps"] / base, 3)
    return summary


def cell(value, spec):
    """A figure in its column, or "n/a" as wide."""
    if value is None:
        return format("n/a", ">" + spec.split(".")[0])
    return format(value, spec)


def plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def rounds_text(args):
    return f"median of {plural(args.rounds, 'round')}"


def print_workload(kind, title, by_name, names, args):
    driver = "wrk" if TIMED_WORKLOADS[kind][1] == "wrk" else "Python keep-alive clients"
    print(f"\n{title}\n  ({driver}, {args.connections} connections, "
          f"{rounds_text(args)} of {args.seconds} s)")
    print(f"  {'server':<13} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} "
          f"{'x ceiling':>10}")
    for name in names:
        f = by_name.get(name) or {}
        print(f"  {name:<13} {cell(f.get('rps'), '8.0f')} {cell(f.get('p50_ms'), '8.2f')} "
              f"{cell(f.get('p99_ms'), '8.1f')} {cell(f.get('cpu_ms'), '11.2f')} "
              f"{cell(f.get('x_ceiling'), '10.2f')}")
        if f.get("errors"):
            print(f"  {'':<13} ({f['errors']:.0f} failed requests a round, median)")


def print_group(by_name, names, args):
    print(f"\n1,000-member group: POST, 10 PATCHes adding 100 members, one GET "
          f"(one client, {rounds_text(args)})")
    print(f"  {'server':<13} {'total ms':>9} {'CPU ms':>8}")
    for name in names:
        f = by_name.get(name) or {}
        print(f"  {name:<13} {cell(f.get('total_ms'), '9.0f')} {cell(f.get('cpu_ms'), '8.0f')}")


def part_one(args, names, work):
    users = seed_users(args.users)
    users_file = write_json(work / f"users-{args.users}.json", users)
    results = {}
    print(f"Part 1: {args.users:,} users, {plural(args.rounds, 'interleaved round')} "
          "(progress on stderr)", flush=True)
    for round_number in range(1, args.rounds + 1):
        round_dir = work / f"round-{round_number}"
        round_dir.mkdir()
        run_round(args, names, round_dir, users, users_file, round_number, results)
        shutil.rmtree(round_dir, ignore_errors=True)
    summary = summarize(results)
    for kind, (title, _) in TIMED_WORKLOADS.items():
        print_workload(kind, title, summary.get(kind, {}), names, args)
    print_group(summary.get("group", {}), names, args)
    return summary


###############################################################################
# Part 2: growth ##############################################################
###############################################################################

def run_size(args, names, work, size, big_group):
    users = seed_users(size)
    users_file = write_json(work / f"users-{size}.json", users)
    rows = {}
    with contextlib.ExitStack() as stack:
        contenders = start_contenders(names, args, work, users, users_file, stack)
        for contender in contenders:
            warm_up(contender)
            row = {kind: run_wrk(contender, kind, args, 1) for kind in ("lookup", "get", "list")}
            row["seed_s"] = round(contender.seed_seconds, 2)
            row["peak_rss_mb"] = round(peak_rss_mb(contender.pid), 1)
            if big_group and contender.name == "scimlite":
                row["group_10k"] = time_big_group(contender)
            rows[contender.name] = row
    return rows


def time_big_group(contender):
    """Build a 10,000-member group in PATCHes of 1,000; time only its GET
    (the median of three)."""
    connection = Connection(contender)
    path, built = build_group(contender, connection, BIG_GROUP_SIZE, BIG_GROUP_BATCH,
                              "Bench 10k")
    gets = [connection.expect(200, "GET", path)[1] for _ in range(3)]
    return {"get_ms": round(statistics.median(gets), 1), "build_ms": round(built)}


def print_growth(growth, names, sizes):
    print("\nGrowth: one connection (wrk -c1), p50 ms; seed = import_document "
          "(scimlite) or insert_many (ceiling)")
    print(f"  {'users':>8} {'server':<10} {'seed s':>7} {'lookup':>7} {'GET':>7} "
          f"{'list 100':>9} {'peak RSS MB':>12}")
    for size in sizes:
        for name in names:
            row = growth[str(size)][name]
            print(f"  {size:>8,} {name:<10} {row['seed_s']:7.1f} "
                  f"{row['lookup']['p50_ms']:7.2f} {row['get']['p50_ms']:7.2f} "
                  f"{row['list']['p50_ms']:9.2f} {cell(row['peak_rss_mb'], '12.1f')}")
    for name in names:
        first, last = growth[str(sizes[0])][name], growth[str(sizes[-1])][name]
        print(f"  {name}: lookup p50 at {sizes[-1]:,} / at {sizes[0]:,} users: "
              f"{last['lookup']['p50_ms'] / first['lookup']['p50_ms']:.2f}x")


def part_two(args, names, work):
    names = [n for n in names if n in GROWTH_CONTENDERS]
    sizes = sorted(args.sizes)
    big = max((s for s in sizes if s >= BIG_GROUP_SIZE), default=None)
    growth = {}
    print(f"\nPart 2: growth at {', '.join(f'{s:,}' for s in sizes)} users "
          "(progress on stderr)", flush=True)
    for size in sizes:
        size_dir = work / f"size-{size}"
        size_dir.mkdir()
        growth[str(size)] = run_size(args, names, size_dir, size, size == big)
        print(f"  {size:,} users done", file=sys.stderr, flush=True)
        shutil.rmtree(size_dir, ignore_errors=True)
    print_growth(growth, names, sizes)
    if big and "scimlite" in names:
        group = growth[str(big)]["scimlite"]["group_10k"]
        print(f"  scimlite: GET of a 10,000-member group at {big:,} users: "
              f"{group['get_ms']:.0f} ms (median of 3; built in 10 PATCHes of 1,000 "
              f"in {group['build_ms'] / 1000:.1f} s)")
    elif "scimlite" in names:
        print("  (10,000-member group skipped: no size of at least 10,000 users)")
    return growth


###############################################################################
# Command line ################################################################
###############################################################################

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, default=ROOT / "scimlite.py")
    parser.add_argument("--threads", type=int, default=8,
                        help="Waitress threads of every server (8, scimlite's default)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, help="3 (--quick: 1)")
    parser.add_argument("--seconds", type=int, help="per run: 5 (--quick: 2)")
    parser.add_argument("--users", type=int, default=1000, help="users of part 1")
    parser.add_argument("--sizes", help="growth sizes: 1000,10000,100000 "
                                        "(--quick: 1000,10000)")
    parser.add_argument("--only", default=",".join(CONTENDERS),
                        help="comma-separated subset of " + ",".join(CONTENDERS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-growth", action="store_true")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (2 if args.quick else 5)
    args.sizes = [int(s) for s in (args.sizes or ("1000,10000" if args.quick else
                                                  "1000,10000,100000")).split(",")]
    args.script = args.script.resolve()
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(args.only) - set(CONTENDERS)
    if unknown:
        parser.error(f"--only knows {', '.join(CONTENDERS)}, not {', '.join(unknown)}")
    return args


def check_tools(names):
    """wrk is required; a missing scim2-server only drops its column.  On a
    fresh Debian or Ubuntu machine, run as root, both are installed first,
    so that the benchmark is one command there too."""
    if not shutil.which("wrk") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (apt-get install wrk)", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)
    if not shutil.which("wrk"):
        sys.exit("wrk not found: install it (Debian/Ubuntu: apt-get install wrk; "
                 "macOS: brew install wrk)")
    if "scim2-server" in names and not has_package("scim2-server"):
        print("installing scim2-server, for the peer column (pip install scim2-server)",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "scim2-server"],
                       capture_output=True)
        importlib.invalidate_caches()
    if "scim2-server" in names and not has_package("scim2-server"):
        print("scim2-server could not be installed: its column is left out",
              file=sys.stderr)
        names = [n for n in names if n != "scim2-server"]
    return names


def has_package(name):
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def versions():
    found = {name: importlib.metadata.version(name)
             for name in ("waitress", "bottle", "peewee", "scim2-server") if has_package(name)}
    return {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version, **found}


def print_header(args, names):
    described = ", ".join(f"{k} {v}" for k, v in versions().items())
    print(f"scimlite {args.script} at commit {describe_commit(args.script)}\n"
          f"{described}; {os.cpu_count()} CPUs; every server on Waitress with "
          f"{args.threads} threads over loopback\ncontenders: {', '.join(names)}", flush=True)


def raise_on_sigterm():
    # SIGTERM unwinds like Ctrl+C, so that the servers and temp files go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def main(argv=None):
    args = parse_args(argv)
    names = check_tools(args.only)
    raise_on_sigterm()
    print_header(args, names)
    report = {"commit": describe_commit(args.script), "versions": versions(),
              "cpus": os.cpu_count(), "threads": args.threads,
              "connections": args.connections, "rounds": args.rounds,
              "seconds": args.seconds, "users": args.users}
    began = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="scimlite-bench-") as work:
            report["main"] = part_one(args, names, Path(work))
            if not args.skip_growth:
                report["growth"] = part_two(args, names, Path(work))
    except KeyboardInterrupt:
        sys.exit(130)      # the servers are stopped and the files gone; no traceback
    report["run_seconds"] = round(time.monotonic() - began)
    print(f"\n(run took {report['run_seconds']} s)")
    print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
