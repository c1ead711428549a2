"""Users: RFC 7644 §3.3 (create), §3.4.1 (get), §3.5.1 (PUT), §3.6 (DELETE),
§3.4.2 (list, filter, paging) over the RFC 7643 §4.1 / §4.3 attributes."""
import uuid

import pytest

import scimlite
from conftest import assert_scim_error, load_sample

ENT = scimlite.ENTERPRISE_URN


def test_create_returns_201_location_and_full_resource(scim):
    resp = scim.post("/Users", {"schemas": [scimlite.USER_URN], "userName": "bjensen"})
    user = resp.json
    assert resp.status_int == 201
    assert resp.content_type == "application/scim+json"
    assert resp.headers["Location"] == user["meta"]["location"]
    assert user["meta"]["location"].endswith(f"/scim/v2/Users/{user['id']}")
    assert user["meta"]["resourceType"] == "User"
    assert user["meta"]["created"] == user["meta"]["lastModified"]
    assert user["meta"]["version"] == 'W/"1"'
    assert resp.headers["ETag"] == 'W/"1"'
    assert user["schemas"] == [scimlite.USER_URN]
    uuid.UUID(user["id"])


def test_every_core_and_enterprise_attribute_round_trips(scim):
    """RFC 7643 §8.3's full enterprise user: all of it is stored and returned,
    except what the schema says a client cannot set (id, meta, groups,
    manager.displayName) or will never be shown (password)."""
    sent = load_sample("rfc7643-8.3-enterprise-user.json")
    created = scim.post("/Users", sent).json
    fetched = scim.get(f"/Users/{created['id']}").json
    assert fetched == created
    assert created["id"] != sent["id"]
    assert "password" not in created and "groups" not in created
    assert created["meta"]["created"] != sent["meta"]["created"]
    readonly = {"id", "meta", "groups", "password", "schemas", ENT}
    for name, value in sent.items():
        if name not in readonly:
            assert created[name] == value, name
    expected_enterprise = dict(sent[ENT])
    expected_enterprise["manager"] = {k: v for k, v in sent[ENT]["manager"].items()
                                      if k != "displayName"}
    assert created[ENT] == expected_enterprise
    assert created["schemas"] == [scimlite.USER_URN, ENT]


def test_password_is_stored_hashed_and_never_returned(app, scim):
    user = scim.create_user(password="t1meMa$heen")
    assert "password" not in user
    row = app.scimlite.models.User.get(app.scimlite.models.User.id == user["id"])
    assert row.password_hash.startswith("scrypt$")
    assert "t1meMa$heen" not in row.password_hash and "t1meMa$heen" not in row.data
    listed = scim.get("/Users", attributes="password").json["Resources"][0]
    assert "password" not in listed


def test_entra_string_booleans_are_read_as_booleans(scim):
    """Entra's default job sends "True"/"False" (IDP-NOTES §2.4)."""
    user = scim.create_user(active="False", roles=[{"value": "r", "primary": "True"}])
    assert user["active"] is False
    assert user["roles"] == [{"value": "r", "primary": True}]
    assert scim.create_user("u2", active="true")["active"] is True


def test_a_string_that_is_not_a_boolean_is_invalid_value(scim):
    resp = scim.post("/Users", {"userName": "x", "active": "yes"}, status=400)
    assert_scim_error(resp, 400, "invalidValue")


def test_entra_create_body_with_meta_and_empty_roles(scim):
    user = scim.post("/Users", load_sample("entra-create-user.json")).json
    assert user["active"] is True
    assert "roles" not in user      # [] is "no value" (RFC 7643 §2.5)
    assert user["meta"]["resourceType"] == "User"


def test_okta_create_body(scim):
    sent = load_sample("okta-create-user.json")
    user = scim.post("/Users", sent).json
    assert user["userName"] == sent["userName"]
    assert user["externalId"] == sent["externalId"]
    assert "password" not in user


