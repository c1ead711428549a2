"""The one place every change passes: events recorded in the change's own
transaction, with the resource id, the API key's name and what changed."""
import scimlite

P = scimlite.PATCH_URN


def ops(*operations):
    return {"schemas": [P], "Operations": list(operations)}


def test_each_kind_of_change_records_its_event(app, scim):
    user = scim.create_user("ev", title="A")
    scim.patch(f"/Users/{user['id']}", ops({"op": "replace", "path": "title", "value": "B"}))
    scim.patch(f"/Users/{user['id']}", ops({"op": "replace", "path": "active", "value": False}))
    scim.patch(f"/Users/{user['id']}", ops({"op": "replace", "path": "active", "value": True}))
    group = scim.create_group("G")
    scim.patch(f"/Groups/{group['id']}", ops({"op": "replace", "path": "displayName",
                                              "value": "G2"}))
    scim.patch(f"/Groups/{group['id']}", ops({"op": "add", "path": "members",
                                              "value": [{"value": user["id"]}]}))
    scim.delete(f"/Groups/{group['id']}")
    scim.delete(f"/Users/{user['id']}")
    events = app.scimlite.events()
    assert [(e["type"], e["resource_id"]) for e in events] == [
        ("user.created", user["id"]), ("user.updated", user["id"]),
        ("user.deactivated", user["id"]), ("user.reactivated", user["id"]),
        ("group.created", group["id"]), ("group.updated", group["id"]),
        ("group.members_changed", group["id"]), ("group.deleted", group["id"]),
        ("user.deleted", user["id"])]
    assert {e["actor"] for e in events} == {"tests"}
    assert events[1]["detail"] == {"attributes": ["title"]}
    assert events[6]["detail"] == {"added": [user["id"]], "removed": []}
    assert set(scimlite.EVENT_TYPES) == {e["type"] for e in events}


def test_event_details_never_hold_values(app, scim):
    user = scim.create_user("quiet", password="pa55word-secret", title="Secret Title")
    scim.put(f"/Users/{user['id']}", {"userName": "quiet", "password": "another-secret"})
    text = repr(app.scimlite.events())
    assert "secret" not in text.lower() and "Secret Title" not in text
    assert "password" in app.scimlite.events()[-1]["detail"]["attributes"]


def test_a_deactivating_put_with_other_changes_records_both(app, scim):
    user = scim.create_user("both", title="A")
    scim.put(f"/Users/{user['id']}", {"userName": "both", "title": "B", "active": False})
    assert [e["type"] for e in app.scimlite.events()][-2:] == ["user.deactivated",
                                                               "user.updated"]


def test_no_event_without_a_change(app, scim):
    user = scim.create_user("still")
    before = app.scimlite.events()
    scim.put(f"/Users/{user['id']}", scim.get(f"/Users/{user['id']}").json)
    scim.patch(f"/Users/{user['id']}", ops({"op": "remove", "path": "title"}))
    assert app.scimlite.events() == before
