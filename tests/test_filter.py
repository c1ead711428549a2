"""Filters (RFC 7644 §3.4.2.2): every example of the RFC parsed, printed
back canonically and run against fixture data, SQL against the reference
evaluator, and hostile input kept cheap and clean."""
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import scimlite
from conftest import SCIMClient, assert_scim_error

USER = scimlite.RESOURCE_TYPES["User"]
ENT = scimlite.ENTERPRISE_URN
LONG = bool(os.environ.get("SCIMLITE_LONG_TESTS"))
EXAMPLES = 2000 if LONG else 150     # per property test in CI

# RFC 7644 §3.4.2.2, the filter examples in the order the RFC lists them.
RFC_EXAMPLES = [
    'userName eq "bjensen"',
    'name.familyName co "O\'Malley"',
    'userName sw "J"',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
    'title pr',
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'meta.lastModified ge "2011-05-13T04:42:34Z"',
    'meta.lastModified lt "2011-05-13T04:42:34Z"',
    'meta.lastModified le "2011-05-13T04:42:34Z"',
    'title pr and userType eq "Employee"',
    'title pr or userType eq "Intern"',
    'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and (emails.type eq "work")',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work" and value co "@example.com"] or '
    'ims[type eq "xmpp" and value co "@foo.com"]',
]

FIXTURE_USERS = [
    {"userName": "bjensen", "name": {"familyName": "O'Malley"}, "title": "Tour Guide",
     "userType": "Employee", "emails": [{"value": "bjensen@example.com", "type": "work"}],
     ENT: {"employeeNumber": "1"}},
    {"userName": "jsmith", "userType": "Intern",
     "emails": [{"value": "js@example.org", "type": "home"}],
     "ims": [{"value": "js@foo.com", "type": "xmpp"}]},
    {"userName": "Jdoe", "title": "Lead", "userType": "Contractor",
     "emails": [{"value": "jd@elsewhere.net", "type": "work"}]},
]

# Which fixture users each RFC example selects, by userName.
RFC_EXPECTED = [
    {"bjensen"}, {"bjensen"}, {"jsmith", "Jdoe"}, {"jsmith", "Jdoe"},
    {"bjensen", "Jdoe"}, {"bjensen", "jsmith", "Jdoe"}, {"bjensen", "jsmith", "Jdoe"},
    set(), set(), {"bjensen"}, {"bjensen", "jsmith", "Jdoe"}, {"bjensen"},
    {"bjensen"}, {"Jdoe"}, {"bjensen"}, {"bjensen"}, {"bjensen", "jsmith"},
]


@pytest.fixture
def fixture_users(scim):
    return [scim.post("/Users", {"schemas": [scimlite.USER_URN], **u}).json
            for u in FIXTURE_USERS]


def select(scim, text):
    found = scim.get("/Users", filter=text, count=100).json["Resources"]
    return {r["userName"] for r in found}


@pytest.mark.parametrize("text, expected", list(zip(RFC_EXAMPLES, RFC_EXPECTED)))
def test_rfc_example_parses_prints_and_runs(scim, fixture_users, text, expected):
    node = scimlite.parse_filter(USER, text)
    canonical = scimlite.show_filter(node)
    assert scimlite.parse_filter(USER, canonical) == node
    assert scimlite.show_filter(scimlite.parse_filter(USER, canonical)) == canonical
    assert select(scim, text) == expected
    by_evaluator = {u["userName"] for u in fixture_users if scimlite.matches(node, u)}
    assert by_evaluator == expected


