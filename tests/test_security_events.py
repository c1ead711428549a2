"""SCIM security events (issue 25; RFC 9967, a profile of RFC 8417 Security
Event Tokens): each change of a user or group, signed with the
organization's key, for receivers that poll (RFC 8936) or are pushed to
(RFC 8935).  The receiver here is written from the RFCs' text: it trusts
nothing but the key set published at /o/{slug}/events/jwks.json."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
import webtest

import scimlite
from conftest import SCIMClient, free_port

EVENT = "urn:ietf:params:scim:event:"
ISSUER = "https://scim.example.com/o/default/scim/v2"


@pytest.fixture
def events_app(store):
    app = scimlite.create_app({**store, "mailer": "memory"})
    yield app
    app.scimlite.close()


def new_stream(app, name="replica", org="default", url=None, audience=None):
    state = app.scimlite
    with state.in_org(org), state.changes.unit():
        return scimlite.create_event_stream(state.models, name, ISSUER, url, audience)


def scim_of(app, org="default"):
    with app.scimlite.in_org(org):
        return SCIMClient(app, app.scimlite.mint_key(f"k{time.monotonic_ns()}"))


def poll(app, token, body=None, slug="default", status=200, **headers):
    web = webtest.TestApp(app)
    return web.post(f"/o/{slug}/events", json.dumps({"returnImmediately": True}
                                                    if body is None else body),
                    headers={"Authorization": f"Bearer {token}",
                             "Content-Type": "application/json", **headers}, status=status)


class Receiver:
    """A SET receiver as RFC 8417 §2, RFC 8936 and RFC 9967 §2 describe
    one: it verifies each SET's JWS with the transmitter's published keys
    only (typ secevent+jwt, its iss and aud), and reads sub_id and events."""

    def __init__(self, app, slug="default", audience=None):
        keys = webtest.TestApp(app).get(f"/o/{slug}/events/jwks.json").json
        self.keys = jwt.PyJWKSet.from_dict(keys)
        self.audience = audience

    def verify(self, token):
        header = jwt.get_unverified_header(token)
        assert header["typ"] == "secevent+jwt" and header["alg"] == "ES256"
        key = next(k for k in self.keys.keys if k.key_id == header["kid"]).key
        claims = jwt.decode(token, key, algorithms=["ES256"], audience=self.audience,
                            issuer=ISSUER, options={"require": ["iss", "iat", "jti"],
                                                    "verify_aud": self.audience is not None})
        assert "sub" not in claims         # RFC 9967 §2.1: sub_id, never sub
        assert claims["sub_id"]["format"] == "scim"
        (uri, payload), = claims["events"].items()
        return claims, uri, payload

    def read(self, answer):
        """[(claims, event URI, payload)] of a poll answer, oldest first."""
        told = [self.verify(token) for token in answer.json["sets"].values()]
        for jti, token in answer.json["sets"].items():
            assert jwt.decode(token, options={"verify_signature": False})["jti"] == jti
        return sorted(told, key=lambda t: int(t[0]["txn"]))


# --- what a change is told as (RFC 9967 §2) ------------------------------------------------

def test_each_change_is_told_as_the_rfcs_event(events_app):
    stream, token = new_stream(events_app)
    scim = scim_of(events_app)
    user = scim.create_user("jdoe", externalId="jdoe", name={"givenName": "John"},
                            emails=[{"value": "jdoe@example.com", "type": "work"}])
    uri = f"/Users/{user['id']}"
    scim.put(uri, {"schemas": [scimlite.USER_URN], "userName": "jdoe", "externalId": "jdoe",
                   "displayName": "John Doe"})
    after_put = scim.get(uri).json["meta"]["version"]
    scim.patch(uri, {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "title", "value": "Boss"}]})
    for active in (False, True):
        scim.patch(uri, {"schemas": [scimlite.PATCH_URN], "Operations": [
            {"op": "replace", "path": "active", "value": active}]})
    group = scim.create_group("crmUsers", externalId="crmUsers")
    scim.patch(f"/Groups/{group['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]}]})
    scim.delete(uri)
    told = Receiver(events_app, audience=stream.audience).read(poll(events_app, token))
    names = [(u.removeprefix(EVENT), c["sub_id"]["uri"]) for c, u, _ in told]
    assert names == [("prov:create:notice", uri), ("prov:put:notice", uri),
                     ("prov:patch:notice", uri), ("prov:deactivate", uri),
                     ("prov:activate", uri), ("prov:create:notice", f"/Groups/{group['id']}"),
                     ("prov:patch:notice", f"/Groups/{group['id']}"),
                     ("prov:patch:notice", f"/Groups/{group['id']}"),
                     ("prov:delete", uri)]
    (created, _, payload), (_, _, put) = told[0], told[1]
    # RFC 9967 Figure 5's shape: attribute names only, never their values.
    assert {"userName", "name", "emails"} <= set(payload["attributes"])
    assert "jdoe@example.com" not in json.dumps(told)
    assert created["sub_id"] == {"format": "scim", "uri": uri, "externalId": "jdoe"}
    assert created["iss"] == ISSUER and created["aud"] == stream.audience
    assert "displayName" in put["attributes"] and put["version"].startswith('W/"')
    assert told[2][2]["attributes"] == ["title"]
    assert told[3][2] == {} and told[4][2] == {} and told[-1][2] == {}   # §2.4.4
    assert told[-1][0]["sub_id"]["externalId"] == "jdoe"                # known, so told
    assert told[6][2]["attributes"] == ["members"]
    assert put["version"] == after_put             # the ETag a GET then gave
    assert len({c["jti"] for c, _, _ in told}) == len(told)


# RFC 9967 Figure 5 (Create Event, Notice), as the RFC prints it.
RFC_9967_FIGURE_5 = {
    "jti": "4d3559ec67504aaba65d40b0363faad8", "iat": 1458496404,
    "iss": "https://scim.example.com",
    "aud": ["https://scim.example.com/Feeds/98d52461fa5bbc879593b7754",
            "https://scim.example.com/Feeds/5d7604516b1d08641d7676ee7"],
    "sub_id": {"format": "scim", "uri": "/Users/44f6142df96bd6ab61e7521d9",
               "externalId": "jdoe"},
    "events": {"urn:ietf:params:scim:event:prov:create:notice": {
        "attributes": ["id", "name", "userName", "password", "emails"]}}}


def test_a_create_notice_has_the_shape_of_the_rfcs_figure(events_app):
    stream, token = new_stream(events_app)
    scim_of(events_app).create_user("jdoe", externalId="jdoe", password="t1meMa$heen",
                                    name={"givenName": "John"},
                                    emails=[{"value": "jdoe@example.com"}])
    (claims, uri, payload), = Receiver(events_app).read(poll(events_app, token))
    figure = RFC_9967_FIGURE_5
    assert set(figure) <= set(claims) and set(claims) - set(figure) == {"txn"}
    assert set(claims["sub_id"]) == set(figure["sub_id"])
    assert uri in figure["events"]
    assert set(payload) - {"version"} == set(figure["events"][uri])
    # The figure's attributes, but for id (assigned, not sent) and in our order.
    assert set(figure["events"][uri]["attributes"]) - {"id"} <= set(payload["attributes"])
    assert "t1meMa$heen" not in json.dumps(claims)


def test_a_refused_change_tells_nothing(events_app):
    _, token = new_stream(events_app)
    scim = scim_of(events_app)
    scim.create_user("ann")
    scim.post("/Users", {"schemas": [scimlite.USER_URN], "userName": "ann"}, status=409)
    assert len(poll(events_app, token).json["sets"]) == 1


def test_an_organization_without_receivers_writes_no_set(events_app):
    scim_of(events_app).create_user("ann")
    state = events_app.scimlite
    assert state.models.SecurityEvent.everywhere().count() == 0
    assert state.models.OutboxMessage.everywhere().where(
        state.models.OutboxMessage.kind == "set").count() == 0


def test_service_provider_config_advertises_security_events_once_configured(events_app):
    """RFC 9967 §4: securityEvents with asyncRequest and eventUris, absent
    while the organization has no receiver ("not currently configured")."""
    scim = scim_of(events_app)
    assert "securityEvents" not in scim.get("/ServiceProviderConfig").json
    new_stream(events_app)
    config = scim.get("/ServiceProviderConfig").json
    assert config["securityEvents"]["asyncRequest"] == "none"
    assert set(config["securityEvents"]["eventUris"]) == {
        EVENT + name for name in ("prov:create:notice", "prov:put:notice",
                                  "prov:patch:notice", "prov:delete", "prov:activate",
                                  "prov:deactivate")}


# --- polling (RFC 8936) -----------------------------------------------------------------------

def test_poll_acknowledge_and_get_what_is_new(events_app):
    """RFC 8936 §2.4: what is not acknowledged comes again; what is, never."""
    _, token = new_stream(events_app)
    scim = scim_of(events_app)
    for n in range(5):
        scim.create_user(f"u{n}")
    first = poll(events_app, token, {"maxEvents": 2, "returnImmediately": True}).json
    assert len(first["sets"]) == 2 and first["moreAvailable"] is True
    again = poll(events_app, token, {"maxEvents": 2, "returnImmediately": True}).json
    assert set(again["sets"]) == set(first["sets"])         # not acknowledged: again
    rest = poll(events_app, token, {"ack": list(first["sets"]), "returnImmediately": True})
    assert len(rest.json["sets"]) == 3 and not set(rest.json["sets"]) & set(first["sets"])
    assert rest.json["moreAvailable"] is False
    # Figure 3's shape: acknowledge only.
    done = poll(events_app, token, {"ack": list(rest.json["sets"]), "maxEvents": 0,
                                    "returnImmediately": True}).json
    assert done == {"sets": {}, "moreAvailable": False}
    assert poll(events_app, token).json["sets"] == {}
    # An acknowledgement sent twice (its answer lost) is harmless.
    poll(events_app, token, {"ack": list(first["sets"]), "returnImmediately": True})


def test_set_errors_are_recorded_and_not_sent_again(events_app, caplog):
    """RFC 8936 §2.4.3 (Figure 5's shape): setErrs names SETs the receiver
    could not take; they are logged, kept with the error, not resent."""
    _, token = new_stream(events_app)
    scim = scim_of(events_app)
    scim.create_user("a")
    scim.create_user("b")
    bad, good = list(poll(events_app, token).json["sets"])
    said = {"err": "authentication_failed", "description": "The SET could not be authenticated"}
    answer = poll(events_app, token, {"ack": [good], "setErrs": {bad: said},
                                      "returnImmediately": True})
    assert answer.json["sets"] == {}
    row = events_app.scimlite.models.SecurityEvent.everywhere().where(
        events_app.scimlite.models.SecurityEvent.jti == bad).get()
    assert json.loads(row.error) == said and row.acked
    assert "authentication_failed" in caplog.text


def test_an_unknown_jti_refuses_the_whole_acknowledgement(events_app):
    _, token = new_stream(events_app)
    scim_of(events_app).create_user("a")
    (jti,) = poll(events_app, token).json["sets"]
    answer = poll(events_app, token, {"ack": [jti, "4d3559ec67504aaba65d40b0363faad8"],
                                      "returnImmediately": True}, status=400)
    assert answer.json["err"] == "invalid_request" and "4d3559ec" in answer.json["description"]
    assert list(poll(events_app, token).json["sets"]) == [jti]      # nothing acknowledged


@pytest.mark.parametrize("body", [
    "not json", "[1, 2]", '"text"', '{"maxEvents": -1}', '{"maxEvents": "5"}',
    '{"maxEvents": true}', '{"returnImmediately": "yes"}', '{"ack": "abc"}',
    '{"ack": [1]}', '{"ack": [""]}', '{"setErrs": []}', '{"setErrs": {"x": "bad"}}',
    '{"setErrs": {"x": {"err": "made_up"}}}', '{"ack": ["x"], "setErrs": {"x": '
    '{"err": "invalid_key"}}}', '{"maxEvents": 1e999}', "{" * 100000,
])
def test_a_malformed_poll_is_a_clear_400_never_a_500(events_app, body):
    _, token = new_stream(events_app)
    answer = webtest.TestApp(events_app).post(
        "/o/default/events", body, headers={"Authorization": f"Bearer {token}",
                                            "Content-Type": "application/json"}, status="*")
    assert answer.status_int == 400, answer.text
    assert answer.json["err"] == "invalid_request" and answer.json["description"]


def test_unknown_members_are_ignored_and_an_empty_body_is_a_poll(events_app):
    _, token = new_stream(events_app)
    scim_of(events_app).create_user("a")
    assert len(poll(events_app, token, {"returnImmediately": True, "future": 1})
               .json["sets"]) == 1
    web = webtest.TestApp(events_app)
    answer = web.post("/o/default/events", "", headers={"Authorization": f"Bearer {token}"})
    assert len(answer.json["sets"]) == 1
    refused = web.post("/o/default/events", "{}", status=400, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "text/plain"})
    assert "application/json" in refused.json["description"]


def test_a_stream_token_works_only_on_its_organization_and_until_revoked(events_app):
    state = events_app.scimlite
    state.create_organization("acme")
    _, token = new_stream(events_app)
    _, acme_token = new_stream(events_app, org="acme")
    for wrong, slug in ((acme_token, "default"), ("sst_nothing", "default"), ("", "default"),
                        (token, "nowhere"), (token, "acme")):
        answer = poll(events_app, wrong, slug=slug, status=401)
        assert answer.json["err"] == "authentication_failed"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    with state.in_org("default"), state.changes.unit():
        scimlite.revoke_event_stream(state.models, "replica")
    poll(events_app, token, status=401)


def test_failed_stream_tokens_are_throttled(events_app):
    statuses = [poll(events_app, f"sst_guess{n:040d}", status="*").status_int
                for n in range(40)]
    assert statuses[0] == 401 and statuses[-1] == 429


def test_a_long_poll_answers_when_a_change_comes(events_app):
    """RFC 8936 §2.5: returnImmediately false waits for a SET."""
    _, token = new_stream(events_app)
    scim = scim_of(events_app)
    threading.Timer(0.3, lambda: scim.create_user("late")).start()
    started = time.monotonic()
    answer = poll(events_app, token, {"returnImmediately": False})
    assert len(answer.json["sets"]) == 1
    assert time.monotonic() - started < scimlite.POLL_WAIT_SECONDS


def test_a_long_poll_with_nothing_new_answers_empty_at_its_end(events_app, monkeypatch):
    monkeypatch.setattr(scimlite, "POLL_WAIT_SECONDS", 0.5)
    _, token = new_stream(events_app)
    started = time.monotonic()
    assert poll(events_app, token, {}).json == {"sets": {}, "moreAvailable": False}
    assert 0.4 < time.monotonic() - started < 5


def test_sets_not_acknowledged_outlive_a_restart(database):
    app = scimlite.create_app({**database, "mailer": "memory"})
    _, token = new_stream(app)
    scim_of(app).create_user("kept")
    app.scimlite.close()
    again = scimlite.create_app({**database, "mailer": "memory"})
    try:
        told = Receiver(again).read(poll(again, token))
        assert [u for _, u, _ in told] == [EVENT + "prov:create:notice"]
    finally:
        again.scimlite.close()


def test_acknowledged_sets_go_after_set_retention_days(events_app):
    _, token = new_stream(events_app)
    scim = scim_of(events_app)
    scim.create_user("a")
    scim.create_user("b")
    first, second = list(poll(events_app, token).json["sets"])
    poll(events_app, token, {"ack": [first], "returnImmediately": True})
    state = events_app.scimlite
    SET = state.models.SecurityEvent
    with state.changes.unit():
        SET.update_everywhere(acked="2000-01-01T00:00:00Z").where(SET.jti == first).execute()
    state.log.flush(retain=True)
    assert [row.jti for row in SET.everywhere()] == [second]


# --- one organization, one key ----------------------------------------------------------------

def test_organizations_have_their_own_keys_and_their_own_events(events_app):
    state = events_app.scimlite
    state.create_organization("acme")
    stream, token = new_stream(events_app)
    _, acme_token = new_stream(events_app, org="acme")
    scim_of(events_app, "acme").create_user("wile@acme.example")
    assert poll(events_app, token).json["sets"] == {}
    (acme_set,) = poll(events_app, acme_token, slug="acme").json["sets"].values()
    Receiver(events_app, "acme").verify(acme_set)
    with pytest.raises((jwt.InvalidSignatureError, StopIteration)):
        Receiver(events_app, "default").verify(acme_set)
    default_keys = webtest.TestApp(events_app).get("/o/default/events/jwks.json").json
    acme_keys = webtest.TestApp(events_app).get("/o/acme/events/jwks.json").json
    assert default_keys["keys"][0]["kid"] != acme_keys["keys"][0]["kid"]
    # Public members only: never "d", the private scalar.
    assert set(default_keys["keys"][0]) == {"crv", "kty", "x", "y", "kid", "use", "alg"}
    webtest.TestApp(events_app).get("/o/nowhere/events/jwks.json", status=404)


def test_the_key_is_derived_alike_by_every_instance_and_never_stored(database):
    first = scimlite.create_app({**database, "mailer": "memory"})
    second = scimlite.create_app({**database, "mailer": "memory"})
    try:
        keys = [webtest.TestApp(a).get("/o/default/events/jwks.json").json
                for a in (first, second)]
        assert keys[0] == keys[1]
        private = scimlite.event_signing_key(first.scimlite.secret, 1)[0].private_numbers()
        with first.scimlite.lock:
            stored = json.dumps([list(map(str, row)) for model in first.scimlite.models.all
                                 for row in model._meta.database.execute_sql(
                                     f'SELECT * FROM "{model._meta.table_name}"').fetchall()])
        assert str(private.private_value) not in stored
    finally:
        first.scimlite.close()
        second.scimlite.close()


# --- pushing (RFC 8935) ----------------------------------------------------------------------

class PushReceiver:
    """An RFC 8935 receiver on loopback: 202 and an empty body for a SET it
    takes; the answers it is told to give otherwise."""

    def __init__(self, answers=()):
        self.received, self.answers = [], list(answers)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):      # noqa: N802 (the name http.server calls)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((self.headers["Content-Type"],
                                       self.headers["Accept"], body.decode()))
                status, said = outer.answers.pop(0) if outer.answers else (202, None)
                self.send_response(status)
                if said:
                    data = json.dumps(said).encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Language", "en")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *args):
                pass
        self.server = HTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_push_receiver_gets_each_set_signed_through_the_outbox(events_app):
    receiver = PushReceiver()
    try:
        stream, _ = new_stream(events_app, url=receiver.url)
        assert stream.audience == receiver.url
        scim = scim_of(events_app)
        user = scim.create_user("pushed", externalId="p1")
        scim.delete(f"/Users/{user['id']}")
        assert events_app.scimlite.outbox.wait()
        assert [(t, a) for t, a, _ in receiver.received] == [
            ("application/secevent+jwt", "application/json")] * 2
        check = Receiver(events_app, audience=receiver.url)
        told = [check.verify(body) for _, _, body in receiver.received]
        assert [u for _, u, _ in told] == [EVENT + "prov:create:notice", EVENT + "prov:delete"]
        Message = events_app.scimlite.models.OutboxMessage
        assert {m.status for m in Message.everywhere().where(Message.kind == "set")} == {"sent"}
    finally:
        receiver.close()


def test_a_push_the_receiver_refuses_is_dead_and_a_failing_one_retried(events_app):
    refusal = {"err": "invalid_key", "description": "Key ID 12345 has been revoked."}
    receiver = PushReceiver([(400, refusal), (503, None)])
    try:
        new_stream(events_app, url=receiver.url)
        scim = scim_of(events_app)
        scim.create_user("refused")
        assert events_app.scimlite.outbox.wait()
        scim.create_user("retried")
        assert events_app.scimlite.outbox.wait()
        Message = events_app.scimlite.models.OutboxMessage
        rows = list(Message.everywhere().where(Message.kind == "set").order_by(Message.pk))
        assert rows[0].status == "dead" and "invalid_key" in rows[0].last_error
        assert rows[1].status == "pending" and "503" in rows[1].last_error
    finally:
        receiver.close()


# --- the operator --------------------------------------------------------------------------------

def test_the_cli_creates_lists_and_revokes_streams(database):
    import io
    db, environ = database["db"], {"SCIMLITE_LICENSE_SECRET": database.get(
        "license_secret", "")} if "license_secret" in database else {}

    def run(*argv):
        out = io.StringIO()
        assert scimlite.main([*argv, "--db", db], environ=environ, out=out) == 0
        return out.getvalue()
    made = run("event-stream", "create", "replica")
    token = next(line.split()[1] for line in made.splitlines() if line.startswith("token:"))
    assert token.startswith("sst_") and "/o/default/events/jwks.json" in made
    pushed = run("event-stream", "create", "hook", "--push", "https://receiver.example/e")
    assert "push to:       https://receiver.example/e" in pushed and "token" not in pushed
    listed = run("event-stream", "list")
    assert "replica" in listed and "https://receiver.example/e" in listed
    assert token not in listed and "never" in listed
    app = scimlite.create_app({**database, "mailer": "memory"})
    try:
        scim_of(app).create_user("counted")
        scim_of(app).create_user("counted-too")
        (jti, _) = poll(app, token).json["sets"]
        poll(app, token, {"ack": [jti], "returnImmediately": True})
    finally:
        app.scimlite.close()
    replica = next(line for line in run("event-stream", "list").splitlines()
                   if "replica" in line).split()
    assert replica[3] == "1" and replica[4].startswith("20")   # one waiting; acknowledged
    assert run("event-stream", "revoke", "replica") == "revoked 'replica'\n"
    assert "revoked 20" in run("event-stream", "list")


def test_the_documented_poll_loop_runs_as_written(capsys):
    """docs/events.md's ten lines, against a live server: twice round
    the loop, the second acknowledging what the first printed."""
    from conftest import ROOT
    text = (ROOT / "docs" / "events.md").read_text()
    block = text.split("A poll loop in ten lines")[1].split("\n\n")[1]
    code = "\n".join(line[4:] for line in block.splitlines())
    assert len(code.splitlines()) == 10
    with scimlite.serve({"mailer": "memory"}) as server:
        _, token = new_stream(server.app)
        scim_of(server.app).create_user("looped", externalId="l1")
        code = code.replace("https://HOST/o/default", server.url + "/o/default").replace(
            "sst_…", token).replace("while True:", "for _ in range(2):")
        exec(compile(code, "docs/events.md", "exec"), {})
        SET = server.app.scimlite.models.SecurityEvent
        with server.app.scimlite.lock:
            assert [row.acked is not None for row in SET.everywhere()] == [True]
    assert "prov:create:notice" in capsys.readouterr().out     # the events it printed
