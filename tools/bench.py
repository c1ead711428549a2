#!/usr/bin/env python3
"""Benchmark: scimlite beside its ceiling and a peer, over real sockets.

    python tools/bench.py                          # the full run (about 10 minutes)
    python tools/bench.py --quick                  # 1 round of 2 s, sizes 1000,10000
    python tools/bench.py --db postgresql          # scimlite on PostgreSQL, 1 and 2 instances
    python tools/bench.py --orgs 10                # 100,000 users: 1 org, then 10 of 10,000
    python tools/bench.py --oauth                  # scimlite's requests carry OAuth tokens
    python tools/bench.py [--script PATH] [--threads 8] [--connections 8]
                          [--rounds 3] [--seconds 5] [--users 1000]
                          [--sizes 1000,10000,100000] [--only scimlite,ceiling]
                          [--skip-growth] [--db sqlite|postgresql] [--logs DIR]

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
For PATCH and create, scimlite's disk flushes (fsync and fdatasync) per
acknowledged write, at --connections clients and at one, from a pass of
their own with scimlite under `strace --seccomp-bpf` (Linux, when strace
is installed; bench_writes.py --flushes does the same alone).

Part 2, growth: a fresh scimlite (and ceiling) database per --sizes size,
seeded through scimlite's Python API (the seed time is printed), then one
connection on lookup, GET and the deep page: p50 per size and the
server's peak RSS; at the largest size of at least 10,000 users, the GET of
a 10,000-member group.

--db postgresql: scimlite's database is PostgreSQL instead of a SQLite
file.  A throwaway cluster is started (tools/pgcluster.py) with fsync on,
as durable as SQLite's synchronous=full, and every scimlite start gets a
fresh database in it (CREATE DATABASE; seeded through the same Python API,
and dropped when the servers stop); one license_secret serves the whole
run.  A fourth contender, scimlite-2, is two `serve` processes on one
database, each with --threads threads: wrk workloads run two wrk at once,
one per instance with half the connections (requests/s summed, p50 and p99
the worse of the two), the Python clients alternate between the instances,
the 1,000-member group uses the first.  Its CPU per request is both
processes'.  A "DB CPU" column adds the PostgreSQL server's own CPU per
request (the postmaster and every backend, from /proc), which SQLite spends
inside scimlite's process.  The contenders default to scimlite and
scimlite-2: the ceiling and scim2-server have no PostgreSQL, and --only
still runs them (on SQLite and in memory, as before).  Part 2 runs one
scimlite on PostgreSQL.

The last line is one line of JSON with every figure, for diffing runs
(its "db" names the backend).  Figures, not assertions: the test suite
never times anything.
"""
import argparse
import contextlib
import importlib
import importlib.metadata
import json
import os
import secrets
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

