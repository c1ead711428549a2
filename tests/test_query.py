"""Sorting (RFC 7644 §3.4.2.3), paging (§3.4.2.4) and projection (§3.4.2.5,
§3.9) on every kind of response."""
import pytest

import scimlite
from conftest import assert_scim_error

ENT = scimlite.ENTERPRISE_URN


@pytest.fixture
def people(scim):
    specs = [("carol", "Zed", [{"value": "c@x", "primary": True}, {"value": "a@x"}]),
             ("alice", "young", [{"value": "b@x"}, {"value": "z@x"}]),
             ("Bob", None, None),
             ("dave", "Adams", [{"value": "d@x"}])]
    made = []
    for name, family, emails in specs:
        body = {"userName": name}
        if family:
            body["name"] = {"familyName": family}
        if emails:
            body["emails"] = emails
        made.append(scim.post("/Users", body).json)
    return made


def names(scim, **params):
    return [r["userName"] for r in scim.get("/Users", **params).json["Resources"]]


def test_3_4_2_3_sort_by_username_ignores_case(scim, people):
    assert names(scim, sortBy="userName") == ["alice", "Bob", "carol", "dave"]
    assert names(scim, sortBy="userName", sortOrder="descending") == [
        "dave", "carol", "Bob", "alice"]


def test_3_4_2_3_missing_values_sort_last_both_ways(scim, people):
    # Adams < young < Zed ignoring case; Bob has no familyName.
    assert names(scim, sortBy="name.familyName") == ["dave", "alice", "carol", "Bob"]
    assert names(scim, sortBy="name.familyName", sortOrder="DESCENDING") == [
        "carol", "alice", "dave", "Bob"]


def test_3_4_2_3_multi_valued_sorts_by_primary_else_first(scim, people):
    # carol: primary c@x; alice: first b@x; dave: d@x; Bob: none (last).
    assert names(scim, sortBy="emails") == ["alice", "carol", "dave", "Bob"]
    assert names(scim, sortBy="emails.value") == ["alice", "carol", "dave", "Bob"]


def test_3_4_2_3_ties_break_by_creation_so_pages_never_overlap(scim):
    ids = [scim.create_user(f"same{i}", title="T")["id"] for i in range(9)]
    seen = []
    for start in (1, 4, 7):
        page = scim.get("/Users", sortBy="title", startIndex=start, count=3).json
        seen += [r["id"] for r in page["Resources"]]
    assert seen == ids


def test_3_4_2_3_equal_created_times_break_by_insertion(scim, monkeypatch):
    """Four users created in one millisecond (a frozen clock): descending
    meta.created lists them newest first, the tie broken the same way."""
    monkeypatch.setattr(scimlite, "now_text", lambda: "2026-01-01T00:00:00.000Z")
    made = [scim.create_user(name)["userName"] for name in ("w", "x", "y", "z")]
    assert names(scim, sortBy="meta.created", sortOrder="descending") == made[::-1]
    assert names(scim, sortBy="meta.lastModified") == made


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_3_4_2_3_paging_through_ties_sees_each_resource_once(scim, order):
    """Many users share one familyName; pages of one, read in either
    direction, show every user exactly once, in insertion order for ties."""
    made = [scim.create_user(f"u{i}", name={"familyName": "Same"})["id"] for i in range(12)]
    made.append(scim.create_user("first", name={"familyName": "Aaa"})["id"])
    seen = [scim.get("/Users", sortBy="name.familyName", sortOrder=order,
                     startIndex=start, count=1).json["Resources"][0]["id"]
            for start in range(1, 14)]
    expected = [made[-1]] + made[:-1] if order == "ascending" else made[-2::-1] + [made[-1]]
    assert seen == expected


def test_3_4_2_3_sort_with_filter_and_meta(scim, people):
    assert names(scim, sortBy="meta.created", sortOrder="descending",
                 filter='userName ne "dave"') == ["Bob", "alice", "carol"]


@pytest.mark.parametrize("params", [{"sortBy": "name"}, {"sortBy": "nope"},
                                    {"sortBy": "userName", "sortOrder": "sideways"},
                                    {"sortBy": "groups"}, {"sortBy": "members"}])
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_3_4_2_3_unsortable_is_400(scim, params):
    assert_scim_error(scim.get("/Users", status=400, **params), 400, "invalidValue")


