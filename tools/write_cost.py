#!/usr/bin/env python3
"""Benchmark: the CPU one write costs, in the request and in the whole process.

    python tools/write_cost.py [--requests 300] [--rounds 3] [--db PATH]

Runs an app in this process on a fresh SQLite file with the "memory"
mailer, one client calling its WSGI callable directly (no sockets), and
for each kind of request prints two figures per request, median of the
rounds:

  request thread   CPU of the thread that ran the request (time.thread_time)
  whole process    CPU of every thread (time.process_time) from the first
                   request of a burst until the outbox has sent every mail
                   the burst caused, divided by the burst's requests

Each kind is measured with the license mails on (the product's own path)
and off (`license_mails = []`); the difference is what a license mail
costs.  Kinds: create (POST /Users), PATCH that flips `active` (Entra's
Replace, so every PATCH is a deactivation or a reactivation and a mail),
and lookup (Entra's `userName eq` filter) for scale.  Figures, not
assertions.
"""
import argparse
import gc
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import scimlite  # noqa: E402

BASE = "/scim/v2"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Client:
    """Calls the WSGI app as Waitress would, with a bearer key."""

    def __init__(self, app, token):
        self.app, self.auth = app, f"Bearer {token}"

    def call(self, method, path, body=None, query=""):
        data = json.dumps(body).encode("utf-8") if body is not None else b""
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8080",
            "HTTP_AUTHORIZATION": self.auth, "CONTENT_TYPE": "application/scim+json",
            "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http", "wsgi.version": (1, 0),
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False}
        status = []
        answer = b"".join(self.app(environ, lambda s, h, e=None: status.append(s)))
        if not status[0].startswith("2"):
            raise SystemExit(f"{method} {path}: {status[0]}: {answer[:300]!r}")
        return json.loads(answer) if answer else None


def new_user(n, tag):
    return {"schemas": [USER_URN], "userName": f"{tag}{n}@example.com", "active": True,
            "displayName": f"User {n}", "name": {"givenName": "User", "familyName": str(n)},
            "emails": [{"value": f"{tag}{n}@example.com", "type": "work", "primary": True}]}


def flip(active):
    """Entra's PATCH: Replace displayName and active, active as a string."""
    return {"schemas": [PATCH_URN], "Operations": [
        {"op": "Replace", "path": "active", "value": "True" if active else "False"},
        {"op": "Replace", "path": "displayName", "value": f"Flipped {active}"}]}


def burst(scimlite_, requests):
    """(request-thread CPU, whole-process CPU) per request, in ms, for
    `requests` (callables), with the outbox drained at the end."""
    gc.collect()
    thread = 0.0
    start = time.process_time()
    for request in requests:
        before = time.thread_time()
        request()
        thread += time.thread_time() - before
    if not scimlite_.outbox.wait(60):
        raise SystemExit("the outbox did not drain in 60 s")
    whole = time.process_time() - start
    return 1000 * thread / len(requests), 1000 * whole / len(requests)


def measure(folder, mails, count, rounds):
    db = os.path.join(folder, f"cost-{'mail' if mails else 'none'}.db")
    app = scimlite.create_app({"db": db, "mailer": "memory",
                               **({} if mails else {"license_mails": []})})
    scimlite_ = app.scimlite
    client = Client(app, scimlite_.mint_key("cost"))
    figures = {"create": [], "PATCH (flips active)": [], "lookup": []}
    try:
        for r in range(rounds):
            tag = f"r{r}u"
            created = []
            figures["create"].append(burst(scimlite_, [
                (lambda n=n: created.append(client.call("POST", f"{BASE}/Users",
                                                        new_user(n, tag))["id"]))
                for n in range(count)]))
            figures["PATCH (flips active)"].append(burst(scimlite_, [
                (lambda i=i: client.call("PATCH", f"{BASE}/Users/{i}", flip(False)))
                for i in created]))
            figures["lookup"].append(burst(scimlite_, [
                (lambda n=n: client.call("GET", f"{BASE}/Users", query=(
                    f"filter=userName+eq+%22{tag}{n}%40example.com%22")))
                for n in range(count)]))
        sent = len(scimlite_.outbox.sent)
    finally:
        scimlite_.close()
    return {kind: (statistics.median(t for t, _ in runs), statistics.median(w for _, w in runs))
            for kind, runs in figures.items()}, sent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per burst")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", help="folder for the databases (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.db) as folder:
        with_mail, sent = measure(folder, True, args.requests, args.rounds)
        without, _ = measure(folder, False, args.requests, args.rounds)
    print(f"scimlite {scimlite.__version__}, {args.requests} requests per burst, median of "
          f"{args.rounds} bursts; CPU ms per request ({sent} mails sent)")
    print(f"{'request':<22} {'request thread':>15} {'whole process':>14} "
          f"{'no mail: thread':>16} {'no mail: whole':>15} {'a mail costs':>13}")
    for kind in with_mail:
        (t, w), (t0, w0) = with_mail[kind], without[kind]
        print(f"{kind:<22} {t:>15.2f} {w:>14.2f} {t0:>16.2f} {w0:>15.2f} {w - w0:>13.2f}")


if __name__ == "__main__":
    main()
