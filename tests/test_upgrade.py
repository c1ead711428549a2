"""Upgrades: a database file written by an older scimlite (schema 3, kept
under tests/fixtures/, made by the commit that wrote that schema) opens in
this one, copied first, with nothing lost."""
import json
import shutil
import sqlite3

import pytest

import scimlite
from conftest import ROOT, SCIMClient, assert_scim_error

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
    assert_one_default_organization_holds_everything(app)
    app.scimlite.close()


def assert_one_default_organization_holds_everything(app):
    """Issue 22: what was stored before organizations is the first one's."""
    state = app.scimlite
    [org] = scimlite.organizations(state.models)
    assert (org.id, org.slug, org.name) == (scimlite.DEFAULT_ORG, "default", "scimlite")
    for model in state.models.all:
        if hasattr(model, "everywhere"):
            assert {row.org for row in model.everywhere(model.org)} <= {org.id}, model
    # Uniqueness is per organization now: a second one may have the same names.
    state.create_organization("second")
    key = state.mint_key("again", org="second")
    twin = SCIMClient(app, key).create_user("ana@contoso.com")
    assert twin["userName"] == "ana@contoso.com"


def test_a_schema_5_postgresql_database_becomes_one_organization(postgres_url):
    """The same upgrade on PostgreSQL, from a dump that scimlite at ce39bf5
    (schema 5) wrote, with SCIM switched off there: ids, the key, the
    switch and the memberships are kept."""
    from conftest import TEST_LICENSE_SECRET, empty_postgres
    import psycopg
    empty_postgres(postgres_url, drop=True)
    known = json.loads((FIXTURES / "schema-5.postgres.json").read_text())
    with psycopg.connect(postgres_url, autocommit=True) as conn:     # pg_dump --inserts
        conn.execute((FIXTURES / "schema-5.postgres.sql").read_text("utf-8"))
    with psycopg.connect(postgres_url, autocommit=True) as conn:     # its search_path
        conn.execute("UPDATE option SET value = 'false' WHERE key = 'scim_enabled'")
    settings = {"db": postgres_url, "mailer": "memory", "license_secret": TEST_LICENSE_SECRET}
    app = scimlite.create_app(settings)
    scim = SCIMClient(app, known["key"])
    assert_scim_error(scim.get("/Users", status=403), 403)        # the switch, kept
    app.scimlite.scim_enabled = True
    assert scim.get(f"/Users/{known['ana']}").json["userName"] == "ana@contoso.com"
    sales = scim.get(f"/Groups/{known['sales']}").json
    assert {m["value"] for m in sales["members"]} == {known["ana"], known["ben"]}
    assert scim.get("/Users", filter='emails.value eq "ana@contoso.com"').json[
        "totalResults"] == 1
    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("SELECT value FROM option WHERE key = 'schema_version'")
        assert json.loads(version.fetchone()[0]) == scimlite.SCHEMA_VERSION
        indexes = {name for (name,) in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'user'")}
    assert "user_user_name_key" not in indexes and "user_org_id_user_name_key" in indexes
    assert_one_default_organization_holds_everything(app)
    app.scimlite.close()
    empty_postgres(postgres_url, drop=True)         # the next test's schema is made anew


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
