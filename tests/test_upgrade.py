"""Upgrades: a database file written by an older scimlite (schema 3, kept
under tests/fixtures/, made by the commit that wrote that schema) opens in
this one, copied first, with nothing lost."""
import json
import shutil
import sqlite3

import pytest

import scimlite
from conftest import ROOT, SCIMClient

FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture
def old_database(tmp_path):
    path = tmp_path / "scimlite.db"
    shutil.copy(FIXTURES / "schema-3.db", path)
    return path, json.loads((FIXTURES / "schema-3.json").read_text())


def dump(path):
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


def schema_of(path):
    with sqlite3.connect(path) as db:
        return json.loads(db.execute(
            "SELECT value FROM option WHERE key = 'schema_version'").fetchone()[0])


def test_a_schema_3_database_is_copied_then_upgraded_with_nothing_lost(old_database):
    path, known = old_database
    assert schema_of(path) == 3
    app = scimlite.create_app({"db": str(path), "mailer": "memory"})
    assert schema_of(path) == scimlite.SCHEMA_VERSION
    backup = path.parent / "scimlite.db.schema-3.bak"
    assert schema_of(backup) == 3                         # the file as it was
    scim = SCIMClient(app, known["key"])                  # its API key still works
    ana = scim.get(f"/Users/{known['ana']}").json
    assert ana["userName"] == "ana@contoso.com" and ana["displayName"] == "Ana"
    assert scim.get(f"/Users/{known['ben']}").json["active"] is False
    sales = scim.get(f"/Groups/{known['sales']}").json
    assert {m["value"] for m in sales["members"]} == {known["ana"], known["ben"]}
    assert scim.get("/Users", filter="active eq false").json["totalResults"] == 1
    # The active user stored before licenses existed gets one, and its mail.
    assert app.scimlite.outbox.wait()
    assert [m.to for m in app.scimlite.outbox.sent] == ["ana@contoso.com"]
    assert app.scimlite.licenses.of_user(known["ben"]) is None
    app.scimlite.close()


def test_a_second_start_neither_copies_nor_changes_anything_again(old_database):
    path, _ = old_database
    first = scimlite.create_app({"db": str(path), "mailer": "memory"})
    assert first.scimlite.outbox.wait() and len(first.scimlite.outbox.sent) == 1
    first.scimlite.close()
    backups = sorted(p.name for p in path.parent.iterdir() if ".bak" in p.name)
    again = scimlite.create_app({"db": str(path), "mailer": "memory"})
    assert sorted(p.name for p in path.parent.iterdir() if ".bak" in p.name) == backups
    assert again.scimlite.outbox.wait() and again.scimlite.outbox.sent == []
    again.scimlite.close()


def test_a_database_from_a_newer_scimlite_is_refused_untouched(old_database):
    path, _ = old_database
    with sqlite3.connect(path) as db:
        db.execute("UPDATE option SET value = '99' WHERE key = 'schema_version'")
    before = dump(path)
    with pytest.raises(RuntimeError, match="newer scimlite"):
        scimlite.create_app({"db": str(path)})
    assert dump(path) == before
    assert not list(path.parent.glob("*.bak"))
