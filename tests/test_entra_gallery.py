"""Entra's App Gallery validation, walked test by test (issue 24, item 8).

Microsoft validates a gallery provisioning app with a Logic App:
AzureAD/SCIMReferenceCode, Microsoft.SCIM.LogicAppValidationTemplate/
StandardLogicApp/ (SCIM-Validation-Test-Overview.md, Orchestrator_Workflow.json
and SCIMTests_Workflow.json).  It runs 25 tests; each one below is named as
there, sends what the template sends (or, for the tests that drive Entra
through Microsoft Graph, what Entra's provisioning service then sends to
the app), and checks what the template checks.  All of it through an OAuth
access token, as the gallery requires.  The run passes when no mandatory
test fails and one of Validate_Credentials_Test and
Federated_Identity_Test passes; 4, 9, 21 and 25 are optional."""
import pytest

import scimlite
from conftest import SCIMClient
from test_oauth import GRANT, post_token

USER, GROUP, PATCH = scimlite.USER_URN, scimlite.GROUP_URN, scimlite.PATCH_URN
ENTERPRISE = scimlite.ENTERPRISE_URN


@pytest.fixture
def entra(app):
    """A client made for the gallery, and a SCIM client on its token."""
    state = app.scimlite
    with state.changes.unit():
        client, secret = scimlite.create_oauth_client(state.models, "entra-gallery")
    token = post_token(app, GRANT, basic=(client.client_id, secret), status=200)
    entra = SCIMClient(app, token.json["access_token"])
    entra.client, entra.secret = client, secret
    return entra


def entra_patch(*operations):
    """Entra's PatchOp: capitalised op names, string booleans (its quirks)."""
    return {"schemas": [PATCH], "Operations": [
        {"op": op, "path": path, "value": value} if value is not None else
        {"op": op, "path": path} for op, path, value in operations]}


def find_user(entra, user_name):
    return entra.get("/Users", filter=f'userName eq "{user_name}"').json


def entra_user(entra, name, **extra):
    """What Entra's default user mapping sends on create."""
    return entra.post("/Users", {
        "schemas": [USER, ENTERPRISE], "externalId": name.split("@")[0], "userName": name,
        "active": True, "displayName": name.split("@")[0].title(),
        "emails": [{"primary": True, "type": "work", "value": name}],
        "name": {"givenName": "Test", "familyName": "User"}, **extra}).json


# --- 1-11: lifecycle, driven through Entra ---------------------------------------------

def test_01_Create_User_Test(entra):
    """Entra looks the user up by userName, finds none, creates it; the
    template then finds it with the same filter."""
    assert find_user(entra, "ana@contoso.com")["totalResults"] == 0
    entra_user(entra, "ana@contoso.com")
    assert find_user(entra, "ana@contoso.com")["totalResults"] == 1


def test_02_Update_User_Test(entra):
    user = entra_user(entra, "ana@contoso.com")
    entra.patch(f"/Users/{user['id']}", entra_patch(
        ("Replace", "displayName", "Ana Updated"), ("Replace", "title", "Engineer")))
    got = entra.get(f"/Users/{user['id']}").json
    assert (got["displayName"], got["title"]) == ("Ana Updated", "Engineer")


def test_03_Disable_User_Test(entra):
    user = entra_user(entra, "ana@contoso.com")
    entra.patch(f"/Users/{user['id']}", entra_patch(("Replace", "active", "False")))
    assert entra.get(f"/Users/{user['id']}").json["active"] is False


def test_04_Delete_User_Test(entra):
    """Optional.  After the delete: 404, or a filter with no results."""
    user = entra_user(entra, "ana@contoso.com")
    entra.delete(f"/Users/{user['id']}")
    entra.get(f"/Users/{user['id']}", status=404)
    assert find_user(entra, "ana@contoso.com")["totalResults"] == 0


