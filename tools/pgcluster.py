"""A throwaway PostgreSQL server for tests and benchmarks.

    with pgcluster.Cluster(folder) as cluster:
        cluster.url         # postgresql://scimlite@127.0.0.1:PORT/scimlite

Debian's `postgresql` package is installed when missing (root and apt-get
needed; tools/install-postgres.sh).  The cluster lives in `folder`, listens
on a free loopback port, and is stopped on exit (and removed, when
the folder was its own).
PostgreSQL refuses to run as root: as root, initdb and the server run as
the `postgres` system user the package creates (runuser).

    python tools/pgcluster.py [FOLDER]    starts one, prints its URL, and
                                          stops it on Ctrl-C
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Unavailable(Exception):
    """No PostgreSQL here, and none can be installed."""


def server_binaries():
    """The bin folder of the newest installed PostgreSQL, installing
    Debian's package first if none is."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        done = subprocess.run(["sh", str(ROOT / "tools" / "install-postgres.sh")],
                              capture_output=True, text=True)
        if done.returncode:
            raise Unavailable("no PostgreSQL server: " +
                              (done.stderr.strip() or "install failed"))
        return server_binaries()
    return os.path.dirname(found[-1])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """initdb + pg_ctl in `folder`; `durable=False` (tests) turns fsync off."""

    def __init__(self, folder=None, durable=False, port=None):
        # Not under pytest's temporary folders: the postgres user must reach it.
        self.made = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="scimlite-pg-"))
        self.data = self.folder / "data"
        self.port = port or free_port()
        self.durable = durable
        self.bin = server_binaries()
        self.user = None        # None: as this process's user
        if os.geteuid() == 0:
            self.user = "postgres"
        self.url = f"postgresql://scimlite@127.0.0.1:{self.port}/scimlite"

    def _run(self, *command, check=True):
        if self.user:
            command = ("runuser", "-u", self.user, "--", *command)
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode and check:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def start(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.folder, self.user)
        self._run(f"{self.bin}/initdb", "-D", str(self.data), "-U", "scimlite",
                  "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        options = ["-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
                   "-c", f"unix_socket_directories={self.folder}",
                   "-c", "max_connections=300"]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        self._run(f"{self.bin}/pg_ctl", "-D", str(self.data), "-l",
                  str(self.folder / "server.log"), "-w", "-o", " ".join(options), "start")
        self._run(f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "scimlite", "scimlite")
        return self

    def stop(self):
        if self.data.exists():
            self._run(f"{self.bin}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w",
                      "stop", check=False)
        if self.made:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    with Cluster(sys.argv[1] if len(sys.argv) > 1 else None) as cluster:
        print(cluster.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