from bench_writes import (Client, acknowledged, clean_env, describe_commit, free_port, measure,
                          percentile, wait_for_port)

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
LUA = TOOLS / "bench" / "workload.lua"
CONTENT_TYPE = "application/scim+json"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CONTENDERS = ("scimlite", "ceiling", "scim2-server", "scimlite-2")
DEFAULT_CONTENDERS = {"sqlite": ("scimlite", "ceiling", "scim2-server"),
                      "postgresql": ("scimlite", "scimlite-2")}
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
# The database's settings come in BENCH_SEED_SETTINGS (JSON: db, and
# license_secret on PostgreSQL), not on the command line.
SEED_SCIMLITE = """
import importlib, json, os, sys, time
sys.path.insert(0, sys.argv[1])
scimlite = importlib.import_module(sys.argv[2])
with open(sys.argv[3], encoding="utf-8") as handle:
    users = json.load(handle)
settings = json.loads(os.environ["BENCH_SEED_SETTINGS"])
orgs = int(os.environ.get("BENCH_SEED_ORGS", "1"))
app = scimlite.create_app({**settings, "mailer": "memory", "license_mails": []})
began = time.perf_counter()
slug = None
for number in range(1, orgs + 1):       # the same users in each; the key is the last's
    if number > 1:
        slug = app.scimlite.create_organization(f"org{number}").slug
    with app.scimlite.in_org(slug):
        scimlite.import_document(app.scimlite, users)
seconds = time.perf_counter() - began
token = app.scimlite.mint_key("bench", **({"org": slug} if slug else {}))
if os.environ.get("BENCH_SEED_OAUTH"):      # an OAuth access token instead of the key
    with app.scimlite.in_org(slug), app.scimlite.changes.unit():
        client, secret = scimlite.create_oauth_client(app.scimlite.models, "bench")
        _, token = scimlite.issue_oauth_token(app.scimlite.models, client.client_id, secret,
                                              None, 360, scimlite.now_text())
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
    """One server (one process, or several on one database: scimlite-2) and
    what the workloads need to address it.  .process, .port, .pid and .log
    are the first instance's; .instances lists (process, port, log) of all."""

    def __init__(self, name, process, port, base, token, ids, names, log):
        self.name, self.base = name, base
        self.token, self.ids, self.names = token, ids, names
        self.instances = [(process, port, log)]
        self.targets = None       # the file workload.lua reads, written on start
        self.seed_seconds = None
        self.database = None      # the PostgresServer its database lives on, if any

    def add_instance(self, process, port, log):
        self.instances.append((process, port, log))

    @property
    def process(self):
        return self.instances[0][0]

    @property
    def port(self):
        return self.instances[0][1]

    @property
    def log(self):
        return self.instances[0][2]

    @property
    def pid(self):
        return self.process.pid

    def cpu_seconds(self):
        """utime + stime of every instance's process."""
        return sum(cpu_seconds(process.pid) for process, _, _ in self.instances)

    def db_cpu_seconds(self):
        """The PostgreSQL server's CPU, or None on SQLite (spent in-process)."""
        return self.database.cpu_seconds() if self.database else None


def launch(command, log, env=None, **options):
    # A file, not a pipe: a pipe no one reads fills and stalls the server.
    with open(log, "a") as out:
        return subprocess.Popen(command, stdout=out, stderr=out, env=env or clean_env(),
                                **options)


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def proc_stat(pid):
    """/proc/PID/stat's fields after the name: [1] is the parent's pid, [11]
    and [12] utime and stime, [13] and [14] those of waited-for children."""
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()    # the name may hold spaces


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat (fields 14 and 15)."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(parent):
    """A process's CPU with its children's: its own, the children it has
    waited for (cutime, cstime), and every living child's."""
    fields = proc_stat(parent)
    ticks = sum(int(f) for f in fields[11:15])
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            child = proc_stat(entry.name)
            if child[1] == str(parent):
                ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class PostgresServer:
    """The run's throwaway PostgreSQL cluster (tools/pgcluster.py), durable:
    fsync on, as SQLite runs with synchronous=full.  Each scimlite start gets
    a database of its own, made empty and dropped when its servers stop."""

    def __init__(self):
        import pgcluster          # only --db postgresql needs it
        import psycopg
        self.psycopg = psycopg
        self.cluster = pgcluster.Cluster(durable=True)
        self.secret = secrets.token_hex(32)     # one license_secret for the run
        self.made = 0
        self.version = None

    def start(self):
        self.cluster.start()
        with self.connect() as conn:
            self.version = conn.execute("SHOW server_version").fetchone()[0]
        return self

    def stop(self, logs=None):
        """Stop the cluster, first counting its log's ERROR lines on stderr
        (and keeping the log in `logs`, when given)."""
        log = self.cluster.folder / "server.log"
        with contextlib.suppress(OSError):
            lines = [line for line in log.read_text(errors="replace").splitlines()
                     if "ERROR:" in line or "FATAL:" in line or "PANIC:" in line]
            if lines:
                print(f"  PostgreSQL's log: {len(lines)} ERROR/FATAL lines, the first:",
                      file=sys.stderr)
                for line in lines[:10]:
                    print(f"    {line[:300]}", file=sys.stderr)
            if logs:
                logs.mkdir(parents=True, exist_ok=True)
                shutil.copy(log, logs / "postgresql.log")
        self.cluster.stop()

    def connect(self, name="scimlite"):
        return self.psycopg.connect(self.url(name), autocommit=True)

    def url(self, name):
        return self.cluster.url.rsplit("/", 1)[0] + "/" + name

    def new_database(self):
        self.made += 1
        name = f"bench_{self.made}"
        with self.connect() as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name):
        with self.connect() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def cpu_seconds(self):
        """The postmaster's, its children's, living and gone."""
        with open(self.cluster.data / "postmaster.pid") as handle:
            pid = int(handle.readline())
        return tree_cpu_seconds(pid)


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def run_checked(command, what, env=None):
    done = subprocess.run(command, capture_output=True, text=True, env=env or clean_env())
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def seed_scimlite(script, settings, users_file, orgs=1):
    """Import the users in a subprocess; the token and the seconds it took.
    settings: the database's (db, and license_secret on PostgreSQL).  With
    `orgs` > 1 the users are imported into each of that many organizations,
    and the token is the last one's."""
    command = [sys.executable, "-c", SEED_SCIMLITE, str(script.parent), script.stem,
               str(users_file)]
    env = {**clean_env(), "BENCH_SEED_SETTINGS": json.dumps(settings),
           "BENCH_SEED_ORGS": str(orgs), "BENCH_SEED_OAUTH": "1" if OAUTH[0] else ""}
    return json.loads(run_checked(command, "seeding scimlite", env).splitlines()[-1])


