"""Microsoft Entra ID's requests, one test per quirk, with the bodies its
documentation shows (use-scim-to-provision-users-and-groups.md; the
compatibility page's default job vs aadOptscim062020; Microsoft's SCIM
Validator). See shared/IDP-NOTES.md §2 and §6."""
import pytest

import scimlite
from conftest import load_sample

P = scimlite.PATCH_URN
ENT = scimlite.ENTERPRISE_URN
MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def ops(*operations):
    return {"schemas": [P], "Operations": list(operations)}


@pytest.fixture
def user(scim):
    return scim.post("/Users", load_sample("entra-create-user.json")).json


@pytest.mark.parametrize("op", ["Replace", "replace", "REPLACE", "rEpLaCe"])
def test_op_names_in_any_case(scim, user, op):
    patched = scim.patch(f"/Users/{user['id']}", ops(
        {"op": op, "path": "displayName", "value": op})).json
    assert patched["displayName"] == op


@pytest.mark.parametrize("value, expected", [("False", False), ("True", True),
                                             ("false", False), ("TRUE", True),
                                             (False, False), (True, True)])
def test_active_as_string_in_the_default_job_and_boolean_with_the_flag(scim, user, value,
                                                                       expected):
    scim.patch(f"/Users/{user['id']}", ops({"op": "Replace", "path": "active",
                                            "value": value}))
    # Entra's validator judges the later GET, not the PATCH response.
    assert scim.get(f"/Users/{user['id']}").json["active"] is expected


def test_pathless_replace_with_dotted_and_urn_keys(scim, user):
    """aadOptscim062020: one path-less op with "name.givenName" and full URN keys."""
    patched = scim.patch(f"/Users/{user['id']}", ops(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@contoso.com"},
        {"op": "replace", "value": {
            "displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
            f"{ENT}:employeeNumber": "Aklq"}})).json
    assert patched["name"]["givenName"] == "Kkom" and patched["name"]["familyName"] == "Unua"
    assert patched[ENT]["employeeNumber"] == "Aklq"
    assert "name.givenName" not in patched and f"{ENT}:employeeNumber" not in patched
    assert patched["emails"][0]["value"] == "new@contoso.com"


def test_replace_work_email_value(scim, user):
    patched = scim.patch(f"/Users/{user['id']}", ops(
        {"op": "Replace", "path": 'emails[type eq "work"].value',
         "value": "updatedEmail@testuser.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"})).json
    assert patched["emails"] == [{"primary": True, "type": "work",
                                  "value": "updatedEmail@testuser.com"}]
    assert patched["name"]["familyName"] == "updatedFamilyName"


def test_default_job_replaces_employee_number_by_urn_path(scim, user):
    patched = scim.patch(f"/Users/{user['id']}", ops(
        {"op": "Replace", "path": f"{ENT}:employeeNumber", "value": "7"})).json
    assert patched[ENT] == {"employeeNumber": "7"}
    assert ENT in patched["schemas"]


def test_manager_as_bare_string_as_object_and_removed(scim, user):
    boss = scim.create_user("boss@contoso.com")
    path = f"{ENT}:manager"
    patched = scim.patch(f"/Users/{user['id']}", ops(
        {"op": "Add", "path": path, "value": boss["id"]})).json
    assert patched[ENT]["manager"] == {"value": boss["id"]}
    patched = scim.patch(f"/Users/{user['id']}", ops(
        {"op": "replace", "path": path, "value": {"value": "other-id"}})).json
    assert patched[ENT]["manager"] == {"value": "other-id"}
    patched = scim.patch(f"/Users/{user['id']}", ops({"op": "Remove", "path": path})).json
    assert ENT not in patched


def test_manager_as_bare_string_on_create_and_replace(scim):
    boss = scim.create_user("boss2@contoso.com")
    user = scim.post("/Users", {"userName": "u@contoso.com",
                                ENT: {"manager": boss["id"]}}).json
    assert user[ENT]["manager"] == {"value": boss["id"]}
    put = scim.put(f"/Users/{user['id']}", {"userName": "u@contoso.com",
                                            ENT: {"manager": "other"}}).json
    assert put[ENT]["manager"] == {"value": "other"}


def test_validator_clears_the_manager_with_an_empty_value(scim, user):
    path = f"{ENT}:manager"
    scim.patch(f"/Users/{user['id']}", ops({"op": "add", "path": path,
                                            "value": {"value": "m-1"}}))
    scim.patch(f"/Users/{user['id']}", ops({"op": "replace", "path": path,
                                            "value": {"value": ""}}))
    assert ENT not in scim.get(f"/Users/{user['id']}").json


def test_validator_roles_primary_as_string(scim):
    user = scim.post("/Users", {"schemas": [scimlite.USER_URN], "userName": "v@x.com",
                                "roles": [{"primary": "True", "display": "D",
                                           "value": "V", "type": "T"}]}).json
    assert user["roles"][0]["primary"] is True


def test_group_create_with_microsoft_schema_uri(scim):
    group = scim.post("/Groups", {
        "schemas": [scimlite.GROUP_URN, MS_GROUP],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName", "meta": {"resourceType": "Group"}}).json
    assert group["members"] == [] and group["schemas"] == [scimlite.GROUP_URN]


def test_members_with_null_ref(scim, user):
    group = scim.create_group("G")
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": user["id"]}]})).json
    assert patched["members"][0]["value"] == user["id"]


def test_remove_with_value_list_removes_only_those(scim, user):
    """Default job: Remove + path members + value: a literal RFC server would
    empty the group (MicrosoftDocs/azure-docs#30826); scimlite must not."""
    other = scim.create_user("other@contoso.com")
    group = scim.create_group("G", members=[{"value": user["id"]}, {"value": other["id"]}])
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": user["id"]}]})).json
    assert [m["value"] for m in patched["members"]] == [other["id"]]


def test_flagged_remove_by_value_filter(scim, user):
    group = scim.create_group("G", members=[{"value": user["id"]}])
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "remove", "path": f'members[value eq "{user["id"]}"]'})).json
    assert patched["members"] == []


def test_several_memberships_in_one_patch(scim):
    """Gallery checklist: 'Support updating multiple group memberships with a
    single PATCH'."""
    users = [scim.create_user(f"u{i}@contoso.com") for i in range(3)]
    group = scim.create_group("G")
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "Add", "path": "members", "value": [{"value": u["id"]} for u in users]})).json
    assert len(patched["members"]) == 3


def test_validator_group_add_and_remove_of_one_member_in_one_patch(scim, user):
    group = scim.create_group("G")
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]},
        {"op": "remove", "path": f'members[value eq "{user["id"]}"]'})).json
    assert patched["members"] == []
    assert patched["meta"]["version"] == group["meta"]["version"]


def test_validator_userName_update_without_path(scim, user):
    patched = scim.patch(f"/Users/{user['id']}", ops(
        {"op": "replace", "value": {"userName": "renamed@contoso.com"}})).json
    assert patched["userName"] == "renamed@contoso.com"


def test_validator_group_replace_attributes_without_path(scim):
    group = scim.create_group("G", externalId="old")
    patched = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "replace", "value": {"externalId": "new"}},
        {"op": "replace", "value": {"displayName": "Renamed"}})).json
    assert patched["externalId"] == "new" and patched["displayName"] == "Renamed"


def test_validator_filter_group_by_display_name_in_other_case(scim):
    group = scim.create_group("QWERTYUIOPAS")
    found = scim.get("/Groups", filter='displayName eq "qwertyuiopas"',
                     excludedAttributes="members").json
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
