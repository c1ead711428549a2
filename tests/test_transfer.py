"""export, import and the seed file: SCIM JSON that round-trips, ids kept."""
import json
import os
import sqlite3
import subprocess
import sys

import pytest
import webtest

import scimlite
from conftest import SCRIPT, SCIMClient, empty_postgres


def make(where, name="a.db", **settings):
    """An app on a database: the `database` fixture's, or a SQLite file
    `name` in the folder `where`."""
    database = where if isinstance(where, dict) else {"db": str(where / name)}
    app = scimlite.create_app({**database, "mailer": "memory", **settings})
    return app, SCIMClient(app, app.scimlite.mint_key(f"k-{os.urandom(3).hex()}"))


def cli(tmp_path, *args, db="a.db"):
    done = subprocess.run([sys.executable, SCRIPT, *args, "--db", str(tmp_path / db)],
                          capture_output=True, text=True, cwd=tmp_path)
    return done.returncode, done.stdout, done.stderr


def without_locations(document):
    for resource in document["Resources"]:
        resource["meta"].pop("location", None)
        for ref in resource.get("members", []) + resource.get("groups", []):
            ref.pop("$ref", None)
    return document


def test_export_then_import_gives_the_same_store_with_the_same_ids(database, tmp_path):
    app, scim = make(database)
    ann = scim.create_user("ann@example.com", name={"givenName": "Ann"},
                           emails=[{"value": "ann@example.com", "type": "work"}])
    bob = scim.create_user("bob@example.com", active=False, password="Pa55-word-x")
    inner = scim.create_group("Inner", members=[{"value": bob["id"]}])
    scim.create_group("Outer", members=[{"value": ann["id"]}, {"value": inner["id"]}])
    exported = scimlite.export_document(app.scimlite, "http://x/scim/v2")
    assert exported["totalResults"] == 4
    assert "password" not in json.dumps(exported)
    app.scimlite.close()
    again, _ = make(tmp_path, "b.db")      # a SQLite file, from either backend
    counts = scimlite.import_document(again.scimlite, json.loads(json.dumps(exported)))
    assert counts == {"User": 2, "Group": 2}
    round_trip = scimlite.export_document(again.scimlite, "http://x/scim/v2")
    assert without_locations(round_trip) == without_locations(exported)
    again.scimlite.close()


def test_a_hand_written_seed_names_members_by_username_and_loads_once(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "Users": [{"schemas": [scimlite.USER_URN], "userName": "Cy@Example.com"},
                  {"schemas": [scimlite.USER_URN], "userName": "di@example.com"}],
        "Groups": [{"schemas": [scimlite.GROUP_URN], "displayName": "Team",
                    "members": [{"value": "cy@example.com"}, {"value": "Admins"}]},
                   {"schemas": [scimlite.GROUP_URN], "displayName": "Admins",
                    "members": [{"value": "di@example.com"}]}]}))
    app, scim = make(tmp_path, seed=str(seed))
    team = scim.get("/Groups", filter='displayName eq "Team"').json["Resources"][0]
    assert sorted(m["display"] for m in team["members"]) == ["Admins", "Cy@Example.com"]
    assert app.scimlite.outbox.wait() and len(app.scimlite.outbox.sent) == 2   # licenses
    scim.delete(f"/Groups/{team['id']}")
    app.scimlite.close()
    again, scim = make(tmp_path, seed=str(seed))          # not empty: not loaded again
    assert scim.get("/Groups").json["totalResults"] == 1
    again.scimlite.close()


def test_an_import_is_all_or_nothing_and_names_the_bad_resource(database):
    app, scim = make(database)
    scim.create_user("taken@example.com")
    document = [{"schemas": [scimlite.USER_URN], "userName": "new@example.com"},
                {"schemas": [scimlite.USER_URN], "userName": "TAKEN@example.com"}]
    with pytest.raises(ValueError, match=r"resource 2 \(User\):.*already exists"):
        scimlite.import_document(app.scimlite, document)
    assert scim.get("/Users").json["totalResults"] == 1
    with pytest.raises(ValueError, match="resource 1: no User or Group schema"):
        scimlite.import_document(app.scimlite, [{"userName": "x"}])
    with pytest.raises(ValueError, match="no user or group has"):
        scimlite.import_document(app.scimlite, [{"schemas": [scimlite.GROUP_URN],
                                                 "displayName": "G",
                                                 "members": [{"value": "nobody"}]}])
    assert scim.get("/Groups").json["totalResults"] == 0
    for bad in ("nul\x00x", "", 7):      # member lists go through json_each, which ends at NUL
        with pytest.raises(ValueError, match=r"resource 1 \(User\): 'id' must be text"):
            scimlite.import_document(app.scimlite, [
                {"schemas": [scimlite.USER_URN], "id": bad, "userName": "kept@example.com"}])
    assert scim.get("/Users").json["totalResults"] == 1
    app.scimlite.close()


