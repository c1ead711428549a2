"""Cursor pagination, RFC 9865: `cursor` and `count` on GET and .search,
nextCursor / previousCursor, the ServiceProviderConfig `pagination`
attribute, and the RFC's three error scimTypes.

The request shapes are the RFC's own examples (§2, §3); what the RFC
leaves open is decided in scimlite.py above `uses_cursor` and tested here.
"""
import base64
import json
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scimlite
from conftest import SCIMClient, assert_scim_error

BASE = "/scim/v2"
EXAMPLES = int(os.environ.get("SCIMLITE_FUZZ_EXAMPLES", "60")) // 4


def names(page):
    return [r.get("userName") or r.get("displayName") for r in page["Resources"]]


def walk(scim, count, **params):
    """Every page of a cursor walk, forward, from an empty cursor."""
    pages, cursor = [], ""
    while cursor is not None:
        page = scim.get("/Users", cursor=cursor, count=count, **params).json
        pages.append(page)
        cursor = page.get("nextCursor")
    return pages


@pytest.fixture
def seven(scim):
    """Seven users, every other one with a nickName (n0, n1, n2, n0, ...),
    some with emails, a familyName or inactive, so that sorts meet ties
    and unassigned values."""
    for i in range(7):
        extra = {"nickName": f"n{(i // 2) % 3}"} if i % 2 else {}
        if i % 3:
            extra["emails"] = [{"value": f"{'ab'[i % 2]}{i}@example.com"}]
            extra["name"] = {"familyName": "Same" if i < 4 else f"F{i}"}
        scim.create_user(f"u{i}@example.com", active=i != 2, **extra)
    return scim


def test_rfc9865_first_page_with_a_bare_cursor(seven):
    """§2, example 1: `cursor` with no value asks for the first page."""
    page = seven.web.get(f'{BASE}/Users?filter=userName%20sw%20%22u%22&cursor&count=3').json
    assert page["totalResults"] == 7 and page["itemsPerPage"] == 3
    assert names(page) == ["u0@example.com", "u1@example.com", "u2@example.com"]
    assert page["nextCursor"] and "previousCursor" not in page and "startIndex" not in page
    # Only RFC 3986 unreserved characters (§2).
    assert all(c.isalnum() or c in "-._~" for c in page["nextCursor"])


def test_a_walk_forward_and_back_sees_each_user_once(seven):
    pages = walk(seven, 3)
    assert [names(p) for p in pages] == [
        ["u0@example.com", "u1@example.com", "u2@example.com"],
        ["u3@example.com", "u4@example.com", "u5@example.com"], ["u6@example.com"]]
    assert "nextCursor" not in pages[-1]             # §2: omitted only on the last page
    assert "previousCursor" not in pages[0]          # §2: never with the first page
    back = seven.get("/Users", cursor=pages[-1]["previousCursor"], count=3).json
    assert names(back) == names(pages[1]) and back["nextCursor"] and back["previousCursor"]
    first = seven.get("/Users", cursor=back["previousCursor"], count=3).json
    assert names(first) == names(pages[0]) and "previousCursor" not in first
    again = seven.get("/Users", cursor=first["nextCursor"], count=3).json
    assert names(again) == names(pages[1])


@pytest.mark.parametrize("order", ["ascending", "descending"])
@pytest.mark.parametrize("sort_by", ["nickName", "userName", "meta.created", "emails",
                                     "name.familyName", "active", "id"])
def test_sorted_cursor_pages_follow_the_order_of_index_pages(seven, sort_by, order):
    """§2.2: cursor pages are sorted as sortBy says, unassigned values last,
    the same order index paging gives."""
    by_index = names(seven.get("/Users", sortBy=sort_by, sortOrder=order, count=100).json)
    by_cursor = [n for p in walk(seven, 2, sortBy=sort_by, sortOrder=order) for n in names(p)]
    assert by_cursor == by_index and len(by_cursor) == 7


@pytest.mark.parametrize("order", ["ascending", "descending"])
@pytest.mark.parametrize("sort_by", ["nickName", "userName"])
def test_sorted_pages_walked_back_are_the_pages_walked_forward(seven, sort_by, order):
    """previousCursor in a sorted walk: with unassigned values (nickName)
    and on a column that is never NULL (userName, its index's range)."""
    forward = walk(seven, 2, sortBy=sort_by, sortOrder=order)
    back, cursor = [], forward[-1].get("previousCursor")
    while cursor is not None:
        page = seven.get("/Users", cursor=cursor, count=2, sortBy=sort_by,
                         sortOrder=order).json
        back.insert(0, names(page))
        cursor = page.get("previousCursor")
    assert back == [names(p) for p in forward[:-1]]


def test_groups_page_by_cursor_with_their_members(seven):
    member = seven.get("/Users", count=1).json["Resources"][0]["id"]
    for i in range(5):
        seven.create_group(f"g{i}", members=[{"value": member}])
    seen, cursor = [], ""
    while cursor is not None:
        page = seven.get("/Groups", cursor=cursor, count=2, sortBy="displayName",
                         sortOrder="descending").json
        seen += [(g["displayName"], [m["value"] for m in g["members"]])
                 for g in page["Resources"]]
        cursor = page.get("nextCursor")
    assert seen == [(f"g{i}", [member]) for i in reversed(range(5))]