@pytest.mark.parametrize("text, canonical", [
    ('USERNAME EQ "x"', 'userName eq "x"'),
    ('userName Eq "x" AND not(title PR)', 'userName eq "x" and not (title pr)'),
    ('(a_x eq 1)'.replace("a_x", "title"), None),
    ('emails[type eq "work"].value eq "x"', 'emails[type eq "work" and value eq "x"]'),
    ('title pr or userType eq "a" and nickName eq "b"',
     'title pr or userType eq "a" and nickName eq "b"'),
    ('(title pr or userType eq "a") and nickName eq "b"',
     '(title pr or userType eq "a") and nickName eq "b"'),
    ('active eq TRUE', 'active eq true'),
    ('active eq "False"', 'active eq false'),
    ('title eq null', 'title eq null'),
    ('title eq "tab\\there \\u00e9 \\"q\\""', 'title eq "tab\\there é \\"q\\""'),
    ('meta.created gt "2020-01-01T00:00:00+02:00"', 'meta.created gt "2019-12-31T22:00:00.000Z"'),
    (f'{ENT}:manager.value eq "m"', f'{ENT}:manager.value eq "m"'),
])
def test_canonical_printing(text, canonical):
    if canonical is None:
        with pytest.raises(scimlite.SCIMError):
            scimlite.parse_filter(USER, text)
        return
    assert scimlite.show_filter(scimlite.parse_filter(USER, text)) == canonical


def test_and_binds_tighter_than_or():
    node = scimlite.parse_filter(USER, 'title pr or userType eq "a" and nickName eq "b"')
    assert node.op == "or" and node.right.op == "and"


@pytest.mark.parametrize("text, where", [
    ('userName eq', "at the end"),
    ('userName zz "a"', "position 10"),
    ('userName eq "a" and', "at the end"),
    ('userName eq "a" )', "position 17"),
    ('emails[type eq "work"', "at the end"),
    ('userName eq "a" # b', "position 17"),
    ('userName eq "\\x"', "position 13"),
])
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_malformed_filters_say_where(scim, text, where):
    body = assert_scim_error(scim.get("/Users", filter=text, status=400), 400, "invalidFilter")
    assert where in body["detail"], body["detail"]


@pytest.mark.parametrize("text", [
    'active gt true', 'x509Certificates.value lt "AA=="', 'active co "t"',
    'name eq "x"', 'title eq 5', 'active eq "yes"', 'meta.created gt "yesterday"',
    'title gt null', 'nope eq "x"', 'urn:nope:title eq "x"', 'name.nope eq "x"',
    'title[value eq "x"]', 'emails[type eq "x"][value eq "y"]', 'groups.value eq "x"',
    'meta.location eq "x"', 'emails[nope eq "x"]',
])
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_filters_the_schema_refuses(scim, text):
    """Unknown attributes are 400 invalidFilter, not "no match": a typo then
    shows up at once instead of as an empty result (RFC 7644 §3.4.2.2 allows
    either; 'invalidFilter' is the error it names)."""
    assert_scim_error(scim.get("/Users", filter=text, status=400), 400, "invalidFilter")


def _nested(depth, leaf, negate):
    """leaf or (leaf and (leaf or ...)), `depth` levels, each maybe with not."""
    text = leaf
    for level in range(depth):
        op = "and" if level % 2 else "or"
        text = f"{leaf} {op} {'not ' if negate else ''}({text})"
    return text


@pytest.mark.parametrize("leaf", ['title pr', 'emails.value eq "a"', 'userName eq "u"',
                                  'emails[value eq "a" or type pr]',
                                  'meta.created gt "2020-01-01T00:00:00Z"'])
@pytest.mark.parametrize("negate", [False, True])
def test_the_deepest_filter_allowed_runs_and_one_more_is_400(scim, leaf, negate):
    scim.create_user("u", emails=[{"value": "a"}])
    limit = scimlite.MAX_FILTER_DEPTH
    assert scim.get("/Users", filter=_nested(limit, leaf, negate)).status_int == 200
    resp = scim.get("/Users", filter=_nested(limit + 1, leaf, negate), status=400)
    assert "deeply" in assert_scim_error(resp, 400, "invalidFilter")["detail"]


@pytest.mark.parametrize("op", ["or", "and"])
def test_long_flat_filters_up_to_the_length_limit_run(scim, op):
    """A batch lookup of many userNames: hundreds of terms, one level deep."""
    scim.create_user("u7")
    users = f" {op} ".join(f'userName eq "u{i}"' for i in range(180))
    assert len(users) <= scimlite.MAX_FILTER_LENGTH
    assert scim.get("/Users", filter=users).json["totalResults"] == (op == "or")
    groups = " or ".join(f'members.value eq "m{i}"' for i in range(140))
    assert scim.get("/Groups", filter=groups).status_int == 200
    short = f" {op} ".join(["title pr"] * 300)
    assert len(short) <= scimlite.MAX_FILTER_LENGTH
    assert scim.get("/Users", filter=short).status_int == 200


