"""Organizations (issue 22): one install, many customer organizations, and
nothing of one reaches another.

Two organizations hold overlapping userNames, externalIds and group names.
Every SCIM route and method is driven with organization A's key against
B's ids, names and references; B must stay unread (404, never 403, no
counts), unrevealed (none of B's ids or names in any answer) and unchanged
(a digest of every row of B's, before and after).  Both backends."""
import hashlib
import json
import os
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scimlite
from conftest import SCIMClient, assert_scim_error

USER, GROUP, PATCH = scimlite.USER_URN, scimlite.GROUP_URN, scimlite.PATCH_URN
BULK = scimlite.BULK_REQUEST_URN
FUZZ_EXAMPLES = int(os.environ.get("SCIMLITE_FUZZ_EXAMPLES", "25"))


class Org:
    """One organization as its identity provider sees it: its key, a
    client on the shared URL and one on its own, and what it made."""

    def __init__(self, app, slug, **fields):
        state = app.scimlite
        if slug != "default":
            state.create_organization(slug, slug.title(), **fields)
        self.slug, self.key = slug, state.mint_key(f"idp-{slug}", org=slug)
        self.scim = SCIMClient(app, self.key)
        self.own = OwnURL(app, self.key, slug)

    def populate(self, only_here):
        """ann and bob (as the other has them), one user only here, a
        group Engineering (as the other has it) with members, a nested group."""
        s = self.scim
        self.ann = s.create_user("ann@example.com", externalId="ext-ann",
                                 emails=[{"value": "ann@example.com", "type": "work"}])
        self.bob = s.create_user("bob@example.com", externalId="ext-bob")
        self.only = s.create_user(only_here, displayName=only_here.split("@")[0].title())
        self.eng = s.create_group("Engineering", externalId="ext-eng", members=[
            {"value": self.ann["id"]}, {"value": self.bob["id"]}])
        self.nested = s.create_group(f"Nested-{self.slug}", members=[
            {"value": self.eng["id"], "type": "Group"}])
        return self

    @property
    def ids(self):
        return {r["id"] for r in (self.ann, self.bob, self.only, self.eng, self.nested)}


class OwnURL(SCIMClient):
    """A client of an organization's own Tenant URL, /o/{slug}/scim/v2."""

    def __init__(self, app, token, slug):
        super().__init__(app, token)
        self.prefix = f"/o/{slug}/scim/v2"

    def _url(self, path):
        return path if path.startswith("/o/") else self.prefix + path


@pytest.fixture
def orgs(app):
    """(A, B): A is the first organization, B a second one."""
    a = Org(app, "default").populate("alice-only@a.example")
    b = Org(app, "beta").populate("carol-only@b.example")
    assert app.scimlite.outbox.wait()
    return a, b


def digest(app, slug):
    """Every row of organization `slug`, hashed: what "unchanged" means."""
    state = app.scimlite
    org = state.organization(slug)
    m, out = state.models, hashlib.sha256()
    state.log.flush()
    assert state.outbox.wait()
    for model in m.all:
        if not hasattr(model, "everywhere"):
            continue
        rows = model.everywhere().where(model.org == org.id).tuples()
        for row in sorted(rows, key=repr):
            out.update(repr(row).encode())
    out.update(repr(m.Organization.get_by_id(org.id).__data__).encode())
    return out.hexdigest()


def reveals(text, b, sent=""):
    """Whether an answer shows anything only B has (an id that the request
    itself `sent` may be echoed: an error names what it was asked for)."""
    return any(secret in text and secret not in sent
               for secret in (*b.ids, "carol-only", "Nested-beta"))


def unknown_id():
    return str(uuid.uuid4())


# --- the two Tenant URLs ------------------------------------------------------------

def test_each_tenant_url_sees_its_own_organization_only(app, orgs):
    a, b = orgs
    for client, org in ((a.scim, a), (a.own, a), (b.scim, b), (b.own, b)):
        users = client.get("/Users").json
        assert users["totalResults"] == 3
        assert {u["id"] for u in users["Resources"]} == {org.ann["id"], org.bob["id"],
                                                        org.only["id"]}
    # meta.location and $ref follow the URL the request came to
    mine = a.own.get(f"/Users/{a.ann['id']}").json
    assert mine["meta"]["location"].endswith(f"/o/default/scim/v2/Users/{a.ann['id']}")
    assert all("/o/default/scim/v2/Groups/" in g["$ref"] for g in mine["groups"])
    made = b.own.post("/Users", {"schemas": [USER], "userName": "new@b.example"})
    assert made.headers["Location"].endswith(f"/o/beta/scim/v2/Users/{made.json['id']}")


