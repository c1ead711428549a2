"""SQL statements per request: the regression guard of the speed work.

Each kind of request runs a fixed number of statements, the same with 10
users as with 400, and with a 3-member group as with a 300-member one.
BUDGET is what each runs today; a change that adds a statement to a hot
path, or makes the count grow with the data (a query per row, a COUNT
that is not needed), fails here.  Nothing is timed.

Statements are counted on the connection of the thread serving the
request (SQLite's trace callback; on PostgreSQL, each statement its cursors
execute and each COMMIT), so the outbox sender and the provisioning log
(threads of their own, stopped here) are not counted.  The budgets are the
same on both backends.
"""
import contextlib
import json

import pytest

import scimlite
from conftest import TEST_LICENSE_SECRET, SCIMClient, empty_postgres

PATCH_URN = scimlite.PATCH_URN

# What each request runs.  Every request begins with the key version row
# (the key cache asking whether keys or options changed); a write runs
# inside BEGIN ... COMMIT.
BUDGET = {
    "lookup userName eq": 2,        # the one SELECT, no COUNT
    "GET user": 2,                  # the one SELECT; in no group, no groups query
    "GET user in a group": 3,       # + its groups
    "list page": 4,                 # the page, its COUNT (the page is full), groups
    "PATCH displayName": 7,         # user, UPDATE, event, license contact
    "PATCH active False": 10,       # + the license suspended, its event and mail
    "PATCH in a group, If-Match": 7,    # user, its groups once (for If-Match and
                                        # for the answer), UPDATE, event
    "create": 10,                   # uniqueness, user, email, license, 2 events, mail
    "GET group": 3,                 # the group, its members
    "PATCH group add member": 11,   # group, the member (a User? a Group?), is it
                                    # there yet, INSERT, event, UPDATE, members
}


def build(database, users, members):
    """An app on a database (a SQLite file in the folder `database`, or
    the settings of an emptied PostgreSQL one) with `users` users, the
    first `members` of them in group "Big"; its background threads
    stopped, so that only requests write (a commit elsewhere would make
    the next request read the API key again)."""
    if isinstance(database, dict):
        empty_postgres(database["db"])
    else:
        database = {"db": str(database / f"s{users}.db")}
    app = scimlite.create_app({**database, "mailer": "memory"})
    state = app.scimlite
    token = state.mint_key("tests")
    scimlite.import_document(state, [{
        "schemas": [scimlite.USER_URN], "userName": f"user{i}@example.com",
        "displayName": f"User {i}", "emails": [{"value": f"user{i}@example.com",
                                                 "type": "work"}]} for i in range(users)]
        + [{"schemas": [scimlite.GROUP_URN], "displayName": "Big", "members": [
            {"value": f"user{i}@example.com"} for i in range(1, members + 1)]}])
    for worker in state.workers:
        worker.stop()
    return app, SCIMClient(app, token)


def count(app, scim, request):
    """The statements `request` runs, after a GET that lets the key cache
    catch up with the writes before it."""
    scim.get("/ServiceProviderConfig")
    connection = app.scimlite.models.db.connection()
    seen = []
    if app.scimlite.models.dialect.name == "sqlite":
        connection.set_trace_callback(seen.append)
        try:
            request()
        finally:
            connection.set_trace_callback(None)
    else:
        with traced_postgres(connection, seen):
            request()
    return seen


@contextlib.contextmanager
def traced_postgres(connection, seen):
    """What SQLite's trace callback sees, on a psycopg connection: every
    statement its cursors execute (BEGIN among them), and COMMIT."""
    factory, commit = connection.cursor_factory, connection.commit

    class Traced(factory):
        def execute(self, query, params=None, **kwargs):
            seen.append(str(query))
            return super().execute(query, params, **kwargs)
    connection.cursor_factory = Traced
    connection.commit = lambda: (seen.append("COMMIT"), commit())[1]
    try:
        yield
    finally:
        connection.cursor_factory = factory
        del connection.commit