def test_the_commands_export_import_users_and_check_config(tmp_path):
    app, scim = make(tmp_path)
    scim.create_user("eve@example.com", displayName="Eve Example",
                     emails=[{"value": "eve@work.example", "type": "work"}])
    app.scimlite.close()
    code, out, err = cli(tmp_path, "export", "--out", "dump.json")
    assert code == 0 and "exported to dump.json" in out, err
    assert cli(tmp_path, "export", "--out", "dump.json")[0] == 1      # never over a file
    code, out, err = cli(tmp_path, "import", "dump.json", db="b.db")
    assert code == 0 and "imported 1 users and 0 groups" in out, err
    code, out, _ = cli(tmp_path, "users", db="b.db")
    assert "eve@example.com" in out and "Eve Example" in out and "eve@work.example" in out
    assert "active" in out and out.strip().endswith("1 users")
    code, _, err = cli(tmp_path, "import", "dump.json", db="b.db")   # ids exist: none added
    assert code == 1 and "resource 1" in err

    (tmp_path / "good.toml").write_text('port = 9000\nsmtp_password = "hunter2"\n')
    code, out, _ = cli(tmp_path, "check-config", "good.toml")
    assert code == 0 and "good.toml: ok" in out and "port = 9000" in out
    assert "smtp_password = (set)" in out and "hunter2" not in out
    (tmp_path / "bad.toml").write_text('port = "nine"\n')
    code, _, err = cli(tmp_path, "check-config", "bad.toml")
    assert code == 1 and "'port' must be an integer" in err
    (tmp_path / "broken.toml").write_text('port = \n')
    assert cli(tmp_path, "check-config", "broken.toml")[0] == 1
    assert not (tmp_path / "scimlite.db").exists()


def test_deterministic_mode_gives_the_same_answers_every_run(tmp_path):
    """Two apps, two runs of the same story: byte-for-byte the same bodies."""
    def story():
        app = scimlite.create_app({"db": ":memory:", "mailer": "memory",
                                   "deterministic": True})
        scim = SCIMClient(app, app.scimlite.mint_key("k"))
        user = scim.create_user("det@example.com")
        app.scimlite.clock.advance(90)
        group = scim.create_group("Det", members=[{"value": user["id"]}])
        app.scimlite.clock.set("2025-06-01T12:00:00Z")
        scim.patch(f"/Users/{user['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
            {"op": "replace", "path": "displayName", "value": "D"}]})
        bodies = [scim.get(f"/Users/{user['id']}").text, scim.get(f"/Groups/{group['id']}").text]
        app.scimlite.close()
        return user, group, bodies
    user, group, first = story()
    assert story()[2] == first
    assert user["id"] == "00000000-0000-4000-8000-000000000001"
    assert group["id"] == "00000000-0000-4000-8000-000000000002"
    assert user["meta"]["created"] == "2024-01-01T00:00:00.000Z"
    assert group["meta"]["created"] == "2024-01-01T00:01:30.000Z"
    assert json.loads(first[0])["meta"]["lastModified"] == "2025-06-01T12:00:00.000Z"


def test_deterministic_ids_skip_those_a_reopened_database_holds(database):
    app, scim = make(database, deterministic=True)
    first = scim.create_user("one@example.com")["id"]
    app.scimlite.close()
    again, scim = make(database, deterministic=True)
    second = scim.create_user("two@example.com")["id"]
    assert first.endswith("001") and second.endswith("002")
    again.scimlite.close()


# --- migrate-db: moving a whole installation to another database -------------------

def every_row(path):
    """{table: every row in key order}, read with sqlite3 alone."""
    with sqlite3.connect(path) as db:
        # scimlite_auth_version is not data: a counter that triggers move on
        # every write of a key or an option, so the key cache knows when to
        # reload; each database counts its own writes, the copy included.
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name != 'scimlite_auth_version' ORDER BY name")]
        return {table: db.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2').fetchall()
                for table in tables}