def test_a_key_on_another_organizations_url_is_refused_as_a_wrong_key_is(app, orgs):
    a, b = orgs
    wrong = SCIMClient(app, "scim_" + "x" * 60)
    wrong.prefix = "/o/beta/scim/v2"
    wrong._url = lambda path: wrong.prefix + path
    as_wrong = wrong.get("/Users", status=401)
    for path in ("/Users", f"/Users/{b.ann['id']}", "/ServiceProviderConfig"):
        refused = a.scim.web.get(f"/o/beta/scim/v2{path}", status=401)
        assert_scim_error(refused, 401)
        assert refused.json == as_wrong.json
        assert refused.headers["WWW-Authenticate"] == as_wrong.headers["WWW-Authenticate"]


def test_an_unknown_slug_is_404_and_a_bad_one_no_route(app, orgs):
    a, _ = orgs
    assert_scim_error(a.scim.web.get("/o/nobody/scim/v2/Users", status=404), 404)
    assert_scim_error(a.scim.web.get("/o/nobody/scim/v2/Users", status=404,
                                     headers={"Authorization": "Bearer nope"}), 404)
    a.scim.web.get("/o/Not_A_Slug/scim/v2/Users", status=404)


def test_discovery_answers_the_same_for_every_organization(app, orgs):
    a, b = orgs
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        ours = json.dumps(a.scim.get(path).json, sort_keys=True)
        theirs = json.dumps(b.scim.get(path).json, sort_keys=True)
        assert ours == theirs


# --- nothing of B is read, revealed or changed ------------------------------------------

def test_b_ids_are_404_on_every_resource_route(app, orgs):
    a, b = orgs
    before = digest(app, "beta")
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName",
                                                 "value": "taken"}]}
    for client in (a.scim, a.own):
        for kind, rid in (("Users", b.ann["id"]), ("Users", b.only["id"]),
                          ("Groups", b.eng["id"]), ("Groups", b.nested["id"])):
            body = {"schemas": [USER if kind == "Users" else GROUP],
                    "userName": "x@y.example", "displayName": "x"}
            answers = [client.get(f"/{kind}/{rid}", status=404),
                       client.put(f"/{kind}/{rid}", body, status=404),
                       client.patch(f"/{kind}/{rid}", patch, status=404),
                       client.patch(f"/{kind}/{rid}", patch, status=404,
                                    headers={"If-Match": 'W/"1"'}),
                       client.delete(f"/{kind}/{rid}", status=404)]
            other = unknown_id()
            unknown = client.get(f"/{kind}/{other}", status=404).json
            for answer in answers:
                assert_scim_error(answer, 404)
                assert not reveals(answer.text, b, sent=rid)
                assert answer.json["detail"] == unknown["detail"].replace(other, rid)
    assert digest(app, "beta") == before


@pytest.mark.parametrize("rt, text", [
    ("Users", 'id eq "{b_ann}"'),
    ("Users", 'userName eq "carol-only@b.example"'),
    ("Users", 'externalId eq "ext-ann"'),
    ("Users", 'emails.value eq "ann@example.com"'),
    ("Users", 'emails[type eq "work" and value co "ann"]'),
    ("Users", 'userName sw "" or id eq "{b_ann}"'),
    ("Groups", 'members.value eq "{b_ann}"'),
    ("Groups", 'displayName eq "Nested-beta"'),
    ("Groups", 'displayName eq "Engineering"'),
    ("Groups", 'id eq "{b_nested}" or externalId eq "ext-eng"'),
])
def test_filters_never_select_b(app, orgs, rt, text):
    a, b = orgs
    text = text.format(b_ann=b.ann["id"], b_eng=b.eng["id"], b_nested=b.nested["id"])
    for client in (a.scim, a.own):
        found = client.get(f"/{rt}", filter=text).json
        assert not reveals(json.dumps(found), b, sent=text)
        assert found["totalResults"] == len(found["Resources"]) <= 3
        searched = client.post(f"/{rt}/.search", {"schemas": [scimlite.SEARCH_URN],
                                                   "filter": text}, status=200).json
        assert searched["totalResults"] == found["totalResults"]
        assert not reveals(json.dumps(searched), b, sent=text)
    root = a.scim.post("/.search", {"schemas": [scimlite.SEARCH_URN], "filter": text},
                       status=200).json
    assert not reveals(json.dumps(root), b, sent=text)


