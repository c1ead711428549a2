#!/usr/bin/env python3
"""Benchmark: scimlite's hot paths at 1,000 and 100,000 users, in process.

    python tools/bench.py [--sizes 1000,100000] [--repeat 200]

Prints median and p95 times per request for: GET /Users/{id}, a userName
lookup, an emails.value lookup, a deep list page, and building a
1,000-member group with one PATCH. Users are seeded straight into the
tables (seeding is not what is measured). Figures, not assertions: the
test suite never times anything.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import webtest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import scimlite  # noqa: E402


def seed(app, count):
    m = app.scimlite.models
    stamp = scimlite.now_text()
    with m.db.atomic():
        for start in range(0, count, 1000):
            rows, emails = [], []
            for i in range(start, min(start + 1000, count)):
                name = f"user{i:06d}@example.com"
                data = {"userName": name, "active": True, "displayName": f"User {i}",
                        "name": {"givenName": "User", "familyName": f"{i}"},
                        "emails": [{"value": name, "type": "work", "primary": True}]}
                rows.append({"id": f"00000000-0000-0000-0000-{i:012d}",
                             "data": json.dumps(data), "created": stamp,
                             "last_modified": stamp, "user_name_key": name,
                             "display_name_key": f"user {i}", "active": True})
            m.User.insert_many(rows).execute()
            first = m.User.select(m.User.pk).where(m.User.id == rows[0]["id"]).scalar()
            emails = [(first + n, r["user_name_key"]) for n, r in enumerate(rows)]
            m.UserEmail.insert_many(emails, fields=[m.UserEmail.owner,
                                                    m.UserEmail.value_key]).execute()


def timed(call, repeat):
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def run(size, repeat, directory):
    app = scimlite.create_app({"db": str(Path(directory) / f"bench-{size}.db")})
    token = app.scimlite.mint_key("bench")
    client = webtest.TestApp(app, extra_environ={"HTTP_AUTHORIZATION": f"Bearer {token}"})
    seed(app, size)
    middle = size // 2
    uid = f"00000000-0000-0000-0000-{middle:012d}"
    name = f"user{middle:06d}@example.com"
    rows = [
        ("GET /Users/{id}", lambda: client.get(f"/scim/v2/Users/{uid}")),
        ("filter userName eq", lambda: client.get(
            "/scim/v2/Users", {"filter": f'userName eq "{name.upper()}"'})),
        ("filter emails.value eq", lambda: client.get(
            "/scim/v2/Users", {"filter": f'emails.value eq "{name}"'})),
        (f"list page startIndex={size - 99} count=100", lambda: client.get(
            "/scim/v2/Users", {"startIndex": size - 99, "count": 100})),
    ]
    print(f"\n{size:,} users")
    for label, call in rows:
        median, p95 = timed(call, repeat)
        print(f"  {label:<42} median {median:7.2f} ms   p95 {p95:7.2f} ms")
    if size >= 1000:
        members = [{"value": f"00000000-0000-0000-0000-{i:012d}"} for i in range(1000)]
        body = json.dumps({"schemas": [scimlite.PATCH_URN], "Operations": [
            {"op": "add", "path": "members", "value": members}]})
        group = client.post("/scim/v2/Groups", json.dumps({"displayName": "Bench"}),
                            content_type="application/scim+json").json
        began = time.perf_counter()
        client.patch(f"/scim/v2/Groups/{group['id']}?excludedAttributes=members", body,
                     content_type="application/scim+json")
        took = (time.perf_counter() - began) * 1000
        print(f"  {'PATCH add 1,000 members to a group':<42} {took:7.1f} ms (one request)")
    app.scimlite.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(f"scimlite {scimlite.__version__}, SQLite {scimlite.peewee.sqlite3.sqlite_version}, "
          f"Python {sys.version.split()[0]}; in-process WSGI (no sockets), file database")
    with tempfile.TemporaryDirectory() as directory:
        for size in (int(s) for s in args.sizes.split(",")):
            run(size, args.repeat, directory)


if __name__ == "__main__":
    main()
