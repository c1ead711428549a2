"""Shared fixtures: an in-process app, an authenticated SCIM client, and
assert_scim_error()."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path

import pytest
import webtest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import scimlite  # noqa: E402

SAMPLES = Path(__file__).parent / "samples"
BASE = "/scim/v2"


class SCIMClient:
    """A webtest client that speaks application/scim+json with a bearer key."""

    def __init__(self, app, token):
        self.app = app
        self.web = webtest.TestApp(app, extra_environ={
            "HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {})

    def _url(self, path):
        return path if path.startswith(BASE) else BASE + path

    def get(self, path, status=200, **params):
        return self.web.get(self._url(path), params=params, status=status)

    def send(self, method, path, body, status, headers=None):
        payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        return self.web.request(self._url(path), method=method, body=payload,
                                headers={"Content-Type": "application/scim+json",
                                         **(headers or {})},
                                status=status, expect_errors=True)

    def post(self, path, body, status=201, **kw):
        return self.send("POST", path, body, status, **kw)

    def put(self, path, body, status=200, **kw):
        return self.send("PUT", path, body, status, **kw)

    def patch(self, path, body, status=200, **kw):
        return self.send("PATCH", path, body, status, **kw)

    def delete(self, path, status=204):
        return self.web.delete(self._url(path), status=status, expect_errors=True)

    def create_user(self, user_name="alice@example.com", **attributes):
        body = {"schemas": [scimlite.USER_URN], "userName": user_name, **attributes}
        return self.post("/Users", body).json

    def create_group(self, display_name="Engineering", **attributes):
        body = {"schemas": [scimlite.GROUP_URN], "displayName": display_name, **attributes}
        return self.post("/Groups", body).json


def assert_scim_error(resp, status, scim_type=None):
    """A SCIM Error response (RFC 7644 §3.12) with this status and scimType."""
    assert resp.status_int == status, resp.text
    assert resp.content_type == "application/scim+json", resp.content_type
    body = resp.json
    assert body["schemas"] == [scimlite.ERROR_URN]
    assert body["status"] == str(status)
    if scim_type is None:
        assert "scimType" not in body, body
    else:
        assert body["scimType"] == scim_type, body
    assert "Traceback" not in resp.text
    return body


def load_sample(name):
    """A recorded request body; keys starting with '_' are notes (its source)."""
    body = json.loads((SAMPLES / name).read_text("utf-8"))
    return {k: v for k, v in body.items() if not k.startswith("_")}


# --- the two backends -------------------------------------------------------------
# A test that takes `app` (or `scim`) or `database` runs on SQLite and on
# PostgreSQL; @pytest.mark.sqlite_only keeps one on SQLite (a file's mode, a
# PRAGMA).  PostgreSQL is a throwaway cluster per test session, started
# by tools/pgcluster.py, which installs Debian's
# postgresql when it is missing; SCIMLITE_TEST_POSTGRES=<url> uses a server
# of your own instead (its tables are emptied!), and =off skips those runs.

BACKENDS = ("sqlite", "postgresql")
TEST_LICENSE_SECRET = "0123456789abcdef" * 4


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: run on SQLite alone")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        wanted = os.environ.get("SCIMLITE_TEST_POSTGRES") != "off" and not only
        # Module scope, so that a module's fixture (test_statements' counts)
        # may take a backend too.
        metafunc.parametrize("backend", BACKENDS if wanted else BACKENDS[:1], scope="module")


@pytest.fixture(scope="session")
def postgres_url():
    """The URL of a PostgreSQL database for this session."""
    url = os.environ.get("SCIMLITE_TEST_POSTGRES")
    if url == "off":
        pytest.skip("SCIMLITE_TEST_POSTGRES=off")
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT / "tools"))
    import pgcluster
    try:
        cluster = pgcluster.Cluster().start()
    except pgcluster.Unavailable as exc:
        pytest.skip(str(exc))
    yield cluster.url
    cluster.stop()


def empty_postgres(url, drop=False):
    """Every table of the database emptied (a test's fresh start), but for
    the schema's version and the key version row: the next app finds the
    schema current and runs no DDL (0.1 s a test).  `drop`: no table at
    all, as a database no scimlite has seen."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        if drop:
            schema = conn.execute("SELECT current_schema()").fetchone()[0]
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
            return
        tables = [f'"{name}"' for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND "
            "tablename NOT IN ('option', 'scimlite_auth_version')")]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            conn.execute("DELETE FROM option WHERE key <> 'schema_version'")


@pytest.fixture
def database(request, backend, tmp_path):
    """Settings naming a fresh database of the test's backend: a SQLite file,
    or an emptied PostgreSQL database (with the license secret it needs)."""
    if backend == "sqlite":
        return {"db": str(tmp_path / "scimlite.db")}
    url = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return {"db": url, "license_secret": TEST_LICENSE_SECRET}


@pytest.fixture(autouse=True)
def close_forgotten_apps(monkeypatch):
    """Every app a test opens and leaves open is closed after it: on
    PostgreSQL the next test's tables are the same ones, and a forgotten
    app's background writes (its log, its outbox) would land in them.
    Held weakly, so a test that drops an app to see it collected still can."""
    opened = []
    original = scimlite.ScimLite.__init__

    def remembered(state, *args, **kwargs):
        original(state, *args, **kwargs)
        opened.append(weakref.ref(state))
    monkeypatch.setattr(scimlite.ScimLite, "__init__", remembered)
    yield
    for ref in opened:
        state = ref()
        if state is not None and state.workers:
            state.close()


@pytest.fixture
def store(request, backend):
    """Like `database`, but SQLite's is in memory: for a test that does
    not open its database twice."""
    return {"db": ":memory:"} if backend == "sqlite" else \
        request.getfixturevalue("database")


@pytest.fixture
def app(store):
    app = scimlite.create_app({**store, "mailer": "memory"})
    yield app
    app.scimlite.close()


@pytest.fixture
def token(app):
    return app.scimlite.mint_key("tests")


@pytest.fixture
def scim(app, token):
    return SCIMClient(app, token)


@pytest.fixture
def anonymous(app):
    return SCIMClient(app, None)


# --- a real server process, for end-to-end tests -----------------------------------

SCRIPT = str(ROOT / "scimlite.py")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method, url, token, body=None):
    """(status, headers, JSON body or None) over a plain HTTP client."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            raw = resp.read()
            return resp.status, resp.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, error.headers, json.loads(raw) if raw else None


@pytest.fixture
def server(tmp_path):
    """`python scimlite.py` on a free port with a temporary database, and a key
    from `mint-key`: (SCIM base URL, key, process)."""
    db, port = str(tmp_path / "e2e.db"), free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SCIMLITE_DB", None)
    process = subprocess.Popen([sys.executable, SCRIPT, "--db", db, "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, cwd=tmp_path)
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                pytest.fail("server did not start: " + process.stdout.read())
            time.sleep(0.1)
    minted = subprocess.run([sys.executable, SCRIPT, "mint-key", "e2e", "--db", db],
                            capture_output=True, text=True, check=True, env=env)
    # Its output (access log, printed mail) is read all along: a full pipe
    # would stop every thread that writes to it.
    process.lines = []
    process.reader = threading.Thread(target=lambda: process.lines.extend(process.stdout),
                                      daemon=True)
    process.reader.start()
    yield f"http://127.0.0.1:{port}/scim/v2", minted.stdout.strip(), process
    process.terminate()
    process.wait(timeout=30)