def test_lists_counts_and_sorting_show_a_alone(app, orgs):
    a, b = orgs
    for params in ({}, {"sortBy": "userName"}, {"startIndex": "2", "count": "1"},
                   {"cursor": "", "count": "2"}, {"attributes": "groups"}):
        page = a.scim.get("/Users", **params).json
        assert page["totalResults"] == 3 and not reveals(json.dumps(page), b)
    groups = a.scim.get("/Groups").json
    assert groups["totalResults"] == 2 and not reveals(json.dumps(groups), b)
    # A's user in A's Engineering shows A's groups only, direct and indirect
    ann = a.scim.get(f"/Users/{a.ann['id']}").json
    assert {g["value"] for g in ann["groups"]} == {a.eng["id"], a.nested["id"]}


def test_counts_are_the_organizations_own_from_the_moment_a_second_one_exists(app):
    """With one organization a count is of every row (SQLite counts an
    index by its pages); the moment a second exists, of its own only: a
    second organization made by another process (the CLI) included."""
    state = app.scimlite
    first = SCIMClient(app, state.mint_key("first"))
    for name in ("a1", "a2", "a3"):
        first.create_user(name)
    for params in ({}, {"cursor": "", "count": "2"}, {"startIndex": "2", "count": "1"}):
        assert first.get("/Users", **params).json["totalResults"] == 3
    other = scimlite.create_app({**state.settings, "mailer": "memory"}) \
        if state.settings["db"] != ":memory:" else app       # as another process would
    other.scimlite.create_organization("second")
    second = SCIMClient(app, state.mint_key("second", org="second"))
    for name in ("b1", "b2"):
        second.create_user(name)
    for params in ({}, {"cursor": "", "count": "2"}, {"startIndex": "2", "count": "1"}):
        assert first.get("/Users", **params).json["totalResults"] == 3
        assert second.get("/Users", **params).json["totalResults"] == 2
    if other is not app:
        other.scimlite.close()


def test_member_values_of_b_are_what_an_unknown_id_is(app, orgs):
    a, b = orgs
    before = digest(app, "beta")

    def add(value):
        return a.scim.patch(f"/Groups/{a.eng['id']}", {"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": value}]}]}, status=None)
    theirs, unknown = add(b.only["id"]), add(unknown_id())
    assert theirs.status_int == unknown.status_int == 400
    assert theirs.json["scimType"] == unknown.json["scimType"]
    assert not reveals(theirs.text, b, sent=b.only["id"])
    put = {"schemas": [GROUP], "displayName": "Engineering",
           "members": [{"value": a.ann["id"]}, {"value": b.bob["id"]}]}
    assert_scim_error(a.scim.put(f"/Groups/{a.eng['id']}", put, status=400), 400,
                      unknown.json["scimType"])
    created = a.scim.post("/Groups", {"schemas": [GROUP], "displayName": "New",
                                      "members": [{"value": b.ann["id"]}]}, status=400)
    assert not reveals(created.text, b, sent=b.ann["id"])
    # removing B's id by a filter on A's group removes nothing of B's
    a.scim.patch(f"/Groups/{a.eng['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": f'members[value eq "{b.ann["id"]}"]'}]}, status=None)
    # the User.groups quirk (a member added through the user) refuses B's group too
    quirk = a.scim.patch(f"/Users/{a.only['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "groups", "value": [{"value": b.eng["id"]}]}]}, status=None)
    assert quirk.status_int in (400, 404) and not reveals(quirk.text, b, sent=b.eng["id"])
    assert digest(app, "beta") == before


def test_names_b_holds_are_free_in_a_and_no_409_names_b(app, orgs):
    a, b = orgs
    before = digest(app, "beta")
    carol = a.scim.create_user("carol-only@b.example")          # B has one: no matter
    assert carol["userName"] == "carol-only@b.example"
    a.scim.create_group("Nested-beta")
    clash = a.scim.post("/Users", {"schemas": [USER], "userName": "ann@example.com"},
                        status=409)
    assert_scim_error(clash, 409, "uniqueness")
    assert not reveals(clash.text, b)
    assert digest(app, "beta") == before


def test_bulk_against_b_changes_nothing_of_b(app, orgs):
    a, b = orgs
    before = digest(app, "beta")
    ops = [
        {"method": "PATCH", "path": f"/Users/{b.ann['id']}", "data": {
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active",
                                                "value": False}]}},
        {"method": "PUT", "path": f"/Groups/{b.eng['id']}",
         "data": {"schemas": [GROUP], "displayName": "Owned"}},
        {"method": "DELETE", "path": f"/Users/{b.only['id']}"},
        {"method": "POST", "path": "/Users", "bulkId": "u1",
         "data": {"schemas": [USER], "userName": "bulk@a.example"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": [GROUP], "displayName": "Bulked",
                  "members": [{"value": "bulkId:u1"}, {"value": b.bob["id"]}]}},
        {"method": "PATCH", "path": f"/Groups/{b.nested['id']}", "data": {
            "schemas": [PATCH], "Operations": [{"op": "add", "path": "members",
                                                "value": [{"value": "bulkId:u1"}]}]}},
    ]
    answer = a.scim.post("/Bulk", {"schemas": [BULK], "Operations": ops}, status=200).json
    statuses = [r["status"] for r in answer["Operations"]]
    assert statuses[:3] == ["404", "404", "404"] and statuses[3] == "201"
    assert statuses[4] == "400" and statuses[5] == "404"
    assert not reveals(json.dumps(answer), b, sent=json.dumps(ops))
    assert digest(app, "beta") == before


