"""Fuzzing every SCIM route (hypothesis): random and mutated JSON, wrong
types for every attribute in the schema table, PATCH paths and operations,
filters and query parameters, odd content types and bytes.  Never a 500,
every rejection a SCIM error, and a rejected request changes nothing (the
stored rows are compared before and after).

CI runs a short budget; SCIMLITE_FUZZ_EXAMPLES=5000 runs a long one."""
import hashlib
import uuid
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scimlite
from conftest import TEST_LICENSE_SECRET, SCIMClient, empty_postgres

EXAMPLES = int(os.environ.get("SCIMLITE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) |
           st.floats(allow_nan=False) | st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=12), inner, max_size=4),
                           max_leaves=12)
USER_NAMES = [a.name for a in scimlite.USER_TYPE.schema.attributes]
GROUP_NAMES = [a.name for a in scimlite.GROUP_TYPE.schema.attributes]
paths = st.sampled_from(USER_NAMES + GROUP_NAMES + [
    "name.givenName", 'emails[type eq "work"].value', "members", 'members[value eq "x"]',
    f"{scimlite.ENTERPRISE_URN}:manager.value", "groups", "meta.created", "id",
    "emails[", "a..b", ""]) | st.text(max_size=30)


@pytest.fixture(scope="module")
def target(backend, request):
    database = {"db": ":memory:"}
    if backend == "postgresql":
        database = {"db": request.getfixturevalue("postgres_url"),
                    "license_secret": TEST_LICENSE_SECRET}
        empty_postgres(database["db"])
    app = scimlite.create_app({**database, "mailer": "memory"})
    scim = SCIMClient(app, app.scimlite.mint_key("fuzz"))
    user = scim.create_user("fuzz@example.com", emails=[{"value": "fuzz@example.com"}])
    group = scim.create_group("Fuzzers", members=[{"value": user["id"]}])
    yield app, scim, user["id"], group["id"]
    app.scimlite.close()


def stored(app):
    """A digest of every row a SCIM request may change.  Of the outbox, only
    which messages exist: the sender moves their state on its own time."""
    m, digest = app.scimlite.models, hashlib.sha256()
    queries = [model.select().order_by(*model._meta.get_primary_keys()) for model in
               (m.User, m.UserEmail, m.Group, m.Membership, m.License, m.Event)]
    queries.append(m.OutboxMessage.select(m.OutboxMessage.pk, m.OutboxMessage.dedupe)
                   .order_by(m.OutboxMessage.pk))
    with app.scimlite.lock:
        for query in queries:
            for row in query.tuples():
                digest.update(repr(row).encode())
    return digest.hexdigest()


def check(app, send):
    """Send; no 500; a rejection is a SCIM error and changed nothing."""
    before = stored(app)
    response = send()
    assert response.status_int != 500, response.text
    assert response.status_int < 500 or response.status_int in (501, 507), response.text
    if response.status_int >= 400:
        assert response.content_type == "application/scim+json", response.text
        body = response.json
        assert body["schemas"] == [scimlite.ERROR_URN] and body["status"] == str(
            response.status_int)
        assert stored(app) == before, response.text
    return response


def mutate(body, data):
    """A valid body with one attribute's value replaced by random JSON."""
    name = data.draw(st.sampled_from(sorted(body) + USER_NAMES))
    return {**body, name: data.draw(json_values)}


@FUZZ
@given(data=st.data())
def test_creates_and_replaces_with_wrong_types_never_fail_badly(target, data):
    app, scim, user_id, group_id = target
    kind, names = data.draw(st.sampled_from([("Users", USER_NAMES), ("Groups", GROUP_NAMES)]))
    base = ({"schemas": [scimlite.USER_URN], "userName": data.draw(st.text(max_size=12))}
            if kind == "Users" else
            {"schemas": [scimlite.GROUP_URN], "displayName": data.draw(st.text(max_size=12))})
    body = data.draw(st.one_of(st.just(mutate(base, data)), json_values))
    target_id = user_id if kind == "Users" else group_id
    method, path = data.draw(st.sampled_from([("POST", f"/{kind}"),
                                              ("PUT", f"/{kind}/{target_id}")]))
    check(app, lambda: scim.send(method, path, body, "*"))


