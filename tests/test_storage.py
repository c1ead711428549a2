"""Storage: lookups by the hot attributes use indexes, never a table scan."""
import threading

import pytest

import scimlite


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
        with db.atomic():
            db.execute_sql("SET LOCAL enable_seqscan = off")
            rows = db.execute_sql("EXPLAIN " + sql, params).fetchall()
        return " | ".join(row[0] for row in rows).replace("Seq Scan on ", "SCAN ")
    rows = db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return " | ".join(row[-1] for row in rows)


@pytest.mark.parametrize("rt_name, text, index", [
    ("User", 'userName eq "Alice"', "user_name_key"),
    ("User", 'externalId eq "x"', "external_id"),
    ("User", 'id eq "x"', "user_id"),
    ("User", 'displayName eq "x"', "display_name_key"),
    ("User", 'emails.value eq "a@example.com"', "user_email_value_key"),
    ("User", 'emails[value eq "a@example.com"]', "user_email_value_key"),
    ("Group", 'displayName eq "Eng"', "display_name_key"),
    ("Group", 'externalId eq "x"', "external_id"),
    ("Group", 'members.value eq "x"', "membership_member_id"),
])
def test_hot_lookups_use_an_index(app, rt_name, text, index):
    text_plan = plan(app, rt_name, text)
    assert index in text_plan, text_plan
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