def test_a_cursor_of_one_organization_is_invalid_in_another(app, orgs):
    a, b = orgs
    theirs = b.scim.get("/Users", cursor="", count="1").json["nextCursor"]
    refused = a.scim.get("/Users", cursor=theirs, count="1", status=400)
    assert_scim_error(refused, 400, "invalidCursor")


def test_admin_pages_of_a_show_nothing_of_b(app, orgs):
    from test_admin import Admin, ADMIN
    a, b = orgs
    admin = Admin(app)
    admin.setup()
    for path in (f"/users/{b.ann['id']}", f"/users/{b.only['id']}"):
        admin.web.get(ADMIN + path, status=404)
    for path in ("", "/users", "/log", "/outbox", "/keys", "/audit", "/connect",
                 f"/users?q=carol", "/groups?q=Nested"):
        page = admin.web.get(ADMIN + path)
        assert "carol-only" not in page.text and b.only["id"] not in page.text, path
        assert "Nested-beta" not in page.text, path


@pytest.mark.parametrize("who", ["operator", "administrator"])
def test_every_admin_url_and_form_with_b_ids_answers_as_for_none(app, orgs, who):
    """Each admin page or form that takes an id, given one of B's, answers
    what it answers for an id that does not exist, and changes nothing:
    for the operator with A opened, and for A's own administrator (issue
    23), who cannot open B at all."""
    from test_admin import Admin, ADMIN
    from test_administrators import join
    a, b = orgs
    state = app.scimlite
    operator = Admin(app)
    operator.setup()
    join(app, "bea@b.example", "beta", operator=operator, name="Bea")
    b_admin = state.models.AdminAccount.get(state.models.AdminAccount.email == "bea@b.example").pk
    admin = join(app, "ann@a.example", "default", operator=operator) \
        if who == "administrator" else operator
    if who == "operator":
        page = operator.web.get(f"{ADMIN}/organizations")
        operator.post("/organizations/default/open", {}, page=page)
    with state.in_org("beta"):
        b_key = state.keys()[0].id
        state.log.flush()
        b_log = state.models.RequestLog.select().first().pk
        b_mail = state.outbox.messages()[0].pk
    before = digest(app, "beta")
    missing_user, missing_number = unknown_id(), 10 ** 6
    pairs = [
        ("POST", f"/users/{b.only['id']}/remove", f"/users/{missing_user}/remove"),
        ("POST", f"/users/{b.only['id']}/resend", f"/users/{missing_user}/resend"),
        ("POST", f"/admins/{b_admin}/remove", f"/admins/{missing_number}/remove"),
        ("POST", f"/admins/{b_admin}/resend", f"/admins/{missing_number}/resend"),
        ("GET", f"/users/{b.only['id']}", f"/users/{missing_user}"),
        ("GET", f"/groups/{b.nested['id']}", f"/groups/{missing_user}"),
        ("GET", f"/keys/{b_key}/revoke", f"/keys/{missing_number}/revoke"),
        ("POST", f"/keys/{b_key}/revoke", f"/keys/{missing_number}/revoke"),
        ("GET", f"/log/{b_log}", f"/log/{missing_number}"),
        ("POST", f"/outbox/{b_mail}/retry", f"/outbox/{missing_number}/retry"),
        ("POST", f"/users/{b.only['id']}/license-key", f"/users/{missing_user}/license-key"),
        ("POST", f"/users/{b.only['id']}/new-license-key",
         f"/users/{missing_user}/new-license-key"),
    ]
    for method, theirs, none in pairs:
        answers = []
        for path in (theirs, none):
            if method == "GET":
                answers.append(admin.web.get(ADMIN + path, expect_errors=True))
            else:
                answers.append(admin.post(path, {}, status="*"))
        got, expected = answers
        assert got.status_int == expected.status_int, theirs
        assert got.status_int in (303, 404, 200), theirs
        assert not reveals(got.text, b, sent=theirs), theirs
    assert digest(app, "beta") == before
    assert state.models.AdminAccount.get_by_id(b_admin).email == "bea@b.example"
    if who == "administrator":      # B itself is not there for A's administrator
        assert admin.post("/organizations/beta/open", {}, status=404)
        assert "Beta" not in admin.web.get(ADMIN).text and \
            "Beta" in operator.web.get(f"{ADMIN}/organizations").text