def test_05_User_Update_Manager_Test(entra):
    """Set, change and remove the manager (enterprise extension)."""
    user, boss, other = (entra_user(entra, f"{n}@contoso.com") for n in ("ana", "bo", "cy"))
    path = f"{ENTERPRISE}:manager"
    for op, value, expected in (("Add", boss["id"], boss["id"]),
                                ("Replace", other["id"], other["id"]),
                                ("Remove", None, None)):
        entra.patch(f"/Users/{user['id']}", entra_patch((op, path, value)))
        manager = entra.get(f"/Users/{user['id']}").json.get(ENTERPRISE, {}).get("manager")
        assert (manager or {}).get("value") == expected


def test_06_Restore_User_Test(entra):
    """Unassigned, the user is deleted; assigned again, created again."""
    user = entra_user(entra, "ana@contoso.com")
    entra.delete(f"/Users/{user['id']}")
    assert find_user(entra, "ana@contoso.com")["totalResults"] == 0
    again = entra_user(entra, "ana@contoso.com")
    assert again["id"] != user["id"] and find_user(entra, "ana@contoso.com")["totalResults"] == 1


def test_07_Create_Group_Test(entra):
    """/Schemas must have the Group schema, then the group is created and
    found by displayName."""
    ids = {s["id"] for s in entra.get("/Schemas").json["Resources"]}
    assert GROUP in ids
    entra.post("/Groups", {"schemas": [GROUP], "displayName": "Sales", "externalId": "g1"})
    assert entra.get("/Groups", filter='displayName eq "Sales"').json["totalResults"] == 1


def test_08_Update_Group_Test(entra):
    group = entra.create_group("Sales")
    entra.patch(f"/Groups/{group['id']}", entra_patch(("Replace", "displayName", "Sales EU")))
    assert entra.get(f"/Groups/{group['id']}").json["displayName"] == "Sales EU"


def test_09_Delete_Group_Test(entra):
    """Optional."""
    group = entra.create_group("Sales")
    entra.delete(f"/Groups/{group['id']}")
    assert entra.get("/Groups", filter='displayName eq "Sales"').json["totalResults"] == 0


def test_10_Group_Update_Add_Member_Test(entra):
    user, group = entra_user(entra, "ana@contoso.com"), entra.create_group("Sales")
    entra.patch(f"/Groups/{group['id']}", entra_patch(("Add", "members", [{"value": user["id"]}])))
    assert [m["value"] for m in entra.get(f"/Groups/{group['id']}").json["members"]] == \
        [user["id"]]


def test_11_Group_Update_Remove_Member_Test(entra):
    user = entra_user(entra, "ana@contoso.com")
    group = entra.create_group("Sales", members=[{"value": user["id"]}])
    entra.patch(f"/Groups/{group['id']}", entra_patch(
        ("Remove", "members", [{"value": user["id"]}])))
    assert entra.get(f"/Groups/{group['id']}").json.get("members", []) == []


# --- 12-22: the template's own SCIM requests -------------------------------------------