def test_a_search_body_pages_by_cursor(seven):
    """§3, example 4: cursor and count in a SearchRequest body."""
    body = {"schemas": [scimlite.SEARCH_URN], "attributes": ["userName"],
            "filter": 'userName sw "u"', "cursor": "", "count": 4}
    page = seven.post("/Users/.search", body, status=200).json
    assert page["totalResults"] == 7 and names(page) == [f"u{i}@example.com" for i in range(4)]
    rest = seven.post("/Users/.search", {**body, "cursor": page["nextCursor"]}, status=200).json
    assert names(rest) == [f"u{i}@example.com" for i in range(4, 7)]
    assert "nextCursor" not in rest and set(rest["Resources"][0]) >= {"id", "userName"}


def test_a_root_search_pages_users_then_groups(seven):
    for i in range(3):
        seven.create_group(f"g{i}")
    seen, cursor = [], ""
    while cursor is not None:
        page = seven.post("/.search", {"schemas": [scimlite.SEARCH_URN], "cursor": cursor,
                                       "count": 4}, status=200).json
        assert page["totalResults"] == 10
        seen += names(page)
        cursor = page.get("nextCursor")
    assert seen == [f"u{i}@example.com" for i in range(7)] + ["g0", "g1", "g2"]


def test_count_zero_gives_the_total_and_no_cursor(seven):
    """§2: count=0 returns no resources, only totalResults."""
    page = seven.get("/Users", cursor="", count=0).json
    assert page["totalResults"] == 7 and page["Resources"] == [] and "nextCursor" not in page


def test_index_paging_is_unchanged_and_the_default(seven):
    page = seven.get("/Users", count=3).json
    assert page["startIndex"] == 1 and "nextCursor" not in page


def test_service_provider_config_advertises_both_methods(scim, app):
    """§4: the pagination attribute, index the default (§2.4)."""
    pagination = scim.get("/ServiceProviderConfig").json["pagination"]
    settings_ = app.scimlite.settings
    assert pagination == {"cursor": True, "index": True, "defaultPaginationMethod": "index",
                          "defaultPageSize": settings_["page_size"],
                          "maxPageSize": settings_["max_page_size"],
                          "cursorTimeout": scimlite.CURSOR_TIMEOUT_SECONDS}


# --- bad cursors: each a clear error, never a 500 ---------------------------------

def forged(cursor):
    """The cursor with its payload changed and its signature kept."""
    payload, signature = cursor.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["k"] = [1]
    text = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{text}.{signature}"


@pytest.mark.parametrize("bad", [
    "abc", "a.b", "not a cursor!", "%00", "x" * 5000,
    lambda c: c[:-1], lambda c: c[:-2] + ("A" if c[-2] != "A" else "B") + c[-1],
    lambda c: c.split(".")[0], forged])
def test_a_forged_or_truncated_cursor_is_invalid_cursor(seven, bad):
    cursor = seven.get("/Users", cursor="", count=2).json["nextCursor"]
    text = bad(cursor) if callable(bad) else bad
    resp = seven.get("/Users", cursor=text, count=2, status=400)
    assert_scim_error(resp, 400, "invalidCursor")


def test_a_cursor_of_another_query_is_invalid_cursor(seven):
    cursor = seven.get("/Users", cursor="", count=2).json["nextCursor"]
    for other in ({"filter": 'userName pr'}, {"sortBy": "userName"}):
        resp = seven.get("/Users", cursor=cursor, count=2, status=400, **other)
        assert_scim_error(resp, 400, "invalidCursor")
    resp = seven.get("/Groups", cursor=cursor, count=2, status=400)
    assert_scim_error(resp, 400, "invalidCursor")


def test_a_cursor_from_another_install_is_invalid_cursor(seven, tmp_path):
    """Signed with the install's secret: another install cannot read it."""
    other = scimlite.create_app({"db": str(tmp_path / "other.db"), "mailer": "memory"})
    scim = SCIMClient(other, other.scimlite.mint_key("k"))
    for i in range(3):
        scim.create_user(f"o{i}@example.com")
    cursor = scim.get("/Users", cursor="", count=2).json["nextCursor"]
    assert_scim_error(seven.get("/Users", cursor=cursor, count=2, status=400), 400,
                      "invalidCursor")
    other.scimlite.close()


def test_a_changed_count_is_invalid_count(seven):
    cursor = seven.get("/Users", cursor="", count=2).json["nextCursor"]
    assert_scim_error(seven.get("/Users", cursor=cursor, count=3, status=400), 400,
                      "invalidCount")
    assert_scim_error(seven.get("/Users", cursor=cursor, status=400), 400, "invalidCount")