# --- a property: whatever A sends, B stays as it was ---------------------------------------

@st.composite
def cross_references(draw, a, b):
    """A PATCH, PUT or Bulk body of A's that names ids of A, of B and none."""
    ids = st.sampled_from(sorted(a.ids | b.ids) + ["bulkId:u", unknown_id()])
    member = st.builds(lambda v, t: {"value": v, **({"type": t} if t else {})}, ids,
                       st.sampled_from([None, "User", "Group"]))
    op = st.fixed_dictionaries({
        "op": st.sampled_from(["add", "remove", "replace"]),
        "path": st.sampled_from(["members", "groups", "displayName", None]),
        "value": st.lists(member, max_size=3)})
    patch = st.builds(lambda ops: {"schemas": [PATCH], "Operations": ops},
                      st.lists(op, min_size=1, max_size=3))
    target = st.tuples(st.sampled_from(["Users", "Groups"]), ids)
    kind = draw(st.sampled_from(["patch", "put", "bulk"]))
    where = draw(target)
    if kind == "patch":
        return "PATCH", f"/{where[0]}/{where[1]}", draw(patch)
    if kind == "put":
        return "PUT", f"/Groups/{where[1]}", {"schemas": [GROUP], "displayName": "P",
                                             "members": draw(st.lists(member, max_size=3))}
    ops = [{"method": "POST", "path": "/Users", "bulkId": "u",
            "data": {"schemas": [USER], "userName": draw(st.sampled_from(
                ["ann@example.com", "carol-only@b.example", "z@a.example"]))}},
           {"method": "PATCH", "path": f"/{where[0]}/{where[1]}", "data": draw(patch)}]
    return "POST", "/Bulk", {"schemas": [BULK], "Operations": ops}


def test_fuzzed_cross_references_never_reach_b(app, orgs):
    a, b = orgs
    before = digest(app, "beta")

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        method, path, body = data.draw(cross_references(a, b))
        answer = a.scim.send(method, path, body, status=None)
        assert answer.status_int < 500, answer.text
        assert not reveals(answer.text, b, sent=path + json.dumps(body)), answer.text
    run()
    assert digest(app, "beta") == before


# --- licenses, seats, suspension and end dates ------------------------------------------

def verify(app, key):
    return app.scimlite.licenses.verify(key)


def test_seats_are_each_organizations_own(app):
    app.scimlite.update_organization("default", seats=1)
    a = Org(app, "default")
    b = Org(app, "beta", seats=0)
    a.scim.create_user("one@a.example")
    a.scim.create_user("two@a.example")
    for i in range(3):
        b.scim.create_user(f"b{i}@b.example")
    with app.scimlite.in_org("default"):
        assert app.scimlite.licenses.counts()["waiting"] == 1
    with app.scimlite.in_org("beta"):
        counts = app.scimlite.licenses.counts()
        assert counts["waiting"] == 0 and counts["active"] == 3


