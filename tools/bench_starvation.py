#!/usr/bin/env python3
"""Benchmark: how long one small write waits behind big ones.  Two clients
each send a /Bulk of N user creates (with passwords, as Okta sends them)
while a third PATCHes one user every 50 ms; prints the PATCHes' waits.
Figures, not assertions.

    python tools/bench_starvation.py --ops 1000
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from bench_writes import run_all

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call(method, url, token, body=None):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode()
                                     if body is not None else None, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(request, timeout=600) as answer:
        return answer.status, json.loads(answer.read() or b"null")


def bulk(ops, tag):
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [{"method": "POST", "path": "/Users", "bulkId": f"{tag}{i}", "data": {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"{tag}{i}@example.com", "password": f"Pw-{tag}-{i}-secret"}}
                for i in range(ops)]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--script", default=os.path.join(ROOT, "scimlite.py"))
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    port = 18000 + os.getpid() % 1000
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMLITE_")}
    env["SCIMLITE_MAILER"] = "memory"
    server = subprocess.Popen([sys.executable, args.script, "--db", f"{folder}/b.db",
                               "--port", str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env, cwd=folder)
    try:
        token = ""
        while "Serving on" not in token:
            token += server.stdout.readline()
        token = token.split("Secret Token:")[1].split()[0]
        # The server goes on logging each request: read on, or a full pipe
        # (64 KiB, about 40 s of this run) stops it mid-run.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        time.sleep(0.5)
        base = f"http://127.0.0.1:{port}/scim/v2"
        _, user = call("POST", base + "/Users", token, {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "p@x.com"})
        waits, done = [], threading.Event()

        def patcher():
            n = 0
            while not done.is_set():
                started = time.perf_counter()
                call("PATCH", f"{base}/Users/{user['id']}", token, {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": f"t{n}"}]})
                waits.append(time.perf_counter() - started)
                n += 1
                time.sleep(0.05)
        bulks = [threading.Thread(target=call, args=("POST", base + "/Bulk", token,
                                                     bulk(args.ops, tag))) for tag in "ab"]
        thread = threading.Thread(target=patcher)
        thread.start()
        took = run_all(bulks)
        done.set()
        thread.join()
        waits.sort()
        print(f"2 Bulk requests of {args.ops} creates with passwords took {took:.1f} s; "
              f"meanwhile {len(waits)} PATCHes: median {statistics.median(waits) * 1000:.0f} ms, "
              f"p99 {waits[int(len(waits) * 0.99)] * 1000:.0f} ms, "
              f"max {waits[-1] * 1000:.0f} ms")
    finally:
        server.terminate()
        server.wait(60)


if __name__ == "__main__":
    main()
