"""create_app(): settings precedence, config sources, and isolation."""
import threading

import pytest
import webtest

import scimlite
from conftest import SCIMClient


def test_no_config_gives_the_defaults():
    settings = scimlite.load_settings()
    assert settings["db"] == "scimlite.db" and settings["host"] == "127.0.0.1"
    assert settings["port"] == 8080 and settings["base_path"] == "/scim/v2"


def test_precedence_flags_over_environment_over_file_over_defaults(tmp_path):
    config = tmp_path / "scimlite.toml"
    config.write_text('db = "file.db"\nport = 9001\nhost = "0.0.0.0"\n')
    environ = {"SCIMLITE_PORT": "9002", "SCIMLITE_DB": "env.db", "UNRELATED": "x"}
    settings = scimlite.load_settings(config, environ=environ, overrides={"db": "flag.db",
                                                                           "port": None})
    assert settings["db"] == "flag.db"         # flag
    assert settings["port"] == 9002            # environment
    assert settings["host"] == "0.0.0.0"       # file
    assert settings["page_size"] == 100        # default


def test_create_app_reads_a_toml_path(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'db = "{tmp_path / "x.db"}"\nbase_path = "/api/scim/"\n')
    app = scimlite.create_app(str(config))
    scim = SCIMClient(app, app.scimlite.mint_key("t"))
    assert scim.web.get("/api/scim/Users", status=200).json["totalResults"] == 0
    assert (tmp_path / "x.db").exists()


def test_create_app_ignores_the_environment(monkeypatch):
    monkeypatch.setenv("SCIMLITE_BASE_PATH", "/elsewhere")
    app = scimlite.create_app({"db": ":memory:"})
    assert app.scimlite.settings["base_path"] == "/scim/v2"


@pytest.mark.parametrize("config, message", [
    ({"nope": 1}, "unknown setting"),
    ({"port": "eighty"}, "integer"),
    ({"port": True}, "integer"),
    ({"db": 5}, "string"),
    ({"base_path": "scim"}, "base_path"),
    ({"port": 70000}, "port"),
    ({"max_page_size": 0}, "max_page_size"),
    ({"log_level": "loud"}, "log_level"),
])
def test_bad_settings_are_refused_with_a_clear_message(config, message):
    with pytest.raises(ValueError, match=message):
        scimlite.load_settings(config)


def test_two_apps_share_nothing(tmp_path):
    one = scimlite.create_app({"db": ":memory:"})
    two = scimlite.create_app({"db": ":memory:", "base_path": "/other"})
    key_one = one.scimlite.mint_key("same-name")
    key_two = two.scimlite.mint_key("same-name")
    a, b = SCIMClient(one, key_one), SCIMClient(two, key_two)
    a.create_user("only-in-one")
    assert b.web.get("/other/Users").json["totalResults"] == 0
    assert a.get("/Users").json["totalResults"] == 1
    # A key of one app means nothing to the other.
    SCIMClient(two, key_one).web.get("/other/Users", status=401)
    two.scimlite.scim_enabled = False
    assert a.get("/Users").status_int == 200
    assert one.scimlite.settings["base_path"] == "/scim/v2"
    assert one.scimlite.models.User is not two.scimlite.models.User


def test_a_file_database_keeps_data_across_apps(tmp_path):
    path = str(tmp_path / "keep.db")
    first = scimlite.create_app({"db": path})
    key = first.scimlite.mint_key("k")
    SCIMClient(first, key).create_user("persistent")
    first.scimlite.close()
    second = scimlite.create_app({"db": path})
    found = SCIMClient(second, key).get("/Users", filter='userName eq "persistent"').json
    assert found["totalResults"] == 1
    journal = second.scimlite.models.db.execute_sql("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"


def test_concurrent_writers_on_one_file_all_succeed(tmp_path):
    """BEGIN IMMEDIATE + busy timeout: threads queue, none sees 'locked'."""
    app = scimlite.create_app({"db": str(tmp_path / "busy.db")})
    key = app.scimlite.mint_key("k")
    failures = []

    def worker(n):
        client = SCIMClient(app, key)
        for i in range(10):
            resp = client.post("/Users", {"userName": f"t{n}-{i}"}, status="*")
            if resp.status_int != 201:
                failures.append(resp.text)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert SCIMClient(app, key).get("/Users", count=0).json["totalResults"] == 40


def test_a_newer_database_schema_is_refused(tmp_path):
    path = str(tmp_path / "future.db")
    app = scimlite.create_app({"db": path})
    scimlite.set_option(app.scimlite.models, "schema_version", scimlite.SCHEMA_VERSION + 1)
    app.scimlite.close()
    with pytest.raises(RuntimeError, match="newer scimlite"):
        scimlite.create_app({"db": path})


def test_status_page_shows_the_tenant_url(app, scim):
    page = scim.web.get("/")
    assert page.content_type == "text/html"
    assert "http://localhost:80/scim/v2" in page.text
    assert scim.web.get("/style.css").content_type == "text/css"


def test_a_version_1_database_is_migrated_and_keeps_its_keys(tmp_path):
    """A database written before key expiry, the admin tables and the active
    column (schema 1) opens, gains them, and its data and key still work."""
    path = str(tmp_path / "old.db")
    app = scimlite.create_app({"db": path})
    key = app.scimlite.mint_key("entra")
    SCIMClient(app, key).create_user("kept")
    SCIMClient(app, key).create_user("off", active=False)
    app.scimlite.log.flush()        # nothing left to write to the tables dropped next
    db = app.scimlite.models.db
    db.execute_sql('DROP INDEX "user_org_id_active"')
    db.execute_sql('ALTER TABLE "user" DROP COLUMN "active"')
    db.execute_sql('ALTER TABLE "api_key" DROP COLUMN "expires"')
    for table in ("admin_session", "audit", "request_log", "read_count"):
        db.execute_sql(f'DROP TABLE "{table}"')
    scimlite.set_option(app.scimlite.models, "schema_version", 1)
    app.scimlite.close()
    again = scimlite.create_app({"db": path})
    assert scimlite.get_option(again.scimlite.models, "schema_version", 0) == scimlite.SCHEMA_VERSION
    columns = {c.name for c in again.scimlite.models.db.get_columns("api_key")}
    assert "expires" in columns
    client = SCIMClient(again, key)
    assert client.get("/Users").json["totalResults"] == 2
    # the new active column was filled from the stored data, and is indexed
    assert [u["userName"] for u in client.get("/Users", filter="active eq false").json[
        "Resources"]] == ["off"]
    indexes = {i.name for i in again.scimlite.models.db.get_indexes("user")}
    assert "user_org_id_active" in indexes
    again.scimlite.close()


def test_healthz_says_ok_without_a_key_and_503_when_the_database_fails(app, monkeypatch):
    web = webtest.TestApp(app)
    assert web.get("/healthz").json == {"status": "ok"}

    def broken(*args, **kwargs):
        raise scimlite.peewee.OperationalError("disk I/O error")
    monkeypatch.setattr(app.scimlite.models.db, "execute_sql", broken)
    response = web.get("/healthz", status=503)
    assert response.json == {"status": "unavailable"} and "disk" not in response.text