def a_lived_in_store(path):
    """A SQLite installation with rows in every table: users, groups in
    groups, keys (one revoked), an OAuth client with tokens and a grant, licenses in
    each state, mail sent and pending, the log, read counts, sessions, the
    audit trail."""
    app, scim = make(path.parent, path.name, log_reads=True, license_seats=2,
                     webhook_url="http://127.0.0.1:9/hook")
    state = app.scimlite
    ann = scim.create_user("ann@example.com", name={"givenName": "Ann"}, password="Pa55-word-1",
                           emails=[{"value": "ann@example.com", "type": "work"}])
    bob = scim.create_user("bob@example.com", emails=[{"value": "bob@example.com"}])
    cy = scim.create_user("cy@example.com", emails=[{"value": "cy@example.com"}])  # waits
    inner = scim.create_group("Inner", members=[{"value": bob["id"]}])
    scim.create_group("Outer", members=[{"value": ann["id"]}, {"value": inner["id"]}])
    scim.patch(f"/Users/{bob['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "active", "value": False}]})
    with state.changes.unit():      # a receiver of security events: the delete is its SET
        scimlite.create_event_stream(state.models, "replica", "https://h/o/default/scim/v2")
    scim.delete(f"/Users/{cy['id']}")
    scim.get("/Users", filter='userName eq "ann@example.com"')
    state.revoke_key(state.mint_key("old"))
    with state.changes.unit():       # an OAuth client, its secret, tokens it got, a grant
        now, back = scimlite.now_text(), "https://idp.example/callback"
        client, secret = scimlite.create_oauth_client(state.models, "entra", redirect_uris=[back])
        scimlite.issue_oauth_token(state.models, client.client_id, secret, None, 60, now)
        code = scimlite.grant_code(state.models, {
            "client": client, "redirect_uri": back, "given": True, "scopes": client.scopes,
            "challenge": None}, scimlite.DEFAULT_ORG, "tests", now)
        scimlite.redeem_code(state.models, {"client_id": client.client_id, "code": code,
                                            "client_secret": secret, "redirect_uri": back},
                             60, now)
    scimlite.set_admin_password(state, "correct horse battery", "tests")
    scimlite.start_session(state, "127.0.0.1")
    scimlite.admin_accounts(state).invite(      # an administrator, invited: their link
        "admin@example.com", state.organization(), by="tests", client="tests")
    assert state.outbox.wait()      # mails sent; the webhooks wait for retries
    state.close()
    rows = every_row(path)
    assert all(rows[table] for table in rows), {t: len(r) for t, r in rows.items()}
    return rows


def test_migrate_db_to_postgresql_and_back_keeps_every_row(tmp_path, postgres_url):
    """SQLite -> PostgreSQL -> a new SQLite file: every row of every table
    the same at both ends; and the PostgreSQL copy serves with the old key
    and verifies the old license keys."""
    empty_postgres(postgres_url)
    source, back = tmp_path / "a.db", tmp_path / "back.db"
    before = a_lived_in_store(source)
    status, said, errors = cli(tmp_path, "migrate-db", "--to", postgres_url)
    assert status == 0, errors
    assert "every row compared equal" in said
    secret = (tmp_path / "a.db.secret").read_text().strip()
    env = {**os.environ, "SCIMLITE_DB": postgres_url, "SCIMLITE_LICENSE_SECRET": secret}
    home = subprocess.run([sys.executable, SCRIPT, "migrate-db", "--to", str(back)],
                          env=env, capture_output=True, text=True, cwd=tmp_path)
    assert home.returncode == 0, home.stderr
    assert every_row(back) == before

    app = scimlite.create_app({"db": postgres_url, "license_secret": secret,
                               "mailer": "memory"})
    try:
        web = webtest.TestApp(app)
        key = app.scimlite.licenses.key_of(app.scimlite.models.License.get(
            app.scimlite.models.License.user_name == "ann@example.com"))
        assert web.post_json(scimlite.VERIFY_PATH, {"key": key}).json["code"] == "VALID"
        users = app.scimlite.resources.search(scimlite.USER_TYPE, None, 1, 10)[0]
        assert users == 2
    finally:
        app.scimlite.close()


def test_migrate_db_refuses_a_target_that_is_not_empty(tmp_path, postgres_url):
    empty_postgres(postgres_url)
    app, scim = make(tmp_path)
    scim.create_user("one@example.com")
    app.scimlite.close()
    assert cli(tmp_path, "migrate-db", "--to", postgres_url)[0] == 0
    status, _, errors = cli(tmp_path, "migrate-db", "--to", postgres_url)
    assert status == 1 and "not empty" in errors
    assert "one@example.com" in cli(tmp_path, "users")[1]      # the source as it was