def test_hostile_filters_are_cut_short(scim):
    deep = "(" * 40 + 'title pr' + ")" * 40
    assert "deeply" in assert_scim_error(scim.get("/Users", filter=deep, status=400),
                                         400, "invalidFilter")["detail"]
    long = " or ".join(['title eq "x"'] * 400)
    assert "longer" in assert_scim_error(scim.get("/Users", filter=long, status=400),
                                         400, "invalidFilter")["detail"]
    nots = "not (" * 40 + "title pr" + ")" * 40
    assert_scim_error(scim.get("/Users", filter=nots, status=400), 400, "invalidFilter")


def test_string_comparisons_follow_case_exact(scim):
    scim.create_user("MixedCase", externalId="AbC", title="Boss")
    assert select(scim, 'title eq "BOSS"') == {"MixedCase"}
    assert select(scim, 'title gt "aaaa"') == {"MixedCase"}
    assert select(scim, 'externalId eq "abc"') == set()
    assert select(scim, 'externalId sw "Ab"') == {"MixedCase"}


def test_datetime_comparisons(scim):
    user = scim.create_user("dated")
    created = user["meta"]["created"]
    assert select(scim, f'meta.created eq "{created}"') == {"dated"}
    assert select(scim, f'meta.created ge "{created[:19]}+00:00"') == {"dated"}
    assert select(scim, 'meta.lastModified lt "2000-01-01T00:00:00Z"') == set()


# --- properties -------------------------------------------------------------------------

WORDS = ["a", "A", "ab", "aB", "b", "é", "É", "ß", "ss", "", "x y", "work", "home"]
words = st.sampled_from(WORDS) | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=4)

STRING_PATHS = ["userName", "displayName", "title", "nickName", "externalId", "id",
                "name.givenName", "name.familyName", "emails.value", "emails.type",
                "phoneNumbers.value", "addresses.locality", f"{ENT}:employeeNumber",
                f"{ENT}:manager.value"]
BOOLEAN_PATHS = ["active", "emails.primary"]
VALUE_PATHS = {"emails": ["value", "type", "primary", "display"],
               "addresses": ["locality", "type", "primary"],
               "phoneNumbers": ["value", "type"]}


def comparison(paths=STRING_PATHS, booleans=BOOLEAN_PATHS):
    string = st.builds(lambda p, o, v: f'{p} {o} {json.dumps(v)}', st.sampled_from(paths),
                       st.sampled_from(scimlite.COMPARE_OPS), words)
    boolean = st.builds(lambda p, o, v: f"{p} {o} {v}", st.sampled_from(booleans),
                        st.sampled_from(["eq", "ne"]), st.sampled_from(["true", "false"]))
    present = st.builds(lambda p: f"{p} pr", st.sampled_from(paths + booleans))
    null = st.builds(lambda p, o: f"{p} {o} null", st.sampled_from(paths),
                     st.sampled_from(["eq", "ne"]))
    return string | boolean | present | null


def value_path():
    def build(attr):
        subs = VALUE_PATHS[attr]
        strings = [s for s in subs if s != "primary"]
        inner = comparison(strings, ["primary"] if "primary" in subs else ["type"])
        if "primary" not in subs:
            inner = comparison(strings, strings).filter(lambda t: " true" not in t
                                                        and " false" not in t)
        return st.builds(lambda a, b, op: f"{attr}[{a} {op} {b}]", inner, inner,
                         st.sampled_from(["and", "or"])) | \
            st.builds(lambda a: f"{attr}[{a}]", inner)
    return st.sampled_from(sorted(VALUE_PATHS)).flatmap(build)


