#!/usr/bin/env python3
"""Benchmark: what security events (RFC 9967) cost, in process.

    python tools/event_feed.py [--users 2000] [--rounds 3]

On fresh SQLite files (the "memory" mailer, no license mail), creates
--users users through the WSGI app as Waitress would call it, with no
event receiver and then with one poll receiver, alternating --rounds
times, and prints the CPU time of a create in each; then polls the
receiver's SETs 1,000 at a time (each signed on the way out, ES256) and
prints what a poll and one SET cost, and the statements a create runs
with and without a receiver.  Figures, not assertions.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import scimlite  # noqa: E402
from write_cost import Client, new_user  # noqa: E402


def creates(folder, users, receivers, tag):
    """(CPU ms per create, the app, its key, the receiver's token or None)."""
    app = scimlite.create_app({"db": os.path.join(folder, f"{tag}.db"), "mailer": "memory",
                               "license_mails": []})
    state, token = app.scimlite, None
    if receivers:
        with state.changes.unit():
            _, token = scimlite.create_event_stream(state.models, "bench",
                                                    "https://h/o/default/scim/v2")
    client = Client(app, state.mint_key("bench"))
    for n in range(50):                  # warm: statements built, caches filled
        client.call("POST", "/scim/v2/Users", new_user(n, f"warm-{tag}-"))
    began = time.process_time()
    for n in range(users):
        client.call("POST", "/scim/v2/Users", new_user(n, f"{tag}-"))
    return (time.process_time() - began) * 1000 / users, app, token


def statements_of_a_create(app, key, n):
    """How many statements one create runs, counted at the connection."""
    db = app.scimlite.models.db
    counted, original = [], db.execute_sql

    def counting(sql, params=None, *args, **kwargs):
        counted.append(sql)
        return original(sql, params, *args, **kwargs)
    db.execute_sql = counting
    try:
        Client(app, key).call("POST", "/scim/v2/Users", new_user(n, "counted-"))
    finally:
        db.execute_sql = original
    return len(counted)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cost = {0: [], 1: []}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for receivers in (0, 1):
                ms, app, token = creates(folder, args.users, receivers, f"r{round_}-{receivers}")
                cost[receivers].append(ms)
                cost.setdefault(f"statements {receivers}", statements_of_a_create(
                    app, app.scimlite.mint_key("count"), round_))
                if receivers and round_ == args.rounds - 1:
                    break       # the last receiver's SETs are polled below
                app.scimlite.close()
        web, polls, sets, acked = Client(app, token), [], 0, []
        while True:
            began = time.process_time()
            answer = web.call("POST", "/o/default/events",
                              {"ack": acked, "maxEvents": 1000, "returnImmediately": True})
            polls.append((time.process_time() - began) * 1000)
            acked = list(answer["sets"])
            sets += len(acked)
            if not acked:
                break
        app.scimlite.close()
    none, one = statistics.median(cost[0]), statistics.median(cost[1])
    print(f"scimlite {scimlite.__version__}: {args.users:,} creates x {args.rounds} rounds, "
          "CPU ms per create (median of rounds)")
    print(f"  no receiver {none:.3f}  one poll receiver {one:.3f}  (+{one - none:.3f})")
    print(f"  statements a create runs: {cost['statements 0']} without a receiver, "
          f"{cost['statements 1']} with one")
    full = polls[:-1]
    print(f"  polled {sets:,} SETs in {len(full)} polls of up to 1,000: "
          f"{statistics.median(full):.0f} ms CPU a poll, {statistics.median(full) / 1000:.3f} "
          "ms a SET (signed ES256; acknowledged by the next poll)")
    print(json.dumps({"create_ms": cost, "poll_ms": [round(ms, 1) for ms in polls]}))


if __name__ == "__main__":
    main()