def test_a_suspended_organization_is_refused_and_its_licenses_suspended(app, orgs):
    a, b = orgs
    mailed = len(app.scimlite.outbox.sent)
    key = next(m.key() for m in app.scimlite.outbox.sent if m.to == "carol-only@b.example")
    assert verify(app, key)["code"] == "VALID"
    assert verify(app, key)["organization"] == {"slug": "beta", "name": "Beta"}
    app.scimlite.update_organization("beta", state="suspended")
    for client in (b.scim, b.own):
        refused = client.get("/Users", status=403)
        assert_scim_error(refused, 403)
        assert "suspended" in refused.json["detail"]
    assert verify(app, key)["code"] == "SUSPENDED"
    assert a.scim.get("/Users").json["totalResults"] == 3       # A goes on
    app.scimlite.update_organization("beta", state="active")
    assert verify(app, key)["code"] == "VALID"
    assert b.scim.get("/Users").json["totalResults"] == 3
    assert app.scimlite.outbox.wait() and len(app.scimlite.outbox.sent) == mailed


def test_after_its_end_date_licenses_expire_and_scim_still_deprovisions(app, orgs):
    a, b = orgs
    key = next(m.key() for m in app.scimlite.outbox.sent if m.to == "carol-only@b.example")
    app.scimlite.update_organization("beta", ends="2000-01-31")
    assert verify(app, key)["code"] == "EXPIRED"
    b.scim.delete(f"/Users/{b.only['id']}")
    assert verify(app, key)["code"] == "EXPIRED"
    app.scimlite.update_organization("beta", ends="")
    assert verify(app, key)["code"] == "REVOKED"


def test_mail_names_the_organization(app, orgs):
    with app.scimlite.in_org("beta"):
        [row] = [r for r in app.scimlite.outbox.messages()
                 if r.recipient == "carol-only@b.example"]
    assert json.loads(row.context)["org_name"] == "Beta"


# --- the operator ------------------------------------------------------------------------

@pytest.mark.parametrize("fields, problem", [
    ({"slug": "Bad_Slug"}, "not a slug"), ({"slug": "-x"}, "not a slug"),
    ({"slug": "default"}, "taken"), ({"slug": "ok", "seats": -1}, "whole number"),
    ({"slug": "ok", "ends": "31/12/2030"}, "not a date"),
    ({"slug": "ok", "name": " "}, "1 to 200"),
])
def test_bad_organizations_are_refused_with_a_clear_message(app, fields, problem):
    fields = dict(fields)
    with pytest.raises(ValueError, match=problem):
        app.scimlite.create_organization(fields.pop("slug"), fields.pop("name", None),
                                         **fields)
    assert [o.slug for o in scimlite.organizations(app.scimlite.models)] == ["default"]


def test_the_last_organization_cannot_be_deleted(app):
    with pytest.raises(ValueError, match="only organization"):
        app.scimlite.delete_organization("default")


def test_deleting_an_organization_takes_its_rows_and_nothing_else(app, orgs):
    a, b = orgs
    before = digest(app, "default")
    counts = app.scimlite.delete_organization("beta")
    assert counts["user"] == 3 and counts["group"] == 2 and counts["api_key"] == 1
    assert digest(app, "default") == before
    assert_scim_error(b.scim.get("/Users", status=401), 401)
    for model in app.scimlite.models.all:
        if hasattr(model, "everywhere"):
            orgs_left = {row.org for row in model.everywhere(model.org)}
            assert orgs_left <= {scimlite.DEFAULT_ORG, scimlite.NO_ORG}, model


def test_with_several_organizations_an_unnamed_one_is_an_error(app, orgs):
    with pytest.raises(LookupError, match="default, beta"):
        app.scimlite.mint_key("x")
    with pytest.raises(scimlite.UnscopedError):
        app.scimlite.models.User.select().count()