def test_an_old_cursor_is_expired_cursor(tmp_path):
    app = scimlite.create_app({"db": str(tmp_path / "c.db"), "mailer": "memory",
                               "deterministic": True})
    scim = SCIMClient(app, app.scimlite.mint_key("k"))
    for i in range(3):
        scim.create_user(f"e{i}@example.com")
    cursor = scim.get("/Users", cursor="", count=2).json["nextCursor"]
    app.scimlite.clock.advance(scimlite.CURSOR_TIMEOUT_SECONDS)
    assert names(scim.get("/Users", cursor=cursor, count=2).json) == ["e2@example.com"]
    app.scimlite.clock.advance(1)
    assert_scim_error(scim.get("/Users", cursor=cursor, count=2, status=400), 400,
                      "expiredCursor")
    app.scimlite.close()


def test_start_index_and_cursor_together_are_invalid_value(seven):
    resp = seven.get("/Users", cursor="", startIndex=2, status=400)
    assert "startIndex" in assert_scim_error(resp, 400, "invalidValue")["detail"]


# --- the walk's promise, while others write -------------------------------------------

@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32), count=st.integers(1, 5),
       sort=st.sampled_from([None, ("userName", "ascending"), ("userName", "descending"),
                             ("nickName", "ascending")]))
def test_a_walk_sees_every_user_that_lived_through_it_exactly_once(scim, seed, count, sort):
    """Users created and deleted between pages come or go; every user that
    existed for the whole walk is seen exactly once, and none twice."""
    for user in scim.get("/Users", count=1000).json["Resources"]:
        scim.delete(f"/Users/{user['id']}")
    rng = random.Random(seed)
    tag = iter(range(10 ** 6))

    def create():
        extra = {"nickName": f"n{rng.randrange(3)}"} if rng.random() < 0.6 else {}
        return scim.create_user(f"w{rng.randrange(10 ** 6):06d}-{next(tag)}@x", **extra)["id"]
    stable = {create() for _ in range(rng.randrange(0, 12))}
    passing = set()
    params = {"sortBy": sort[0], "sortOrder": sort[1]} if sort else {}
    seen, cursor = [], ""
    while cursor is not None:
        page = scim.get("/Users", cursor=cursor, count=count, **params).json
        seen += [r["id"] for r in page["Resources"]]
        cursor = page.get("nextCursor")
        for _ in range(rng.randrange(3)):       # others write between pages
            if passing and rng.random() < 0.5:
                scim.delete(f"/Users/{passing.pop()}")
            else:
                passing.add(create())
    assert len(seen) == len(set(seen))
    assert stable <= set(seen)


def test_the_same_filter_in_another_spelling_is_the_same_query(seven):
    """§2, example 2 sends `username` where example 1 sent `userName`:
    filters are compared as parsed, not as typed."""
    first = seven.web.get(f'{BASE}/Users?filter=userName%20sw%20%22u%22&cursor&count=3').json
    page = seven.get("/Users", filter='username SW "u"', cursor=first["nextCursor"],
                     count=3).json
    assert names(page) == ["u3@example.com", "u4@example.com", "u5@example.com"]


@settings(max_examples=EXAMPLES * 4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cursor=st.text(max_size=80) | st.from_regex(r"[A-Za-z0-9_-]{1,60}\.[A-Za-z0-9_-]{43}",
                                                   fullmatch=True),
       count=st.one_of(st.none(), st.integers(-5, 5000), st.text(max_size=5)))
def test_any_cursor_text_is_a_scim_error_never_a_500(scim, cursor, count):
    params = {"cursor": cursor} if count is None else {"cursor": cursor, "count": count}
    resp = scim.web.get(f"{BASE}/Users", params=params, expect_errors=True)
    if cursor == "" and resp.status_int == 200:
        return
    body = assert_scim_error(resp, 400, resp.json.get("scimType"))
    assert body.get("scimType") in ("invalidCursor", "invalidValue")


def test_a_search_body_whose_cursor_is_not_a_string_is_refused(scim):
    for cursor in (None, ["x"], {"a": 1}, True):
        resp = scim.post("/Users/.search", {"schemas": [scimlite.SEARCH_URN],
                                            "cursor": cursor}, status=400)
        assert_scim_error(resp, 400, "invalidValue")
    resp = scim.post("/Users/.search", {"schemas": [scimlite.SEARCH_URN], "cursor": 5},
                     status=400)
    assert_scim_error(resp, 400, "invalidCursor")


@pytest.mark.sqlite_only        # SQLite's query plan
def test_a_page_sorted_by_user_name_walks_its_index(seven, app):
    """userName is never NULL: its page is a range of its unique index, so
    the thousandth page costs what the first does, sorted too."""
    first = seven.get("/Users", cursor="", count=2, sortBy="userName").json
    connection, seen = app.scimlite.models.db.connection(), []
    connection.set_trace_callback(seen.append)
    try:
        seven.get("/Users", cursor=first["nextCursor"], count=2, sortBy="userName")
    finally:
        connection.set_trace_callback(None)
    page = next(s for s in seen if "ORDER BY" in s and "LIMIT" in s)
    plan = " ".join(str(step) for step in connection.execute(
        f"EXPLAIN QUERY PLAN {page}").fetchall())
    assert "USING INDEX user_org_id_user_name_key (org_id=? AND user_name_key>?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
