"""Groups (RFC 7643 §4.2, RFC 7644 §3): CRUD, unique displayName, members
as rows, nested groups, User.groups computed, membership at scale."""
import threading

import pytest

import scimlite
from conftest import SCIMClient, assert_scim_error

P = scimlite.PATCH_URN


def ops(*operations):
    return {"schemas": [P], "Operations": list(operations)}


def test_create_get_put_delete(scim):
    user = scim.create_user("m1")
    resp = scim.post("/Groups", {"schemas": [scimlite.GROUP_URN], "displayName": "Eng",
                                 "externalId": "ext-1", "members": [{"value": user["id"]}]})
    group = resp.json
    assert resp.status_int == 201 and resp.headers["Location"] == group["meta"]["location"]
    assert group["members"] == [{"value": user["id"], "$ref": user["meta"]["location"],
                                 "display": "m1", "type": "User"}]
    assert group["meta"]["resourceType"] == "Group"
    assert scim.get(f"/Groups/{group['id']}").json == group
    put = scim.put(f"/Groups/{group['id']}", {"displayName": "Engineering",
                                              "members": []}).json
    assert put["displayName"] == "Engineering" and put["members"] == []
    assert "externalId" not in put
    scim.delete(f"/Groups/{group['id']}")
    assert_scim_error(scim.get(f"/Groups/{group['id']}", status=404), 404)


def test_new_group_has_empty_members_list(scim):
    """Entra: 'Groups are created with an empty members list' → 201 with []."""
    assert scim.create_group("Empty")["members"] == []


def test_display_name_is_unique_ignoring_case(scim):
    scim.create_group("Engineering")
    resp = scim.post("/Groups", {"displayName": "ENGINEERING"}, status=409)
    assert_scim_error(resp, 409, "uniqueness")
    other = scim.create_group("Other")
    resp = scim.patch(f"/Groups/{other['id']}", ops(
        {"op": "replace", "path": "displayName", "value": "engineering"}), status=409)
    assert_scim_error(resp, 409, "uniqueness")


def test_display_name_is_required(scim):
    assert_scim_error(scim.post("/Groups", {"externalId": "x"}, status=400),
                      400, "invalidValue")


def test_unknown_member_id_is_invalid_value(scim):
    resp = scim.post("/Groups", {"displayName": "G", "members": [{"value": "ghost"}]},
                     status=400)
    assert "ghost" in assert_scim_error(resp, 400, "invalidValue")["detail"]
    assert scim.get("/Groups").json["totalResults"] == 0


def test_members_without_type_and_with_null_ref(scim):
    """Okta sends no type (SCIM-SDK#419); Entra sends "$ref": null."""
    user = scim.create_user("u")
    child = scim.create_group("Child")
    group = scim.post("/Groups", {"displayName": "Parent", "members": [
        {"value": user["id"], "$ref": None}, {"value": child["id"]}]}).json
    assert {(m["value"], m["type"]) for m in group["members"]} == {
        (user["id"], "User"), (child["id"], "Group")}


def test_filters_on_groups(scim):
    user = scim.create_user("u")
    eng = scim.create_group("Engineering", externalId="E1", members=[{"value": user["id"]}])
    scim.create_group("Sales", externalId="S1")

    def found(text):
        return [g["id"] for g in scim.get("/Groups", filter=text).json["Resources"]]
    assert found('displayName eq "engineering"') == [eng["id"]]
    assert found('externalId eq "E1"') == [eng["id"]]
    assert found(f'id eq "{eng["id"]}"') == [eng["id"]]
    assert found(f'members.value eq "{user["id"]}"') == [eng["id"]]
    assert found(f'members[value eq "{user["id"]}" and type eq "User"]') == [eng["id"]]
    sales = found('displayName sw "s"')
    assert len(sales) == 1 and sales != [eng["id"]]
    assert found('displayName sw "E" and members pr') == [eng["id"]]
    assert_scim_error(scim.get("/Groups", filter='members.display eq "u"', status=400),
                      400, "invalidFilter")


def test_excluded_attributes_members_on_get_and_list(scim):
    """Entra: GET /Groups?excludedAttributes=members&filter=displayName eq ..."""
    user = scim.create_user("u")
    group = scim.create_group("Big", members=[{"value": user["id"]}])
    one = scim.get(f"/Groups/{group['id']}", excludedAttributes="members").json
    assert "members" not in one and one["displayName"] == "Big" and one["id"]
    listed = scim.get("/Groups", excludedAttributes="members",
                      filter='displayName eq "big"').json
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0]


