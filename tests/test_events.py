"""The one place every change passes: events recorded in the change's own
transaction, with the resource id, the API key's name and what changed."""
import json
import threading
import time

import bottle

import scimlite
from conftest import SCIMClient

P = scimlite.PATCH_URN


def ops(*operations):
    return {"schemas": [P], "Operations": list(operations)}


def resource_events(app):
    """The events of users and groups (a user's license has its own:
    tests/test_licenses.py)."""
    return [e for e in app.scimlite.events() if e["resource_type"] != "License"]


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
    events = resource_events(app)
    assert [(e["type"], e["resource_id"]) for e in events] == [
        ("user.created", user["id"]), ("user.updated", user["id"]),
        ("user.deactivated", user["id"]), ("user.reactivated", user["id"]),
        ("group.created", group["id"]), ("group.updated", group["id"]),
        ("group.members_changed", group["id"]), ("group.deleted", group["id"]),
        ("user.deleted", user["id"])]
    assert {e["actor"] for e in events} == {"tests"}
    # What changed, and how (security events tell a PUT from a PATCH).
    assert events[1]["detail"] == {"attributes": ["title"], "via": "patch"}
    assert events[6]["detail"] == {"added": [user["id"]], "removed": []}
    licensed = {e["type"] for e in app.scimlite.events()}
    assert set(scimlite.EVENT_TYPES) - licensed == {"license.waiting"}  # needs a seat limit


def test_event_details_never_hold_values(app, scim):
    user = scim.create_user("quiet", password="pa55word-secret", title="Secret Title")
    scim.put(f"/Users/{user['id']}", {"userName": "quiet", "password": "another-secret"})
    text = repr(app.scimlite.events())
    assert "secret" not in text.lower() and "Secret Title" not in text
    assert "password" in app.scimlite.events()[-1]["detail"]["attributes"]


def test_a_deactivating_put_with_other_changes_records_both(app, scim):
    user = scim.create_user("both", title="A")
    scim.put(f"/Users/{user['id']}", {"userName": "both", "title": "B", "active": False})
    assert [e["type"] for e in resource_events(app)][-2:] == ["user.deactivated",
                                                              "user.updated"]


def test_no_event_without_a_change(app, scim):
    user = scim.create_user("still")
    before = app.scimlite.events()
    scim.put(f"/Users/{user['id']}", scim.get(f"/Users/{user['id']}").json)
    scim.patch(f"/Users/{user['id']}", ops({"op": "remove", "path": "title"}))
    assert app.scimlite.events() == before


# --- the unit of work: subscribers, after commit, the write queue, workers ------

def test_subscribers_write_inside_the_change_and_hear_the_actor(app, scim):
    """A subscriber's rows commit with the change (and roll back with it:
    tests/test_errors.py::test_a_failed_write_leaves_nothing_behind)."""
    heard = []

    def issue(work, event):
        heard.append((event.type, event.resource_id, work.actor))
        scimlite.set_option(work.models, f"seen-{event.resource_id}", True)
    app.scimlite.changes.subscribe("user.created", issue)
    user = scim.create_user("sub")
    assert heard == [("user.created", user["id"], "tests")]
    assert scimlite.get_option(app.scimlite.models, f"seen-{user['id']}", False) is True


def test_after_commit_callbacks_see_the_change_committed(tmp_path):
    """After-commit runs once the transaction is durable: a second
    connection already reads the new user (what a sender thread needs)."""
    db = str(tmp_path / "c.db")
    app = scimlite.create_app({"db": db})
    scim = SCIMClient(app, app.scimlite.mint_key("t"))
    seen = []

    def committed(events):
        other = scimlite.create_app({"db": db})
        seen.append(([e.type for e in events],
                     other.scimlite.models.User.select().count()))
        other.scimlite.close()
    app.scimlite.changes.after_commit.append(committed)
    scim.create_user("durable")
    assert seen == [(["user.created", "license.issued"], 1)]
    scim.get("/Users")                      # a read commits nothing: no callback
    assert len(seen) == 1
    app.scimlite.close()


def test_every_write_goes_through_the_write_queue(app, scim):
    """Users, Groups, Bulk, keys and the SCIM switch: each write enters the
    queue once (nested writes, such as a group created with members, join
    their outer unit)."""
    entered = []
    queue = app.scimlite.changes.queue
    original = queue.acquire
    me = threading.get_ident()      # not the outbox's sender, in its own thread
    queue.acquire = lambda: (entered.append(threading.get_ident() == me), original())[1]
    user = scim.create_user("q")
    group = scim.create_group("Q", members=[{"value": user["id"]}])
    scim.put(f"/Users/{user['id']}", {"userName": "q2"})
    scim.patch(f"/Groups/{group['id']}", ops({"op": "remove", "path": "members"}))
    scim.post("/Bulk", {"schemas": [scimlite.BULK_REQUEST_URN], "Operations": [
        {"method": "DELETE", "path": f"/Groups/{group['id']}"}]}, status=200)
    scim.delete(f"/Users/{user['id']}")
    app.scimlite.mint_key("another")
    app.scimlite.scim_enabled = True
    assert sum(entered) == 8 + 1        # + the key's last_used, on its first request