def test_the_same_id_in_two_organizations_stays_two_resources(app, orgs):
    """Ids are unique within an organization only (an import keeps them):
    B may hold a user with A's user's id, in a group of B's own, and A's
    user still shows A's groups alone (the recursive groups query names
    its organization by hand)."""
    a, b = orgs
    with app.scimlite.in_org("beta"):
        scimlite.import_document(app.scimlite, [
            {"schemas": [USER], "id": a.ann["id"], "userName": "twin@b.example"},
            {"schemas": [GROUP], "id": a.eng["id"], "displayName": "Twin-beta",
             "members": [{"value": a.ann["id"]}]}])
    mine = a.scim.get(f"/Users/{a.ann['id']}").json
    assert mine["userName"] == "ann@example.com"
    assert {g["display"] for g in mine["groups"]} == {"Engineering", "Nested-default"}
    theirs = b.scim.get(f"/Users/{a.ann['id']}").json
    assert theirs["userName"] == "twin@b.example"
    assert [g["display"] for g in theirs["groups"]] == ["Twin-beta"]
    group = a.scim.get(f"/Groups/{a.eng['id']}").json
    assert {m["display"] for m in group["members"]} == {"ann@example.com", "bob@example.com"}


def test_the_operator_adds_opens_and_suspends_organizations_on_the_admin_page(app):
    from test_admin import Admin, ADMIN
    admin = Admin(app)
    admin.setup()
    page = admin.web.get(f"{ADMIN}/organizations")
    assert "default" in page.text and "(open)" in page.text
    assert 'class="org"' not in page.text            # one organization: no name to show
    bad = admin.post("/organizations", {"slug": "Bad Slug", "name": "x"}, status=200)
    assert "not a slug" in bad.text
    admin.post("/organizations", {"slug": "acme", "name": "Acme Corp", "seats": "5",
                                  "plan": "Team", "ends": "2030-12-31"})
    taken = admin.post("/organizations", {"slug": "acme", "name": "again"}, status=200)
    assert "is taken" in taken.text
    listing = admin.web.get(f"{ADMIN}/organizations").text
    assert "Acme Corp" in listing and "0 / 5" in listing and "ends 2030-12-31" in listing
    # opened, every page acts in it: its keys, its users, its name in the bar
    admin.post("/organizations/acme/open", {})
    key, _ = admin.mint("acme-okta")
    assert app.scimlite.keys(org="acme")[0].name == "acme-okta"
    assert [k.name for k in app.scimlite.keys(org="default")] == []
    SCIMClient(app, key).create_user("zed@acme.example")
    users = admin.web.get(f"{ADMIN}/users").text
    assert "zed@acme.example" in users and 'class="org"' in users and "Acme Corp" in users
    connect = admin.web.get(f"{ADMIN}/connect").text
    assert "/o/acme/scim/v2" in connect and "http://localhost:80/scim/v2" in connect
    admin.post("/organizations/default/open", {})
    assert "zed@acme.example" not in admin.web.get(f"{ADMIN}/users").text
    admin.post("/organizations/acme/suspend", {})
    assert_scim_error(SCIMClient(app, key).get("/Users", status=403), 403)
    admin.post("/organizations/acme/resume", {})
    assert SCIMClient(app, key).get("/Users").json["totalResults"] == 1
    admin.post("/organizations/nope/open", {}, status=404)
    audit = admin.web.get(f"{ADMIN}/audit").text
    assert "org.created" in audit


def test_log_retention_caps_each_organization_on_its_own(store):
    """A busy organization never pushes a quiet one's provisioning history
    out: log_max_rows is per organization."""
    app = scimlite.create_app({**store, "mailer": "memory", "log_max_rows": 3})
    a, b = Org(app, "default"), Org(app, "beta")
    b.scim.create_user("quiet@b.example")
    for i in range(8):
        a.scim.create_user(f"busy{i}@a.example")
    app.scimlite.log.flush(retain=True)
    RequestLog = app.scimlite.models.RequestLog
    kept = {}
    for row in RequestLog.everywhere(RequestLog.org, RequestLog.path):
        kept[row.org] = kept.get(row.org, 0) + 1
    beta = app.scimlite.organization("beta").id
    assert kept == {scimlite.DEFAULT_ORG: 3, beta: 1}
    app.scimlite.close()


