"""Organizations' own administrators (issue 23, items 1-4): invited by a
one-time link mailed through the outbox, signed in with a one-time code
mailed to them (or a password they set), and shown their organization
only.  The operator (the install's password) sees every organization."""
import io
import json
import logging
import re

import pytest

import scimlite
from conftest import SCIMClient
from test_admin import ADMIN, Admin, csrf_of


@pytest.fixture
def portal(store):
    """An install with two organizations, its operator signed in."""
    app = scimlite.create_app({**store, "mailer": "memory"})
    state = app.scimlite
    state.create_organization("acme", "Acme Corp")
    state.create_organization("globex", "Globex")
    operator = Admin(app)
    operator.setup()
    yield app, operator
    state.close()


def open_org(operator, slug):
    page = operator.web.get(f"{ADMIN}/organizations")
    operator.web.post(f"{ADMIN}/organizations/{slug}/open", {"csrf": csrf_of(page)})


def last_mail(app, address):
    assert app.scimlite.outbox.wait()
    return app.scimlite.outbox.mail_to(address)[-1]


def invite(app, operator, email, slug="acme", name="Ann"):
    open_org(operator, slug)
    operator.post("/admins", {"email": email, "name": name})
    return re.search(r"https?://\S+(/admin/invitation\?token=\S+)",
                     last_mail(app, email.lower()).text).group(1)


def join(app, email, slug="acme", operator=None, name="Ann Admin"):
    """Invited, then following the mailed link: a browser signed in as them."""
    link = invite(app, operator, email, slug)
    person = Admin(app)
    page = person.web.get(link)
    page.forms[0]["name"] = name
    page.forms[0].submit(status=303)
    return person


def code_of(app, email):
    return re.search(r"code: (\S+)", last_mail(app, email).subject).group(1)


def ask_code(person, email):
    page = person.web.get(f"{ADMIN}/login")
    return person.web.post(f"{ADMIN}/login/code", {"csrf": csrf_of(page), "email": email})


def send_code(person, email, code, status=303):
    page = person.web.get(f"{ADMIN}/login")
    return person.web.post(f"{ADMIN}/login/code", {"csrf": csrf_of(page), "email": email,
                                                    "code": code}, status=status)


# --- invitations -----------------------------------------------------------------------------

def test_an_invited_administrator_joins_and_sees_their_organization_only(portal):
    app, operator = portal
    ann = join(app, "Ann@Acme.example", operator=operator)
    dashboard = ann.web.get(ADMIN)
    assert "Acme Corp" in dashboard.text and "Globex" not in dashboard.text
    assert f'href="{ADMIN}/organizations"' not in dashboard.text
    for path in ("/organizations", "/log?keyless=1"):
        assert ann.web.get(ADMIN + path, status=404)
    for path in ("/organizations/globex/open", "/outbox/webhook-secret"):
        ann.post(path, {}, status=404, page=dashboard)
    admins = ann.web.get(f"{ADMIN}/admins")
    assert "ann@acme.example" in admins.text and "Ann Admin" in admins.text
    audit = [(a.action, json.loads(a.detail)) for a in app.scimlite.models.Audit.select()]
    assert ("admin.invited", {"email": "ann@acme.example", "by": "the operator"}) in audit
    assert any(action == "admin.joined" for action, _ in audit)


def test_another_organizations_objects_are_404_to_an_administrator(portal):
    app, operator = portal
    with app.scimlite.in_org("globex"):
        globex = SCIMClient(app, app.scimlite.mint_key("g")).create_user("secret@globex.example")
    ann = join(app, "ann@acme.example", operator=operator)
    assert "secret@globex.example" not in ann.web.get(f"{ADMIN}/users").text
    ann.web.get(f"{ADMIN}/users/{globex['id']}", status=404)
    operator_sees = operator.web.get(f"{ADMIN}/organizations")
    assert "globex" in operator_sees.text


def test_an_invitation_works_once_and_a_new_one_replaces_it(portal):
    app, operator = portal
    first = invite(app, operator, "bob@acme.example", name="Bob")
    second = invite(app, operator, "bob@acme.example", name="Bob")    # sent again
    Admin(app).web.get(first, status=404)                              # replaced
    person = Admin(app)
    person.web.get(second).forms[0].submit(status=303)
    again = Admin(app)
    page = again.web.get(second, status=404)
    assert "does not work" in page.text


def test_following_the_link_uses_nothing_up_until_the_name_is_confirmed(portal):
    """Mail scanners fetch links: GET shows the invitation, only POST spends it."""
    app, operator = portal
    link = invite(app, operator, "cy@acme.example")
    for _ in range(3):
        Admin(app).web.get(link)
    Admin(app).web.get(link).forms[0].submit(status=303)


def test_an_expired_invitation_is_refused(portal):
    app, operator = portal
    link = invite(app, operator, "dee@acme.example")
    Link = app.scimlite.models.AdminLink
    with app.scimlite.changes.unit():
        Link.update(expires="2000-01-01T00:00:00Z").execute()
    Admin(app).web.get(link, status=404)


def test_an_address_administers_one_organization(portal):
    app, operator = portal
    invite(app, operator, "eve@acme.example")
    open_org(operator, "globex")
    refused = operator.post("/admins", {"email": "eve@acme.example"}, status=400)
    assert "another organization" in refused.text
    bad = operator.post("/admins", {"email": "not an address"}, status=400)
    assert "not an email address" in bad.text


# --- one-time codes -----------------------------------------------------------------------------