def test_unknown_schema_uris_and_attributes_are_ignored(scim):
    body = {"schemas": [scimlite.USER_URN, "urn:example:custom:1.0:User",
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/User"],
            "userName": "quirky", "favouriteColour": "green",
            "urn:example:custom:1.0:User": {"badge": 7}}
    user = scim.post("/Users", body).json
    assert "favouriteColour" not in user
    assert user["schemas"] == [scimlite.USER_URN]
    assert not any(k.startswith("urn:example") for k in user)


def test_attribute_names_are_case_insensitive(scim):
    user = scim.post("/Users", {"USERNAME": "casey", "Name": {"GivenName": "C"},
                                ENT.upper(): {"EMPLOYEENUMBER": "9"}}).json
    assert user["userName"] == "casey"
    assert user["name"] == {"givenName": "C"}
    assert user[ENT] == {"employeeNumber": "9"}


def test_client_cannot_set_id_or_meta(scim):
    user = scim.post("/Users", {"userName": "x", "id": "chosen-by-client",
                                "meta": {"created": "2001-01-01T00:00:00Z"}}).json
    assert user["id"] != "chosen-by-client"
    assert not user["meta"]["created"].startswith("2001")
    scim.get("/Users/chosen-by-client", status=404)


def test_missing_username_is_invalid_value(scim):
    resp = scim.post("/Users", {"schemas": [scimlite.USER_URN], "displayName": "No Name"},
                     status=400)
    assert "userName" in assert_scim_error(resp, 400, "invalidValue")["detail"]


def test_duplicate_username_in_other_case_is_409_uniqueness(scim):
    scim.create_user("Bjensen@Example.com")
    resp = scim.post("/Users", {"userName": "bjensen@example.COM"}, status=409)
    assert_scim_error(resp, 409, "uniqueness")
    assert scim.get("/Users").json["totalResults"] == 1


def test_wrong_types_are_invalid_value(scim):
    for body in ({"userName": 7}, {"userName": "a", "emails": {"value": "x"}},
                 {"userName": "a", "name": "Bob"}, {"userName": "a", "emails": ["x"]},
                 {"userName": "a", "x509Certificates": [{"value": "not base64!"}]},
                 {"userName": "a", "emails": [{"value": "a", "primary": True},
                                              {"value": "b", "primary": True}]},
                 {"userName": "a", ENT: "not an object"}):
        assert_scim_error(scim.post("/Users", body, status=400), 400, "invalidValue")


def test_schemas_without_the_core_schema_is_invalid_syntax(scim):
    resp = scim.post("/Users", {"schemas": [scimlite.GROUP_URN], "userName": "a"}, status=400)
    assert_scim_error(resp, 400, "invalidSyntax")


def test_get_unknown_id_is_404(scim):
    body = assert_scim_error(scim.get("/Users/does-not-exist", status=404), 404)
    assert "does-not-exist" in body["detail"]


def test_put_replaces_and_ignores_echoed_read_only_attributes(scim):
    """Okta AIW apps PUT back what GET returned, id and meta included."""
    user = scim.create_user("bjensen", displayName="Babs", title="Guide",
                            emails=[{"value": "b@example.com", "type": "work"}])
    echoed = scim.get(f"/Users/{user['id']}").json
    echoed["title"] = "Senior Guide"
    del echoed["displayName"]
    echoed["groups"] = [{"value": "whatever"}]
    echoed["meta"]["created"] = "1999-01-01T00:00:00Z"
    replaced = scim.put(f"/Users/{user['id']}", echoed).json
    assert replaced["id"] == user["id"]
    assert replaced["title"] == "Senior Guide"
    assert "displayName" not in replaced            # PUT replaces: omitted is cleared
    assert replaced["meta"]["created"] == user["meta"]["created"]
    assert replaced["meta"]["version"] == 'W/"2"'
    assert replaced["meta"]["lastModified"] >= user["meta"]["lastModified"]
    assert "groups" not in replaced
    assert scim.get(f"/Users/{user['id']}").json == replaced


def test_put_with_a_different_id_in_the_body_changes_the_url_resource_only(scim):
    a, b = scim.create_user("a"), scim.create_user("b")
    scim.put(f"/Users/{a['id']}", {"id": b["id"], "userName": "a2"})
    assert scim.get(f"/Users/{a['id']}").json["userName"] == "a2"
    assert scim.get(f"/Users/{b['id']}").json["userName"] == "b"


def test_put_that_changes_nothing_keeps_version(scim):
    user = scim.create_user("same", title="T")
    again = scim.put(f"/Users/{user['id']}", scim.get(f"/Users/{user['id']}").json).json
    assert again["meta"] == user["meta"]


def test_put_keeps_the_password_when_left_out(app, scim):
    user = scim.create_user("pw", password="secret-1")
    model = app.scimlite.models.User
    before = model.get(model.id == user["id"]).password_hash
    scim.put(f"/Users/{user['id']}", {"userName": "pw", "title": "x"})
    assert model.get(model.id == user["id"]).password_hash == before
    scim.put(f"/Users/{user['id']}", {"userName": "pw", "password": "secret-2"})
    assert model.get(model.id == user["id"]).password_hash != before


def test_put_to_a_taken_username_is_409(scim):
    scim.create_user("taken")
    other = scim.create_user("other")
    resp = scim.put(f"/Users/{other['id']}", {"userName": "TAKEN"}, status=409)
    assert_scim_error(resp, 409, "uniqueness")
    assert scim.get(f"/Users/{other['id']}").json["userName"] == "other"


def test_put_unknown_id_is_404_and_missing_username_400(scim):
    assert_scim_error(scim.put("/Users/nope", {"userName": "x"}, status=404), 404)
    user = scim.create_user()
    assert_scim_error(scim.put(f"/Users/{user['id']}", {"title": "x"}, status=400),
                      400, "invalidValue")


def test_immutable_attribute_may_be_repeated_but_not_changed():
    """RFC 7644 §3.5.1 on immutable values, checked with a table that has one
    (the standard User schema has no immutable top-level attribute)."""
    schema = scimlite.Schema("urn:example:Thing", "Thing", "", (
        scimlite.Attr("serial", mutability="immutable"), scimlite.Attr("label")))
    rt = scimlite.ResourceType("Thing", "/Things", "", schema)
    kept = {"label": "b"}
    scimlite.check_immutable(rt, {"serial": "S1", "label": "a"}, kept)
    assert kept == {"label": "b", "serial": "S1"}
    scimlite.check_immutable(rt, {"serial": "S1"}, {"serial": "S1"})
    with pytest.raises(scimlite.SCIMError) as error:
        scimlite.check_immutable(rt, {"serial": "S1"}, {"serial": "S2"})
    assert error.value.scim_type == "mutability"


def test_delete_is_204_then_404_and_filters_no_longer_find_it(scim):
    user = scim.create_user("gone")
    resp = scim.delete(f"/Users/{user['id']}")
    assert resp.status_int == 204 and resp.body == b""
    assert_scim_error(scim.get(f"/Users/{user['id']}", status=404), 404)
    assert_scim_error(scim.delete(f"/Users/{user['id']}", status=404), 404)
    assert scim.get("/Users", filter='userName eq "gone"').json["totalResults"] == 0


def test_username_can_be_reused_after_delete(scim):
    user = scim.create_user("again")
    scim.delete(f"/Users/{user['id']}")
    assert scim.create_user("again")["id"] != user["id"]


# --- list, filter, paging ---------------------------------------------------------

def test_entra_test_connection_probe_gets_empty_list_response(scim):
    """Entra 'Test Connection': userName eq a random GUID → 200, empty list."""
    resp = scim.get("/Users", filter=f'userName eq "{uuid.uuid4()}"')
    assert resp.status_int == 200
    assert resp.json == {"schemas": [scimlite.LIST_URN], "totalResults": 0,
                         "itemsPerPage": 0, "startIndex": 1, "Resources": []}


def test_filters_on_hot_attributes_with_and(scim):
    a = scim.create_user("alice", externalId="ext-A", displayName="Alice Smith",
                         emails=[{"value": "Alice@Example.com", "type": "work"}])
    scim.create_user("bob", externalId="ext-B", displayName="Bob",
                     emails=[{"value": "bob@example.com"}])

    def found(text):
        return [r["id"] for r in scim.get("/Users", filter=text).json["Resources"]]
    assert found('userName eq "ALICE"') == [a["id"]]
    assert found('externalId eq "ext-A"') == [a["id"]]
    assert found('externalId eq "EXT-A"') == []        # externalId is caseExact
    assert found(f'id eq "{a["id"]}"') == [a["id"]]
    assert found('displayName eq "alice smith"') == [a["id"]]
    assert found('emails.value eq "alice@example.com"') == [a["id"]]
    assert found('userName eq "alice" and externalId eq "ext-A"') == [a["id"]]
    assert found('userName eq "alice" and externalId eq "ext-B"') == []
    assert found('emails[type eq "work"].value eq "alice@example.com"') == [a["id"]]


def test_deactivated_user_is_still_found(scim):
    user = scim.create_user("sleepy", active=False)
    listed = scim.get("/Users", filter='userName eq "sleepy"').json
    assert listed["totalResults"] == 1 and listed["Resources"][0]["active"] is False
    assert scim.get(f"/Users/{user['id']}").json["active"] is False


def test_pagination_is_stable_and_totals_are_integers(scim):
    ids = [scim.create_user(f"user{i:02d}")["id"] for i in range(7)]
    seen = []
    for start in (1, 4, 7):
        page = scim.get("/Users", startIndex=start, count=3).json
        assert page["totalResults"] == 7 and page["startIndex"] == start
        assert isinstance(page["itemsPerPage"], int)
        seen += [r["id"] for r in page["Resources"]]
    assert seen == ids
    assert scim.get("/Users", startIndex=99).json["Resources"] == []
    assert scim.get("/Users", startIndex=0, count=2).json["startIndex"] == 1
    zero = scim.get("/Users", count=0).json
    assert zero["totalResults"] == 7 and zero["Resources"] == [] and zero["itemsPerPage"] == 0
    assert scim.get("/Users", count=-5).json["itemsPerPage"] == 0


def test_page_size_is_capped_by_max_page_size():
    app = scimlite.create_app({"db": ":memory:", "max_page_size": 2})
    from conftest import SCIMClient
    scim = SCIMClient(app, app.scimlite.mint_key("t"))
    for i in range(3):
        scim.create_user(f"u{i}")
    page = scim.get("/Users", count=50).json
    assert page["itemsPerPage"] == 2 and page["totalResults"] == 3


def test_paging_parameters_must_be_integers(scim):
    assert_scim_error(scim.get("/Users", status=400, count="ten"), 400, "invalidValue")
    assert_scim_error(scim.get("/Users", status=400, startIndex="1.5"), 400, "invalidValue")


def test_okta_import_paging_walks_every_user(scim):
    for i in range(5):
        scim.create_user(f"okta{i}")
    start, names = 1, []
    while True:
        page = scim.get("/Users", startIndex=start, count=2).json
        names += [r["userName"] for r in page["Resources"]]
        start += page["itemsPerPage"]
        if start > page["totalResults"]:
            break
    assert names == [f"okta{i}" for i in range(5)]


def test_non_ascii_filter_values(scim):
    user = scim.create_user("jürgen@example.com", displayName="Jürgen Straße")
    found = scim.get("/Users", filter='displayName eq "JÜRGEN STRASSE"').json
    assert [r["id"] for r in found["Resources"]] == [user["id"]]


def test_bad_filter_is_400_invalid_filter(scim):
    for text in ('userName eq', 'userName zz "a"', 'nope eq "a"', '(userName eq "a"',
                 'userName eq "a" and', '"a"', 'userName eq "unterminated'):
        assert_scim_error(scim.get("/Users", status=400, filter=text), 400, "invalidFilter")


def test_null_empty_list_and_empty_object_are_no_value_for_any_attribute(scim):
    """docs/reading-clients.md: null, [] and {} mean "no value" (RFC 7643 §2.5), whatever
    the attribute's type."""
    user = scim.post("/Users", {"userName": "n1", "name": [], "active": {},
                                "title": None, ENT: []}).json
    assert "name" not in user and "title" not in user and ENT not in user
    assert user["active"] is True


def test_a_user_sent_without_active_is_active_for_get_and_filters(scim):
    user = scim.create_user("quiet-start")
    assert user["active"] is True
    assert scim.get("/Users", filter="active eq true").json["totalResults"] == 1
    replaced = scim.put(f"/Users/{user['id']}", {"userName": "quiet-start"}).json
    assert replaced["active"] is True


def test_blank_username_is_invalid(scim):
    assert_scim_error(scim.post("/Users", {"userName": "   "}, status=400), 400,
                      "invalidValue")


def test_binary_values_are_case_exact_and_may_omit_padding(scim):
    """RFC 7643 §2.3.6: "A binary is case exact"; trailing padding MAY be
    omitted."""
    user = scim.create_user("cert", x509Certificates=[{"value": "QQ"}])
    assert user["x509Certificates"] == [{"value": "QQ"}]
    assert scim.get("/Users", filter='x509Certificates.value eq "QQ"').json[
        "totalResults"] == 1
    assert scim.get("/Users", filter='x509Certificates.value eq "qq"').json[
        "totalResults"] == 0
    schema = scim.get(f"/Schemas/{scimlite.USER_URN}").json
    certs = {a["name"]: a for a in schema["attributes"]}["x509Certificates"]
    assert {s["name"]: s for s in certs["subAttributes"]}["value"]["caseExact"] is True


def test_an_empty_password_means_none_on_post_put_and_patch(app, scim):
    """"" is no password: PUT clears it as PATCH remove does, and POST
    stores none (a hash of the empty string would be a password)."""
    model = app.scimlite.models.User
    stored = lambda u: model.get(model.id == u["id"]).password_hash  # noqa: E731
    user = scim.create_user("emptypw", password="")
    assert stored(user) is None
    scim.put(f"/Users/{user['id']}", {"userName": "emptypw", "password": "x-Secret1"})
    assert stored(user).startswith("scrypt$")
    scim.put(f"/Users/{user['id']}", {"userName": "emptypw"})     # left out: kept
    assert stored(user).startswith("scrypt$")
    scim.put(f"/Users/{user['id']}", {"userName": "emptypw", "password": ""})
    assert stored(user) is None


def test_a_write_bound_to_fail_costs_no_password_hash(app, scim, monkeypatch):
    """scrypt takes tens of milliseconds: a PUT or PATCH to a missing user or
    with a stale If-Match is refused before any hashing."""
    user = scim.create_user("nohash")
    hashed = []
    monkeypatch.setattr(scimlite, "hash_password", lambda p: hashed.append(p) or "h")
    scim.put("/Users/nope", {"userName": "a", "password": "x"}, status=404)
    stale = {"If-Match": 'W/"99"'}
    scim.put(f"/Users/{user['id']}", {"userName": "nohash", "password": "x"}, status=412,
             headers=stale)
    scim.patch(f"/Users/{user['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "password", "value": "x"}]}, status=412, headers=stale)
    assert hashed == []