def test_3_4_2_3_sort_by_meta_version_and_location(scim, people):
    scim.patch(f"/Users/{people[2]['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "title", "value": "edited"}]})
    assert names(scim, sortBy="meta.version", sortOrder="descending")[0] == "Bob"
    by_id = sorted(people, key=lambda p: p["id"])
    assert names(scim, sortBy="meta.location") == [p["userName"] for p in by_id]


def test_sort_groups_by_display_name(scim):
    for name in ("beta", "Alpha", "gamma"):
        scim.create_group(name)
    got = [g["displayName"] for g in scim.get("/Groups", sortBy="displayName").json["Resources"]]
    assert got == ["Alpha", "beta", "gamma"]


def test_3_4_2_4_count_zero_and_totals_under_filters(scim, people):
    page = scim.get("/Users", count=0, filter='userName sw "a"').json
    assert page["totalResults"] == 1 and page["Resources"] == []
    page = scim.get("/Users", count=1, startIndex=2, filter='userName pr').json
    assert page["totalResults"] == 4 and page["itemsPerPage"] == 1


# --- projection ---------------------------------------------------------------------------

def test_3_4_2_5_attributes_keeps_only_those_and_always_returned(scim, people):
    user = scim.get(f"/Users/{people[0]['id']}", attributes="userName,name.familyName").json
    assert user == {"schemas": [scimlite.USER_URN], "id": people[0]["id"],
                    "userName": "carol", "name": {"familyName": "Zed"}}


def test_3_4_2_5_attributes_with_multi_valued_sub_attribute(scim, people):
    user = scim.get(f"/Users/{people[0]['id']}", attributes="emails.value").json
    assert user["emails"] == [{"value": "c@x"}, {"value": "a@x"}]
    assert set(user) == {"schemas", "id", "emails"}


def test_3_4_2_5_excluded_attributes(scim, people):
    user = scim.get(f"/Users/{people[0]['id']}",
                    excludedAttributes="emails.primary,meta,id,name").json
    assert user["emails"] == [{"value": "c@x"}, {"value": "a@x"}]
    assert "meta" not in user and "name" not in user
    assert user["id"] == people[0]["id"]          # returned "always"


def test_3_9_extension_attributes_by_urn(scim):
    user = scim.create_user("ext", title="T", **{ENT: {"employeeNumber": "7",
                                                        "department": "D"}})
    got = scim.get(f"/Users/{user['id']}", attributes=f"{ENT}:employeeNumber").json
    assert got[ENT] == {"employeeNumber": "7"} and "title" not in got
    got = scim.get(f"/Users/{user['id']}", attributes=ENT).json
    assert got[ENT] == {"employeeNumber": "7", "department": "D"}
    got = scim.get(f"/Users/{user['id']}", excludedAttributes=ENT).json
    assert ENT not in got and got["title"] == "T"


def test_3_9_projection_on_list_post_put_and_patch(scim):
    created = scim.post("/Users?attributes=userName", {"userName": "pp", "title": "T"}).json
    assert set(created) == {"schemas", "id", "userName"}
    listed = scim.get("/Users", attributes="title").json["Resources"][0]
    assert set(listed) == {"schemas", "id", "title"}
    put = scim.put(f"/Users/{created['id']}?excludedAttributes=title",
                   {"userName": "pp", "title": "U"}).json
    assert "title" not in put and put["userName"] == "pp"
    patched = scim.patch(f"/Users/{created['id']}?attributes=title", {
        "schemas": [scimlite.PATCH_URN],
        "Operations": [{"op": "replace", "path": "title", "value": "V"}]}).json
    assert patched == {"schemas": [scimlite.USER_URN], "id": created["id"], "title": "V"}


def test_3_9_password_never_returned_even_when_asked(scim):
    user = scim.create_user("secretive", password="pw-123456")
    assert "password" not in scim.get(f"/Users/{user['id']}", attributes="password").json


def test_unknown_projection_names_are_ignored(scim):
    user = scim.create_user("u")
    got = scim.get(f"/Users/{user['id']}", attributes="nope,userName,urn:x:y").json
    assert set(got) == {"schemas", "id", "userName"}


def test_3_9_returned_rules_with_a_request_only_attribute():
    """RFC 7643 §7 `returned`: checked on a table that has every kind (the
    standard schemas have no `request` attribute)."""
    schema = scimlite.Schema("urn:example:Thing", "Thing", "", (
        scimlite.Attr("name", returned="always"), scimlite.Attr("label"),
        scimlite.Attr("audit", returned="request")))
    rt = scimlite.ResourceType("Thing", "/Things", "", schema)
    thing = {"schemas": [schema.id], "id": "1", "name": "n", "label": "l", "audit": "a"}
    assert scimlite.project(rt, thing, {}, {}) == {
        "schemas": [schema.id], "id": "1", "name": "n", "label": "l"}
    asked = scimlite.parse_projection(rt, "audit")
    assert scimlite.project(rt, thing, asked, {}) == {
        "schemas": [schema.id], "id": "1", "name": "n", "audit": "a"}
    dropped = scimlite.parse_projection(rt, "name,label")
    assert scimlite.project(rt, thing, {}, dropped) == {
        "schemas": [schema.id], "id": "1", "name": "n"}


def test_pages_of_every_user_with_gaps_left_by_deletes(scim):
    """The unfiltered page starts at the key found at its offset (see
    Resources._prepared_page): deleted rows leave gaps in the keys, and the
    pages still hold each user once, in order, with the right total."""
    ids = [scim.create_user(f"p{i}@example.com")["id"] for i in range(7)]
    for gone in (ids[1], ids[4]):
        scim.delete(f"/Users/{gone}")
    kept = [i for i in ids if i not in (ids[1], ids[4])]
    seen = []
    for start in (1, 3, 5):
        page = scim.get("/Users", startIndex=start, count=2).json
        assert page["totalResults"] == 5 and page["startIndex"] == start
        seen += [r["id"] for r in page["Resources"]]
    assert seen == kept
    past = scim.get("/Users", startIndex=6, count=2).json
    assert (past["totalResults"], past["Resources"]) == (5, [])
    assert scim.get("/Users", count=0).json["totalResults"] == 5


@pytest.mark.parametrize("query", [{}, {"filter": 'userName eq "p0@example.com"'},
                                   {"filter": 'userName sw "p"'}])
def test_a_start_index_past_any_integer_is_an_empty_page(scim, query):
    """SQLite cannot bind an OFFSET past 2**63; such a page is empty, not a 500."""
    scim.create_user("p0@example.com")
    page = scim.get("/Users", startIndex=10 ** 20, count=2, **query).json
    assert (page["totalResults"], page["Resources"]) == (1, [])
    assert page["startIndex"] == 10 ** 20
