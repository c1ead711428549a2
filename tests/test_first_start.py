"""The first start, when something is in the way: `python scimlite.py` as a
newcomer runs it.  Whatever stops the server from starting (a busy port, a
port without permission, a host that does not resolve, a database folder
that cannot be written, a file that is not a scimlite database) is one
line naming the problem and the fix, exit status 2, and nothing minted or
printed first: the next start still shows the first Secret Token."""
import errno
import os
import socket
import sqlite3
import subprocess
import sys

import pytest

import scimlite
from conftest import ROOT

pytestmark = pytest.mark.sqlite_only


def start(tmp_path, *args):
    """`python scimlite.py ARGS` in a fresh folder; the finished process."""
    return subprocess.run([sys.executable, str(ROOT / "scimlite.py"), *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          env={"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1"})


def assert_refused(done, *words):
    """Exit 2, one line on stderr holding `words`, no token shown, no trace."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scimlite: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "Secret Token" not in done.stdout and "scim_" not in done.stdout
    assert "Traceback" not in done.stderr
    return lines[0]


def test_a_busy_port_mints_nothing_and_names_another_port(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        done = start(tmp_path, "--port", str(port), "--db", "first.db")
    finally:
        busy.close()
    assert_refused(done, f"port {port}", "in use", "--port")
    assert not (tmp_path / "first.db").exists()         # nothing opened, nothing minted
    # The next start, on a free port, is still the first: the token is shown.
    app = scimlite.create_app({"db": str(tmp_path / "first.db"), "mailer": "memory"})
    assert app.scimlite.keys() == []
    app.scimlite.close()


def test_a_port_without_permission_says_to_choose_one_above_1023(tmp_path, monkeypatch,
                                                                   capsys):
    if os.geteuid() != 0:       # a real privileged port, where we are not root
        assert_refused(start(tmp_path, "--port", "1", "--db", "x.db"), "permission",
                       "--port")
        return
    # Root may bind any port: the refusal the kernel gives others, made here.
    def refused(sock, address):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(scimlite.socket.socket, "bind", refused)
    status = scimlite.main(["--port", "80", "--db", str(tmp_path / "x.db")], environ={})
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and "permission" in captured.err
    assert "--port 8080" in captured.err
    assert not (tmp_path / "x.db").exists()


def test_a_host_that_does_not_resolve(tmp_path):
    done = start(tmp_path, "--host", "no-such-host.invalid", "--port", "0", "--db", "x.db")
    assert_refused(done, "no-such-host.invalid", "does not resolve", "--host")
    assert not (tmp_path / "x.db").exists()


def test_a_database_folder_that_does_not_exist(tmp_path):
    done = start(tmp_path, "--port", "0", "--db", "missing/folder/x.db")
    assert_refused(done, "does not exist", "--db")
    assert not (tmp_path / "missing").exists()


def test_a_database_folder_that_cannot_be_written(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:       # a real read-only folder, where we are not root
        folder.chmod(0o500)
        assert_refused(start(tmp_path, "--port", "0", "--db", "locked/x.db"),
                       "cannot write", "--db")
        return
    # Root writes anywhere: the refusal the kernel gives others, made here.
    real_open = os.open

    def refused(path, *args, **kwargs):
        if str(path).startswith(str(folder)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(scimlite.os, "open", refused)
    status = scimlite.main(["--port", "0", "--db", str(folder / "x.db")], environ={})
    captured = capsys.readouterr()
    assert status == 2 and "Secret Token" not in captured.out
    assert captured.err.count("\n") == 1 and "cannot write" in captured.err
    assert "--db" in captured.err and not list(folder.iterdir())


def test_a_folder_named_as_the_database(tmp_path):
    (tmp_path / "data").mkdir()
    assert_refused(start(tmp_path, "--port", "0", "--db", "data"), "is a folder", "--db")


def test_a_file_that_is_not_a_database(tmp_path):
    (tmp_path / "notes.db").write_text("shopping: milk, eggs\n" * 100)
    before = (tmp_path / "notes.db").read_bytes()
    assert_refused(start(tmp_path, "--port", "0", "--db", "notes.db"),
                   "not a SQLite database", "--db")
    assert (tmp_path / "notes.db").read_bytes() == before


def test_another_programs_database_is_left_untouched(tmp_path):
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customer (name TEXT)")
    before = path.read_bytes()
    assert_refused(start(tmp_path, "--port", "0", "--db", "crm.db"),
                   "another program", "--db")
    assert path.read_bytes() == before          # not switched to WAL, no tables added
    assert not (tmp_path / "crm.db.secret").exists()


def test_other_commands_refuse_a_foreign_database_the_same_way(tmp_path):
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customer (name TEXT)")
    assert_refused(start(tmp_path, "list-keys", "--db", "crm.db"), "another program")
