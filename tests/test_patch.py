"""PATCH (RFC 7644 §3.5.2): add, replace, remove; paths with sub-attributes,
URNs and value filters; mutability; atomicity; no-op PATCHes write nothing."""
import json

import pytest

import scimlite
from conftest import assert_scim_error, load_sample

P = scimlite.PATCH_URN
ENT = scimlite.ENTERPRISE_URN
RFC_USER = "2819c223-7f76-453a-919d-413861904646"
RFC_USER2 = "902c246b-6245-4190-8e05-00816be7344a"


def ops(*operations):
    return {"schemas": [P], "Operations": list(operations)}


def sample_with_ids(name, **ids):
    """An RFC sample with its example ids swapped for real ones."""
    text = json.dumps(load_sample(name))
    for example, real in ids.items():
        text = text.replace(example, real)
    return json.loads(text)


@pytest.fixture
def bjensen(scim):
    return scim.post("/Users", load_sample("rfc7643-8.3-enterprise-user.json")).json


def patch_user(scim, user, *operations, status=200):
    return scim.patch(f"/Users/{user['id']}", ops(*operations), status=status)


# --- the RFC's own examples ---------------------------------------------------------

def test_rfc_3_5_2_1_add_member(scim):
    user = scim.create_user("babs")
    group = scim.create_group()
    body = sample_with_ids("rfc7644-3.5.2.1-add-member.json", **{RFC_USER: user["id"]})
    patched = scim.patch(f"/Groups/{group['id']}", body).json
    assert [m["value"] for m in patched["members"]] == [user["id"]]
    assert patched["members"][0]["display"] == "babs"     # ours, not the client's


def test_rfc_3_5_2_1_pathless_add_merges_a_multi_valued_attribute(scim, bjensen):
    patched = scim.patch(f"/Users/{bjensen['id']}",
                         load_sample("rfc7644-3.5.2.1-add-pathless.json")).json
    assert patched["nickName"] == "Babs"
    assert patched["emails"] == bjensen["emails"]     # babs@jensen.org was there already
    fresh = scim.create_user("fresh", emails=[{"value": "a@example.com", "type": "work"}])
    patched = scim.patch(f"/Users/{fresh['id']}",
                         load_sample("rfc7644-3.5.2.1-add-pathless.json")).json
    assert [e["value"] for e in patched["emails"]] == ["a@example.com", "babs@jensen.org"]


def test_rfc_3_5_2_2_remove_one_member_and_all_members(scim):
    a, b = scim.create_user("a"), scim.create_user("b")
    group = scim.create_group(members=[{"value": a["id"]}, {"value": b["id"]}])
    body = sample_with_ids("rfc7644-3.5.2.2-remove-member.json", **{RFC_USER: a["id"]})
    patched = scim.patch(f"/Groups/{group['id']}", body).json
    assert [m["value"] for m in patched["members"]] == [b["id"]]
    patched = scim.patch(f"/Groups/{group['id']}",
                         load_sample("rfc7644-3.5.2.2-remove-all-members.json")).json
    assert patched["members"] == []


def test_rfc_3_5_2_2_remove_with_a_complex_filter(scim):
    user = scim.create_user("f", emails=[{"value": "w@example.com", "type": "work"},
                                         {"value": "w@other.org", "type": "work"},
                                         {"value": "h@example.com", "type": "home"}])
    patched = scim.patch(f"/Users/{user['id']}",
                         load_sample("rfc7644-3.5.2.2-remove-emails-filter.json")).json
    assert [e["value"] for e in patched["emails"]] == ["w@other.org", "h@example.com"]


@pytest.mark.parametrize("name", ["rfc7644-3.5.2.2-remove-then-add-members.json",
                                  "rfc7644-3.5.2.3-replace-members.json"])
def test_rfc_replace_all_members(scim, name):
    old, babs, james = scim.create_user("old"), scim.create_user("babs"), scim.create_user("j")
    group = scim.create_group(members=[{"value": old["id"]}, {"value": babs["id"]}])
    body = sample_with_ids(name, **{RFC_USER: babs["id"], RFC_USER2: james["id"]})
    patched = scim.patch(f"/Groups/{group['id']}", body).json
    assert sorted(m["value"] for m in patched["members"]) == sorted([babs["id"], james["id"]])