def test_the_write_queue_lets_writers_in_in_arrival_order():
    queue = scimlite.WriteQueue()
    order, threads = [], []
    queue.acquire()
    for number in range(5):
        def writer(number=number):
            with queue:
                with queue:             # re-entrant on one thread
                    order.append(number)
        threads.append(threading.Thread(target=writer))
        threads[-1].start()
        while queue.waiting < number + 1:   # each is queued before the next comes
            time.sleep(0.001)
    queue.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]
    assert queue.waiting == 0 and queue.acquire() is None     # free again


def test_workers_wake_after_commits_and_close_leaves_no_thread(tmp_path):
    before = set(threading.enumerate())
    app = scimlite.create_app({"db": str(tmp_path / "w.db")})
    scim = SCIMClient(app, app.scimlite.mint_key("t"))
    woken = threading.Event()
    app.scimlite.workers.start("probe", woken.set, interval=3600)
    assert any(t.name == "scimlite-probe" for t in threading.enumerate())
    scim.create_user("wake")
    assert woken.wait(5)
    assert any(t.name == "scimlite-provisioning-log" for t in threading.enumerate())
    app.scimlite.close()
    assert not [t for t in threading.enumerate() if t not in before]


def test_an_app_dropped_without_close_takes_its_workers_with_it():
    """Other projects' tests often never close an app: its worker threads
    end by themselves once the app is garbage."""
    import gc
    before = set(threading.enumerate())
    app = scimlite.create_app({"db": ":memory:"})
    SCIMClient(app, app.scimlite.mint_key("t")).create_user("gone")   # starts the log's worker
    assert [t for t in threading.enumerate() if t not in before]
    del app
    bottle.request.bind({})     # bottle keeps this thread's last request (and app)
    deadline = time.monotonic() + 5
    while [t for t in threading.enumerate() if t not in before] and time.monotonic() < deadline:
        gc.collect()        # again: a worker mid-round holds the app until it returns
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t not in before]


def test_one_write_queue_per_database_file(tmp_path):
    """The queue belongs to the file: two apps on it queue together; other
    files and every in-memory database have their own."""
    path = str(tmp_path / "one.db")
    one, two = scimlite.create_app({"db": path}), scimlite.create_app({"db": path})
    other = scimlite.create_app({"db": str(tmp_path / "other.db")})
    memory = [scimlite.create_app({"db": ":memory:"}) for _ in range(2)]
    queues = [a.scimlite.changes.queue for a in (one, two, other, *memory)]
    assert queues[0] is queues[1]
    assert len({id(q) for q in queues}) == 4
    for app in (one, two, other, *memory):
        app.scimlite.close()


def test_a_nested_write_that_fails_and_is_caught_takes_back_only_itself(app, scim):
    """A subscriber's own write is a savepoint: if it fails and the subscriber
    carries on, the change it was reacting to still commits, without the
    subscriber's half-done rows or events."""
    service = app.scimlite.resources

    def on_create(work, event):
        try:
            service.create(scimlite.GROUP_TYPE, {"displayName": "team", "members": [
                {"value": "no-such-id"}]}, "bot")
        except scimlite.SCIMError:
            pass
    app.scimlite.changes.subscribe("user.created", on_create)
    scim.create_user("ann")
    assert app.scimlite.models.Group.select().count() == 0
    assert [e["type"] for e in resource_events(app)] == ["user.created"]


# --- group commit ---------------------------------------------------------------------

def queued_writers(state, jobs):
    """Start one thread per job calling changes.run(job) while the write
    queue is held, so that all of them wait in it; then let them in.
    Returns [(result or None, error or None)] in the jobs' order, and how
    many times the database committed meanwhile."""
    changes, outcomes, commits = state.changes, [None] * len(jobs), []
    db = changes.models.db
    real_commit = db.commit
    db.commit = lambda: commits.append(1) or real_commit()

    def writer(n):
        try:
            outcomes[n] = (changes.run(jobs[n], f"writer{n}"), None)
        except Exception as exc:
            outcomes[n] = (None, exc)
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(len(jobs))]
    with changes.queue:
        for n, thread in enumerate(threads):
            thread.start()
            while changes.queue.waiting < n + 1:    # in line in the jobs' order
                time.sleep(0.001)
    for thread in threads:
        thread.join(10)
    del db.commit
    return outcomes, len(commits)