def test_sign_in_with_a_mailed_code_typed_as_people_type(portal):
    app, operator = portal
    join(app, "ann@acme.example", operator=operator)
    person = Admin(app)
    answer = ask_code(person, "ANN@acme.example ")
    assert "Check your mail" in answer.text
    code = code_of(app, "ann@acme.example")
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}", code)
    typed = code.lower().replace("-", " ")
    send_code(person, "ann@acme.example", typed)
    assert "Acme Corp" in person.web.get(ADMIN).text
    # Once: the same code again is refused.
    assert "not right" in send_code(Admin(app), "ann@acme.example", code, status=401).text


def test_an_unknown_address_gets_the_same_answer_and_no_mail(portal):
    app, _ = portal
    person = Admin(app)
    known_nobody = ask_code(person, "nobody@acme.example")
    assert "Check your mail" in known_nobody.text
    assert app.scimlite.outbox.wait()
    assert app.scimlite.outbox.mail_to("nobody@acme.example") == []


def test_five_wrong_codes_spend_it_and_an_old_code_expires(portal):
    app, operator = portal
    join(app, "ann@acme.example", operator=operator)
    ask_code(Admin(app), "ann@acme.example")
    code = code_of(app, "ann@acme.example")
    for n in range(scimlite.SIGN_IN_CODE_TRIES):
        app.scimlite.login_throttle.by_client.clear()      # the address may try again
        send_code(Admin(app), "ann@acme.example", f"WRNG-CD{n:02d}", status=401)
    app.scimlite.login_throttle.by_client.clear()
    send_code(Admin(app), "ann@acme.example", code, status=401)          # spent
    ask_code(Admin(app), "ann@acme.example")
    fresh = code_of(app, "ann@acme.example")
    Link = app.scimlite.models.AdminLink
    with app.scimlite.changes.unit():
        Link.update(expires="2000-01-01T00:00:00Z").where(Link.kind == "code").execute()
    send_code(Admin(app), "ann@acme.example", fresh, status=401)


def test_code_requests_are_throttled_per_address(portal):
    app, _ = portal
    person = Admin(app)
    statuses = []
    for _ in range(12):
        page = person.web.get(f"{ADMIN}/login")
        statuses.append(person.web.post(f"{ADMIN}/login/code", {
            "csrf": csrf_of(page), "email": "x@acme.example"}, status="*").status_int)
    assert statuses[0] == 200 and statuses[-1] == 429


def test_codes_and_links_are_never_logged_stored_or_in_the_outbox(portal, caplog):
    caplog.set_level(logging.DEBUG)
    app, operator = portal
    link = invite(app, operator, "ann@acme.example")
    ask_code(Admin(app), "ann@acme.example")
    code = code_of(app, "ann@acme.example")
    token = link.split("token=")[1]
    state = app.scimlite
    outbox = operator.web.get(f"{ADMIN}/outbox").text
    with state.lock:
        stored = json.dumps([list(map(str, row)) for model in state.models.all
                             for row in model._meta.database.execute_sql(
                                 f'SELECT * FROM "{model._meta.table_name}"').fetchall()])
    for secret in (code, token):
        assert secret not in stored and secret not in caplog.text and secret not in outbox


# --- passwords, removal ---------------------------------------------------------------------------

def test_an_administrator_may_set_a_password_and_sign_in_with_it(portal):
    app, operator = portal
    ann = join(app, "ann@acme.example", operator=operator)
    page = ann.web.get(f"{ADMIN}/password")
    assert 'name="current"' not in page.text                 # none set yet
    ann.post("/password", {"new": "a long password 1", "confirm": "a long password 1"},
             page=page)
    person = Admin(app)
    login = person.web.get(f"{ADMIN}/login")
    wrong = person.web.post(f"{ADMIN}/login", {"csrf": csrf_of(login), "password": "nope",
                                               "email": "ann@acme.example"}, status=401)
    assert "do not match" in wrong.text
    person.web.post(f"{ADMIN}/login", {"csrf": csrf_of(login), "email": "ann@acme.example",
                                       "password": "a long password 1"}, status=303)
    assert "Acme Corp" in person.web.get(ADMIN).text
    # The install's password still signs the operator in, with no address.
    assert operator.login().status_int == 303


def test_removing_an_administrator_ends_their_session_at_once(portal):
    app, operator = portal
    ann = join(app, "ann@acme.example", operator=operator)
    join(app, "bob@acme.example", operator=operator, name="Bob")
    pk = app.scimlite.models.AdminAccount.get(
        app.scimlite.models.AdminAccount.email == "ann@acme.example").pk
    open_org(operator, "acme")
    operator.post(f"/admins/{pk}/remove", {})
    assert ann.web.get(ADMIN, status=303).location.endswith(f"{ADMIN}/login")
    bob_pk = app.scimlite.models.AdminAccount.get().pk
    last = operator.post(f"/admins/{bob_pk}/remove", {}, status=400)
    assert "last administrator" in last.text
    open_org(operator, "globex")            # not globex's: as if there were none
    operator.post(f"/admins/{bob_pk}/remove", {}, status=404)


def test_the_cli_invites_lists_and_removes(tmp_path):
    db = str(tmp_path / "a.db")

    def run(*argv, status=0):
        out = io.StringIO()
        assert scimlite.main([*argv, "--db", db], environ={}, out=out) == status
        return out.getvalue()
    run("org", "create", "acme", "--name", "Acme Corp")
    said = run("admin", "invite", "ann@acme.example", "--org", "acme", "--name", "Ann")
    assert "invited ann@acme.example" in said and "/admin/invitation?token=" in said
    run("admin", "invite", "bob@acme.example", "--org", "acme")
    listed = run("admin", "list")
    assert "ann@acme.example" in listed and "invited" in listed
    assert "removed ann@acme.example" in run("admin", "remove", "ann@acme.example",
                                             "--org", "acme")
    run("admin", "remove", "bob@acme.example", "--org", "acme", status=1)    # the last
