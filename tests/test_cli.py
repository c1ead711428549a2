"""The command line: serve is the default, keys are minted, listed, revoked."""
import io
import json

import pytest

import scimlite
from conftest import SCIMClient, assert_scim_error


def run(*argv, environ=None):
    out = io.StringIO()
    status = scimlite.main(list(argv), environ=environ or {}, out=out)
    return status, out.getvalue()


def test_mint_key_prints_the_key_alone(tmp_path):
    db = str(tmp_path / "k.db")
    status, out = run("mint-key", "entra", "--db", db)
    assert status == 0
    key = out.strip()
    assert out == key + "\n" and key.startswith("scim_")
    app = scimlite.create_app({"db": db})
    assert scimlite.find_api_key(app.scimlite.models, key).name == "entra"


def test_list_and_revoke_keys(tmp_path):
    db = str(tmp_path / "k.db")
    key = run("mint-key", "okta", "--db", db)[1].strip()
    status, listing = run("list-keys", "--db", db)
    assert status == 0 and "okta" in listing and key[:13] in listing
    assert key not in listing and "active" in listing
    assert run("revoke-key", key[:13], "--db", db) == (0, "revoked 'okta'\n")
    assert "revoked 20" in run("list-keys", "--db", db)[1]


def test_list_keys_shows_an_expired_key_as_expired(tmp_path):
    """An expired key no longer works, so list-keys must not call it active
    (it did: it looked only at `revoked`)."""
    db = str(tmp_path / "k.db")
    run("mint-key", "old", "--db", db)
    state = scimlite.ScimLite(scimlite.load_settings({"db": db}))
    ApiKey = state.models.ApiKey
    ApiKey.update(expires="2020-01-01T00:00:00.000Z").execute()
    state.close()
    listing = run("list-keys", "--db", db)[1]
    assert "expired 2020-01-01T00:00:00.000Z" in listing and "active" not in listing


def test_errors_exit_nonzero_with_a_message(tmp_path, capsys):
    db = str(tmp_path / "k.db")
    assert run("revoke-key", "ghost", "--db", db)[0] == 1
    assert "no active key" in capsys.readouterr().err
    run("mint-key", "dup", "--db", db)
    assert run("mint-key", "dup", "--db", db)[0] == 1


def test_scim_enable_and_disable_reach_a_running_app(tmp_path):
    """The 403 tells an administrator to run `scim enable`: it works, and an
    app already serving the database sees the switch on its next request."""
    db = str(tmp_path / "s.db")
    key = run("mint-key", "idp", "--db", db)[1].strip()
    client = SCIMClient(scimlite.create_app({"db": db}), key)
    assert run("scim", "disable", "--db", db) == (0, "SCIM provisioning is disabled\n")
    error = assert_scim_error(client.get("/Users", status=403), 403)
    assert "python scimlite.py scim enable" in error["detail"]
    assert run("scim", "status", "--db", db) == (0, "SCIM provisioning is disabled\n")
    assert run("scim", "enable", "--db", db) == (0, "SCIM provisioning is enabled\n")
    assert client.get("/Users").json["totalResults"] == 0


def test_scimlite_db_environment_variable_chooses_the_database(tmp_path):
    db = str(tmp_path / "env.db")
    run("mint-key", "from-env", environ={"SCIMLITE_DB": db})
    assert "from-env" in run("list-keys", "--db", db)[1]


def test_bad_config_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("port = 'x'\n")
    assert run("list-keys", "--config", str(bad))[0] == 2
    assert "port" in capsys.readouterr().err


def test_no_command_means_serve_with_its_options():
    args = scimlite.parse_args(["--port", "9000"])
    assert args.command == "serve" and args.port == 9000
    assert scimlite.parse_args([]).command == "serve"
    args = scimlite.parse_args(["serve", "--db", "x.db", "--host", "0.0.0.0"])
    assert (args.db, args.host) == ("x.db", "0.0.0.0")


