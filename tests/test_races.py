"""Races against a real Waitress server (the `server` fixture): what many
clients at once must never break.  tools/crash.py covers kill -9."""
import concurrent.futures
import json
import urllib.error
import urllib.request

import scimlite
from conftest import http


def send(method, url, token, body=None, headers=None):
    request = urllib.request.Request(url, method=method, data=None if body is None else
                                     json.dumps(body).encode(), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json",
        **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            raw = answer.read()
            return answer.status, answer.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.headers, None


def test_fifty_clients_creating_one_username_at_once_get_exactly_one_201(server):
    base, token, _ = server
    body = {"schemas": [scimlite.USER_URN], "userName": "same@example.com"}
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(lambda _: send("POST", base + "/Users", token, body)[0],
                                 range(50)))
    assert sorted(statuses) == [201] + [409] * 49
    assert http("GET", base + "/Users", token)[2]["totalResults"] == 1


def test_concurrent_member_patches_leave_exactly_the_acknowledged_members(server):
    """Adds and removes of different members, all at once, on one group."""
    base, token, _ = server
    users = [send("POST", base + "/Users", token, {"schemas": [scimlite.USER_URN],
                                                  "userName": f"m{i}@example.com"})[2]["id"]
             for i in range(60)]
    group = send("POST", base + "/Groups", token, {
        "schemas": [scimlite.GROUP_URN], "displayName": "Race",
        "members": [{"value": u} for u in users[40:]]})[2]["id"]

    def change(op_and_user):
        op, user_id = op_and_user
        path = "members" if op == "add" else f'members[value eq "{user_id}"]'
        operation = {"op": op, "path": path}
        if op == "add":
            operation["value"] = [{"value": user_id}]
        return send("PATCH", f"{base}/Groups/{group}", token, {
            "schemas": [scimlite.PATCH_URN], "Operations": [operation]})[0]
    adds, removes = [("add", u) for u in users[:40]], [("remove", u) for u in users[40::2]]
    work = []                               # a remove after every four adds: mixed
    for number, add in enumerate(adds):
        work.append(add)
        if number % 4 == 3 and removes:
            work.append(removes.pop())
    work += removes
    assert len(work) == 50
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(change, work))
    assert set(statuses) == {200}
    members = {m["value"] for m in send("GET", f"{base}/Groups/{group}", token)[2]["members"]}
    assert members == set(users[:40]) | set(users[41::2])


def test_if_match_updates_from_many_clients_lose_no_update(server):
    """Each client reads, then PATCHes with If-Match and retries on 412: the
    count in the end is the number of acknowledged increments."""
    base, token, _ = server
    user = send("POST", base + "/Users", token, {"schemas": [scimlite.USER_URN],
                                                 "userName": "count@example.com",
                                                 "title": "0"})[2]["id"]

    def increment(_):
        for _ in range(200):
            status, headers, body = send("GET", f"{base}/Users/{user}", token)
            patched = send("PATCH", f"{base}/Users/{user}", token, {
                "schemas": [scimlite.PATCH_URN], "Operations": [
                    {"op": "replace", "path": "title", "value": str(int(body["title"]) + 1)}]},
                headers={"If-Match": headers["ETag"]})[0]
            if patched == 200:
                return 1
            assert patched == 412
        return 0
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        acknowledged = sum(pool.map(increment, range(40)))
    assert acknowledged == 40
    assert send("GET", f"{base}/Users/{user}", token)[2]["title"] == "40"
