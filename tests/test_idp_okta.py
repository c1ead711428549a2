"""Okta's requests, one test per quirk, with the bodies its SCIM 2.0
reference and SPEC test show (shared/IDP-NOTES.md §3)."""
import scimlite
from conftest import assert_scim_error, load_sample

P = scimlite.PATCH_URN


def ops(*operations):
    return {"schemas": [P], "Operations": list(operations)}


def test_connector_test_gets_a_full_list_response(scim):
    """'Okta expects a full SCIM ListResponse object even when zero results'."""
    body = scim.get("/Users", startIndex=1, count=2).json
    assert body == {"schemas": [scimlite.LIST_URN], "totalResults": 0, "itemsPerPage": 0,
                    "startIndex": 1, "Resources": []}


def test_spec_r4_unknown_id_is_404_with_detail(scim):
    body = assert_scim_error(scim.get("/Users/010101001010101011001010101011", status=404),
                             404)
    assert body["detail"]


def test_spec_r8_same_user_twice_is_409(scim):
    scim.post("/Users", load_sample("okta-create-user.json"))
    assert_scim_error(scim.post("/Users", load_sample("okta-create-user.json"), status=409),
                      409, "uniqueness")


def test_pathless_replace_active(scim):
    user = scim.post("/Users", load_sample("okta-create-user.json")).json
    patched = scim.patch(f"/Users/{user['id']}", ops(
        {"op": "replace", "value": {"active": False}})).json
    assert patched["active"] is False


def test_group_rename_carrying_the_read_only_id(scim):
    group = scim.create_group("Test SCIMv2")
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "replace", "value": {"id": group["id"], "displayName": "Renamed"}})).json
    assert patched["displayName"] == "Renamed" and patched["id"] == group["id"]


def test_aiw_read_modify_write_put_echoes_everything(scim):
    """AIW apps GET, change, and PUT the whole body back: id, meta, groups,
    schemas and all."""
    user = scim.post("/Users", load_sample("okta-create-user.json")).json
    scim.create_group("G", members=[{"value": user["id"]}])
    current = scim.get(f"/Users/{user['id']}").json
    assert current["groups"]
    current["active"] = False
    replaced = scim.put(f"/Users/{user['id']}", current).json
    assert replaced["active"] is False and replaced["groups"] == current["groups"]
    assert replaced["meta"]["version"].startswith('W/"2-')    # a user in a group


def test_replace_members_with_full_list_and_with_empty_list(scim):
    a, b = scim.create_user("a"), scim.create_user("b")
    group = scim.create_group("G", members=[{"value": a["id"]}])
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "replace", "path": "members", "value": [{"value": b["id"]}]})).json
    assert [m["value"] for m in patched["members"]] == [b["id"]]
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "replace", "path": "members", "value": []})).json
    assert patched["members"] == []


def test_members_without_type_and_with_display(scim):
    user = scim.create_user("test.user@okta.local")
    group = scim.create_group("G")
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "add", "path": "members",
         "value": [{"value": user["id"], "display": "test.user@okta.local"}]})).json
    assert patched["members"][0]["type"] == "User"


def test_remove_and_add_in_one_patch(scim):
    a, b = scim.create_user("a"), scim.create_user("b")
    group = scim.create_group("G", members=[{"value": a["id"]}])
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "remove", "path": f'members[value eq "{a["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": b["id"], "display": "b"}]})).json
    assert [m["value"] for m in patched["members"]] == [b["id"]]


def test_aiw_group_post_with_members_then_full_put(scim):
    a, b = scim.create_user("a"), scim.create_user("b")
    group = scim.create_group("AIW", members=[{"value": a["id"]}])
    current = scim.get(f"/Groups/{group['id']}").json
    current["members"].append({"value": b["id"]})
    replaced = scim.put(f"/Groups/{group['id']}", current).json
    assert [m["value"] for m in replaced["members"]] == [a["id"], b["id"]]


def test_user_agent_does_not_matter(scim, app):
    resp = scim.web.get("/scim/v2/Users", headers={"User-Agent": "Okta SCIM Client 1.0.0"})
    assert resp.status_int == 200