def make_user(state, name):
    return lambda work: state.resources.create(scimlite.USER_TYPE, {
        "schemas": [scimlite.USER_URN], "userName": name}, work.actor).id


def test_writers_queued_together_commit_once_and_each_gets_its_own_error(tmp_path):
    state = scimlite.ScimLite(scimlite.load_settings({"db": str(tmp_path / "g.db")}))
    taken = state.resources.create(scimlite.USER_TYPE, {
        "schemas": [scimlite.USER_URN], "userName": "taken@example.com"}, "setup")
    names = ["a@example.com", "b@example.com", "taken@example.com", "c@example.com"]
    outcomes, commits = queued_writers(state, [make_user(state, n) for n in names])
    assert commits == 1
    assert [error is None for _, error in outcomes] == [True, True, False, True]
    assert isinstance(outcomes[2][1], scimlite.SCIMError) and outcomes[2][1].status == 409
    users = state.resources.model(scimlite.USER_TYPE)
    stored = {json.loads(u.data)["userName"]: u.id for u in users.select()}
    assert stored == {"taken@example.com": taken.id, **{
        n: outcomes[i][0] for i, n in enumerate(names) if i != 2}}
    # Each committed unit's events, with its own actor; the failed one's none.
    actors = {e["resource_id"]: e["actor"] for e in state.events() if e["type"] == "user.created"}
    assert [actors.get(result) for result, _ in outcomes] == [
        "writer0", "writer1", None, "writer3"]
    state.close()


def test_a_unit_that_raises_after_writing_is_rolled_back_alone(tmp_path):
    state = scimlite.ScimLite(scimlite.load_settings({"db": str(tmp_path / "g.db")}))
    heard = []
    state.changes.after_commit.append(lambda events: heard.extend(e.actor for e in events))

    def half_done(work):
        make_user(state, "half@example.com")(work)
        scimlite.set_option(state.models, "half_written", True)
        raise RuntimeError("fails after two writes")
    jobs = [make_user(state, "first@example.com"), half_done,
            make_user(state, "last@example.com")]
    outcomes, commits = queued_writers(state, jobs)
    assert commits == 1 and str(outcomes[1][1]) == "fails after two writes"
    users = state.resources.model(scimlite.USER_TYPE)
    assert sorted(json.loads(u.data)["userName"] for u in users.select()) == [
        "first@example.com", "last@example.com"]
    assert scimlite.get_option(state.models, "half_written", None) is None
    assert "writer1" not in heard and {"writer0", "writer2"} <= set(heard)
    state.close()


def test_a_leader_whose_own_unit_fails_commits_nothing_and_the_next_leads(tmp_path):
    state = scimlite.ScimLite(scimlite.load_settings({"db": str(tmp_path / "g.db")}))

    def fails(work):
        make_user(state, "gone@example.com")(work)
        raise RuntimeError("the leader's own")
    outcomes, _ = queued_writers(state, [fails, make_user(state, "kept@example.com")])
    assert str(outcomes[0][1]) == "the leader's own" and outcomes[1][1] is None
    users = state.resources.model(scimlite.USER_TYPE)
    assert [json.loads(u.data)["userName"] for u in users.select()] == ["kept@example.com"]
    state.close()


def test_queued_writers_have_the_same_outcomes_on_both_backends(database, backend):
    """Group commit is SQLite's alone: on PostgreSQL each queued writer
    commits for itself, with the same results, errors and stored rows."""
    state = scimlite.ScimLite(scimlite.load_settings(database))
    assert state.changes.group_commit == (backend == "sqlite")
    state.resources.create(scimlite.USER_TYPE, {
        "schemas": [scimlite.USER_URN], "userName": "taken@example.com"}, "setup")
    names = ["a@example.com", "taken@example.com", "b@example.com"]
    outcomes, commits = queued_writers(state, [make_user(state, n) for n in names])
    assert commits == (1 if backend == "sqlite" else 2)
    assert [type(error).__name__ for _, error in outcomes] == [
        "NoneType", "SCIMError", "NoneType"]
    users = state.resources.model(scimlite.USER_TYPE)
    assert sorted(json.loads(u.data)["userName"] for u in users.select()) == [
        "a@example.com", "b@example.com", "taken@example.com"]
    state.close()


def test_group_commit_is_not_used_in_memory_nor_nested(tmp_path):
    memory = scimlite.ScimLite(scimlite.load_settings({"db": ":memory:"}))
    assert not memory.changes.group_commit
    memory.close()
    state = scimlite.ScimLite(scimlite.load_settings({"db": str(tmp_path / "g.db")}))
    with state.changes.unit("outer"):
        # Inside a unit: part of it, at once (no ticket, no wait for a turn).
        inner = state.changes.run(make_user(state, "inner@example.com"))
        assert not state.changes._tickets
    assert state.resources.get(scimlite.USER_TYPE, inner) is not None
    state.close()