def test_rfc_3_5_2_3_replace_a_filtered_element_and_its_sub_attribute(scim, bjensen):
    patched = scim.patch(f"/Users/{bjensen['id']}",
                         load_sample("rfc7644-3.5.2.3-replace-work-address.json")).json
    work = [a for a in patched["addresses"] if a["type"] == "work"]
    assert work == [load_sample("rfc7644-3.5.2.3-replace-work-address.json")[
        "Operations"][0]["value"]]
    assert len(patched["addresses"]) == 2
    patched = scim.patch(f"/Users/{bjensen['id']}",
                         load_sample("rfc7644-3.5.2.3-replace-street.json")).json
    work = [a for a in patched["addresses"] if a["type"] == "work"][0]
    assert work["streetAddress"] == "1010 Broadway Ave" and work["locality"] == "Hollywood"


def test_rfc_3_5_2_3_pathless_replace(scim, bjensen):
    patched = scim.patch(f"/Users/{bjensen['id']}",
                         load_sample("rfc7644-3.5.2.3-replace-pathless.json")).json
    assert patched["nickName"] == "Babs"
    assert [e["value"] for e in patched["emails"]] == ["bjensen@example.com",
                                                       "babs@jensen.org"]


# --- paths ------------------------------------------------------------------------------

def test_sub_attribute_and_urn_paths(scim, bjensen):
    patched = patch_user(scim, bjensen,
                         {"op": "replace", "path": "name.givenName", "value": "Barb"},
                         {"op": "replace", "path": f"{ENT}:employeeNumber", "value": "42"},
                         {"op": "add", "path": f"{ENT}:manager", "value": {"value": "m1"}},
                         {"op": "replace", "path": f"{scimlite.USER_URN}:title",
                          "value": "Lead"}).json
    assert patched["name"]["givenName"] == "Barb"
    assert patched["name"]["familyName"] == "Jensen"
    assert patched[ENT]["employeeNumber"] == "42"
    assert patched[ENT]["manager"] == {"value": "m1", "$ref": bjensen[ENT]["manager"]["$ref"]}
    assert patched["title"] == "Lead"


def test_add_to_a_multi_valued_attribute_merges_and_skips_duplicates(scim):
    user = scim.create_user("m", phoneNumbers=[{"value": "1", "type": "work"}])
    patched = patch_user(scim, user, {"op": "add", "path": "phoneNumbers", "value": [
        {"value": "1", "type": "work"}, {"value": "2", "type": "mobile"}]}).json
    assert [p["value"] for p in patched["phoneNumbers"]] == ["1", "2"]


def test_primary_stays_unique(scim):
    user = scim.create_user("p", emails=[{"value": "a@x", "type": "work", "primary": True}])
    patched = patch_user(scim, user, {"op": "add", "path": "emails",
                                      "value": [{"value": "b@x", "primary": True}]}).json
    assert [e.get("primary") for e in patched["emails"]] == [False, True]
    patched = patch_user(scim, user, {"op": "replace", "path": 'emails[value eq "a@x"].primary',
                                      "value": True}).json
    assert [e.get("primary") for e in patched["emails"]] == [True, False]


def test_replace_a_multi_valued_attribute_without_filter_replaces_it(scim):
    user = scim.create_user("r", emails=[{"value": "a@x"}, {"value": "b@x"}])
    patched = patch_user(scim, user, {"op": "replace", "path": "emails",
                                      "value": [{"value": "c@x"}]}).json
    assert patched["emails"] == [{"value": "c@x"}]


def test_remove_attribute_sub_attribute_and_extension_value(scim, bjensen):
    patched = patch_user(scim, bjensen, {"op": "remove", "path": "nickName"},
                         {"op": "remove", "path": "name.middleName"},
                         {"op": "remove", "path": f"{ENT}:manager"},
                         {"op": "remove", "path": "emails"}).json
    assert "nickName" not in patched and "middleName" not in patched["name"]
    assert "manager" not in patched[ENT] and "emails" not in patched
    assert scim.get(f"/Users/{bjensen['id']}").json == patched