def start_scimlite(args, work, users, users_file, stack, instances=1, orgs=1):
    """scimlite on a fresh, seeded database: a SQLite file, or with --db
    postgresql a new database on the run's cluster; `instances` serve
    processes on it, each on its own port with --threads threads."""
    name = "scimlite" if instances == 1 else f"scimlite-{instances}"
    config = work / "scimlite.toml"
    env = clean_env()
    if args.pg:
        database = args.pg.new_database()
        stack.callback(args.pg.drop_database, database)   # after the servers stop
        settings = {"db": args.pg.url(database), "license_secret": args.pg.secret}
        env.update(SCIMLITE_DB=settings["db"], SCIMLITE_LICENSE_SECRET=args.pg.secret)
    else:
        settings = {"db": str(work / "scimlite.db")}
    seeded = seed_scimlite(args.script, settings, users_file, orgs)
    config.write_text(f'threads = {args.threads}\nmailer = "console"\n'
                      'log_level = "warning"\n')
    contender = None
    for number in range(1, instances + 1):
        log = work / ("scimlite.log" if instances == 1 else f"scimlite-{number}.log")
        port = free_port()
        command = [sys.executable, str(args.script), "serve", "--config", str(config),
                   "--port", str(port)]
        if not args.pg:
            command += ["--db", settings["db"]]
        process = launch(command, log, env=env)
        stack.callback(stop, process)
        if contender is None:
            contender = Contender(name, process, port, "/scim/v2", seeded["token"],
                                  [u["id"] for u in users], [u["userName"] for u in users],
                                  log)
        else:
            contender.add_instance(process, port, log)
    contender.seed_seconds = seeded["seconds"]
    contender.database = args.pg
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
    for process, port, log in contender.instances:
        try:
            wait_for_port(process, port, timeout=120)
        except RuntimeError as exc:
            tail = Path(log).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{contender.name}: {exc}; its output:\n{tail}") from None


def start_scimlite_2(args, work, users, users_file, stack):
    return start_scimlite(args, work, users, users_file, stack, instances=2)


STARTERS = {"scimlite": start_scimlite, "ceiling": start_ceiling,
            "scim2-server": start_scim2_server, "scimlite-2": start_scimlite_2}


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
    """bench_writes' keep-alive client, on a contender's base path (on its
    instance number `instance`, modulo how many it has)."""

    def __init__(self, contender, instance=0):
        port = contender.instances[instance % len(contender.instances)][1]
        super().__init__(port, contender.token)
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