ENTRA_DEFAULT_USER_TARGETS = (
    "userName", "active", "displayName", 'emails[type eq "work"].value', "externalId",
    "name.givenName", "name.familyName", "name.formatted", "title", "preferredLanguage",
    'addresses[type eq "work"].streetAddress', 'addresses[type eq "work"].locality',
    'addresses[type eq "work"].region', 'addresses[type eq "work"].postalCode',
    'addresses[type eq "work"].country', 'phoneNumbers[type eq "work"].value',
    'phoneNumbers[type eq "mobile"].value', 'phoneNumbers[type eq "fax"].value',
    f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager")
ENTRA_DEFAULT_GROUP_TARGETS = ("displayName", "externalId", "members")


def flattened(schemas):
    """Every attribute path /Schemas lists, as the template flattens them
    (a filter on a multi-valued attribute matches its sub-attributes)."""
    paths = set()
    for schema in schemas:
        prefix = "" if schema["id"] in (USER, GROUP) else schema["id"] + ":"
        for attr in schema["attributes"]:
            paths.add((prefix + attr["name"]).lower())
            for sub in attr.get("subAttributes", ()):
                paths.add(f"{prefix}{attr['name']}.{sub['name']}".lower())
    return paths


def test_12_Schema_Discoverability_Test(entra):
    """200, a non-empty Resources, and every attribute Entra's default
    mappings send found in it (case-insensitive; a filter in brackets
    stands for its attribute)."""
    answer = entra.get("/Schemas").json
    assert answer["Resources"]
    paths = flattened(answer["Resources"])
    for target in ENTRA_DEFAULT_USER_TARGETS + ENTRA_DEFAULT_GROUP_TARGETS:
        plain = target.lower()
        while "[" in plain:
            plain = plain[:plain.index("[")] + plain[plain.index("]") + 1:]
        assert plain in paths, target


def test_13_SCIM_Null_Update_Test(entra):
    """Optional attributes replaced by "" and then by null read back empty."""
    optional = ("displayName", "title", "preferredLanguage", "nickName")
    for empty in ("", None):
        user = entra_user(entra, f"null{empty is None}@contoso.com", title="T",
                          preferredLanguage="en", nickName="N")
        entra.patch(f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": name, "value": empty} for name in optional]})
        got = entra.get(f"/Users/{user['id']}").json
        assert all(got.get(name) in (None, "") for name in optional), got
        entra.delete(f"/Users/{user['id']}")


def test_14_SCIM_User_Create_Test(entra):
    answer = entra.post("/Users", {"schemas": [USER], "userName": "gen-1@contoso.com",
                                   "externalId": "gen-1"})
    assert answer.status_int in (200, 201) and answer.json["id"]
    assert answer.json["userName"] == "gen-1@contoso.com"
    entra.delete(f"/Users/{answer.json['id']}")


def test_15_SCIM_Group_Create_Test(entra):
    answer = entra.post("/Groups", {"schemas": [GROUP], "displayName": "gen-group"})
    assert answer.status_int in (200, 201) and answer.json["id"]
    assert answer.json["displayName"] == "gen-group"


def test_16_SCIM_User_Update_Test(entra):
    """Single-valued read-write strings and booleans replaced one by one,
    then read back with no mismatch."""
    user = entra_user(entra, "upd@contoso.com")
    values = {"displayName": "D2", "title": "T2", "nickName": "N2", "preferredLanguage": "fr",
              "locale": "fr-FR", "timezone": "Europe/Paris", "profileUrl": "https://x.example",
              "userType": "Employee", "externalId": "upd-2"}
    for name, value in values.items():
        answer = entra.patch(f"/Users/{user['id']}", entra_patch(("replace", name, value)))
        assert answer.status_int in (200, 204)
    got = entra.get(f"/Users/{user['id']}").json
    assert {name: got.get(name) for name in values} == values


def test_17_SCIM_Group_Update_Test(entra):
    group = entra.create_group("before")
    answer = entra.patch(f"/Groups/{group['id']}", entra_patch(
        ("replace", "displayName", "after"), ("replace", "externalId", "g-after")))
    assert answer.status_int in (200, 204)
    got = entra.get(f"/Groups/{group['id']}").json
    assert (got["displayName"], got["externalId"]) == ("after", "g-after")


def test_18_Validate_Credentials_Test(app, entra):
    """The token endpoint with client_id and secret: 2xx, an access_token,
    expires_in between 60 and 360 minutes; then a page of one user with it."""
    answer = post_token(app, {**GRANT, "client_id": entra.client.client_id,
                              "client_secret": entra.secret}, status=200).json
    assert answer["access_token"] and 3600 <= answer["expires_in"] <= 21600
    SCIMClient(app, answer["access_token"]).get("/Users", startIndex="1", count="1")


def test_19_Federated_Identity_Test(app):
    """The generic form POST: grant_type=client_credentials with a
    client_assertion (jwt-bearer) that Entra signed, here with a key set on
    loopback (test_oauth.py has the refusals).  The template's Google STS
    variants do not apply: scimlite is the token endpoint itself.  One of
    18 and 19 must pass; both do."""
    from test_oauth import KeyServer, AUDIENCE, ISSUER, SUBJECT
    keys = KeyServer()
    try:
        state = app.scimlite
        with state.changes.unit():
            client = scimlite.create_federated_client(state.models, "wif", ISSUER, SUBJECT,
                                                      AUDIENCE, keys.url)
        answer = post_token(app, {**GRANT, "client_id": client.client_id, "scope": "scim",
                                  "client_assertion_type": scimlite.JWT_BEARER,
                                  "client_assertion": keys.sign()}, status=200).json
        assert answer["access_token"] and 3600 <= answer["expires_in"] <= 21600
        SCIMClient(app, answer["access_token"]).get("/Users", startIndex="1", count="1")
    finally:
        keys.stop()


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_20_21_SCIM_User_and_Group_Pagination_Test(entra, kind):
    """At least 11 resources, paged by startIndex and count=5: at least two
    pages, each 200 with its startIndex echoed (21, for groups, is optional)."""
    for i in range(11):
        if kind == "Users":
            entra.create_user(f"page{i:02d}@contoso.com")
        else:
            entra.create_group(f"page{i:02d}")
    start, pages = 1, 0
    while True:
        page = entra.get(f"/{kind}", startIndex=str(start), count="5").json
        assert page["startIndex"] == start and page["itemsPerPage"] == len(page["Resources"])
        pages += 1
        if not page["Resources"] or start + len(page["Resources"]) > page["totalResults"]:
            break
        start += len(page["Resources"])
    assert pages >= 2 and page["totalResults"] == 11


def test_22_SCIM_Update_Manager_Test(entra):
    """POST three users; "Add" the manager by id on the extension's path,
    replace it with another, replace it with "" (removed)."""
    user, first, second = (entra_user(entra, f"m{i}@contoso.com") for i in range(3))
    path = f"{ENTERPRISE}:manager"
    for op, value, expected in (("Add", first["id"], first["id"]),
                                ("replace", second["id"], second["id"]),
                                ("replace", "", None)):
        answer = entra.patch(f"/Users/{user['id']}", entra_patch((op, path, value)))
        assert answer.status_int in (200, 204)
        manager = entra.get(f"/Users/{user['id']}").json.get(ENTERPRISE, {}).get("manager")
        assert ((manager or {}).get("value") or None) == expected


# --- 23-25: provision on demand and group restore ----------------------------------------

def test_23_POD_User_Test(entra):
    """Provision on demand makes Entra send, at once, what a cycle sends:
    the lookup, then the create (as 1)."""
    assert find_user(entra, "pod@contoso.com")["totalResults"] == 0
    entra_user(entra, "pod@contoso.com")
    assert find_user(entra, "pod@contoso.com")["totalResults"] == 1


def test_24_POD_Group_Test(entra):
    assert entra.get("/Groups", filter='displayName eq "POD"').json["totalResults"] == 0
    entra.post("/Groups", {"schemas": [GROUP], "displayName": "POD", "externalId": "pod"})
    assert entra.get("/Groups", filter='displayName eq "POD"').json["totalResults"] == 1


def test_25_Restore_Group_Test(entra):
    """Optional: unassigned, the group is deleted; assigned again, created."""
    group = entra.create_group("Restored")
    entra.delete(f"/Groups/{group['id']}")
    assert entra.get("/Groups", filter='displayName eq "Restored"').json["totalResults"] == 0
    entra.create_group("Restored")
    assert entra.get("/Groups", filter='displayName eq "Restored"').json["totalResults"] == 1