@FUZZ
@given(data=st.data())
def test_patches_with_random_paths_ops_and_values_never_fail_badly(target, data):
    app, scim, user_id, group_id = target
    operations = data.draw(st.lists(st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "remove", "replace", "Replace", "move", ""]) | scalars},
        optional={"path": paths | scalars, "value": json_values}), max_size=4))
    body = data.draw(st.sampled_from([
        {"schemas": [scimlite.PATCH_URN], "Operations": operations},
        {"Operations": operations}, operations]))
    path = data.draw(st.sampled_from([f"/Users/{user_id}", f"/Groups/{group_id}",
                                      "/Users/no-such-id"]))
    check(app, lambda: scim.patch(path, body, status="*"))


@FUZZ
@given(data=st.data())
def test_queries_filters_and_searches_never_fail_badly(target, data):
    app, scim, _, _ = target
    params = data.draw(st.dictionaries(st.sampled_from(
        ["filter", "sortBy", "sortOrder", "startIndex", "count", "attributes",
         "excludedAttributes", "x"]), st.text(max_size=40) | paths, max_size=4))
    route = data.draw(st.sampled_from(["/Users", "/Groups"]))
    check(app, lambda: scim.web.get(scim._url(route), params=params, status="*"))
    body = data.draw(st.one_of(json_values, st.just({"schemas": [scimlite.SEARCH_URN],
                                                      **params})))
    check(app, lambda: scim.post(data.draw(st.sampled_from(
        ["/Users/.search", "/.search"])), body, status="*"))


@FUZZ
@given(data=st.data())
def test_bulk_bodies_and_raw_bytes_never_fail_badly(target, data):
    app, scim, user_id, _ = target
    operation = st.fixed_dictionaries({}, optional={
        "method": st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET"]) | scalars,
        "path": st.sampled_from(["/Users", f"/Users/{user_id}", "/Groups", "/Users/bulkId:x",
                                 "/Nowhere"]) | st.text(max_size=20),
        "bulkId": st.text(max_size=5), "data": json_values, "version": scalars})
    body = data.draw(st.one_of(json_values, st.fixed_dictionaries(
        {"schemas": st.just([scimlite.BULK_REQUEST_URN]),
         "Operations": st.lists(operation, max_size=5)},
        optional={"failOnErrors": scalars})))
    response = scim.post("/Bulk", body, status="*")
    assert response.status_int < 500, response.text
    raw = data.draw(st.binary(max_size=200))
    content_type = data.draw(st.sampled_from(["application/scim+json", "application/json",
                                              "text/plain", "", "application/scim+json; "
                                              "charset=latin-1"]))
    route = data.draw(st.sampled_from(["/Users", f"/Users/{user_id}", "/Bulk", "/.search"]))
    method = "POST" if not route.startswith("/Users/") else data.draw(
        st.sampled_from(["PUT", "PATCH"]))
    check(app, lambda: scim.send(method, route, raw, "*",
                                 headers={"Content-Type": content_type}))



def test_the_comparison_sees_an_accepted_change(target):
    """The before/after digest is not blind: a write that succeeds moves it.
    (On a user of its own: the fuzz before it may have deleted the shared
    one with a Bulk DELETE, which is a write that succeeds.)"""
    app, scim, _, _ = target
    user_id = scim.create_user(f"seen-{uuid.uuid4().hex[:8]}@example.com")["id"]
    before = stored(app)
    response = scim.patch(f"/Users/{user_id}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "title", "value": before[:8]}]})
    assert stored(app) != before, response.text