def wrk_command(contender, kind, args, connections, start, port=None, threads=None):
    url = f"http://127.0.0.1:{port or contender.port}"
    threads = threads or min(2, connections)
    return ["wrk", "--threads", str(threads), "--connections", str(connections),
            "--duration", f"{args.seconds}s", "--timeout", "30s", "--script", str(LUA),
            "--header", f"Authorization: Bearer {contender.token}",
            "--header", f"Content-Type: {CONTENT_TYPE}",
            "--header", f"Accept: {CONTENT_TYPE}",
            url, "--", kind, contender.base, str(contender.targets), str(start)]


def run_wrk(contender, kind, args, connections):
    """One wrk run: requests/s, p50, p99 and server CPU per request.

    On several instances (scimlite-2), one wrk per instance at once, the
    connections shared out and wrk's 2 threads too (so that the load
    generator takes the same CPU): requests/s summed, p50 and p99 the worse
    instance's, CPU the sum of every instance's process."""
    start = max(1, len(contender.ids) - 99)
    ports = [port for _, port, _ in contender.instances][:connections]
    shares = [connections // len(ports) + (i < connections % len(ports))
              for i in range(len(ports))]
    threads = max(1, min(2, connections) // len(ports))
    before, db_before = contender.cpu_seconds(), contender.db_cpu_seconds()
    runs = [subprocess.Popen(wrk_command(contender, kind, args, share, start, port,
                                         min(threads, share)),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=clean_env())
            for port, share in zip(ports, shares)]
    outputs = [run.communicate() for run in runs]
    used = contender.cpu_seconds() - before
    db_used = None if db_before is None else contender.db_cpu_seconds() - db_before
    each = []
    for run, (out, err) in zip(runs, outputs):
        if run.returncode != 0:
            raise RuntimeError(f"wrk failed ({run.returncode}):\n{(out + err)[-3000:]}")
        line = next(line for line in out.splitlines() if line.startswith("BENCH "))
        each.append(json.loads(line[len("BENCH "):]))
    done = sum(f["requests"] for f in each)
    return run_figures(done, max(f["seconds"] for f in each),
                       max(f["p50_ms"] for f in each), max(f["p99_ms"] for f in each),
                       used, sum(f["non2xx"] + f["socket_errors"] for f in each),
                       rps=sum(f["requests"] / f["seconds"] for f in each), db_used=db_used)


def run_figures(done, seconds, p50, p99, cpu_used, errors, rps=None, db_used=None):
    """What a run reports: throughput, latency, the server's CPU per request
    (and on PostgreSQL the database server's, db_cpu_ms)."""
    figures = {"rps": round(done / seconds if rps is None else rps, 1),
               "p50_ms": round(p50, 3), "p99_ms": round(p99, 3),
               "cpu_ms": round(cpu_used * 1000 / max(done, 1), 3),
               "requests": done, "errors": errors}
    if db_used is not None:
        figures["db_cpu_ms"] = round(db_used * 1000 / max(done, 1), 3)
    return figures


def create_once(connection, tag):
    name = f"new-{tag}@example.com"
    status, data, ms = connection.send("POST", "/Users", new_user(name, tag))
    return status == 201, ms, None if status == 201 else f"POST {status} {data[:200]!r}"


def entra_cycle(connection, tag):
    """Entra ID looks a user up by userName before it creates it."""
    name = f"entra-{tag}@example.com"
    query = urllib.parse.quote(f'userName eq "{name}"')
    status, data, looked = connection.send("GET", f"/Users?filter={query}")
    found_none = status == 200 and json.loads(data)["totalResults"] == 0
    failure = None if found_none else f"GET {status} {data[:200]!r}"
    status, data, created = connection.send("POST", "/Users", new_user(name, tag))
    if status != 201:
        failure = f"POST {status} {data[:200]!r}"
    return failure is None, looked + created, failure


PYTHON_JOBS = {"create": create_once, "entra": entra_cycle}


def run_python(contender, kind, args, round_number):
    """--connections threads, each one connection, for --seconds; on several
    instances (scimlite-2) the threads alternate between them."""
    job, samples, failures = PYTHON_JOBS[kind], [], []   # list.append is atomic
    reasons = []

    def hammer(number):
        connection = Connection(contender, number)
        deadline, n = time.perf_counter() + args.seconds, 0
        while time.perf_counter() < deadline:
            ok, ms, reason = job(connection, f"r{round_number}-t{number}-{n}")
            (samples if ok else failures).append(ms)
            if reason:
                reasons.append(reason)
            n += 1
    before, db_before = contender.cpu_seconds(), contender.db_cpu_seconds()
    began = time.perf_counter()
    each_in_threads(hammer, range(args.connections))
    elapsed, used = time.perf_counter() - began, contender.cpu_seconds() - before
    db_used = None if db_before is None else contender.db_cpu_seconds() - db_before
    report_failures(contender, kind, reasons)
    ordered = sorted(samples + failures)
    return run_figures(len(ordered), elapsed, percentile(ordered, .5),
                       percentile(ordered, .99), used, len(failures), db_used=db_used)


def report_failures(contender, kind, reasons):
    """Each kind of failed request once, with how often, on stderr."""
    counted = {}
    for reason in reasons:
        key = reason.split(" ", 2)[:2] if " " in reason else [reason]
        counted.setdefault(" ".join(key), [0, reason])[0] += 1
    for key, (count, example) in counted.items():
        print(f"    {contender.name} {kind}: {count} x {key}, e.g. {example}",
              file=sys.stderr, flush=True)


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
    connection = Connection(contender)        # the first instance
    before, db_before = contender.cpu_seconds(), contender.db_cpu_seconds()
    path, took = build_group(contender, connection, GROUP_SIZE, GROUP_BATCH,
                             f"Bench group {round_number}")
    group, ms = connection.expect(200, "GET", path)
    used = contender.cpu_seconds() - before
    if len(group.get("members", [])) != GROUP_SIZE:
        raise RuntimeError(f"{contender.name}: the group has {len(group['members'])} members")
    figures = {"total_ms": round(took + ms, 1), "cpu_ms": round(used * 1000), "requests": 11}
    if db_before is not None:
        figures["db_cpu_ms"] = round((contender.db_cpu_seconds() - db_before) * 1000)
    return figures


def warm_up(contender):
    """A few requests of each read on every instance, so that no
    first-request cost lands in a run."""
    for instance in range(len(contender.instances)):
        connection = Connection(contender, instance)
        for user_id, name in list(zip(contender.ids, contender.names))[:20]:
            query = urllib.parse.quote(f'userName eq "{name}"')
            connection.send("GET", f"/Users?filter={query}")
            connection.send("GET", f"/Users/{user_id}")
        connection.send("GET", f"/Users?startIndex={max(1, len(contender.ids) - 99)}"
                               "&count=100")


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
        stack.callback(check_logs, work, args, f"round-{round_number}")  # once all stop
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


def check_logs(work, args, label):
    """After the servers stop: every server log's WARNING, ERROR and
    Traceback lines counted on stderr, the first few shown; with --logs DIR
    each log is kept there as LABEL-CONTENDER-FILE."""
    for log in sorted(Path(work).glob("*/*.log")):
        text = log.read_text(errors="replace")
        bad = [line for line in text.splitlines()
               if " WARNING " in line or " ERROR " in line or " CRITICAL " in line
               or line.startswith("Traceback")]
        if bad:
            print(f"  {label} {log.parent.name}/{log.name}: {len(bad)} warning or error "
                  "lines, the first:", file=sys.stderr)
            for line in bad[:5]:
                print(f"    {line[:300]}", file=sys.stderr)
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, args.logs / f"{label}-{log.parent.name}-{log.name}")