def filters():
    atom = comparison() | value_path() | st.sampled_from(["emails pr", "name pr"])
    return st.recursive(atom, lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} and {b}", inner, inner),
        st.builds(lambda a, b: f"({a} or {b})", inner, inner),
        st.builds(lambda a: f"not ({a})", inner)), max_leaves=6)


@settings(max_examples=EXAMPLES, deadline=None)
@given(filters())
def test_parse_print_parse_round_trips(text):
    node = scimlite.parse_filter(USER, text)
    canonical = scimlite.show_filter(node)
    assert scimlite.parse_filter(USER, canonical) == node


element = st.fixed_dictionaries({}, optional={"value": words, "type": words,
                                              "primary": st.booleans(),
                                              "display": words})
users = st.lists(st.fixed_dictionaries(
    {"userName": st.text(min_size=1, max_size=6)},
    optional={"displayName": words, "title": words, "nickName": words, "externalId": words,
              "active": st.booleans(), "name": st.fixed_dictionaries(
                  {}, optional={"givenName": words, "familyName": words}),
              "emails": st.lists(element, max_size=3),
              "phoneNumbers": st.lists(st.fixed_dictionaries({"value": words}, optional={
                  "type": words}), max_size=2),
              "addresses": st.lists(st.fixed_dictionaries({}, optional={
                  "locality": words, "type": words}), max_size=2),
              ENT: st.fixed_dictionaries({}, optional={
                  "employeeNumber": words, "manager": st.fixed_dictionaries(
                      {"value": words})})}),
    min_size=1, max_size=4, unique_by=lambda u: u["userName"].casefold())


@settings(max_examples=EXAMPLES // 3, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(users, st.lists(filters(), min_size=1, max_size=4))
def test_sql_agrees_with_the_reference_evaluator(people, texts):
    app = scimlite.create_app({"db": ":memory:"})
    scim = SCIMClient(app, app.scimlite.mint_key("p"))
    stored = []
    for person in people:
        resp = scim.post("/Users", person, status="*")
        if resp.status_int == 201:
            stored.append(resp.json)
        else:       # e.g. two primaries: refused, and so not part of the data
            assert resp.status_int == 400, resp.text
    for text in texts:
        node = scimlite.parse_filter(USER, text)
        expected = {u["id"] for u in stored if scimlite.matches(node, u)}
        got = {r["id"] for r in scim.get("/Users", filter=text, count=100).json["Resources"]}
        assert got == expected, (text, stored)
    app.scimlite.close()


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=60) | filters().map(lambda t: t[:len(t) // 2]))
def test_any_string_as_a_filter_is_200_or_400(text):
    app = _shared_app()
    resp = app.get("/scim/v2/Users", params={"filter": text}, status="*")
    assert resp.status_int in (200, 400), (text, resp.text)
    assert resp.content_type == "application/scim+json"
    if resp.status_int == 400:
        assert resp.json["scimType"] == "invalidFilter"


_APP = {}


def _shared_app():
    if "app" not in _APP:
        app = scimlite.create_app({"db": ":memory:"})
        client = SCIMClient(app, app.scimlite.mint_key("p"))
        client.create_user("someone", title="t", emails=[{"value": "a@b", "type": "work"}])
        _APP["app"] = client.web
    return _APP["app"]


GROUP = scimlite.RESOURCE_TYPES["Group"]
GROUP_PATHS = ["displayName", "externalId", "id", "members.value", "members.type"]


def group_filters(member_ids):
    values = words | st.sampled_from(member_ids + ["User", "Group", "user"])
    compare = st.builds(lambda p, o, v: f"{p} {o} {json.dumps(v)}",
                        st.sampled_from(GROUP_PATHS), st.sampled_from(scimlite.COMPARE_OPS),
                        values)
    created = st.builds(lambda o: f'meta.created {o} "2020-01-01T00:00:00Z"',
                        st.sampled_from(scimlite.COMPARE_OPS[:1] + scimlite.ORDERING_OPS))
    members = st.builds(lambda a, b, op: f"members[{a} {op} {b}]",
                        st.builds(lambda v: f"value eq {json.dumps(v)}", values),
                        st.builds(lambda v: f"type eq {json.dumps(v)}", values),
                        st.sampled_from(["and", "or"]))
    atom = compare | created | members | st.sampled_from(
        ["members pr", "externalId pr", "members.value pr", "externalId eq null"])
    return st.recursive(atom, lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} and {b}", inner, inner),
        st.builds(lambda a, b: f"({a} or {b})", inner, inner),
        st.builds(lambda a: f"not ({a})", inner)), max_leaves=6)