def test_user_groups_are_computed_direct_and_indirect(scim):
    user = scim.create_user("nested")
    inner = scim.create_group("Inner", members=[{"value": user["id"]}])
    outer = scim.create_group("Outer", members=[{"value": inner["id"]}])
    groups = scim.get(f"/Users/{user['id']}").json["groups"]
    assert {(g["value"], g["type"], g["display"]) for g in groups} == {
        (inner["id"], "direct", "Inner"), (outer["id"], "indirect", "Outer")}
    assert all(g["$ref"].endswith(f"/Groups/{g['value']}") for g in groups)
    listed = scim.get("/Users", filter='userName eq "nested"').json["Resources"][0]
    assert listed["groups"] == groups


def test_a_membership_cycle_is_harmless(scim):
    user = scim.create_user("loop")
    a = scim.create_group("A", members=[{"value": user["id"]}])
    b = scim.create_group("B", members=[{"value": a["id"]}])
    scim.patch(f"/Groups/{a['id']}", ops({"op": "add", "path": "members",
                                          "value": [{"value": b["id"]}]}))
    scim.patch(f"/Groups/{a['id']}", ops({"op": "add", "path": "members",
                                          "value": [{"value": a["id"]}]}))
    groups = scim.get(f"/Users/{user['id']}").json["groups"]
    assert {(g["display"], g["type"]) for g in groups} == {("A", "direct"),
                                                           ("B", "indirect")}
    assert len(scim.get(f"/Groups/{a['id']}").json["members"]) == 3


def test_deleting_a_user_removes_it_from_every_group(app, scim):
    user, other = scim.create_user("leaver"), scim.create_user("stayer")
    g1 = scim.create_group("G1", members=[{"value": user["id"]}, {"value": other["id"]}])
    g2 = scim.create_group("G2", members=[{"value": user["id"]}])
    scim.delete(f"/Users/{user['id']}")
    assert [m["value"] for m in scim.get(f"/Groups/{g1['id']}").json["members"]] == [other["id"]]
    after = scim.get(f"/Groups/{g2['id']}").json
    assert after["members"] == [] and after["meta"]["version"] == 'W/"2"'
    assert app.scimlite.models.Membership.select().where(
        app.scimlite.models.Membership.member_id == user["id"]).count() == 0
    removed = [e for e in app.scimlite.events(type="group.members_changed")
               if e["detail"]["removed"] == [user["id"]]]
    assert {e["resource_id"] for e in removed} == {g1["id"], g2["id"]}


def test_deleting_a_group_removes_it_from_parent_groups(scim):
    child = scim.create_group("Child")
    parent = scim.create_group("Parent", members=[{"value": child["id"]}])
    scim.delete(f"/Groups/{child['id']}")
    assert scim.get(f"/Groups/{parent['id']}").json["members"] == []


def test_group_patch_can_answer_204():
    app = scimlite.create_app({"db": ":memory:", "group_patch_status": 204})
    scim = SCIMClient(app, app.scimlite.mint_key("t"))
    user = scim.create_user("u")
    group = scim.create_group("G")
    resp = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]}), status=204)
    assert resp.body == b"" and resp.headers["ETag"] == 'W/"2"'
    assert len(scim.get(f"/Groups/{group['id']}").json["members"]) == 1
    # Users still answer 200 with the resource.
    assert scim.patch(f"/Users/{user['id']}", ops(
        {"op": "replace", "path": "title", "value": "t"})).json["title"] == "t"


def test_jumpcloud_connection_test_creates_and_deletes_cleanly(app, scim):
    """JumpCloud's Test Connection creates a real test user and group, then
    deletes both (IDP-NOTES §4)."""
    user = scim.create_user("jc-test@example.com",
                            emails=[{"value": "jc-test@example.com", "primary": True}])
    group = scim.create_group("JumpCloud Test Group")
    scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]}))
    scim.delete(f"/Users/{user['id']}")
    scim.delete(f"/Groups/{group['id']}")
    assert scim.get("/Users").json["totalResults"] == 0
    assert scim.get("/Groups").json["totalResults"] == 0
    m = app.scimlite.models
    assert m.Membership.select().count() == 0 and m.UserEmail.select().count() == 0
    assert [e["type"] for e in app.scimlite.events()][-3:] == [
        "user.deleted", "license.revoked", "group.deleted"]


# --- membership at scale: count the queries, not the seconds --------------------------