def describe_figures(figures):
    if figures is None:
        return "n/a"
    if "total_ms" in figures:
        return f"{figures['total_ms']:.0f} ms total"
    db = f" + DB {figures['db_cpu_ms']:.2f}" if "db_cpu_ms" in figures else ""
    return (f"{figures['rps']:.0f}/s  p50 {figures['p50_ms']:.1f}  p99 "
            f"{figures['p99_ms']:.1f} ms  CPU {figures['cpu_ms']:.2f}{db} ms/req  "
            f"errors {figures['errors']}")


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
    db = f" {'DB CPU ms':>10}" if args.pg else ""
    flushes = any("flushes" in (f or {}) for f in by_name.values())
    fl = f" {'flushes/write':>14}" if flushes else ""
    print(f"  {'server':<13} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11}"
          f"{db} {'x ceiling':>10}{fl}")
    for name in names:
        f = by_name.get(name) or {}
        db = f" {cell(f.get('db_cpu_ms'), '10.2f')}" if args.pg else ""
        fl = (f" {cell(f.get('flushes'), '5.2f')} (1: {cell(f.get('flushes_1'), '4.2f')})"
              if flushes and "flushes" in f else "")
        print(f"  {name:<13} {cell(f.get('rps'), '8.0f')} {cell(f.get('p50_ms'), '8.2f')} "
              f"{cell(f.get('p99_ms'), '8.1f')} {cell(f.get('cpu_ms'), '11.2f')}{db} "
              f"{cell(f.get('x_ceiling'), '10.2f')}{fl}")
        if f.get("errors"):
            print(f"  {'':<13} ({f['errors']:.0f} failed requests a round, median)")


