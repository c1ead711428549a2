"""Organizations' own administrators (issue 23, items 1-4): invited by a
one-time link mailed through the outbox, signed in with a one-time code
mailed to them (or a password they set), and shown their organization
only.  The operator (the install's password) sees every organization."""
import io
import json
import logging
import re

import pytest
import webtest

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
    # Bob never joined: one only invited may go (the rule keeps the last
    # administrator who can sign in; tested on the pages).
    assert "removed bob@acme.example" in run("admin", "remove", "bob@acme.example",
                                             "--org", "acme")


# --- people by hand (item 5) ----------------------------------------------------------------

def people_form(page, action):
    return next(f for f in page.forms.values() if f.action.endswith(action))


def upload(person, csv_bytes, status=200):
    users = person.web.get(f"{ADMIN}/users")
    return person.web.post(f"{ADMIN}/people/upload", {"csrf": csrf_of(users)},
                           upload_files=[("file", "people.csv", csv_bytes)], status=status)


def problems_of(page):
    return re.findall(r'<tr class="bad"><td>(\d+)</td><td>[^<]*</td><td>[^<]*</td>'
                      r'<td>([^<]*)</td>', page.text)


@pytest.fixture
def seated(store):
    """One organization with 3 seats and an administrator signed in."""
    app = scimlite.create_app({**store, "mailer": "memory", "license_seats": 3})
    operator = Admin(app)
    operator.setup()
    ann = join(app, "ann@acme.example", "default", operator=operator)
    yield app, ann
    app.scimlite.close()


def test_a_person_added_by_hand_gets_a_license_by_mail_and_shows_as_such(seated):
    app, ann = seated
    page = ann.post("/people", {"name": "Bob Example", "email": "Bob@Example.com"}).follow()
    assert "Added by hand by ann@acme.example" in page.text
    assert last_mail(app, "bob@example.com").subject.endswith("license key")
    user = app.scimlite.models.User.get()
    assert user.added_by == "ann@acme.example"
    assert json.loads(user.data)["emails"][0]["value"] == "bob@example.com"
    again = ann.post("/people", {"name": "Bob", "email": "bob@example.com"}, status=400)
    assert "Nobody added" in again.text
    bad = ann.post("/people", {"name": "X", "email": "no address"}, status=400)
    assert "not an email address" in bad.text


def test_seats_are_respected_by_hand(seated):
    app, ann = seated
    for n in range(3):
        ann.post("/people", {"name": f"P{n}", "email": f"p{n}@example.com"})
    full = ann.post("/people", {"name": "P3", "email": "p3@example.com"}, status=400)
    assert "seats are free" in full.text


def test_a_csv_preview_names_every_bad_row_and_imports_nothing_until_fixed(seated):
    app, ann = seated
    ann.post("/people", {"name": "Already", "email": "here@example.com"})
    bad = ("\ufeffname,email\nBob,bob@example.com\nCy,not-an-email\nBob again,BOB@example.com\n"
           "Here,here@example.com\nDee,dee@example.com\nEve,eve@example.com\n").encode()
    page = upload(ann, bad)
    assert problems_of(page) == [("3", "&#039;not-an-email&#039; is not an email address"),
                                 ("4", "the same address as line 2"), ("5", "already here"),
                                 ("7", "over the seats: 2 free")]
    assert "/people/import" not in page.text
    assert app.scimlite.models.User.select().count() == 1
    ann.post("/people/import", {}, status=400, page=page)       # nothing waits
    fixed = upload(ann, b"name,email\nBob,bob@example.com\nDee,dee@example.com\n")
    assert "Import 2 people" in fixed.text
    people_form(fixed, "/people/import").submit(status=303)
    assert app.scimlite.models.User.select().count() == 3
    assert app.scimlite.outbox.wait()
    assert app.scimlite.outbox.mail_to("dee@example.com")


@pytest.mark.parametrize("data, says", [
    ("name,email\nA,a@example.com\n".encode("utf-16"), "not UTF-8"),
    (b"a@example.com,A\n", "header name,email"),
    (b"", "header name,email"),
    (b"name,email\nA,a@example.com,extra\n", "line 2 has 3 columns"),
    (b"name,email\n" + b"A,a@example.com\n" * 10_001, "over 10,000 people"),
    (b"name,email\n" + b"x" * (2 * 1024 * 1024), "over 2 MiB"),
    (b"name,email\n\n", "names nobody"),
])
def test_a_csv_that_cannot_be_read_gets_one_clear_message_and_imports_nothing(
        seated, data, says):
    app, ann = seated
    page = upload(ann, data, status=400)
    assert says in page.text and "Nothing was imported" in page.text
    assert app.scimlite.models.User.select().count() == 0


