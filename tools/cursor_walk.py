#!/usr/bin/env python3
"""Benchmark: a cursor walk (RFC 9865) through every user, in process.

    python tools/cursor_walk.py [--users 100000] [--count 100] [--sort userName]

Imports --users users into an app on a fresh SQLite file (the "memory"
mailer, no license mail), then walks all of them with GET /Users?cursor=
&count=--count, each page through the WSGI app as Waitress would call it,
and prints the time of the first page, the median, p99 and slowest page,
and the last, so that "the thousandth page costs what the first does" is a
figure.  With --sort, the walk is sorted by that attribute (keyset paging
on its index where it has one, userName's).  Figures, not assertions.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import scimlite  # noqa: E402
from write_cost import Client  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--sort", help="sortBy of the walk (default: none, pk order)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = scimlite.create_app({"db": os.path.join(folder, "walk.db"), "mailer": "memory",
                                   "license_mails": [], "max_page_size": args.count})
        state = app.scimlite
        client = Client(app, state.mint_key("walk"))
        began = time.perf_counter()
        scimlite.import_document(state, [{
            "schemas": [scimlite.USER_URN], "userName": f"user{n:07d}@example.com",
            "displayName": f"User {n}"} for n in range(args.users)])
        seeded = time.perf_counter() - began
        extra = f"&sortBy={args.sort}" if args.sort else ""
        cursor, times, seen = "", [], 0
        while cursor is not None:
            query = f"cursor={urllib.parse.quote(cursor)}&count={args.count}{extra}"
            started = time.perf_counter()
            page = client.call("GET", "/scim/v2/Users", query=query)
            times.append((time.perf_counter() - started) * 1000)
            seen += len(page["Resources"])
            cursor = page.get("nextCursor")
        state.close()
    ordered = sorted(times)
    print(f"scimlite {scimlite.__version__}: cursor walk over {args.users:,} users "
          f"(seeded in {seeded:.0f} s), count={args.count}"
          f"{', sortBy=' + args.sort if args.sort else ''}: {len(times):,} pages, "
          f"{seen:,} users seen")
    print(f"  page ms: first {times[0]:.1f}  median {statistics.median(times):.1f}  "
          f"p99 {ordered[int(len(ordered) * 0.99) - 1]:.1f}  slowest {ordered[-1]:.1f}  "
          f"last {times[-1]:.1f}")
    tenth = max(1, len(times) // 10)
    print(f"  median of the first tenth {statistics.median(times[:tenth]):.1f} ms, "
          f"of the last tenth {statistics.median(times[-tenth:]):.1f} ms")


if __name__ == "__main__":
    main()
