"""/Bulk (RFC 7644 §3.7): bulkId references in any order, failOnErrors,
per-operation status/location/response, limits advertised and enforced."""
import pytest

import scimlite
from conftest import SCIMClient, assert_scim_error

BULK = scimlite.BULK_REQUEST_URN


def bulk(*operations, **fields):
    return {"schemas": [BULK], "Operations": list(operations), **fields}


def create_user(bulk_id, name):
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id,
            "data": {"schemas": [scimlite.USER_URN], "userName": name}}


def create_group(bulk_id, name, *member_refs):
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id,
            "data": {"schemas": [scimlite.GROUP_URN], "displayName": name,
                     "members": [{"type": "User", "value": f"bulkId:{ref}"}
                                 for ref in member_refs]}}


@pytest.mark.parametrize("group_first", [False, True])
def test_3_7_2_user_and_group_that_contains_it_in_either_order(scim, group_first):
    ops = [create_user("qwerty", "Alice"), create_group("ytrewq", "Tour Guides", "qwerty")]
    if group_first:
        ops.reverse()
    resp = scim.post("/Bulk", bulk(*ops), status=200).json
    assert resp["schemas"] == [scimlite.BULK_RESPONSE_URN]
    results = {r["bulkId"]: r for r in resp["Operations"]}
    assert [r["bulkId"] for r in resp["Operations"]] == [o["bulkId"] for o in ops]
    assert results["qwerty"]["status"] == "201" and results["ytrewq"]["status"] == "201"
    user = scim.web.get(results["qwerty"]["location"]).json
    group = scim.web.get(results["ytrewq"]["location"]).json
    assert results["ytrewq"]["version"] == group["meta"]["version"]
    assert [m["value"] for m in group["members"]] == [user["id"]]


