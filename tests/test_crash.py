"""kill -9 under write load (tools/crash.py, a short run): nothing that was
acknowledged is lost, no queued mail is lost, and the file stays sound.
`python tools/crash.py --kills 12` runs the long version."""
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from conftest import ROOT


def test_kill_9_under_write_load_loses_no_acknowledged_write_or_queued_mail():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import crash
    finally:
        sys.path.remove(str(ROOT / "tools"))
    figures = crash.run(kills=3, seconds=1.0, writers=8)
    assert figures["acknowledged"] > 50, figures            # the load was real
    assert figures["lost"] == 0, figures
    # Each stored user became active: one license and its mail, none lost.
    assert figures["licenses"] == figures["mails queued"] == figures["stored"], figures
    assert figures["integrity_check"] == "ok"


# The child: one user committed and acknowledged, then three writers queued
# together behind the write lock, whose batch the process kills itself in:
# before the shared commit ("before") or just after it, before any writer
# hears of it ("after").  It prints each write it acknowledges.
BATCH_CHILD = r"""
import os, signal, sys, threading, time
import scimlite
state = scimlite.ScimLite(scimlite.load_settings({"db": sys.argv[1]}))
changes, when = state.changes, sys.argv[2]

def create(name):
    return lambda work: state.resources.create(scimlite.USER_TYPE, {
        "schemas": [scimlite.USER_URN], "userName": name}, "crash")

def killer(work):
    create("c@example.com")(work)
    if when == "before":
        os.kill(os.getpid(), signal.SIGKILL)

def writer(job, name):
    changes.run(job)
    print("acknowledged", name, flush=True)

writer(create("before@example.com"), "before@example.com")
if when == "after":
    real_commit = changes.models.db.commit
    def commit():
        real_commit()
        os.kill(os.getpid(), signal.SIGKILL)
    changes.models.db.commit = commit
jobs = [(create("a@example.com"), "a@example.com"), (create("b@example.com"), "b@example.com"),
        (killer, "c@example.com")]
with changes.queue:
    for n, job in enumerate(jobs):
        threading.Thread(target=writer, args=job).start()
        while changes.queue.waiting < n + 1:
            time.sleep(0.001)
time.sleep(10)
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_kill_9_in_a_group_commit_loses_nothing_acknowledged(tmp_path, when):
    """Killed before the batch's commit: none of it is stored (and none was
    acknowledged); killed just after: all of it is stored, though none was
    acknowledged yet.  Never a part of a batch, never a write that was."""
    db = tmp_path / "batch.db"
    child = subprocess.run([sys.executable, "-c", BATCH_CHILD, str(db), when], cwd=ROOT,
                           capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.returncode == -signal.SIGKILL, child.stderr
    acknowledged = [line.split()[1] for line in child.stdout.splitlines()]
    assert acknowledged == ["before@example.com"]
    with sqlite3.connect(db) as check:
        stored = sorted(row[0] for row in check.execute("SELECT user_name_key FROM user"))
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        mails = check.execute("SELECT COUNT(*) FROM outbox_message").fetchone()[0]
    batch = ["a@example.com", "b@example.com", "c@example.com"]
    assert stored == sorted(["before@example.com"] + (batch if when == "after" else []))
    assert mails == len(stored)         # each stored user's license mail, queued with it
