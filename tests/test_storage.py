"""Storage: lookups by the hot attributes use indexes, never a table scan."""
import json
import sys
import threading

import pytest

import scimlite


def fill_for_the_planner(db, model):
    name = model._meta.table_name
    key = "user_name_key" if name == "user" else "display_name_key"
    db.execute_sql(
        f'INSERT INTO "{name}" (org_id, id, external_id, data, version, created, '
        f'last_modified, {key}) SELECT 1 + mod(n, 2), \'id\' || n, \'ext\' || n, \'{{}}\', 1, '
        f"'t', 't', 'k' || n FROM generate_series(1, 500) AS n")
    db.execute_sql(f'ANALYZE "{name}"')


def plan(app, rt_name, text):
    state = app.scimlite
    rt = scimlite.RESOURCE_TYPES[rt_name]
    table = state.resources.tables[rt_name]
    query = table.model.select().where(
        scimlite.filter_to_sql(scimlite.parse_filter(rt, text), table))
    sql, params = query.sql()
    db = state.models.db
    if state.models.dialect.name == "postgresql":
        # A table of a few rows is scanned whatever the indexes: forbid the
        # scan, so the plan shows whether an index can serve the filter.
        # An empty table has no statistics, and then every index that leads
        # with org_id looks as good as another: a few hundred rows, analysed.
        fill_for_the_planner(db, table.model)
        with db.atomic():
            db.execute_sql("SET LOCAL enable_seqscan = off")
            rows = db.execute_sql("EXPLAIN " + sql, params).fetchall()
        return " | ".join(row[0] for row in rows).replace("Seq Scan on ", "SCAN ")
    rows = db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return " | ".join(row[-1] for row in rows)


@pytest.mark.parametrize("rt_name, text, index", [
    ("User", 'userName eq "Alice"', "user_name_key"),
    ("User", 'externalId eq "x"', "external_id"),
    ("User", 'id eq "x"', "user_org_id_id"),
    ("User", 'displayName eq "x"', "display_name_key"),
    ("User", 'emails.value eq "a@example.com"', "user_email_org_id_value_key"),
    ("User", 'emails[value eq "a@example.com"]', "user_email_org_id_value_key"),
    ("Group", 'displayName eq "Eng"', "display_name_key"),
    ("Group", 'externalId eq "x"', "external_id"),
    ("Group", 'members.value eq "x"', "membership_org_id_member_id"),
])
def test_hot_lookups_use_an_index(app, rt_name, text, index):
    text_plan = plan(app, rt_name, text)
    assert index in text_plan, text_plan
    # Every index a request uses leads with the organization (issue 22).
    assert "_org_id_" + index.split("_org_id_")[-1] in text_plan, text_plan
    table = "user" if rt_name == "User" else "group"
    assert f"SCAN {table}" not in text_plan.replace(f"SCAN {table}_", ""), text_plan


def test_count_does_not_load_rows(app, scim):
    for i in range(3):
        scim.create_user(f"c{i}")
    queries = []
    db = app.scimlite.models.db
    original = db.execute_sql

    me = threading.get_ident()      # not the outbox's sender, in its own thread

    def spy(sql, params=None, *args, **kwargs):
        if threading.get_ident() == me:
            queries.append(sql)
        return original(sql, params, *args, **kwargs)
    db.execute_sql = spy
    scim.get("/Users", count=0)
    db.execute_sql = original
    counted = [q for q in queries if "COUNT" in q.upper()]
    assert len(counted) == 1
    assert not any(q.lstrip().upper().startswith('SELECT "T1"."PK"') for q in queries)


def test_sql_folds_case_exactly_as_python(backend, app):
    """scim_fold() in SQL is Python's casefold() (on PostgreSQL, a function
    generated from it; on SQLite, fold() itself), on every character that
    case folding or lowering changes (ß to ss, final ς to σ, Cherokee,
    ligatures), and on whole strings: filters and sorting on attributes
    that ignore case must agree with the folded columns Python writes."""
    chars = [chr(c) for c in range(sys.maxunicode + 1)
             if not 0xD800 <= c <= 0xDFFF and chr(c).casefold() != chr(c).lower()
             or chr(c).lower() != chr(c)]
    texts = chars + ["Straße", "ΣΊΣΥΦΟΣ", "İstanbul", "ǅungla", "ﬁle", "plain ascii"]
    query = {"postgresql": ("SELECT scim_fold(t) FROM unnest(%s::text[]) WITH ORDINALITY "
                            "AS u(t, n) ORDER BY n", texts),
             "sqlite": ("SELECT scim_fold(value) FROM json_each(?) ORDER BY key",
                        json.dumps(texts))}[backend]
    folded = [row[0] for row in app.scimlite.models.db.execute_sql(query[0], [query[1]])]
    wrong = [(t, f, t.casefold()) for t, f in zip(texts, folded) if f != t.casefold()]
    assert not wrong, wrong[:20]
    assert len(chars) > 1400