def test_an_import_is_all_or_nothing(seated):
    """Checked, then the seats go meanwhile (SCIM): the import fails whole."""
    app, ann = seated
    ready = upload(ann, b"name,email\nA,a@example.com\nB,b@example.com\n")
    with app.scimlite.in_org(None):
        scim = SCIMClient(app, app.scimlite.mint_key("idp"))
    scim.create_user("c@example.com")
    scim.create_user("d@example.com")
    failed = people_form(ready, "/people/import").submit(status=400)
    assert "Nothing was imported" in failed.text
    assert {u.user_name_key for u in app.scimlite.models.User.select()} == {
        "c@example.com", "d@example.com"}


def test_removing_a_person_suspends_and_mails_and_an_idp_user_is_refused(seated):
    app, ann = seated
    ann.post("/people", {"name": "Bob", "email": "bob@example.com"})
    bob = app.scimlite.models.User.get()
    ann.post(f"/users/{bob.id}/resend", {})
    assert app.scimlite.outbox.wait()
    assert len(app.scimlite.outbox.mail_to("bob@example.com")) == 2     # issued, again
    ann.post(f"/users/{bob.id}/remove", {})
    assert "suspended" in last_mail(app, "bob@example.com").subject
    with app.scimlite.in_org(None):
        scim = SCIMClient(app, app.scimlite.mint_key("idp"))
    provisioned = scim.create_user("idp@example.com")
    refused = ann.post(f"/users/{provisioned['id']}/remove", {}, status=400)
    assert "unassign them" in refused.text
    assert scim.get(f"/Users/{provisioned['id']}").json["active"] is True
    ann.post("/users/nobody/remove", {}, status=404)


def test_the_sample_csv_is_the_format_the_upload_reads(seated):
    app, ann = seated
    sample = ann.web.get(f"{ADMIN}/people/sample.csv")
    assert sample.content_type == "text/csv" and "attachment" in sample.headers[
        "Content-Disposition"]
    assert "Import 2 people" in upload(ann, sample.body).text


# --- mail templates (item 6) -------------------------------------------------------------------

def test_a_template_folder_overrides_and_a_broken_one_falls_back(tmp_path, caplog):
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "license_issued.txt").write_text(
        "Subject: {{org_name}} key for {{name}}\n\n{{key}} {{email}} {{year}} {{product}}\n")
    (folder / "license_suspended.txt").write_text("Subject: x\n\n{{not_a_value}}\n")
    app = scimlite.create_app({"db": ":memory:", "mailer": "memory",
                               "mail_templates": str(folder)})
    try:
        assert "license_suspended" in caplog.text           # said at start
        scim = SCIMClient(app, app.scimlite.mint_key("t"))
        user = scim.create_user("ann@example.com", displayName="Ann",
                                emails=[{"value": "ann@example.com"}])
        assert app.scimlite.outbox.wait()
        mail = app.scimlite.outbox.mail_to("ann@example.com")[-1]
        assert mail.subject == "scimlite key for Ann"
        key = app.scimlite.licenses.key_of(app.scimlite.licenses.of_user(user["id"]))
        assert mail.text.strip().split() == [key, "ann@example.com", str(
            __import__("datetime").date.today().year), "scimlite"]
        caplog.clear()
        scim.patch(f"/Users/{user['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
            {"op": "replace", "path": "active", "value": False}]})
        assert app.scimlite.outbox.wait()
        assert "suspended" in app.scimlite.outbox.mail_to("ann@example.com")[-1].subject
        assert "license_suspended" in caplog.text and "built-in" in caplog.text  # each use
    finally:
        app.scimlite.close()


def test_check_config_checks_the_templates(tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "admin_code.txt").write_text("Subject: {{code}}\n\n{{name}} {{code}}\n")
    config = tmp_path / "c.toml"
    config.write_text(f'mail_templates = "{folder}"\n')
    out = io.StringIO()
    assert scimlite.main(["check-config", str(config)], environ={}, out=out) == 0
    assert "mail templates overridden: admin_code" in out.getvalue()
    (folder / "license_revoked.txt").write_text("Subject: {{oops\n\nx\n")
    (folder / "welcome.txt").write_text("Subject: x\n\ny\n")
    assert scimlite.main(["check-config", str(config)], environ={}, out=io.StringIO()) == 1


# --- the security review's findings, each tested (item 7) -----------------------------------------

