#!/usr/bin/env python3
"""Kill -9 under write load, again and again, and check that nothing
acknowledged was lost: every user whose create got a 201 exists after the
restart, every queued license mail is still in the outbox (pending or
sent), and SQLite's integrity_check says ok.  One command; prints figures.

    python tools/crash.py --kills 12 --seconds 2 [--writers 8]

Eight writers by default: they queue behind the write lock, so that most
commits are group commits of several writers (see Changes.run), and most
kills land in one.  tests/test_crash.py also kills a process inside one
batch on purpose, before and after its commit.
"""
import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scimlite.py")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(db, port, folder):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMLITE_")}
    env.update(PYTHONUNBUFFERED="1", SCIMLITE_SMTP_HOST="127.0.0.1",
               SCIMLITE_SMTP_PORT=str(free_port()), SCIMLITE_SMTP_SECURITY="none")
    process = subprocess.Popen([sys.executable, SCRIPT, "--db", db, "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env, cwd=folder)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not start")


def writer(base, token, name, acknowledged, stop):
    n = 0
    while not stop.is_set():
        user = f"{name}-{n}@example.com"
        body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                           "userName": user}).encode()
        request = urllib.request.Request(base + "/Users", data=body, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == 201:
                    acknowledged.append(user)
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)        # the server is down: try again later
        n += 1


def run(kills=12, seconds=2.0, writers=8):
    folder = tempfile.mkdtemp(prefix="scimlite-crash-")
    db, port = os.path.join(folder, "crash.db"), free_port()
    mint = subprocess.run([sys.executable, SCRIPT, "mint-key", "crash", "--db", db],
                          capture_output=True, text=True, check=True, cwd=folder)
    token, base = mint.stdout.strip(), f"http://127.0.0.1:{port}/scim/v2"
    acknowledged, stop = [], threading.Event()
    threads = [threading.Thread(target=writer, args=(base, token, f"w{i}", acknowledged, stop))
               for i in range(writers)]
    process = start(db, port, folder)
    for thread in threads:
        thread.start()
    for _ in range(kills):
        time.sleep(seconds)
        process.send_signal(signal.SIGKILL)
        process.wait()
        process = start(db, port, folder)
    stop.set()
    for thread in threads:
        thread.join()
    process.send_signal(signal.SIGKILL)
    process.wait()
    with sqlite3.connect(db) as check:
        stored = {row[0] for row in check.execute("SELECT user_name_key FROM user")}
        mails = check.execute("SELECT COUNT(*) FROM outbox_message").fetchone()[0]
        licenses = check.execute("SELECT COUNT(*) FROM license").fetchone()[0]
        integrity = check.execute("PRAGMA integrity_check").fetchone()[0]
    lost = [u for u in acknowledged if u not in stored]
    return {"kills": kills, "acknowledged": len(acknowledged), "lost": len(lost),
            "stored": len(stored), "licenses": licenses, "mails queued": mails,
            "integrity_check": integrity}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args()
    print(json.dumps(run(args.kills, args.seconds, args.writers)))


if __name__ == "__main__":
    main()
