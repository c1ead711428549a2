"""POST /.search (RFC 7644 §3.4.3): the same query as GET, in a body, at the
root and on /Users and /Groups."""
import scimlite
from conftest import assert_scim_error

SEARCH = scimlite.SEARCH_URN


def test_3_4_3_search_users_like_get(scim):
    for name in ("ann", "bea", "cid"):
        scim.create_user(name, title=name.upper())
    body = {"schemas": [SEARCH], "attributes": ["userName", "title"],
            "filter": 'userName ne "bea"', "sortBy": "userName", "sortOrder": "descending",
            "startIndex": 1, "count": 10}
    resp = scim.post("/Users/.search", body, status=200)
    assert resp.json["schemas"] == [scimlite.LIST_URN]
    assert [(r["userName"], r["title"]) for r in resp.json["Resources"]] == [
        ("cid", "CID"), ("ann", "ANN")]
    assert all(set(r) == {"schemas", "id", "userName", "title"}
               for r in resp.json["Resources"])
    assert resp.json == scim.get("/Users", attributes="userName,title",
                                 filter='userName ne "bea"', sortBy="userName",
                                 sortOrder="descending").json


def test_3_4_3_search_groups_with_excluded_attributes(scim):
    scim.create_group("G1", members=[{"value": scim.create_user("m")["id"]}])
    resp = scim.post("/Groups/.search", {"schemas": [SEARCH],
                                         "excludedAttributes": ["members"]}, status=200)
    assert resp.json["totalResults"] == 1 and "members" not in resp.json["Resources"][0]


def test_3_4_3_root_search_spans_types_and_pages(scim):
    for i in range(3):
        scim.create_user(f"user{i}")
    for i in range(2):
        scim.create_group(f"group{i}")
    page = scim.post("/.search", {"schemas": [SEARCH], "startIndex": 2, "count": 3},
                     status=200).json
    assert page["totalResults"] == 5
    kinds = [r["meta"]["resourceType"] for r in page["Resources"]]
    assert kinds == ["User", "User", "Group"]
    by_name = scim.post("/.search", {"filter": 'displayName sw "group1"'}, status=200).json
    assert [r.get("displayName") for r in by_name["Resources"]] == ["group1"]
    users_only = scim.post("/.search", {"filter": 'userName eq "user0"'}, status=200).json
    assert users_only["totalResults"] == 1


def test_3_4_3_bad_search_requests(scim):
    assert_scim_error(scim.post("/Users/.search", [1], status=400), 400, "invalidSyntax")
    assert_scim_error(scim.post("/Users/.search", {"schemas": ["urn:x"]}, status=400),
                      400, "invalidSyntax")
    assert_scim_error(scim.post("/Users/.search", {"filter": "userName zz 1"}, status=400),
                      400, "invalidFilter")
    assert_scim_error(scim.post("/Users/.search", {"count": {"a": 1}}, status=400),
                      400, "invalidValue")
    assert_scim_error(scim.post("/.search", {"sortBy": "userName"}, status=400),
                      400, "invalidValue")
    assert_scim_error(scim.post("/.search", {"filter": "nope eq 1"}, status=400),
                      400, "invalidFilter")


def test_root_search_checks_the_filter_like_the_typed_ones(scim):
    """Found by fuzzing: an empty filter was 'no filter' at the root only."""
    for url in ("/.search", "/Users/.search", "/Groups/.search"):
        assert_scim_error(scim.post(url, {"filter": ""}, status=400), 400, "invalidFilter")