def test_entra_remove_by_value_keeps_binary_values_differing_in_case(scim):
    """A binary is case exact (RFC 7643 §2.3.6): "QUJD" and "qujd" are two
    certificates, and removing one by value (Entra's remove with a value
    list) leaves the other."""
    user = scim.create_user("certs", x509Certificates=[{"value": "QUJD"}, {"value": "qujd"}],
                            emails=[{"value": "Ann@X.example"}])
    patched = patch_user(scim, user, {"op": "remove", "path": "x509Certificates",
                                      "value": [{"value": "QUJD"}]}).json
    assert patched["x509Certificates"] == [{"value": "qujd"}]
    patched = patch_user(scim, user, {"op": "remove", "path": "emails",     # not case exact
                                      "value": [{"value": "ann@x.EXAMPLE"}]}).json
    assert "emails" not in patched


def test_remove_of_something_absent_is_a_harmless_no_op(scim):
    user = scim.create_user("n")
    patched = patch_user(scim, user, {"op": "remove", "path": "title"}).json
    assert patched["meta"] == user["meta"]


def test_add_on_a_filter_for_an_absent_element_creates_it_once(scim):
    """Microsoft's SCIM Validator: adds on emails[type eq "work"].value,
    addresses[type eq "work"].x and phoneNumbers[type eq "fax"].value to a
    user that has none create those elements, and six address adds build
    one address (IDP-NOTES §6; SCIM-SDK#416, #680)."""
    user = scim.create_user("validator@example.com")
    patched = patch_user(
        scim, user,
        {"op": "add", "path": 'emails[type eq "work"].value', "value": "v@example.com"},
        {"op": "add", "path": 'emails[type eq "work"].primary', "value": True},
        {"op": "add", "path": 'addresses[type eq "work"].streetAddress', "value": "3008 Jarret Rue"},
        {"op": "add", "path": 'addresses[type eq "work"].locality', "value": "KQZVHTRWAOPL"},
        {"op": "add", "path": 'addresses[type eq "work"].region', "value": "XWUQOZPLHMSA"},
        {"op": "add", "path": 'addresses[type eq "work"].postalCode', "value": "pr01 7fy"},
        {"op": "add", "path": 'addresses[type eq "work"].country', "value": "Tuvalu"},
        {"op": "add", "path": 'addresses[type eq "work"].formatted', "value": "FORMATTEDXX"},
        {"op": "add", "path": 'phoneNumbers[type eq "fax"].value', "value": "45-955-7623"},
        {"op": "add", "path": 'roles[primary eq "True"].value', "value": "admin"},
    ).json
    fetched = scim.get(f"/Users/{user['id']}").json
    assert fetched == patched
    assert fetched["emails"] == [{"type": "work", "value": "v@example.com", "primary": True}]
    assert len(fetched["addresses"]) == 1
    assert fetched["addresses"][0] == {
        "type": "work", "streetAddress": "3008 Jarret Rue", "locality": "KQZVHTRWAOPL",
        "region": "XWUQOZPLHMSA", "postalCode": "pr01 7fy", "country": "Tuvalu",
        "formatted": "FORMATTEDXX"}
    assert fetched["phoneNumbers"] == [{"type": "fax", "value": "45-955-7623"}]
    assert fetched["roles"] == [{"primary": True, "value": "admin"}]


def test_replace_on_a_filter_that_matches_nothing_is_no_target(scim):
    user = scim.create_user("nt")
    resp = patch_user(scim, user, {"op": "replace", "path": 'emails[type eq "work"].value',
                                   "value": "x@x"}, status=400)
    assert_scim_error(resp, 400, "noTarget")


# --- errors and mutability ---------------------------------------------------------------