def test_every_admin_page_works_with_several_organizations(app, orgs):
    """No admin page may forget its organization: with two of them, a
    query outside one raises (UnscopedError), which would be a 500 here."""
    from test_admin import Admin, ADMIN
    a, b = orgs
    admin = Admin(app)
    admin.setup()
    with app.scimlite.in_org("default"):
        app.scimlite.log.flush()
        entry = app.scimlite.models.RequestLog.select().first().pk
    gets = ["", "/connect", "/connect?idp=okta", "/connect?idp=generic", "/status.json",
            "/keys", "/users", "/groups", f"/users/{a.ann['id']}", f"/groups/{a.eng['id']}",
            "/outbox", "/outbox?status=sent", "/log", "/log.jsonl", f"/log/{entry}", "/audit",
            "/password", "/organizations"]
    for path in gets:
        answer = admin.web.get(ADMIN + path, expect_errors=True)
        assert answer.status_int == 200, (path, answer.status_int)
    posts = [("/scim", {}), ("/scim", {"enabled": "on"}), ("/outbox/webhook-secret", {}),
             (f"/users/{a.ann['id']}/license-key", {}),
             (f"/users/{a.ann['id']}/new-license-key", {}), ("/keys", {"name": "k9"}),
             ("/oauth-clients", {"name": "c9"})]
    for path, fields in posts:
        assert admin.post(path, fields, status="*").status_int in (200, 303), path
    assert app.scimlite.organization("beta").scim_enabled      # /scim acted in default only


def test_a_deleted_organization_passes_nothing_to_the_next_one(store):
    """Found in review: SQLite gave a deleted organization's id to the next
    one, whose webhook secret (derived from the id) and unflushed log then
    were the deleted one's."""
    app = scimlite.create_app({**store, "mailer": "memory"})
    state = app.scimlite
    beta = Org(app, "beta")
    beta.scim.create_user("secret-user@beta.example")
    beta.scim.get("/Users", filter='userName eq "secret-user@beta.example"')
    old = state.organization("beta")
    secret = state.outbox.webhook_secret(old)
    state.delete_organization("beta")
    gamma = Org(app, "gamma")
    new = state.organization("gamma")
    assert new.id > old.id and state.outbox.webhook_secret(new) != secret
    state.log.flush()
    for model in (state.models.RequestLog, state.models.ReadCount):     # nothing orphaned
        assert model.everywhere().where(model.org == old.id).count() == 0
    with state.in_org("gamma"):
        logged = [row.path for row in state.models.RequestLog.select()]
        assert not any("secret-user" in path for path in logged)
        assert scimlite.last_request_seen(state) is None or \
            "secret-user" not in str(scimlite.last_request_seen(state))
    assert gamma.scim.get("/Users").json["totalResults"] == 0
    app.scimlite.close()


def test_the_per_key_rate_limit_is_each_organizations_own(store):
    """Found in review: two organizations' keys of the same name shared one
    bucket of key_rate_per_minute."""
    app = scimlite.create_app({**store, "mailer": "memory", "key_rate_per_minute": 2})
    state = app.scimlite
    state.create_organization("beta")
    mine = SCIMClient(app, state.mint_key("okta", org="default"))
    theirs = SCIMClient(app, state.mint_key("okta", org="beta"))
    mine.get("/Users")
    mine.get("/Users")
    assert_scim_error(mine.get("/Users", status=429), 429)
    theirs.get("/Users")                                # its own bucket
    app.scimlite.close()


def test_requests_no_organization_owns_are_on_the_operators_log_only(app, orgs):
    """With several organizations, a request with no valid key on the
    shared URL is no organization's: not in A's log nor B's, but on the
    log page's keyless view."""
    from test_admin import Admin, ADMIN
    import webtest as webtest_
    a, b = orgs
    stranger = webtest_.TestApp(app, extra_environ={"HTTP_AUTHORIZATION": "Bearer nope"})
    stranger.get("/scim/v2/Users", {"filter": 'userName eq "leaked-by-a-misconfigured-idp"'},
                 status=401)
    admin = Admin(app)
    admin.setup()
    assert "leaked-by" not in admin.web.get(f"{ADMIN}/log").text
    keyless = admin.web.get(f"{ADMIN}/log", {"keyless": "1"})
    assert "no organization owns them" in keyless.text and "leaked-by" in keyless.text
    for org in ("default", "beta"):
        with app.scimlite.in_org(org):
            paths = [r.path for r in app.scimlite.models.RequestLog.select()]
        assert not any("leaked-by" in path for path in paths)
    entry = app.scimlite.models.RequestLog.everywhere().where(
        app.scimlite.models.RequestLog.org == scimlite.NO_ORG).first()
    assert "leaked-by" in admin.web.get(f"{ADMIN}/log/{entry.pk}").text