def test_sign_in_never_keeps_a_session_id_from_before(portal):
    """Session fixation: a cookie planted before sign-in is never the
    session's; each sign-in gets a new one."""
    app, operator = portal
    join(app, "ann@acme.example", operator=operator)
    person = Admin(app)
    person.web.set_cookie(scimlite.SESSION_COOKIE, "planted-by-someone")
    ask_code(person, "ann@acme.example")
    answer = send_code(person, "ann@acme.example", code_of(app, "ann@acme.example"))
    cookie = next(v for k, v in answer.headerlist if k == "Set-Cookie"
                  and v.startswith(scimlite.SESSION_COOKIE))
    assert "planted-by-someone" not in cookie
    planted = Admin(app)
    planted.web.set_cookie(scimlite.SESSION_COOKIE, "planted-by-someone")
    assert planted.web.get(ADMIN, status=303).location.endswith(f"{ADMIN}/login")


def test_every_new_form_needs_its_csrf_token(portal):
    app, operator = portal
    ann = join(app, "ann@acme.example", operator=operator)
    ann.post("/people", {"name": "Bob", "email": "bob@example.com"})
    bob = app.scimlite.models.User.everywhere().get()
    pk = app.scimlite.models.AdminAccount.get().pk
    before = (app.scimlite.models.User.everywhere().count(),
              app.scimlite.models.AdminAccount.select().count())
    for path, fields in (("/admins", {"email": "x@acme.example"}),
                         (f"/admins/{pk}/remove", {}), (f"/admins/{pk}/resend", {}),
                         ("/people", {"email": "y@example.com"}), ("/people/import", {}),
                         (f"/users/{bob.id}/remove", {}), (f"/users/{bob.id}/resend", {}),
                         ("/password", {"new": "a long password", "confirm": "a long password"})):
        for forged in ({}, {"csrf": "forged"}):
            ann.web.post(ADMIN + path, {**fields, **forged}, status=403)
    ann.web.post(f"{ADMIN}/people/upload", {"csrf": "forged"}, status=403,
                 upload_files=[("file", "p.csv", b"name,email\nA,a@example.com\n")])
    stranger = Admin(app)
    for path in ("/login/code", "/invitation", "/login"):
        stranger.web.post(ADMIN + path, {"email": "ann@acme.example", "csrf": "x"},
                          status=403)
    assert (app.scimlite.models.User.everywhere().count(),
            app.scimlite.models.AdminAccount.select().count()) == before
    assert app.scimlite.models.User.everywhere().get().active is not False


def test_names_and_csv_cells_are_text_never_markup(portal):
    """XSS: a name or a CSV cell with markup is shown escaped on every page."""
    app, operator = portal
    evil = '<script>alert(1)</script>'
    link = invite(app, operator, "eve@acme.example", name=evil)
    assert evil not in operator.web.get(f"{ADMIN}/admins").text
    assert "&lt;script&gt;" in Admin(app).web.get(link).text
    page = upload(operator, f'name,email\n{evil},"{evil}@x"\n'.encode())
    assert evil not in page.text and "&lt;script&gt;" in page.text