@pytest.mark.parametrize("operation, scim_type", [
    ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
    ({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}, "mutability"),
    ({"op": "add", "path": "groups[value eq \"x\"].display", "value": "x"}, "invalidPath"),
    ({"op": "replace", "path": f"{ENT}:manager.displayName", "value": "x"}, "mutability"),
    ({"op": "remove"}, "noTarget"),
    ({"op": "replace", "path": "nope", "value": 1}, "invalidPath"),
    ({"op": "replace", "path": "name.nope", "value": 1}, "invalidPath"),
    ({"op": "replace", "path": "emails[type eq]", "value": 1}, "invalidPath"),
    ({"op": "replace", "path": "title[type eq \"x\"]", "value": 1}, "invalidPath"),
    ({"op": "replace", "path": "urn:nope:title", "value": 1}, "invalidPath"),
    ({"op": "replace", "path": "active", "value": "maybe"}, "invalidValue"),
    ({"op": "replace", "path": "userName", "value": None}, "invalidValue"),
    ({"op": "remove", "path": "userName"}, "invalidValue"),
    ({"op": "add", "path": "title"}, "invalidValue"),
    ({"op": "replace", "value": "not an object"}, "invalidValue"),
    ({"op": "move", "path": "title", "value": 1}, "invalidSyntax"),
    ({"op": 7, "path": "title", "value": 1}, "invalidSyntax"),
    ({"op": "add", "path": "emails", "value": [{"value": "a", "primary": True},
                                              {"value": "b", "primary": True}]},
     "invalidValue"),
])
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_bad_operations(scim, operation, scim_type):
    user = scim.create_user("bad")
    resp = patch_user(scim, user, operation, status=400)
    assert_scim_error(resp, 400, scim_type)


@pytest.mark.parametrize("body", [[], {"Operations": "x"}, {"schemas": ["urn:x"],
                                                           "Operations": []},
                                  {"schemas": [P]}, {"schemas": [P], "Operations": [1]}])
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_malformed_patch_requests_are_invalid_syntax(scim, body):
    user = scim.create_user("m")
    resp = scim.patch(f"/Users/{user['id']}", body, status=400)
    assert_scim_error(resp, 400, "invalidSyntax")


def test_patch_unknown_id_is_404(scim):
    resp = scim.patch("/Users/nobody", ops({"op": "remove", "path": "title"}), status=404)
    assert_scim_error(resp, 404)


def test_rename_to_a_taken_username_is_409(scim):
    scim.create_user("taken")
    user = scim.create_user("free")
    resp = patch_user(scim, user, {"op": "replace", "path": "userName", "value": "TAKEN"},
                      status=409)
    assert_scim_error(resp, 409, "uniqueness")


# --- atomicity and no-ops ----------------------------------------------------------------

def test_a_patch_whose_third_operation_fails_changes_nothing(app, scim, bjensen):
    events_before = app.scimlite.events()
    group = scim.create_group("G")
    resp = patch_user(scim, bjensen,
                      {"op": "replace", "path": "title", "value": "Changed"},
                      {"op": "add", "path": "groups", "value": [{"value": group["id"]}]},
                      {"op": "replace", "path": "active", "value": "not-a-boolean"},
                      status=400)
    assert_scim_error(resp, 400, "invalidValue")
    assert scim.get(f"/Users/{bjensen['id']}").json == bjensen
    assert scim.get(f"/Groups/{group['id']}").json["members"] == []
    assert app.scimlite.events() == events_before + app.scimlite.events(type="group.created")


def test_a_group_patch_that_fails_late_adds_no_member(scim):
    user = scim.create_user("u")
    group = scim.create_group("G")
    resp = scim.patch(f"/Groups/{group['id']}", ops(
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]},
        {"op": "add", "path": "members", "value": [{"value": "no-such-id"}]}), status=400)
    assert_scim_error(resp, 400, "invalidValue")
    assert scim.get(f"/Groups/{group['id']}").json == group


def test_a_patch_that_changes_nothing_writes_nothing(app, scim, bjensen):
    before = len(app.scimlite.events())
    patched = patch_user(scim, bjensen,
                         {"op": "replace", "path": "title", "value": bjensen["title"]},
                         {"op": "add", "path": "emails", "value": bjensen["emails"][:1]},
                         {"op": "remove", "path": "nickName"},
                         {"op": "add", "path": "nickName", "value": "Babs"}).json
    assert patched["meta"] == bjensen["meta"]
    assert len(app.scimlite.events()) == before
    empty = scim.patch(f"/Users/{bjensen['id']}", ops()).json
    assert empty["meta"] == bjensen["meta"]


def test_patch_bumps_version_and_last_modified(scim, bjensen):
    patched = patch_user(scim, bjensen, {"op": "replace", "path": "title", "value": "New"})
    assert patched.json["meta"]["version"] == 'W/"2"'
    assert patched.headers["ETag"] == 'W/"2"'
    assert patched.json["meta"]["lastModified"] >= bjensen["meta"]["lastModified"]