def test_3_7_put_patch_delete_and_version(scim):
    user = scim.create_user("bulky", title="A")
    resp = scim.post("/Bulk", bulk(
        {"method": "PUT", "path": f"/Users/{user['id']}",
         "data": {"userName": "bulky", "title": "B"}},
        {"method": "PATCH", "path": f"/Users/{user['id']}", "version": 'W/"2"',
         "data": {"schemas": [scimlite.PATCH_URN],
                  "Operations": [{"op": "replace", "path": "title", "value": "C"}]}},
        {"method": "DELETE", "path": f"/Users/{user['id']}", "version": 'W/"1"'},
    ), status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["200", "200", "412"]
    assert resp[2]["response"]["status"] == "412"
    assert scim.get(f"/Users/{user['id']}").json["title"] == "C"
    resp = scim.post("/Bulk", bulk({"method": "DELETE", "path": f"/Users/{user['id']}"}),
                     status=200).json["Operations"]
    assert resp[0]["status"] == "204"
    scim.get(f"/Users/{user['id']}", status=404)


def test_3_7_3_errors_are_reported_per_operation(scim):
    scim.create_user("taken")
    resp = scim.post("/Bulk", bulk(create_user("a", "taken"), create_user("b", "fine"),
                                   {"method": "GET", "path": "/Users"},
                                   {"method": "PUT", "path": "/Users/missing",
                                    "data": {"userName": "x"}}),
                     status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["409", "201", "400", "404"]
    assert resp[0]["response"]["scimType"] == "uniqueness"
    assert resp[0]["response"]["schemas"] == [scimlite.ERROR_URN]


def test_3_7_3_fail_on_errors_stops_after_that_many(scim):
    resp = scim.post("/Bulk", bulk(create_user("a", ""), create_user("b", ""),
                                   create_user("c", "never"), failOnErrors=2),
                     status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["400", "400"]
    assert scim.get("/Users").json["totalResults"] == 0


def test_3_7_1_groups_that_contain_each_other_are_resolved(scim):
    """RFC 7644 §3.7.1: "The service provider MUST try to resolve circular
    cross-references between resources in a single bulk job"; its example
    is two groups that are members of each other."""
    resp = scim.post("/Bulk", bulk(create_group("g1", "One", "g2"),
                                   create_group("g2", "Two", "g1"),
                                   create_user("u", "fine")), status=200).json
    results = {r["bulkId"]: r for r in resp["Operations"]}
    assert {r["status"] for r in results.values()} == {"201"}
    one = scim.web.get(results["g1"]["location"]).json
    two = scim.web.get(results["g2"]["location"]).json
    assert [m["value"] for m in one["members"]] == [two["id"]]
    assert [m["value"] for m in two["members"]] == [one["id"]]
    assert results["g1"]["version"] == one["meta"]["version"]


def test_3_7_1_a_cycle_it_cannot_resolve_is_409(scim):
    """Users that name each other as manager: no member list to defer."""
    def user(bulk_id, name, manager):
        return {"method": "POST", "path": "/Users", "bulkId": bulk_id,
                "data": {"userName": name, scimlite.ENTERPRISE_URN: {
                    "manager": {"value": f"bulkId:{manager}"}}}}
    resp = scim.post("/Bulk", bulk(user("a", "a", "b"), user("b", "b", "a"),
                                   create_user("c", "c")), status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["409", "409", "201"]
    assert "circular" in resp[0]["response"]["detail"]
    assert scim.get("/Users").json["totalResults"] == 1


def test_3_7_a_waiting_operation_runs_as_soon_as_it_can(scim):
    """§3.7: reordering must keep the client's intent: the PATCH that waits
    for the user runs before the DELETE that follows it."""
    group = scim.create_group("G")
    resp = scim.post("/Bulk", bulk(
        {"method": "PATCH", "path": f"/Groups/{group['id']}",
         "data": {"Operations": [{"op": "add", "path": "members",
                                  "value": [{"value": "bulkId:u1"}]}]}},
        create_user("u1", "later"),
        {"method": "DELETE", "path": f"/Groups/{group['id']}"}), status=200).json
    assert [r["status"] for r in resp["Operations"]] == ["200", "201", "204"]


def test_bulk_id_in_a_path(scim):
    resp = scim.post("/Bulk", bulk(
        create_user("n", "named"),
        {"method": "PATCH", "path": "/Users/bulkId:n",
         "data": {"Operations": [{"op": "replace", "path": "title", "value": "T"}]}}),
        status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["201", "200"]
    assert scim.web.get(resp[0]["location"]).json["title"] == "T"


def test_a_bulk_id_used_twice_is_refused(scim):
    resp = scim.post("/Bulk", bulk(create_user("x", "one"), create_user("x", "two")),
                     status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["400", "400"]
    assert "more than once" in resp[0]["response"]["detail"]


def test_failed_operations_keep_their_location(scim):
    resp = scim.post("/Bulk", bulk({"method": "PATCH", "path": "/Users/nope", "data": {
        "Operations": [{"op": "remove", "path": "title"}]}}), status=200).json["Operations"]
    assert resp[0]["status"] == "404"
    assert resp[0]["location"].endswith("/scim/v2/Users/nope")


def test_unknown_bulk_id_is_reported(scim):
    resp = scim.post("/Bulk", bulk(create_group("g", "G", "nobody")),
                     status=200).json["Operations"]
    assert resp[0]["status"] == "400" and "nobody" in resp[0]["response"]["detail"]


def test_a_failed_creation_fails_what_refers_to_it(scim):
    resp = scim.post("/Bulk", bulk(create_user("u", ""), create_group("g", "G", "u")),
                     status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["400", "400"]


def test_3_7_limits_are_advertised_and_enforced():
    app = scimlite.create_app({"db": ":memory:", "bulk_max_operations": 2,
                               "bulk_max_payload_bytes": 400})
    scim = SCIMClient(app, app.scimlite.mint_key("t"))
    spc = scim.get("/ServiceProviderConfig").json["bulk"]
    assert spc == {"supported": True, "maxOperations": 2, "maxPayloadSize": 400}
    three = bulk(create_user("a", "a"), create_user("b", "b"), create_user("c", "c"))
    assert_scim_error(scim.post("/Bulk", three, status=413), 413)
    big = bulk(dict(create_user("a", "x" * 500)))
    assert_scim_error(scim.post("/Bulk", big, status=413), 413)
    assert scim.get("/Users").json["totalResults"] == 0


@pytest.mark.parametrize("body, scim_type", [
    ([], "invalidSyntax"), ({"Operations": {}}, "invalidSyntax"),
    ({"schemas": ["urn:x"], "Operations": []}, "invalidSyntax"),
    ({"Operations": [], "failOnErrors": 0}, "invalidValue"),
])
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_bad_bulk_requests(scim, body, scim_type):
    assert_scim_error(scim.post("/Bulk", body, status=400), 400, scim_type)


def test_bulk_post_needs_a_bulk_id_and_a_path(scim):
    resp = scim.post("/Bulk", bulk({"method": "POST", "path": "/Users",
                                    "data": {"userName": "x"}},
                                   {"method": "POST", "path": "/Widgets", "bulkId": "w",
                                    "data": {}}), status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["400", "400"]


@pytest.mark.parametrize("bulk_id", [{"x": 1}, ["a"], 7, ""])
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_a_bulk_id_that_is_not_a_string_is_refused(scim, bulk_id):
    resp = scim.post("/Bulk", bulk(
        {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": {"userName": "b"}},
        {"method": "PATCH", "path": "/Groups/bulkId:b", "bulkId": bulk_id,
         "data": {"Operations": [{"op": "remove", "path": "name"}]}}),
        status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["400", "400"]
    assert scim.get("/Users").json["totalResults"] == 0


def test_a_group_naming_an_unknown_bulk_id_is_not_created(scim):
    """Found by fuzzing: a self-referencing group that also named unknown
    bulkIds was created to break the cycle, then reported as failed."""
    resp = scim.post("/Bulk", bulk(
        {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {
            "displayName": "n1", "members": [{"value": "bulkId:a"}, {"value": "bulkId:zz"}]}},
        failOnErrors=2), status=200).json["Operations"]
    assert resp[0]["status"] == "400" and "zz" in resp[0]["response"]["detail"]
    assert scim.get("/Groups").json["totalResults"] == 0


def test_a_group_that_contains_itself_by_bulk_id(scim):
    resp = scim.post("/Bulk", bulk(create_group("self", "Self", "self")),
                     status=200).json["Operations"]
    assert resp[0]["status"] == "201"
    group = scim.web.get(resp[0]["location"]).json
    assert [m["value"] for m in group["members"]] == [group["id"]]


def test_a_cycle_whose_members_cannot_be_added_leaves_nothing(scim):
    """Two groups in a cycle; one's other member does not exist: the group
    made to break the cycle is removed again, and both report errors."""
    resp = scim.post("/Bulk", bulk(
        {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {
            "displayName": "One", "members": [{"value": "bulkId:g2"}, {"value": "ghost"}]}},
        create_group("g2", "Two", "g1")), status=200).json["Operations"]
    assert resp[0]["status"] == "400"
    assert scim.get("/Groups", filter='displayName eq "One"').json["totalResults"] == 0


def test_what_waits_on_a_doomed_bulk_id_is_400_not_a_cycle(scim):
    """Found by fuzzing: the DELETE waits for group c, and c names an
    unknown bulkId, so c will never exist: that is a failed reference."""
    resp = scim.post("/Bulk", bulk(
        {"method": "DELETE", "path": "/Groups/bulkId:c"},
        {"method": "POST", "path": "/Groups", "bulkId": "c", "data": {
            "displayName": "n1", "members": [{"value": "bulkId:zz"}, {"value": "bulkId:c"}]}}),
        status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["400", "400"]
    assert scim.get("/Groups").json["totalResults"] == 0


def test_root_search_checks_sort_order_like_get(scim):
    assert_scim_error(scim.post("/.search", {"sortOrder": "0"}, status=400), 400,
                      "invalidValue")


def test_a_version_that_is_not_a_string_is_refused(scim):
    user = scim.create_user("v")
    resp = scim.post("/Bulk", bulk({"method": "DELETE", "path": f"/Users/{user['id']}",
                                    "version": []}), status=200).json["Operations"]
    assert resp[0]["status"] == "400"
    scim.get(f"/Users/{user['id']}")


def test_a_bulk_id_reference_is_the_whole_string(scim):
    resp = scim.post("/Bulk", bulk(create_user("a", "a"), {
        "method": "POST", "path": "/Groups", "bulkId": "g",
        "data": {"displayName": "G", "members": [{"value": "bulkId:a\n"}]}}),
        status=200).json["Operations"]
    assert [r["status"] for r in resp] == ["201", "400"]