def requests(scim):
    """Each kind of request, by name, on the data build() made."""
    def user_id(name):
        return scim.get("/Users", filter=f'userName eq "{name}"').json["Resources"][0]["id"]
    loner, member = user_id("user0@example.com"), user_id("user1@example.com")
    group = scim.get("/Groups", filter='displayName eq "Big"').json["Resources"][0]["id"]
    newcomer = scim.create_user("newcomer@example.com")["id"]
    numbers = iter(range(10 ** 6))

    def patch(path, value):
        return lambda: scim.patch(f"/Users/{loner}", {"schemas": [PATCH_URN], "Operations": [
            {"op": "Replace", "path": path, "value": value}]})
    return {
        "lookup userName eq": lambda: scim.get(
            "/Users", filter='userName eq "USER0@example.com"'),
        "GET user": lambda: scim.get(f"/Users/{loner}"),
        "GET user in a group": lambda: scim.get(f"/Users/{member}"),
        "list page": lambda: scim.get("/Users", startIndex=2, count=3),
        "PATCH displayName": patch("displayName", "Renamed"),
        "PATCH active False": patch("active", "False"),
        "PATCH in a group, If-Match": lambda: scim.patch(f"/Users/{member}", {
            "schemas": [PATCH_URN], "Operations": [
                {"op": "replace", "path": "title", "value": f"T{next(numbers)}"}]},
            headers={"If-Match": "*"}),
        "create": lambda: scim.create_user(f"new{next(numbers)}@example.com",
                                           emails=[{"value": "new@example.com"}]),
        "GET group": lambda: scim.get(f"/Groups/{group}"),
        "PATCH group add member": lambda: scim.patch(f"/Groups/{group}", {
            "schemas": [PATCH_URN], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": newcomer}]}]}),
    }


@pytest.fixture(scope="module")
def counts(tmp_path_factory, backend, request):
    """{size: {request: statements}} for a small and a larger store."""
    found = {}
    for users, members in ((10, 3), (400, 300)):
        database = tmp_path_factory.mktemp(f"n{users}") if backend == "sqlite" else {
            "db": request.getfixturevalue("postgres_url"),
            "license_secret": TEST_LICENSE_SECRET}
        app, scim = build(database, users, members)
        try:
            found[users] = {name: count(app, scim, request)
                            for name, request in requests(scim).items()}
        finally:
            app.scimlite.close()
    return found


@pytest.mark.parametrize("name", BUDGET)
def test_statements_within_budget(counts, name):
    statements = counts[10][name]
    assert len(statements) <= BUDGET[name], json.dumps(statements, indent=1)


@pytest.mark.parametrize("name", BUDGET)
def test_statements_do_not_grow_with_the_data(counts, name):
    assert len(counts[400][name]) == len(counts[10][name]), json.dumps(
        {"small": counts[10][name], "large": counts[400][name]}, indent=1)


def test_a_lookup_of_one_runs_no_count(counts):
    """A page that is not full tells totalResults itself: no COUNT(*)."""
    assert not any("COUNT" in s for s in counts[400]["lookup userName eq"])
    assert any("COUNT" in s for s in counts[400]["list page"])


def test_a_user_in_no_group_runs_no_groups_query(counts):
    assert not any("RECURSIVE" in s for s in counts[400]["GET user"])
    assert any("RECURSIVE" in s for s in counts[400]["GET user in a group"])


@pytest.mark.sqlite_only        # SQLite's query plan
def test_a_deep_page_skips_keys_not_rows(tmp_path, counts):
    """startIndex=99901 must not read 99,900 rows of JSON: the page starts
    at the key found at the offset in the index on pk (flat cost)."""
    page = next(s for s in counts[400]["list page"] if "LIMIT" in s and "COUNT" not in s)
    app, _ = build(tmp_path, 1, 0)
    try:
        plan = " ".join(str(step) for step in app.scimlite.models.db.execute_sql(
            f"EXPLAIN QUERY PLAN {page}").fetchall())
    finally:
        app.scimlite.close()
    assert "COVERING INDEX user_org_id_pk (org_id=?)" in plan, plan


def test_a_patch_with_if_match_reads_the_groups_once(counts):
    """The groups a user's ETag covers are read for If-Match and kept for
    the answer: the PATCH does not change them, so once is enough."""
    statements = counts[400]["PATCH in a group, If-Match"]
    assert sum("RECURSIVE" in s for s in statements) == 1, json.dumps(statements, indent=1)