@settings(max_examples=EXAMPLES // 3, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_group_filters_agree_with_the_reference_evaluator(data):
    """Groups: members live in their own table, so this covers the index path."""
    app = scimlite.create_app({"db": ":memory:"})
    scim = SCIMClient(app, app.scimlite.mint_key("p"))
    users = [scim.create_user(f"u{i}")["id"] for i in range(3)]
    groups = []
    for i, spec in enumerate(data.draw(st.lists(st.fixed_dictionaries(
            {"members": st.lists(st.sampled_from(users), unique=True, max_size=3)},
            optional={"externalId": words}), min_size=1, max_size=4))):
        members = [{"value": m} for m in spec.pop("members")]
        if groups and data.draw(st.booleans()):
            members.append({"value": groups[-1]["id"]})      # a nested group
        groups.append(scim.create_group(f"g{i}", members=members, **spec))
    for text in data.draw(st.lists(group_filters(users), min_size=1, max_size=4)):
        node = scimlite.parse_filter(GROUP, text)
        stored = [scim.get(f"/Groups/{g['id']}").json for g in groups]
        expected = {g["id"] for g in stored if scimlite.matches(node, g)}
        got = {r["id"] for r in scim.get("/Groups", filter=text).json["Resources"]}
        assert got == expected, (text, stored)
    app.scimlite.close()


def test_meta_pr_matches_everything(scim):
    scim.create_user("m")
    assert scim.get("/Users", filter="meta pr").json["totalResults"] == 1
    assert scim.get("/Groups", filter="not (meta pr)").json["totalResults"] == 0


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_datetimes_beyond_the_calendar_are_invalid_filters(scim, moment):
    resp = scim.get("/Users", filter=f'meta.created gt "{moment}"', status=400)
    assert_scim_error(resp, 400, "invalidFilter")


def test_datetimes_are_written_with_four_digit_years_so_text_order_is_time_order():
    """xsd:dateTime years have at least four digits; dateTimes compare as text."""
    utc = scimlite.dt.timezone.utc
    early = scimlite.format_datetime(scimlite.dt.datetime(999, 12, 31, 23, 0, tzinfo=utc))
    late = scimlite.format_datetime(scimlite.dt.datetime(2026, 1, 2, 3, 4, 5, 678901,
                                                         tzinfo=scimlite.dt.timezone(
                                                             scimlite.dt.timedelta(hours=2))))
    assert (early, late) == ("0999-12-31T23:00:00.000Z", "2026-01-02T01:04:05.678Z")
    assert early < late


@pytest.mark.parametrize("prefix", ["AL", "al", "\ud7ff",
                                    "\U0010ffff", "é"])
def test_sw_on_an_indexed_column_reads_a_range_and_stays_exact(scim, prefix):
    """`sw` on userName, emails.value, id or externalId uses an index range;
    prefixes whose last character is the last before the surrogates or the
    last code point still match exactly what they start."""
    names = [prefix + "x", prefix.lower() + "y", prefix + "\U0010ffff", "z" + prefix]
    for name in names:
        scim.create_user(name, emails=[{"value": name + "@mail"}], externalId=name)
    expected = sorted(n for n in names if n.casefold().startswith(prefix.casefold()))
    text = json.dumps(prefix)
    for attribute in ("userName", "emails.value"):
        found = scim.get("/Users", filter=f"{attribute} sw {text}").json["Resources"]
        assert sorted(u["userName"] for u in found) == expected, attribute
    exact = scim.get("/Users", filter=f"externalId sw {text}").json["Resources"]
    assert sorted(u["userName"] for u in exact) == sorted(n for n in names if n.startswith(prefix))