def test_password_can_be_set_and_removed_by_patch(app, scim):
    user = scim.create_user("pw")
    model = app.scimlite.models.User
    patch_user(scim, user, {"op": "replace", "path": "password", "value": "n3w-secret"})
    assert model.get(model.id == user["id"]).password_hash.startswith("scrypt$")
    patched = patch_user(scim, user, {"op": "remove", "path": "password"}).json
    assert model.get(model.id == user["id"]).password_hash is None
    assert "password" not in patched


# --- the User.groups quirk (Bruno's docs) ------------------------------------------------

def test_bruno_membership_through_the_user(app, scim):
    """Bruno's SCIM docs PATCH /Users/{id} with
    {"op": "Add", "path": "groups", "value": [{"value": groupId, "display": ...}]}.
    RFC 7643 makes User.groups readOnly; scimlite accepts it as a named quirk."""
    user = scim.create_user("bruno@example.com")
    eng, ops_group = scim.create_group("Engineering"), scim.create_group("Ops")
    patched = patch_user(scim, user, {"op": "Add", "path": "groups", "value": [
        {"value": eng["id"], "display": "Engineering Team"},
        {"value": ops_group["id"]}]}).json
    assert {g["value"] for g in patched["groups"]} == {eng["id"], ops_group["id"]}
    assert [m["value"] for m in scim.get(f"/Groups/{eng['id']}").json["members"]] == [user["id"]]
    assert scim.get(f"/Groups/{eng['id']}").json["meta"]["version"] == 'W/"2"'
    patched = patch_user(scim, user, {"op": "Remove",
                                      "path": f'groups[value eq "{eng["id"]}"]'}).json
    assert [g["value"] for g in patched["groups"]] == [ops_group["id"]]
    patched = patch_user(scim, user, {"op": "replace", "path": "groups",
                                      "value": [{"value": eng["id"]}]}).json
    assert [g["value"] for g in patched["groups"]] == [eng["id"]]
    patched = patch_user(scim, user, {"op": "remove", "path": "groups"}).json
    assert "groups" not in patched
    assert patched["meta"]["version"] == user["meta"]["version"]
    resp = patch_user(scim, user, {"op": "add", "path": "groups",
                                   "value": [{"value": "no-such-group"}]}, status=400)
    assert_scim_error(resp, 400, "invalidValue")


def test_immutable_attribute_can_be_added_once_not_changed():
    """RFC 7643 §7 immutable, through the PATCH engine, on a table that has
    one (the standard schemas have none at the top level)."""
    schema = scimlite.Schema("urn:example:Thing", "Thing", "", (
        scimlite.Attr("serial", mutability="immutable"), scimlite.Attr("label")))
    rt = scimlite.ResourceType("Thing", "/Things", "", schema)
    patch = scimlite.Patch(rt, {})
    patch.apply("add", "serial", "S1")
    assert patch.data == {"serial": "S1"}
    for op, value in (("add", "S2"), ("replace", "S2"), ("remove", None)):
        with pytest.raises(scimlite.SCIMError) as error:
            scimlite.Patch(rt, {"serial": "S1"}).apply(op, "serial", value)
        assert error.value.scim_type == "mutability"


def test_pathless_value_keyed_by_the_core_schema_urn(scim):
    user = scim.create_user("urnkey")
    patched = patch_user(scim, user, {"op": "replace", "value": {
        scimlite.USER_URN: {"title": "T", "name": {"givenName": "G"}}}}).json
    assert patched["title"] == "T" and patched["name"] == {"givenName": "G"}


def test_adding_an_element_again_updates_it_instead_of_duplicating(scim):
    user = scim.create_user("dup", emails=[{"value": "a@x", "type": "work"},
                                           {"value": "b@x", "type": "home", "primary": True}])
    patched = patch_user(scim, user, {"op": "add", "path": "emails", "value": [
        {"value": "A@X", "type": "work", "primary": True}]}).json
    assert patched["emails"] == [{"value": "A@X", "type": "work", "primary": True},
                                 {"value": "b@x", "type": "home", "primary": False}]


def test_a_user_patch_that_fails_in_the_database_undoes_its_membership_change(scim):
    """Atomicity past Python: the membership rows are written, then the
    rename hits the unique index (409); nothing of the PATCH remains."""
    scim.create_user("taken")
    user = scim.create_user("mover")
    group = scim.create_group("Joined")
    resp = patch_user(scim, user,
                      {"op": "add", "path": "groups", "value": [{"value": group["id"]}]},
                      {"op": "replace", "path": "userName", "value": "TAKEN"}, status=409)
    assert_scim_error(resp, 409, "uniqueness")
    assert scim.get(f"/Groups/{group['id']}").json["members"] == []
    assert scim.get(f"/Users/{user['id']}").json == user