@pytest.mark.parametrize("command", [[], ["serve"], ["mint-key"], ["list-keys"],
                                     ["revoke-key"], ["scim"], ["backup"], ["version"]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        scimlite.parse_args(command + ["--help"])
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_tenant_url():
    settings = scimlite.load_settings({"host": "::1", "port": 9000})
    assert scimlite.tenant_url(settings) == "http://[::1]:9000/scim/v2"
    settings = scimlite.load_settings({"public_url": "https://idm.example.com"})
    assert scimlite.tenant_url(settings) == "https://idm.example.com/scim/v2"


def test_command_line_actions_are_in_the_audit_trail(tmp_path):
    db = str(tmp_path / "a.db")
    run("mint-key", "cli-key", "--db", db)
    run("revoke-key", "cli-key", "--db", db)
    run("scim", "disable", "--db", db)
    run("scim", "status", "--db", db)           # a look, not an action
    app = scimlite.create_app({"db": db})
    Audit = app.scimlite.models.Audit
    rows = [(a.action, a.client) for a in Audit.select().order_by(Audit.pk)]
    assert rows == [("key.minted", "command line"), ("key.revoked", "command line"),
                    ("scim.disabled", "command line")]


def test_backup_while_writing_makes_a_sound_copy(tmp_path):
    """SQLite's online backup: a copy taken while another thread writes is
    consistent, passes integrity_check and opens as a scimlite database."""
    import threading
    db = str(tmp_path / "live.db")
    app = scimlite.create_app({"db": db})
    client = SCIMClient(app, app.scimlite.mint_key("w"))
    for i in range(20):
        client.create_user(f"before{i}")
    stop = threading.Event()

    def write():
        writer = SCIMClient(app, app.scimlite.mint_key("writer"))
        n = 0
        while not stop.is_set():
            writer.create_user(f"during{n}")
            n += 1
    thread = threading.Thread(target=write)
    thread.start()
    try:
        status, out = run("backup", str(tmp_path / "copy.db"), "--db", db)
    finally:
        stop.set()
        thread.join()
    assert status == 0 and "integrity_check: ok" in out
    copy = scimlite.create_app({"db": str(tmp_path / "copy.db")})
    names = {u.user_name_key for u in copy.scimlite.models.User.select()}
    assert {f"before{i}" for i in range(20)} <= names
    assert run("backup", str(tmp_path / "copy.db"), "--db", db)[0] == 1     # never overwrites
    copy.scimlite.close()
    app.scimlite.close()


def test_version_names_every_part(tmp_path):
    status, out = run("version", "--db", str(tmp_path / "v.db"))
    assert status == 0
    assert out.splitlines()[0] == f"scimlite {scimlite.__version__}"
    assert f"database schema {scimlite.SCHEMA_VERSION}" in out and "SQLite 3." in out


def test_a_database_password_is_never_shown(tmp_path, postgres_url):
    """check-config and serve's banner name the database without the
    password of its URL; version names the server it runs on."""
    secret_url = postgres_url.replace("scimlite@", "scimlite:hunter2-secret@", 1)
    config = tmp_path / "c.toml"
    config.write_text(f'db = "{secret_url}"\nlicense_secret = "{"ab" * 32}"\n')
    status, out = run("check-config", str(config))
    assert status == 0 and "hunter2" not in out and "scimlite:***@" in out
    assert scimlite.database_label(secret_url) == secret_url.replace("hunter2-secret", "***")
    assert scimlite.database_label("/var/lib/scimlite.db") == "/var/lib/scimlite.db"
    status, out = run("version", "--db", postgres_url, environ={
        "SCIMLITE_LICENSE_SECRET": "ab" * 32})
    assert status == 0 and "PostgreSQL" in out


def test_check_config_says_a_postgresql_database_needs_license_secret(tmp_path, capsys):
    """What serve would refuse, check-config refuses first: the settings
    table's required_with, checked by the loader."""
    config = tmp_path / "c.toml"
    config.write_text('db = "postgresql://scimlite@127.0.0.1/scimlite"\n')
    assert run("check-config", str(config))[0] == 1
    assert "needs 'license_secret'" in capsys.readouterr().err


# --- organizations (issue 22) --------------------------------------------------------

def test_the_org_command_from_create_to_delete(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "o.db")
    status, out = run("org", "create", "acme", "--name", "Acme Corp", "--seats", "2",
                      "--plan", "Team", "--ends", "2030-06-30", "--db", db)
    assert status == 0 and "/o/acme/scim/v2" in out and "--org acme" in out
    assert run("org", "create", "acme", "--db", db)[0] == 1
    assert "taken" in capsys.readouterr().err
    assert run("org", "create", "Not_OK", "--db", db)[0] == 1
    assert "not a slug" in capsys.readouterr().err
    # with two organizations a data command must say which
    assert run("mint-key", "okta", "--db", db)[0] == 1
    assert "default, acme" in capsys.readouterr().err
    key = run("mint-key", "okta", "--org", "acme", "--db", db)[1].strip()
    app = scimlite.create_app({"db": db, "mailer": "memory"})
    SCIMClient(app, key).create_user("ann@acme.example")
    app.scimlite.close()
    listing = run("org", "list", "--db", db)[1].splitlines()
    assert listing[0].split() == ["slug", "name", "seats", "last", "SCIM", "request", "state"]
    acme = next(line for line in listing if line.startswith("acme"))
    assert "Acme Corp" in acme and "1 / 2" in acme and acme.endswith("active")
    assert "okta" not in run("list-keys", "--org", "default", "--db", db)[1]
    assert "okta" in run("list-keys", "--org", "acme", "--db", db)[1]
    assert "ann@acme.example" in run("users", "--org", "acme", "--db", db)[1]
    assert "ann@acme.example" not in run("users", "--org", "default", "--db", db)[1]
    # export from one organization, import into another: the same people, its own
    exported = tmp_path / "acme-export.json"
    assert run("export", "--org", "acme", "--out", str(exported), "--db", db)[0] == 0
    assert run("import", str(exported), "--org", "default", "--db", db)[0] == 0
    assert "ann@acme.example" in run("users", "--org", "default", "--db", db)[1]
    shown = run("org", "update", "acme", "--seats", "0", "--ends", "", "--db", db)[1]
    assert "no limit" in shown and "ends:" in shown and "ends:              -" in shown
    assert run("org", "suspend", "acme", "--db", db)[1] == "'acme' is suspended\n"
    assert "suspended" in run("org", "show", "acme", "--db", db)[1]
    assert run("org", "resume", "acme", "--db", db)[1] == "'acme' is active\n"
    # delete: refused without --yes, then an export first, then every row gone
    assert run("org", "delete", "acme", "--db", db)[0] == 1
    assert "--yes" in capsys.readouterr().err
    export = tmp_path / "acme.json"
    status, out = run("org", "delete", "acme", "--yes", "--export", str(export), "--db", db)
    assert status == 0 and "deleted 'acme'" in out
    assert [r["userName"] for r in json.loads(export.read_text())["Resources"]] == [
        "ann@acme.example"]
    assert [line.split()[0] for line in run("org", "list", "--db", db)[1].splitlines()[1:]] \
        == ["default"]
    monkeypatch.chdir(tmp_path)
    assert run("org", "delete", "default", "--yes", "--db", db)[0] == 1
    assert "only organization" in capsys.readouterr().err
    assert not list(tmp_path.glob("scimlite-default-*.json"))     # refused: no export


def test_migrate_db_carries_every_organization(tmp_path):
    source, target = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    run("org", "create", "acme", "--db", source)
    key = run("mint-key", "okta", "--org", "acme", "--db", source)[1].strip()
    app = scimlite.create_app({"db": source, "mailer": "memory"})
    SCIMClient(app, key).create_user("ann@acme.example")
    app.scimlite.close()
    assert run("migrate-db", "--to", target, "--db", source)[0] == 0
    (tmp_path / "b.db.secret").write_text((tmp_path / "a.db.secret").read_text())
    copy = scimlite.create_app({"db": target, "mailer": "memory"})
    assert [o.slug for o in scimlite.organizations(copy.scimlite.models)] == ["default", "acme"]
    users = SCIMClient(copy, key).get("/Users").json
    assert [u["userName"] for u in users["Resources"]] == ["ann@acme.example"]
    made = copy.scimlite.create_organization("third")
    assert made.id == 3          # the copy's next id follows the copied ones
    copy.scimlite.close()


def test_oauth_client_create_list_add_secret_and_revoke(tmp_path):
    db = str(tmp_path / "o.db")
    status, out = run("oauth-client", "create", "entra", "--scope", "scim.read",
                      "--secret-days", "30", "--db", db)
    assert status == 0
    client_id = out.split("client id:")[1].split()[0]
    secret = out.split("client secret:")[1].split()[0]
    assert client_id.startswith("sc_") and secret.startswith("scs_")
    listing = run("oauth-client", "list", "--db", db)[1]
    assert client_id in listing and "scim.read" in listing and secret not in listing
    assert secret[:12] + "..." in listing
    second = run("oauth-client", "add-secret", client_id, "--db", db)[1]
    assert "client secret:" in second
    assert run("oauth-client", "add-secret", client_id, "--db", db)[0] == 1   # two active
    assert run("oauth-client", "revoke", secret[:12], "--db", db)[1].startswith(
        "revoked secret scs_")
    assert run("oauth-client", "revoke", client_id, "--db", db)[1] == "revoked client 'entra'\n"
    assert "revoked 20" in run("oauth-client", "list", "--db", db)[1]
    assert run("oauth-client", "create", "x", "--secret-days", "2000", "--db", db)[0] == 1
