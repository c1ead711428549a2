"""Several instances on one PostgreSQL database (docs/operations.md: several
instances): two `python scimlite.py` processes started together on one
empty database, raced against each other through their HTTP ports.

What must hold (issue 13): concurrent creates of one userName give one 201
and one 409; members added at once through both are all kept; each mail is
delivered once though both run senders; migrations run once; a key revoked
through one instance is refused by both on their next request."""
import collections
import os
import subprocess
import sys
import threading
import time

import pytest

import scimlite
from conftest import SCRIPT, SCIMClient, assert_scim_error, empty_postgres, free_port, http
from test_notify import SMTPServer

SECRET = "fedcba9876543210" * 4
PATCH = scimlite.PATCH_URN


class Instances:
    """Two scimlite processes on one database; .urls (their SCIM bases)."""

    def __init__(self, url, folder, smtp, **settings):
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "SCIMLITE_DB": url,
                    "SCIMLITE_LICENSE_SECRET": SECRET, "SCIMLITE_SMTP_HOST": "127.0.0.1",
                    "SCIMLITE_SMTP_PORT": str(smtp.port), "SCIMLITE_SMTP_SECURITY": "none",
                    "SCIMLITE_MAIL_FROM": "licenses@example.com",
                    **{f"SCIMLITE_{key.upper()}": str(value) for key, value in settings.items()}}
        self.folder, self.ports = folder, [free_port(), free_port()]
        # Started together on an empty database: both migrate at once.
        self.processes = [subprocess.Popen(
            [sys.executable, SCRIPT, "serve", "--port", str(port)], env=self.env,
            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for port in self.ports]
        self.output = [[], []]
        for process, lines in zip(self.processes, self.output):
            threading.Thread(target=lambda p=process, out=lines: out.extend(p.stdout),
                             daemon=True).start()
        self.urls = [f"http://127.0.0.1:{port}/scim/v2" for port in self.ports]
        try:
            self.key = self.cli("mint-key", "race").strip()
            for url in self.urls:
                self._wait_until_up(url)
        except BaseException:
            self.stop()         # one that started is not left running
            raise

    def cli(self, *args):
        done = subprocess.run([sys.executable, SCRIPT, *args], env=self.env, cwd=self.folder,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def _wait_until_up(self, url):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if http("GET", url + "/ServiceProviderConfig", self.key)[0] == 200:
                    return
            except OSError:
                pass
            assert all(p.poll() is None for p in self.processes), "".join(
                line for out in self.output for line in out)
            time.sleep(0.1)
        pytest.fail("an instance did not start: " + "".join(sum(self.output, [])))

    def send(self, which, method, path, body=None):
        return http(method, self.urls[which] + path, self.key, body)

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            process.wait(timeout=30)


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def instances(postgres_url, tmp_path, smtp):
    empty_postgres(postgres_url, drop=True)       # both instances migrate it at once
    both = Instances(postgres_url, tmp_path, smtp)
    yield both
    both.stop()


def together(*calls):
    """Run the calls at the same moment, one thread each; their results."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()
    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def user(name):
    return {"schemas": [scimlite.USER_URN], "userName": name,
            "emails": [{"value": name, "type": "work", "primary": True}]}


def test_both_started_together_on_an_empty_database_and_serve_one_store(instances):
    status, _, created = instances.send(0, "POST", "/Users", user("first@example.com"))
    assert status == 201
    status, _, found = instances.send(1, "GET", f"/Users/{created['id']}")
    assert status == 200 and found["userName"] == "first@example.com"


def test_one_user_name_created_at_once_through_both_is_one_201_and_one_409(instances):
    for round_ in range(15):
        # The second differs in case only: uniqueness ignores case (RFC 7643 §4.1.1).
        first, second = together(
            lambda: instances.send(0, "POST", "/Users", user(f"same{round_}@example.com")),
            lambda: instances.send(1, "POST", "/Users", user(f"SAME{round_}@example.com")))
        assert sorted([first[0], second[0]]) == [201, 409], (first, second)
        loser = first if first[0] == 409 else second
        assert loser[2]["scimType"] == "uniqueness"
    status, _, listed = instances.send(0, "GET", "/Users?count=0")
    assert listed["totalResults"] == 15


def test_members_added_at_once_through_both_are_all_kept(instances):
    ids = [instances.send(i % 2, "POST", "/Users", user(f"m{i}@example.com"))[2]["id"]
           for i in range(24)]
    group = instances.send(0, "POST", "/Groups", {
        "schemas": [scimlite.GROUP_URN], "displayName": "Raced"})[2]["id"]

    def add_each(which):
        for member in ids[which::2]:        # one PATCH per member, as Entra sends
            status, _, body = instances.send(which, "PATCH", f"/Groups/{group}", {
                "schemas": [PATCH], "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": member}]}]})
            assert status in (200, 204), body
    together(lambda: add_each(0), lambda: add_each(1))
    status, _, body = instances.send(1, "GET", f"/Groups/{group}")
    assert sorted(m["value"] for m in body["members"]) == sorted(ids)
    assert body["meta"]["version"] == 'W/"25"'     # created, then 24 changes: none lost


def test_each_mail_is_delivered_once_though_both_instances_send(instances, smtp):
    names = [f"mail{i}@example.com" for i in range(30)]

    def create(which):
        for name in names[which::2]:
            assert instances.send(which, "POST", "/Users", user(name))[0] == 201
    together(lambda: create(0), lambda: create(1))
    assert smtp.inbox.wait(30, timeout=60)
    time.sleep(1.5)         # a second delivery would come now
    ids = collections.Counter(m["Message-ID"] for _, m in smtp.inbox.messages)
    assert len(ids) == 30 and set(ids.values()) == {1}, ids
    assert sorted(rcpt[0] for rcpt, _ in smtp.inbox.messages) == sorted(names)


def test_a_key_revoked_through_one_instance_is_refused_by_both(instances):
    other = instances.cli("mint-key", "second").strip()
    for url in instances.urls:
        # Every one of the server's threads has the key cached by now.
        assert {http("GET", url + "/Users", other)[0] for _ in range(24)} == {200}
    instances.cli("revoke-key", "second")
    for url in instances.urls:
        # 401, and after a few, 429: failed logins from one address slow down.
        refused = {http("GET", url + "/Users", other)[0] for _ in range(24)}
        assert 401 in refused and refused <= {401, 429}
        assert http("GET", url + "/Users", instances.key)[0] == 200


def test_scim_switched_off_through_the_cli_is_off_on_both(instances):
    for url in instances.urls:
        assert {http("GET", url + "/Users", instances.key)[0] for _ in range(12)} == {200}
    instances.cli("scim", "disable")
    for url in instances.urls:
        assert {http("GET", url + "/Users", instances.key)[0] for _ in range(12)} == {403}


def test_license_seats_are_never_exceeded_by_two_instances(postgres_url, tmp_path, smtp):
    """One seat; each round two users are created at once, one through each
    instance: one gets the seat, the other waits.  Then both are deleted."""
    import psycopg
    empty_postgres(postgres_url)
    both = Instances(postgres_url, tmp_path, smtp, license_seats=1)
    try:
        for round_ in range(12):
            created = together(*[
                lambda i=i: both.send(i, "POST", "/Users", user(f"s{round_}-{i}@example.com"))
                for i in (0, 1)])
            assert [c[0] for c in created] == [201, 201], created
            with psycopg.connect(postgres_url) as conn:
                states = dict(conn.execute("SELECT status, count(*) FROM license "
                                           "WHERE status <> 'revoked' GROUP BY status"))
            assert states == {"active": 1, "waiting": 1}, (round_, states)
            for status, _, body in created:
                assert both.send(1, "DELETE", f"/Users/{body['id']}")[0] == 204
    finally:
        both.stop()


def test_the_schema_was_migrated_once(instances, postgres_url):
    import psycopg
    with psycopg.connect(postgres_url) as conn:
        versions = conn.execute("SELECT value FROM option WHERE key = 'schema_version'")
        assert [row[0] for row in versions] == [str(scimlite.SCHEMA_VERSION)]
        assert conn.execute("SELECT count(*) FROM scimlite_auth_version").fetchone()[0] == 1


def test_a_dropped_connection_costs_one_503_then_requests_pass(postgres_url):
    """The server restarted, failed over, or killed the session: the
    request that meets it is 503 with Retry-After (never a 500), and the
    next one runs on a new connection."""
    import psycopg
    empty_postgres(postgres_url)
    app = scimlite.create_app({"db": postgres_url, "license_secret": SECRET,
                               "mailer": "memory"})
    try:
        scim = SCIMClient(app, app.scimlite.mint_key("drop"))
        scim.create_user("before@example.com")
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                         "pid <> pg_backend_pid() AND datname = current_database()")
        dropped = scim.post("/Users", {"schemas": [scimlite.USER_URN],
                                       "userName": "during@example.com"}, status="*")
        assert_scim_error(dropped, 503)
        assert dropped.headers["Retry-After"] == "1"
        scim.create_user("during@example.com")      # the IdP's retry
        assert scim.get("/Users").json["totalResults"] == 2
    finally:
        app.scimlite.close()


OWED = 200


def test_instances_starting_together_issue_owed_licenses_once(postgres_url, tmp_path, smtp):
    """Users stored without a license (before licenses existed) are owed one
    at start: two instances starting at once issue it, and mail it, once."""
    empty_postgres(postgres_url)
    app = scimlite.create_app({"db": postgres_url, "license_secret": SECRET,
                               "mailer": "memory"})
    # Enough that issuing them takes a while: the two starts overlap.
    scimlite.import_document(app.scimlite, [{
        "schemas": [scimlite.USER_URN], "userName": f"owed{i}@example.com",
        "emails": [{"value": f"owed{i}@example.com", "type": "work"}]} for i in range(OWED)])
    assert app.scimlite.outbox.wait(30)
    app.scimlite.models.OutboxMessage.delete().execute()
    app.scimlite.models.License.delete().execute()      # as a schema-3 database had it
    app.scimlite.close()
    both = Instances(postgres_url, tmp_path, smtp)
    try:
        assert smtp.inbox.wait(OWED, timeout=90)
        time.sleep(1.5)         # a second mail would come now
        assert len(smtp.inbox.messages) == OWED
        status, _, listed = both.send(1, "GET", "/Users?count=0")
        assert status == 200 and listed["totalResults"] == OWED
    finally:
        both.stop()


def test_a_start_on_a_current_database_runs_no_ddl(postgres_url):
    """DDL takes table locks that wait on other instances' writes (and may
    deadlock with one of them): a second start, with nothing to migrate,
    runs none."""
    empty_postgres(postgres_url, drop=True)
    config = {"db": postgres_url, "license_secret": SECRET, "mailer": "memory"}
    scimlite.create_app(config).scimlite.close()
    db = scimlite.open_database(postgres_url)
    models = scimlite.build_models(db)
    seen = []
    original = db.execute_sql
    db.execute_sql = lambda sql, *args, **kw: (seen.append(sql), original(sql, *args, **kw))[1]
    try:
        scimlite.migrate(models, postgres_url)
    finally:
        db.close_all()
    assert seen and not [s for s in seen if s.split()[0].upper() in (
        "CREATE", "ALTER", "COMMENT", "DROP")], seen
