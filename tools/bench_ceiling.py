#!/usr/bin/env python3
"""The ceiling for tools/bench.py: bare Bottle + Waitress + peewee, one query a request.

    python tools/bench_ceiling.py seed --db PATH --users USERS.json
    python tools/bench_ceiling.py serve --db PATH --port 8082 [--threads 8]

What a SCIM server on this stack could not beat: each route runs exactly
one ordinary peewee query, built per request the usual peewee way, over
one table users(pk, id unique, user_name unique, data = the resource's
JSON) on SQLite in WAL mode, a connection per thread as peewee keeps
them.  No auth, no validation beyond what the query needs, no events.

    GET   /scim/v2/Users?filter=userName eq "x"   one indexed SELECT
    GET   /scim/v2/Users/<id>                     one SELECT
    GET   /scim/v2/Users?startIndex=&count=       COUNT, then LIMIT/OFFSET
    POST  /scim/v2/Users                          one INSERT (committed)
    PATCH /scim/v2/Users/<id>                     one UPDATE ... RETURNING (committed)

`seed` loads a JSON list of SCIM users (their ids kept) into a new
database: the same users tools/bench.py imports into scimlite.
"""
import argparse
import datetime
import json
import re
import sys
import uuid

import bottle
import peewee
import waitress

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
CONTENT_TYPE = "application/scim+json"
BASE = "/scim/v2"
# The one filter the ceiling understands: what Entra ID and Okta send.
USERNAME_EQ = re.compile(r'^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
# Entra ID sends booleans as the strings "True" and "False".
BOOLEANS = {"true": True, "false": False}


def open_database(path):
    # synchronous=full as scimlite: an acknowledged write survives a power cut,
    # so both pay the same fsync.  busy_timeout: 8 threads write at once.
    return peewee.SqliteDatabase(path, returning_clause=True, pragmas={
        "journal_mode": "wal", "synchronous": "full", "busy_timeout": 30000})


def build_user_model(db):
    class User(peewee.Model):
        pk = peewee.AutoField()
        id = peewee.CharField(unique=True)
        user_name = peewee.CharField(unique=True)    # folded: userName is caseExact=false
        data = peewee.TextField()

        class Meta:
            database = db
            table_name = "users"
    return User


def now_text():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def stored_user(body, user_id, stamp):
    """The resource as served: the request's attributes, an id and meta."""
    return {**body, "schemas": [USER_URN], "id": user_id,
            "meta": {"resourceType": "User", "created": stamp, "lastModified": stamp,
                     "location": f"{BASE}/Users/{user_id}"}}


def row_of(resource):
    return {"id": resource["id"], "user_name": resource["userName"].casefold(),
            "data": json.dumps(resource)}


def scim_json(body, status=200):
    bottle.response.status = status
    bottle.response.content_type = CONTENT_TYPE
    return json.dumps(body)


def list_response(resources, total, start):
    return scim_json({"schemas": [LIST_URN], "totalResults": total, "startIndex": start,
                      "itemsPerPage": len(resources), "Resources": resources})


def patch_values(operations):
    """json_set's path/value pairs for Entra's PATCH: Replace of top-level attributes."""
    pairs = []
    for op in operations:
        if op.get("op", "").lower() != "replace" or not op.get("path", "").isalnum():
            bottle.abort(400, "the ceiling knows only Replace of a top-level attribute")
        value = op["value"]
        if op["path"] == "active" and isinstance(value, str):
            value = BOOLEANS[value.lower()]
        if isinstance(value, bool):
            # json('true') keeps the boolean a JSON boolean inside json_set.
            value = peewee.fn.json(json.dumps(value))
        pairs += [f"$.{op['path']}", value]
    return pairs


def build_app(db):
    User = build_user_model(db)
    app = bottle.Bottle()

    @app.get(f"{BASE}/Users")
    def list_users():
        query = bottle.request.query
        if query.get("filter"):
            return lookup(query.get("filter"))
        start, count = int(query.get("startIndex", 1)), int(query.get("count", 100))
        total = User.select().count()
        page = User.select(User.data).order_by(User.pk).offset(start - 1).limit(count)
        return list_response([json.loads(row.data) for row in page], total, start)

    def lookup(text):
        match = USERNAME_EQ.match(text)
        if not match:
            bottle.abort(400, "the ceiling knows only userName eq")
        query = User.select(User.data).where(User.user_name == match.group(1).casefold())
        found = [json.loads(row.data) for row in query]
        return list_response(found, len(found), 1)

    @app.get(f"{BASE}/Users/<user_id>")
    def get_user(user_id):
        row = User.get_or_none(User.id == user_id)
        if row is None:
            bottle.abort(404)
        return scim_json(json.loads(row.data))

    @app.post(f"{BASE}/Users")
    def create_user():
        resource = stored_user(json.load(bottle.request.body), str(uuid.uuid4()), now_text())
        try:
            User.insert(**row_of(resource)).execute()
        except peewee.IntegrityError:
            bottle.abort(409, "userName taken")
        return scim_json(resource, 201)

    @app.route(f"{BASE}/Users/<user_id>", method="PATCH")
    def patch_user(user_id):
        pairs = patch_values(json.load(bottle.request.body).get("Operations", []))
        query = (User.update(data=peewee.fn.json_set(User.data, "$.meta.lastModified",
                                                      now_text(), *pairs))
                 .where(User.id == user_id).returning(User.data))
        rows = list(query.execute())
        if not rows:
            bottle.abort(404)
        return scim_json(json.loads(rows[0].data))

    return app


def seed(db, users):
    User = build_user_model(db)
    db.create_tables([User])
    stamp = now_text()
    rows = [row_of(stored_user(user, user["id"], stamp)) for user in users]
    with db.atomic():
        for start in range(0, len(rows), 500):      # SQLite's bound-variable limit
            User.insert_many(rows[start:start + 500]).execute()
    db.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seeding = commands.add_parser("seed", help="create the table and load users")
    seeding.add_argument("--db", required=True)
    seeding.add_argument("--users", required=True, help="a JSON list of SCIM users")
    serving = commands.add_parser("serve", help="serve the four routes with Waitress")
    serving.add_argument("--db", required=True)
    serving.add_argument("--port", type=int, required=True)
    serving.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    db = open_database(args.db)
    if args.command == "seed":
        with open(args.users, encoding="utf-8") as handle:
            seed(db, json.load(handle))
        return
    waitress.serve(build_app(db), host="127.0.0.1", port=args.port, threads=args.threads,
                   ident="ceiling")


if __name__ == "__main__":
    sys.exit(main())
