"""Discovery: RFC 7644 §4 endpoints, generated from the one schema table."""
import json

import pytest

import scimlite
from conftest import SCIMClient, assert_scim_error

# Discovery documents come from the schema tables, not the database: one
# backend is enough.
pytestmark = pytest.mark.sqlite_only


def _walk(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)
    yield value


def test_service_provider_config_tells_the_truth(scim, app):
    spc = scim.get("/ServiceProviderConfig").json
    assert spc["schemas"] == [scimlite.SPC_URN]
    for name in ("patch", "bulk", "filter", "changePassword", "sort", "etag"):
        assert spc[name]["supported"] is scimlite.CAPABILITIES[name]
    assert spc["filter"]["maxResults"] == app.scimlite.settings["max_page_size"]
    assert spc["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert spc["meta"]["location"].endswith("/scim/v2/ServiceProviderConfig")
    assert None not in list(_walk(spc))


def test_every_advertised_capability_works(app, scim):
    """ServiceProviderConfig is truthful: each feature it claims answers."""
    spc = scim.get("/ServiceProviderConfig").json
    user = scim.create_user("caps", password="first-secret")
    if spc["patch"]["supported"]:
        assert scim.patch(f"/Users/{user['id']}", {"schemas": [scimlite.PATCH_URN],
                          "Operations": [{"op": "replace", "path": "title",
                                          "value": "t"}]}).json["title"] == "t"
    if spc["bulk"]["supported"]:
        resp = scim.post("/Bulk", {"Operations": []}, status=200)
        assert resp.json["schemas"] == [scimlite.BULK_RESPONSE_URN]
    if spc["sort"]["supported"]:
        scim.create_user("a-first")
        assert scim.get("/Users", sortBy="userName").json["Resources"][0][
            "userName"] == "a-first"
    if spc["etag"]["supported"]:
        assert scim.get(f"/Users/{user['id']}").headers["ETag"].startswith('W/"')
    if spc["changePassword"]["supported"]:
        model = app.scimlite.models.User
        before = model.get(model.id == user["id"]).password_hash
        scim.put(f"/Users/{user['id']}", {"userName": "caps", "password": "second"})
        assert model.get(model.id == user["id"]).password_hash != before
    assert all(spc[name]["supported"] for name in ("patch", "bulk", "filter",
                                                    "changePassword", "sort", "etag"))


def test_resource_types_list_and_one(scim):
    listed = scim.get("/ResourceTypes").json
    assert listed["schemas"] == [scimlite.LIST_URN]
    assert listed["totalResults"] == 2
    by_name = {r["name"]: r for r in listed["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schemaExtensions"] == [
        {"schema": scimlite.ENTERPRISE_URN, "required": False}]
    assert by_name["Group"]["schema"] == scimlite.GROUP_URN
    assert scim.get("/ResourceTypes/Group").json == by_name["Group"]
    assert_scim_error(scim.get("/ResourceTypes/Widget", status=404), 404)
    assert scim.get("/ResourceTypes/user").json["name"] == "User"


def test_schemas_list_has_user_enterprise_and_group(scim):
    listed = scim.get("/Schemas").json
    assert listed["schemas"] == [scimlite.LIST_URN]
    assert [s["id"] for s in listed["Resources"]] == [
        scimlite.USER_URN, scimlite.ENTERPRISE_URN, scimlite.GROUP_URN]
    assert None not in list(_walk(listed))


def test_schema_documents_come_from_the_table():
    app = scimlite.create_app({"db": ":memory:", "mailer": "memory", "publish_password": True})
    scim = SCIMClient(app, app.scimlite.mint_key("k"))
    cores = {rt.schema.id for rt in scimlite.RESOURCE_TYPES.values()}
    for schema in scimlite.ALL_SCHEMAS:
        doc = scim.get(f"/Schemas/{schema.id}").json
        expected = list(schema.attributes) + [
            a for a in scimlite.COMMON_ATTRIBUTES
            if schema.id in cores and a.name in scimlite.PUBLISHED_COMMON]
        assert [a["name"] for a in doc["attributes"]] == [a.name for a in expected]
        for attr, published in zip(expected, doc["attributes"]):
            assert published["type"] == attr.type
            assert published["multiValued"] == attr.multi
            assert published["required"] == attr.required
            assert published["mutability"] == attr.mutability
            assert published["returned"] == attr.returned
            assert published["uniqueness"] == attr.uniqueness
            assert [s["name"] for s in published.get("subAttributes", [])] == \
                [s.name for s in attr.sub]


def test_password_is_accepted_but_published_only_when_asked(scim):
    """Microsoft's SCIM Validator refuses a published password; Okta sends one."""
    doc = scim.get(f"/Schemas/{scimlite.USER_URN}").json
    assert "password" not in {a["name"] for a in doc["attributes"]}
    listed = scim.get("/Schemas").json["Resources"]
    assert "password" not in json.dumps(listed)
    scim.create_user("okta-style", password="Okta-sends-1")         # accepted all the same
    app = scimlite.create_app({"db": ":memory:", "mailer": "memory", "publish_password": True})
    doc = SCIMClient(app, app.scimlite.mint_key("k")).get(f"/Schemas/{scimlite.USER_URN}").json
    attrs = {a["name"]: a for a in doc["attributes"]}
    assert attrs["password"]["mutability"] == "writeOnly"
    assert attrs["password"]["returned"] == "never"
    app.scimlite.close()


def test_user_schema_publishes_rfc_characteristics(scim):
    doc = scim.get(f"/Schemas/{scimlite.USER_URN}").json
    attrs = {a["name"]: a for a in doc["attributes"]}
    assert attrs["userName"]["required"] is True
    assert attrs["userName"]["uniqueness"] == "server"
    assert attrs["userName"]["caseExact"] is False
    assert attrs["groups"]["mutability"] == "readOnly"
    emails = {s["name"]: s for s in attrs["emails"]["subAttributes"]}
    assert emails["type"]["canonicalValues"] == ["work", "home", "other"]
    photos = {s["name"]: s for s in attrs["photos"]["subAttributes"]}
    assert photos["value"]["referenceTypes"] == ["external"]
    enterprise = scim.get(f"/Schemas/{scimlite.ENTERPRISE_URN}").json
    manager = {a["name"]: a for a in enterprise["attributes"]}["manager"]
    assert {s["name"] for s in manager["subAttributes"]} == {"value", "$ref", "displayName"}


def test_schema_lookup_ignores_case_and_unknown_is_404(scim):
    assert scim.get(f"/Schemas/{scimlite.GROUP_URN.lower()}").json["id"] == scimlite.GROUP_URN
    assert_scim_error(scim.get("/Schemas/urn:nope", status=404), 404)


def test_public_url_is_used_for_locations():
    from conftest import SCIMClient
    app = scimlite.create_app({"db": ":memory:", "public_url": "https://idm.example.com/"})
    scim = SCIMClient(app, app.scimlite.mint_key("t"))
    user = scim.create_user()
    assert user["meta"]["location"] == f"https://idm.example.com/scim/v2/Users/{user['id']}"
    assert scim.get("/Schemas").json["Resources"][0]["meta"]["location"].startswith(
        "https://idm.example.com/scim/v2/Schemas/")


def test_core_schemas_publish_external_id_for_entras_schema_discoverability_test(scim):
    """Entra's default mappings send mailNickname (users) and objectId
    (groups) as externalId; Microsoft's Schema_Discoverability_Test flattens
    /Schemas and fails on a mapped attribute it does not list.  RFC 7643
    §3.1 makes externalId a common attribute, which a schema may publish."""
    for urn in (scimlite.USER_URN, scimlite.GROUP_URN):
        attributes = {a["name"]: a for a in scim.get(f"/Schemas/{urn}").json["attributes"]}
        assert attributes["externalId"] == {
            "name": "externalId", "type": "string", "multiValued": False,
            "description": "Identifier assigned by the provisioning client.",
            "required": False, "caseExact": True, "mutability": "readWrite",
            "returned": "default", "uniqueness": "none"}
    enterprise = scim.get(f"/Schemas/{scimlite.ENTERPRISE_URN}").json["attributes"]
    assert "externalId" not in {a["name"] for a in enterprise}