def test_entra_style_remove_with_odd_values_is_no_500(scim):
    """Found by fuzzing: a value list whose values are not strings."""
    user = scim.create_user("odd", roles=[{"value": "r"}])
    patched = patch_user(scim, user, {"op": "remove", "path": "roles",
                                      "value": [{}, {"value": [True]}]}).json
    assert patched["roles"] == [{"value": "r"}]


def test_an_empty_value_in_an_extension_changes_nothing(app, scim):
    """Found by fuzzing: it used to leave an empty extension object behind,
    bumping the version with no visible change and no event."""
    user = scim.create_user("empty-ext")
    patched = patch_user(scim, user, {"op": "add", "path": f"{ENT}:department",
                                      "value": {}}).json
    assert patched["meta"]["version"] == user["meta"]["version"]


def test_renaming_a_group_that_contains_itself(scim):
    group = scim.create_group("Selfish")
    scim.patch(f"/Groups/{group['id']}", ops({"op": "add", "path": "members",
                                              "value": [{"value": group["id"]}]}))
    resp = scim.patch(f"/Groups/{group['id']}", ops({"op": "replace", "path": "displayName",
                                                     "value": "Renamed"}))
    fetched = scim.get(f"/Groups/{group['id']}")
    assert resp.json == fetched.json and resp.headers["ETag"] == fetched.headers["ETag"]


# --- an extension's URN alone as the path (scim2-tester, scim2-cli) ---------------

def test_add_with_the_extension_urn_as_path_merges_its_attributes(scim, bjensen):
    patched = patch_user(scim, bjensen, {"op": "add", "path": ENT, "value": {
        "department": "Research", "costCenter": "42"}}).json
    assert patched[ENT]["department"] == "Research" and patched[ENT]["costCenter"] == "42"
    assert patched[ENT]["employeeNumber"] == bjensen[ENT]["employeeNumber"]
    assert scim.get(f"/Users/{bjensen['id']}").json == patched


def test_replace_with_the_extension_urn_as_path_on_a_user_without_it(scim):
    user = scim.create_user("noext")
    patched = patch_user(scim, user, {"op": "replace", "path": ENT.upper(), "value": {
        "employeeNumber": "7", "manager": {"value": user["id"]}}}).json
    assert patched[ENT] == {"employeeNumber": "7", "manager": {"value": user["id"]}}
    assert ENT in patched["schemas"]
    patched = patch_user(scim, user, {"op": "replace", "path": ENT,
                                      "value": {"employeeNumber": "8"}}).json
    assert patched[ENT]["employeeNumber"] == "8" and "manager" in patched[ENT]


def test_remove_with_the_extension_urn_as_path_removes_the_extension(scim, bjensen):
    patched = patch_user(scim, bjensen, {"op": "remove", "path": ENT}).json
    assert ENT not in patched and patched["schemas"] == [scimlite.USER_URN]
    assert patched["userName"] == bjensen["userName"]
    again = patch_user(scim, bjensen, {"op": "remove", "path": ENT}).json   # nothing left
    assert again["meta"]["version"] == patched["meta"]["version"]


@pytest.mark.parametrize("value", ["Research", ["x"], 7])
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_extension_urn_path_needs_an_object(scim, bjensen, value):
    resp = patch_user(scim, bjensen, {"op": "add", "path": ENT, "value": value}, status=400)
    assert_scim_error(resp, 400, "invalidValue")


def test_users_groups_quirk_checks_each_operation_as_it_comes(scim):
    """An unknown group id is refused even when a later operation of the same
    PATCH removes it again (as the groups' own PATCH would refuse it)."""
    user = scim.create_user("each")
    resp = patch_user(scim, user, {"op": "add", "path": "groups", "value": [{"value": "bogus"}]},
                      {"op": "remove", "path": "groups", "value": [{"value": "bogus"}]},
                      status=400)
    assert_scim_error(resp, 400, "invalidValue")
    assert "bogus" in resp.json["detail"]