def print_group(by_name, names, args):
    print(f"\n1,000-member group: POST, 10 PATCHes adding 100 members, one GET "
          f"(one client, {rounds_text(args)})")
    db = f" {'DB CPU ms':>10}" if args.pg else ""
    print(f"  {'server':<13} {'total ms':>9} {'CPU ms':>8}{db}")
    for name in names:
        f = by_name.get(name) or {}
        db = f" {cell(f.get('db_cpu_ms'), '10.0f')}" if args.pg else ""
        print(f"  {name:<13} {cell(f.get('total_ms'), '9.0f')} "
              f"{cell(f.get('cpu_ms'), '8.0f')}{db}")


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
    if "scimlite" in names and not args.pg and shutil.which("strace"):
        count_flushes(args, summary, work)
    for kind, (title, _) in TIMED_WORKLOADS.items():
        print_workload(kind, title, summary.get(kind, {}), names, args)
    print_group(summary.get("group", {}), names, args)
    return summary


FLUSH_KINDS = {"patch": "patch", "create": "create"}     # bench.py's kind: bench_writes'


def count_flushes(args, summary, work):
    """The disk flushes (fsync, fdatasync) per acknowledged write of PATCH
    and create, at --connections clients and at one: a pass of its own,
    scimlite under strace (bench_writes.measure), so that strace slows
    none of the figures above.  Group commit is what brings it below 1."""
    print("counting disk flushes per write (scimlite under strace)", file=sys.stderr,
          flush=True)
    for kind, writes_kind in FLUSH_KINDS.items():
        figures = summary.get(kind, {}).get("scimlite")
        if figures is None:
            continue
        for clients, key in ((args.connections, "flushes"), (1, "flushes_1")):
            folder = Path(tempfile.mkdtemp(dir=work))
            results, _, flushes = measure(args.script, folder, writes_kind, clients,
                                          args.seconds, 200, flushes=True)
            figures[key] = round(flushes / max(acknowledged(results), 1), 3)
            shutil.rmtree(folder, ignore_errors=True)


###############################################################################
# Part 2: growth ##############################################################
###############################################################################

def run_size(args, names, work, size, big_group):
    users = seed_users(size)
    users_file = write_json(work / f"users-{size}.json", users)
    rows = {}
    with contextlib.ExitStack() as stack:
        stack.callback(check_logs, work, args, f"size-{size}")
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