def test_a_name_cannot_add_a_mail_header(portal):
    """Mail header injection: CR/LF in a name is text on one line."""
    app, operator = portal
    invite(app, operator, "hank@acme.example", name="Hank\r\nBcc: spy@evil.example")
    message = last_mail(app, "hank@acme.example").mail.message
    # The name stays inside the quoted display name of To: no header of its own.
    assert message["Bcc"] is None and message["Cc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["hank@acme.example"]
    assert b"\nBcc:" not in last_mail(app, "hank@acme.example").mail.data
    account = app.scimlite.models.AdminAccount.get(
        app.scimlite.models.AdminAccount.email == "hank@acme.example")
    assert "\n" not in account.name and "\r" not in account.name


def test_the_dashboard_shows_seats_and_the_plan_with_its_end(portal):
    app, operator = portal
    app.scimlite.update_organization("acme", seats=5, plan="Ultimate", ends="2027-06-30")
    ann = join(app, "ann@acme.example", operator=operator)
    page = ann.web.get(ADMIN).text
    assert "of 5 seats" in page and "Ultimate" in page and "2027-06-30" in page


def test_an_operator_account_signs_in_by_code_and_sees_every_organization(tmp_path):
    db = str(tmp_path / "o.db")
    out = io.StringIO()
    for argv in (["org", "create", "acme"], ["org", "create", "globex"]):
        assert scimlite.main([*argv, "--db", db], environ={}, out=out) == 0
    assert scimlite.main(["admin", "invite", "op@vendor.example", "--operator", "--db", db],
                         environ={}, out=out) == 0
    assert "the whole install" in out.getvalue()
    link = re.search(r"(/admin/invitation\?token=\S+)", out.getvalue()).group(1)
    app = scimlite.create_app({"db": db, "mailer": "memory"})
    try:
        person = Admin(app)
        person.web.get(link).forms[0].submit(status=303)
        page = person.web.get(f"{ADMIN}/organizations")
        assert "acme" in page.text and "globex" in page.text
        ask_code(Admin(app), "op@vendor.example")
        assert "sign-in code" in last_mail(app, "op@vendor.example").subject
    finally:
        app.scimlite.close()
    listed = io.StringIO()
    scimlite.main(["admin", "list", "--db", db], environ={}, out=listed)
    assert "(operator)" in listed.getvalue() and "op@vendor.example" in listed.getvalue()
    assert scimlite.main(["admin", "remove", "op@vendor.example", "--operator", "--db", db],
                         environ={}, out=io.StringIO()) == 0



# --- what the session's review found, each a test ----------------------------------------------

def test_an_administrator_allows_oauth_for_their_own_organization_only(portal):
    app, operator = portal
    from test_oauth_code import authorize_query, okta_client
    ann = join(app, "ann@acme.example", operator=operator)
    acme = app.scimlite.organization("acme")
    install_client, _ = okta_client(app, "install")
    page = ann.web.get(f"{ADMIN}/oauth/authorize", authorize_query(install_client))
    assert "<select" not in page.text and f'name="org" value="{acme.id}"' in page.text
    assert "Globex" not in page.text
    form = page.forms[1]
    form["org"].force_value(str(app.scimlite.organization("globex").id))
    form.submit("decision", value="allow", status=400)
    globex_client, _ = okta_client(app, "globex")
    refused = ann.web.get(f"{ADMIN}/oauth/authorize", authorize_query(globex_client),
                          status=403)
    assert "another organization" in refused.text
    assert app.scimlite.models.OAuthGrant.everywhere().count() == 0


def test_deleting_an_organization_takes_its_administrators(portal):
    app, operator = portal
    ann = join(app, "ann@acme.example", operator=operator)
    app.scimlite.delete_organization("acme")
    assert ann.web.get(ADMIN, status=303).location.endswith(f"{ADMIN}/login")
    assert app.scimlite.models.AdminAccount.select().count() == 0
    assert app.scimlite.models.AdminLink.select().count() == 0


def test_a_session_whose_account_is_gone_is_no_session_not_the_operators(portal):
    app, operator = portal
    ann = join(app, "ann@acme.example", operator=operator)
    Account = app.scimlite.models.AdminAccount
    with app.scimlite.changes.unit():       # gone as if removed mid-sign-in
        Account.delete().execute()
    assert "/admin/login?" in ann.web.get(f"{ADMIN}/organizations", status=303).location


def test_requests_no_organization_owns_are_the_operators_in_every_form(portal):
    app, operator = portal
    ann = join(app, "ann@acme.example", operator=operator)
    scimlite_app = webtest.TestApp(app)
    scimlite_app.get("/scim/v2/Users", headers={"Authorization": "Bearer wrong"}, status=401)
    app.scimlite.log.flush()
    RequestLog = app.scimlite.models.RequestLog
    keyless = RequestLog.everywhere().where(RequestLog.org == scimlite.NO_ORG).get().pk
    ann.web.get(f"{ADMIN}/log.jsonl?keyless=1", status=404)
    ann.web.get(f"{ADMIN}/log/{keyless}", status=404)
    assert operator.web.get(f"{ADMIN}/log/{keyless}").status_int == 200


def test_what_the_sign_in_pages_audit_is_the_installs_not_an_organizations(portal):
    app, operator = portal
    ann = join(app, "ann@acme.example", operator=operator)
    ask_code(Admin(app), "someone@globex.example")
    Audit = app.scimlite.models.Audit
    row = Audit.select().where(Audit.action == "code.requested").get()
    assert row.org is None
    assert "someone@globex.example" not in ann.web.get(f"{ADMIN}/audit").text
    assert "someone@globex.example" in operator.web.get(f"{ADMIN}/audit").text


def test_addresses_are_compared_folded_as_the_indexes_hold_them(seated):
    app, ann = seated
    added = ann.post("/people", {"name": "Straße", "email": "straße@example.com"})
    assert "/admin/users/" in added.location
    page = upload(ann, "name,email\nA,STRASSE@example.com\nB,Straße@example.com\n".encode())
    assert [p for _, p in problems_of(page)] == ["already here", "the same address as line 2"]