class QueryLog:
    """Every SQL statement an app runs for the requests of this thread
    (not its background workers, such as the provisioning log's)."""

    def __init__(self, app):
        self.db, self.statements = app.scimlite.models.db, []

    def __enter__(self):
        original = self.original = self.db.execute_sql
        me = threading.get_ident()

        def spy(sql, params=None, *args, **kwargs):
            if threading.get_ident() == me:
                self.statements.append(sql)
            return original(sql, params, *args, **kwargs)
        self.db.execute_sql = spy
        return self

    def __exit__(self, *exc):
        self.db.execute_sql = self.original

    def count(self, verb, table):
        return sum(1 for s in self.statements
                   if s.lstrip().upper().startswith(verb) and f'"{table}"' in s)


def _bulk_users(app, count):
    """Users inserted straight into the table (setup only, not under test)."""
    m = app.scimlite.models
    stamp = scimlite.now_text()
    rows = [{"id": f"user-{i:05d}", "data": f'{{"userName": "u{i}"}}',
             "created": stamp, "last_modified": stamp, "user_name_key": f"u{i}"}
            for i in range(count)]
    with app.scimlite.lock, m.db.atomic():      # the lock: the outbox's sender shares it
        for part in scimlite.chunks(rows, 200):
            m.User.insert_many(part).execute()
    return [r["id"] for r in rows]


def _group_of(app, scim, name, count):
    """(ids, group): a group of `count` users, added in one PATCH."""
    ids = _bulk_users(app, count)
    group = scim.create_group(name)
    scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "add", "path": "members", "value": [{"value": i} for i in ids]}))
    return ids, group


def test_adding_1000_members_in_one_patch_takes_a_handful_of_queries(app, scim):
    ids = _bulk_users(app, 1000)
    group = scim.create_group("Thousand")
    body = ops({"op": "add", "path": "members", "value": [{"value": i} for i in ids]})
    with QueryLog(app) as log:
        resp = scim.patch(f"/Groups/{group['id']}", body)
    assert len(resp.json["members"]) == 1000
    inserts = log.count("INSERT", "membership")
    selects_of_user = log.count("SELECT", "user")
    print(f"\n1000-member add: {len(log.statements)} statements, {inserts} membership "
          f"INSERTs, {selects_of_user} SELECTs touching users")
    assert inserts == 1                  # 1000 rows from one JSON list (rows_slot)
    assert len(log.statements) <= 25     # never one query per member


@pytest.mark.sqlite_only     # counts rows written with SQLite's total_changes
def test_removing_one_member_from_10000_touches_one_row(app, scim):
    ids, group = _group_of(app, scim, "Huge", 10000)
    m = app.scimlite.models
    assert m.Membership.select().count() == 10000
    body = ops({"op": "remove", "path": f'members[value eq "{ids[1234]}"]'})
    with app.scimlite.lock:     # the log's worker shares the in-memory connection: held off
        changes_before = m.db.connection().total_changes
        with QueryLog(app) as log:
            scim.patch(f"/Groups/{group['id']}", body, status=200)
        # Measured without the 200 response's render, which reads the members once.
        writes = m.db.connection().total_changes - changes_before
    print(f"\nremove 1 of 10000: {len(log.statements)} statements, {writes} rows written")
    assert log.count("DELETE", "membership") == 1
    assert writes <= 3            # the membership row, the group row, one event
    assert m.Membership.select().count() == 9999
    member_reads = [s for s in log.statements if '"membership"' in s
                    and s.lstrip().upper().startswith("SELECT")]
    assert len(member_reads) <= 3   # the filtered lookup, its delete check, the render


@pytest.mark.sqlite_only     # counts rows written with SQLite's total_changes
def test_entra_style_remove_by_value_list_from_10000(app, scim):
    ids, group = _group_of(app, scim, "Huge2", 10000)
    with app.scimlite.lock:     # the log's worker shares the in-memory connection: held off
        changes_before = app.scimlite.models.db.connection().total_changes
        scim.patch(f"/Groups/{group['id']}", ops(
            {"op": "Remove", "path": "members", "value": [{"value": ids[5]}]}))
        assert app.scimlite.models.db.connection().total_changes - changes_before <= 3


def test_rendering_a_10000_member_group_reads_members_in_one_query(app, scim):
    ids, group = _group_of(app, scim, "Render", 10000)
    with QueryLog(app) as log:
        body = scim.get(f"/Groups/{group['id']}").json
    assert len(body["members"]) == 10000
    assert body["members"][0] == {"value": ids[0], "$ref": f"http://localhost:80/scim/v2/Users/{ids[0]}",
                                  "display": "u0", "type": "User"}
    assert log.count("SELECT", "membership") == 1
    print(f"\nGET of a 10000-member group: {len(log.statements)} statements")
    assert len(log.statements) <= 4      # key, option, group, members
