"""ETags (RFC 7644 §3.14): meta.version is a weak ETag; If-Match guards
writes with 412, If-None-Match answers 304."""
import scimlite
from conftest import assert_scim_error


def test_3_14_version_is_a_weak_etag_in_the_header(scim):
    resp = scim.post("/Users", {"userName": "e"})
    assert resp.headers["ETag"] == resp.json["meta"]["version"] == 'W/"1"'
    got = scim.get(f"/Users/{resp.json['id']}")
    assert got.headers["ETag"] == 'W/"1"'
    assert scim.get("/ServiceProviderConfig").json["etag"]["supported"] is True


def test_3_14_if_none_match_current_is_304(scim):
    user = scim.create_user("n")
    url = f"/scim/v2/Users/{user['id']}"
    resp = scim.web.get(url, headers={"If-None-Match": 'W/"1"'}, status=304)
    assert resp.body == b"" and resp.headers["ETag"] == 'W/"1"'
    scim.web.get(url, headers={"If-None-Match": 'W/"0", W/"7"'}, status=200)
    scim.web.get(url, headers={"If-None-Match": "*"}, status=304)


def test_3_14_if_match_stale_is_412_and_changes_nothing(scim):
    user = scim.create_user("m", title="A")
    url = f"/Users/{user['id']}"
    stale = {"If-Match": 'W/"9"'}
    assert_scim_error(scim.put(url, {"userName": "m", "title": "B"}, status=412,
                               headers=stale), 412)
    assert_scim_error(scim.patch(url, {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "title", "value": "B"}]}, status=412, headers=stale), 412)
    resp = scim.web.delete(f"/scim/v2{url}", headers=stale, status=412)
    assert_scim_error(resp, 412)
    assert scim.get(url).json == user


def test_3_14_if_match_current_proceeds(scim):
    user = scim.create_user("ok", title="A")
    url = f"/Users/{user['id']}"
    put = scim.put(url, {"userName": "ok", "title": "B"}, headers={"If-Match": 'W/"1"'})
    assert put.headers["ETag"] == 'W/"2"'
    patched = scim.patch(url, {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "title", "value": "C"}]}, headers={"If-Match": '"2"'})
    assert patched.json["title"] == "C"
    scim.web.delete(f"/scim/v2{url}", headers={"If-Match": "*"}, status=204)


def test_group_etag_moves_with_membership(scim):
    user = scim.create_user("u")
    group = scim.create_group("G")
    scim.patch(f"/Groups/{group['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]}]})
    scim.web.get(f"/scim/v2/Groups/{group['id']}", headers={"If-None-Match": 'W/"1"'},
                 status=200)


def test_3_14_a_user_etag_moves_when_its_groups_change(scim):
    """User.groups is computed from other resources; the ETag still covers it,
    so a cached copy is never declared fresh with stale groups."""
    user = scim.create_user("member")
    url = f"/scim/v2/Users/{user['id']}"
    group = scim.create_group("Team")
    scim.patch(f"/Groups/{group['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]}]})
    joined = scim.web.get(url, headers={"If-None-Match": 'W/"1"'}, status=200)
    assert joined.json["groups"] and joined.headers["ETag"] != 'W/"1"'
    assert joined.headers["ETag"] == joined.json["meta"]["version"]
    stale = scim.patch(f"/Users/{user['id']}", {"schemas": [scimlite.PATCH_URN],
                                                "Operations": [{"op": "replace",
                                                                "path": "title",
                                                                "value": "x"}]},
                       status=412, headers={"If-Match": 'W/"1"'})
    assert_scim_error(stale, 412)
    scim.web.get(url, headers={"If-None-Match": joined.headers["ETag"]}, status=304)
    scim.patch(f"/Groups/{group['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Renamed Team"}]})
    renamed = scim.web.get(url, headers={"If-None-Match": joined.headers["ETag"]},
                           status=200)
    assert renamed.json["groups"][0]["display"] == "Renamed Team"
    projected = scim.get(f"/Users/{user['id']}", attributes="userName")
    assert projected.headers["ETag"] == renamed.headers["ETag"]


def test_3_14_a_group_etag_moves_when_a_member_is_renamed(scim):
    user = scim.create_user("before")
    group = scim.create_group("G", members=[{"value": user["id"]}])
    scim.patch(f"/Users/{user['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "userName", "value": "after"}]})
    after = scim.web.get(f"/scim/v2/Groups/{group['id']}",
                         headers={"If-None-Match": group["meta"]["version"]}, status=200)
    assert after.json["members"][0]["display"] == "after"
    assert after.json["meta"]["version"] != group["meta"]["version"]
