"""export, import and the seed file: SCIM JSON that round-trips, ids kept."""
import json
import os
import subprocess
import sys

import pytest

import scimlite
from conftest import SCRIPT, SCIMClient


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