def print_growth(growth, names, sizes, args):
    where = " on PostgreSQL" if args.pg else ""
    print(f"\nGrowth{where}: one connection (wrk -c1), p50 ms; seed = import_document "
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
    if not names:
        print("\nPart 2 skipped: neither scimlite nor the ceiling is a contender")
        return {}
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
    print_growth(growth, names, sizes, args)
    if big and "scimlite" in names:
        group = growth[str(big)]["scimlite"]["group_10k"]
        print(f"  scimlite: GET of a 10,000-member group at {big:,} users: "
              f"{group['get_ms']:.0f} ms (median of 3; built in 10 PATCHes of 1,000 "
              f"in {group['build_ms'] / 1000:.1f} s)")
    elif "scimlite" in names:
        print("  (10,000-member group skipped: no size of at least 10,000 users)")
    return growth


###############################################################################
# Part 3 (--orgs): organizations ##############################################
###############################################################################

ORG_WORKLOADS = ("lookup", "get", "patch")
OAUTH = [False]     # --oauth: scimlite's workloads carry an OAuth access token


def part_orgs(args, work):
    """The same number of users as one organization, and spread over
    --orgs organizations (each holding the same userNames and ids, as
    customers of one vendor may): the last organization's key drives
    lookup, GET and PATCH at --connections connections, --rounds times
    each; the medians side by side."""
    count, total = args.orgs, args.org_users
    layouts = (("one", 1, total), (f"{count} orgs", count, total // count))
    print(f"\nPart 3: {total:,} users in one organization, and {count} organizations of "
          f"{total // count:,} (the last one's key); wrk -c{args.connections}, median of "
          f"{args.rounds} (progress on stderr)", flush=True)
    results = {}
    for label, orgs, per_org in layouts:
        users = seed_users(per_org)
        folder = work / f"orgs-{orgs}"
        folder.mkdir()
        users_file = write_json(folder / "users.json", users)
        with contextlib.ExitStack() as stack:
            stack.callback(check_logs, folder, args, f"orgs-{orgs}")
            contender = start_scimlite(args, folder, users, users_file, stack, orgs=orgs)
            contender.targets = write_targets(folder / "targets.txt", contender.ids,
                                              contender.names)
            wait_until_listening(contender)
            warm_up(contender)
            runs = {kind: [run_wrk(contender, kind, args, args.connections)
                           for _ in range(args.rounds)] for kind in ORG_WORKLOADS}
        results[label] = {"seed_s": round(contender.seed_seconds, 1),
                          **{k: median_figures(v) for k, v in runs.items()}}
        print(f"  {label} done", file=sys.stderr, flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    print_orgs(results, [layout[0] for layout in layouts])
    return results


def print_orgs(results, labels):
    print(f"  {'workload':<8} {'layout':<9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU ms':>7}")
    for kind in ORG_WORKLOADS:
        for label in labels:
            f = results[label][kind]
            print(f"  {kind:<8} {label:<9} {f['rps']:8.0f} {f['p50_ms']:7.2f} "
                  f"{f['p99_ms']:7.2f} {f['cpu_ms']:7.3f}")
        one, many = (results[label][kind]["rps"] for label in labels)
        print(f"  {kind}: {labels[1]} / one = {many / one:.2f}x (within 10%: "
              f"{'yes' if abs(many / one - 1) <= 0.10 else 'NO'})")
    print("  seeded in " + ", ".join(f"{results[l]['seed_s']} s ({l})" for l in labels))


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
    parser.add_argument("--only",
                        help="comma-separated subset of " + ",".join(CONTENDERS) +
                        " (default: " + ",".join(DEFAULT_CONTENDERS["sqlite"]) +
                        "; with --db postgresql: " +
                        ",".join(DEFAULT_CONTENDERS["postgresql"]) + ", since the ceiling "
                        "and scim2-server have no PostgreSQL: named here they still run, "
                        "on SQLite and in memory; scimlite-2, two scimlite processes on "
                        "one database, needs --db postgresql)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                        help="scimlite's database: a SQLite file (the default) or a "
                        "fresh database per start on a throwaway, durable (fsync on) "
                        "PostgreSQL cluster (tools/pgcluster.py; Debian's postgresql is "
                        "installed when missing, as root); part 2 then runs scimlite "
                        "alone on PostgreSQL")
    parser.add_argument("--logs", type=Path, metavar="DIR",
                        help="keep every server's log in DIR (they are scanned for "
                        "warnings and errors either way)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument("--orgs", type=int, metavar="N", help="instead of parts 1 and 2: "
                        "--org-users users in one organization against N organizations "
                        "sharing them out (issue 22: lookup, GET and PATCH within 10%%)")
    parser.add_argument("--org-users", type=int, default=100000, metavar="USERS",
                        help="users in all for --orgs (default 100,000)")
    parser.add_argument("--oauth", action="store_true", help="scimlite's requests carry "
                        "an OAuth 2.0 access token (POST /oauth/token's) instead of an API "
                        "key: Entra's gallery asks for 25 requests/s per tenant through them")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (2 if args.quick else 5)
    args.sizes = [int(s) for s in (args.sizes or ("1000,10000" if args.quick else
                                                  "1000,10000,100000")).split(",")]
    args.script = args.script.resolve()
    only = args.only or ",".join(DEFAULT_CONTENDERS[args.db])
    args.only = [n.strip() for n in only.split(",") if n.strip()]
    unknown = set(args.only) - set(CONTENDERS)
    if unknown:
        parser.error(f"--only knows {', '.join(CONTENDERS)}, not {', '.join(unknown)}")
    if "scimlite-2" in args.only and args.db != "postgresql":
        parser.error("scimlite-2 (two instances on one database) needs --db postgresql")
    args.pg = None          # the PostgresServer, once started
    if args.logs:
        args.logs = args.logs.resolve()
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


def versions(args):
    packages = ("waitress", "bottle", "peewee", "scim2-server", "psycopg")
    found = {name: importlib.metadata.version(name) for name in packages
             if has_package(name) and (name != "psycopg" or args.pg)}
    server = {"postgresql": args.pg.version} if args.pg else {}
    return {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version, **server,
            **found}


def print_header(args, names):
    if args.oauth:
        print("scimlite's requests carry an OAuth 2.0 access token (POST /oauth/token's), "
              "not an API key")
    described = ", ".join(f"{k} {v}" for k, v in versions(args).items())
    database = ("scimlite on PostgreSQL (a throwaway local cluster, fsync on; a fresh "
                "database per start)" if args.pg else "scimlite on SQLite")
    print(f"scimlite {args.script} at commit {describe_commit(args.script)}\n"
          f"{described}; {os.cpu_count()} CPUs; every server on Waitress with "
          f"{args.threads} threads over loopback\n{database}\n"
          f"contenders: {', '.join(names)}", flush=True)


def raise_on_sigterm():
    # SIGTERM unwinds like Ctrl+C, so that the servers and temp files go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def main(argv=None):
    args = parse_args(argv)
    names = ["scimlite"] if args.orgs else check_tools(args.only)
    OAUTH[0] = args.oauth
    raise_on_sigterm()
    began = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            if args.db == "postgresql":
                print("starting a PostgreSQL cluster (tools/pgcluster.py, fsync on)",
                      file=sys.stderr, flush=True)
                server = PostgresServer()
                stack.callback(server.stop, args.logs)
                args.pg = server.start()
            print_header(args, names)
            report = {"commit": describe_commit(args.script), "db": args.db,
                      "versions": versions(args), "cpus": os.cpu_count(),
                      "threads": args.threads, "connections": args.connections,
                      "rounds": args.rounds, "seconds": args.seconds, "users": args.users}
            work = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="scimlite-bench-")))
            if args.orgs:
                report["orgs"] = part_orgs(args, work)
            else:
                report["main"] = part_one(args, names, work)
                if not args.skip_growth:
                    report["growth"] = part_two(args, names, work)
    except KeyboardInterrupt:
        sys.exit(130)      # the servers are stopped and the files gone; no traceback
    report["run_seconds"] = round(time.monotonic() - began)
    print(f"\n(run took {report['run_seconds']} s)")
    print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
