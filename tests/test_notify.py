"""Mail and webhooks through the outbox, against real servers: an SMTP
server (aiosmtpd) on a loopback port, a webhook receiver (http.server), and
`python scimlite.py` processes that are stopped, killed and started again."""
import base64
import email
import email.headerregistry
import email.policy
import hashlib
import hmac
import http.server as http_server
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given, settings as examples, strategies as st
from aiosmtpd.controller import Controller

import scimlite
from conftest import SCRIPT, SCIMClient, free_port, http

FAST_RETRIES = (0.3, 0.3, 0.3, 0.3)


class Inbox:
    """An aiosmtpd handler: keeps each message; `script` holds replies to
    give instead of accepting ("451 ..."), one per message, in order;
    `check` runs as each message arrives (e.g. to look into the database)."""

    def __init__(self):
        self.messages, self.script, self.seen_at_arrival = [], [], []
        self.check = None
        self.refuse_sender = None

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.script:
            return self.script.pop(0)
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        if self.check:
            self.seen_at_arrival.append(self.check(message))
        self.messages.append((envelope.rcpt_tos, message))
        return "250 2.0.0 Ok: queued as TEST1"

    def wait(self, count, timeout=20.0):
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.messages) >= count


class SMTPServer:
    """aiosmtpd on a loopback port picked beforehand (its Controller will
    not take port 0), started and stopped at will."""

    def __init__(self, port=None):
        self.port, self.inbox, self.controller = port or free_port(), Inbox(), None
        self.password = None        # set: AUTH offered, and this password required

    def start(self):
        auth = {}
        if self.password is not None:
            auth = {"auth_require_tls": False, "authenticator": self._authenticate}
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     **auth)
        self.controller.start()
        return self

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        return AuthResult(success=auth_data.password == self.password.encode(), handled=False)

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def settings(self, **more):
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_security": "none",
                "smtp_timeout": 5, "mail_from": "licenses@example.com", **more}


@pytest.fixture
def smtp():
    server = SMTPServer()
    yield server
    server.stop()


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(scimlite, "RETRY_DELAYS", FAST_RETRIES)


def make(where, **settings):
    """An app on a database: the `database` fixture's, or a SQLite file in
    the folder `where`."""
    database = where if isinstance(where, dict) else {"db": str(where / "mail.db")}
    app = scimlite.create_app({**database, **settings})
    return app, SCIMClient(app, app.scimlite.mint_key(f"entra-{os.urandom(3).hex()}"))


def create(scim, user_name):
    return scim.create_user(user_name, emails=[{"value": user_name, "type": "work"}])


def key_in(message):
    return scimlite.SentMail("", "", message.get_body(("plain",)).get_content(), None,
                             message).key()


def rows(app):
    return [(r.recipient, r.status, r.attempts) for r in
            reversed(app.scimlite.outbox.messages())]


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- SMTP ------------------------------------------------------------------------

def test_the_license_mail_arrives_over_smtp_with_its_key(database, smtp):
    smtp.start()
    app, scim = make(database, **smtp.settings(product_name="Acme CAD"))
    create(scim, "zoe@example.com")
    assert smtp.inbox.wait(1)
    [(recipients, message)] = smtp.inbox.messages
    assert recipients == ["zoe@example.com"]
    assert message["From"] == "licenses@example.com"
    assert message["Subject"] == "Your Acme CAD license key"
    assert message["Message-ID"].endswith("@example.com>")
    key = key_in(message)
    assert app.scimlite.licenses.verify(key)["code"] == "VALID"
    assert key in message.get_body(("html",)).get_content()
    assert app.scimlite.outbox.wait()
    [row] = app.scimlite.outbox.messages()
    assert row.status == "sent" and row.reply == "250 2.0.0 Ok: queued as TEST1"
    app.scimlite.close()


def test_an_outage_delays_mail_and_then_each_arrives_once_after_its_commit(
        tmp_path, smtp, fast_retries):
    db = tmp_path / "mail.db"

    def committed(message):
        # Another connection already reads the user the mail is about.
        with sqlite3.connect(db) as other:
            to = message["To"].addresses[0].addr_spec
            return other.execute('SELECT COUNT(*) FROM "user" WHERE user_name_key = ?',
                                 (to,)).fetchone()[0]
    smtp.inbox.check = committed
    app, scim = make(tmp_path, **smtp.settings())
    for name in ("a@example.com", "b@example.com", "c@example.com"):
        create(scim, name)
    # The first is tried and refused; the others wait behind it, untried:
    # a refused connection is the server's state, not theirs.
    assert wait_for(lambda: [(r[1], r[2]) for r in rows(app)] == [
        ("pending", 1), ("pending", 0), ("pending", 0)])
    assert "ConnectionRefusedError" in app.scimlite.outbox.messages()[-1].last_error
    smtp.start()
    assert smtp.inbox.wait(3)
    assert app.scimlite.outbox.wait()
    time.sleep(1.0)                                 # room for a duplicate to show
    assert [r[0][0] for r in smtp.inbox.messages] == [
        "a@example.com", "b@example.com", "c@example.com"]      # in the order written
    assert smtp.inbox.seen_at_arrival == [1, 1, 1]
    assert {r[1] for r in rows(app)} == {"sent"}
    app.scimlite.close()


def test_no_mail_leaves_before_its_change_commits(tmp_path, smtp):
    """The sender is awake and the server up while a change is still open:
    nothing is sent until it commits; then the mail finds it committed."""
    smtp.start()
    db = tmp_path / "mail.db"

    def committed(message):
        with sqlite3.connect(db) as other:
            return other.execute('SELECT COUNT(*) FROM "user"').fetchone()[0]
    smtp.inbox.check = committed
    app, _ = make(tmp_path, **smtp.settings())
    state = app.scimlite
    with state.changes.unit("entra"):
        state.resources.create(scimlite.USER_TYPE, {
            "schemas": [scimlite.USER_URN], "userName": "open@example.com"}, "entra")
        state.outbox.wake()                     # as if another commit had woken it
        time.sleep(0.5)
        assert smtp.inbox.messages == []
    assert smtp.inbox.wait(1)
    assert smtp.inbox.seen_at_arrival == [1]
    app.scimlite.close()


def test_a_row_left_sending_by_a_dead_sender_is_sent_when_its_lease_runs_out(database, smtp):
    smtp.start()
    app, scim = make(database, mailer="memory")
    create(scim, "lease@example.com")
    assert app.scimlite.outbox.wait()
    Message = app.scimlite.models.OutboxMessage      # as a killed sender left it
    Message.update(status="sending", lease_until="2000-01-01T00:00:00.000Z").execute()
    app.scimlite.close()
    again, _ = make(database, **smtp.settings())
    assert smtp.inbox.wait(1)
    assert again.scimlite.outbox.wait() and rows(again)[0][1:] == ("sent", 2)
    again.scimlite.close()


def test_a_4xx_reply_is_retried_and_a_5xx_reply_is_dead_at_once(database, smtp, fast_retries):
    smtp.start()
    smtp.inbox.script = ["451 4.3.0 try again later", "451 4.3.0 still busy"]
    app, scim = make(database, **smtp.settings())
    create(scim, "patient@example.com")
    assert smtp.inbox.wait(1) and app.scimlite.outbox.wait()
    assert rows(app) == [("patient@example.com", "sent", 3)]
    smtp.inbox.script = ["550 5.1.1 no such mailbox"]
    create(scim, "gone@example.com")
    assert wait_for(lambda: rows(app)[-1][1] == "dead")
    dead = app.scimlite.outbox.messages()[0]
    assert dead.attempts == 1 and dead.last_error == "550 5.1.1 no such mailbox"
    assert len(smtp.inbox.messages) == 1
    assert app.scimlite.outbox.retry(dead.pk)                  # the admin's retry button
    assert smtp.inbox.wait(2)
    app.scimlite.close()


def test_transient_failures_give_up_after_the_last_retry(database, smtp, fast_retries):
    app, scim = make(database, **smtp.settings())              # the server never comes
    create(scim, "never@example.com")
    assert wait_for(lambda: rows(app)[0][1] == "dead")
    assert rows(app) == [("never@example.com", "dead", len(FAST_RETRIES) + 1)]
    app.scimlite.close()


def test_the_retry_schedule_starts_within_30_seconds_and_lasts_over_a_day():
    low, high = 1 - scimlite.RETRY_JITTER, 1 + scimlite.RETRY_JITTER
    assert scimlite.RETRY_DELAYS[0] * high <= 30
    assert sum(scimlite.RETRY_DELAYS) * low >= 24 * 3600
    assert list(scimlite.RETRY_DELAYS) == sorted(scimlite.RETRY_DELAYS)


def test_pending_mail_is_sent_by_the_next_app_on_the_same_database(database, smtp):
    app, scim = make(database, **smtp.settings())
    create(scim, "later@example.com")
    assert wait_for(lambda: rows(app)[0][2] >= 1)
    app.scimlite.close()                                       # stopped with mail pending
    smtp.start()
    again, _ = make(database, **smtp.settings())
    assert smtp.inbox.wait(1)
    assert again.scimlite.licenses.verify(key_in(smtp.inbox.messages[0][1]))["valid"]
    again.scimlite.close()


def test_a_refused_login_holds_mail_back_until_it_is_fixed_and_never_shows_the_password(
        tmp_path, smtp, caplog, fast_retries):
    """A wrong password is the server refusing us, not the mail: the round
    stops, nothing is dead, and once the password is right every mail goes."""
    caplog.set_level("DEBUG")
    smtp.password = "right-Zebra-42"
    smtp.start()
    app, scim = make(tmp_path, **smtp.settings(smtp_username="relay",
                                               smtp_password="pw-Zebra-42"))
    for name in ("p@example.com", "q@example.com"):
        create(scim, name)
    assert wait_for(lambda: rows(app)[0][1:] in (("pending", 2), ("pending", 3)), 30)
    assert rows(app)[1][1:] == ("pending", 0)
    assert app.scimlite.outbox.messages()[-1].last_error.startswith("535")
    app.scimlite.settings["smtp_password"] = "right-Zebra-42"
    assert smtp.inbox.wait(2)
    app.scimlite.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("mail.db*"))
    for secret in ("pw-Zebra-42", "right-Zebra-42"):
        assert secret not in caplog.text and secret.encode() not in stored


def test_a_non_ascii_password_is_reported_without_showing_it(database, smtp, caplog,
                                                             fast_retries):
    caplog.set_level("DEBUG")
    smtp.password = "x"
    smtp.start()
    app, scim = make(database, **smtp.settings(smtp_username="relay",
                                               smtp_password="pässwörd"))
    create(scim, "u@example.com")
    assert wait_for(lambda: rows(app)[0][1] == "dead")
    error = app.scimlite.outbox.messages()[0].last_error
    assert "must be ASCII" in error
    for leak in ("pässwörd", "\\xe4", "in position"):
        assert leak not in error and leak not in caplog.text
    app.scimlite.close()


def test_license_keys_never_reach_a_log(tmp_path, smtp, caplog):
    caplog.set_level("DEBUG", logger="scimlite")
    smtp.start()
    app, scim = make(tmp_path, **smtp.settings())
    user = create(scim, "k@example.com")
    scim.patch(f"/Users/{user['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "active", "value": False}]})
    scim.patch(f"/Users/{user['id']}", {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "active", "value": True}]})
    assert smtp.inbox.wait(3)
    app.scimlite.log.flush()
    key = key_in(smtp.inbox.messages[0][1])
    assert key and key_in(smtp.inbox.messages[2][1]) == key
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("scimlite")]
    logged = "".join(ours) + json.dumps(app.scimlite.events()) + "".join(
        str(r.__data__) for r in app.scimlite.models.RequestLog.select())
    for form in (key, key.replace("-", "")):
        assert form not in logged
    app.scimlite.close()


# --- processes: a restart after SIGKILL, the console of a trial ---------------------

class Server:
    """`python scimlite.py` on a free port; its output collected by a thread."""

    def __init__(self, tmp_path, env):
        self.port, self.lines = free_port(), []
        self.db = str(tmp_path / "proc.db")
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.env.pop("SCIMLITE_DB", None)
        self.process = subprocess.Popen(
            [sys.executable, SCRIPT, "--db", self.db, "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env,
            cwd=tmp_path)
        threading.Thread(target=self._read, daemon=True).start()
        assert wait_for(self._listening), self.output
        self.url = f"http://127.0.0.1:{self.port}"

    def _listening(self):
        # "Serving on" is printed just before Waitress binds: try the port.
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return "Serving on" in self.output
        except OSError:
            return False

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self):
        return "".join(self.lines)

    def mint(self):
        return subprocess.run([sys.executable, SCRIPT, "mint-key", os.urandom(3).hex(),
                               "--db", self.db], capture_output=True, text=True,
                              check=True, env=self.env).stdout.strip()

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)


def outbox_rows(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT status, attempts FROM outbox_message").fetchall()


def test_mail_pending_when_the_process_is_killed_is_sent_after_a_restart(tmp_path, smtp):
    env = {f"SCIMLITE_{k.upper()}": str(v) for k, v in smtp.settings(smtp_timeout=2).items()}
    first = Server(tmp_path, env)
    try:
        status, _, user = http("POST", first.url + "/scim/v2/Users", first.mint(), {
            "schemas": [scimlite.USER_URN], "userName": "kill@example.com"})
        assert status == 201
        assert wait_for(lambda: outbox_rows(first.db) == [("pending", 1)])
        first.stop(signal.SIGKILL)
    finally:
        first.stop(signal.SIGKILL)
    smtp.start()
    second = Server(tmp_path, env)
    try:
        assert smtp.inbox.wait(1), second.output
        key = key_in(smtp.inbox.messages[0][1])
        answer = json.loads(_post(second.url + scimlite.VERIFY_PATH, {"key": key}))
        assert answer["code"] == "VALID" and answer["userName"] == "kill@example.com"
        time.sleep(0.5)
        assert len(smtp.inbox.messages) == 1
    finally:
        second.stop()


def _post(url, body):
    import urllib.request
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def test_a_trial_without_smtp_prints_the_license_mail_on_the_console(tmp_path):
    """The quick start: `python scimlite.py`, then a user over SCIM."""
    server = Server(tmp_path, {})
    try:
        token = server.output.split("Secret Token:")[1].split()[0]
        status, _, _ = http("POST", server.url + "/scim/v2/Users", token, {
            "schemas": [scimlite.USER_URN], "userName": "trial@example.com"})
        assert status == 201
        assert wait_for(lambda: "----- end of mail -----" in server.output), server.output
        printed = server.output.split("mail NOT sent")[1]
        assert "To: trial@example.com" in printed
        assert scimlite.SentMail("", "", printed, None, None).key()
        # As a person reads it: decoded text, not MIME.
        assert "Keep it to yourself: it is yours alone." in printed
        assert "Content-Transfer-Encoding" not in printed and "boundary=" not in printed
    finally:
        server.stop()


def test_the_console_mailer_prints_the_mail_decoded_not_as_mime():
    """Quoted-printable would break a long line mid-word (`Ke=` / `ep it`)
    and spell ä as =C3=A4: the console shows the headers that matter and
    the plain text as written."""
    text = "Grüße, " + "a rather long sentence that goes on " * 4 + "and ends."
    message = scimlite.compose_mail({"mail_from": "Acme <licenses@example.com>"}, "m1",
                                    "jorg@example.com",
                                    "Jörg Müller", "Ihr Schlüssel", text, "<p>html</p>")
    out = io.StringIO()
    assert scimlite.ConsoleMailer(out).send(message) == "printed to the console"
    printed = out.getvalue()
    assert text in printed and "=\n" not in printed and "=C3" not in printed
    assert "To: Jörg Müller <jorg@example.com>" in printed
    assert "Subject: Ihr Schlüssel" in printed and "From: Acme <licenses@example.com>" in printed
    assert "an HTML version" in printed and "<p>html</p>" not in printed


@pytest.mark.parametrize("name", ["", "Ann Smith", "Ann O'Brien", "John Q. Public", "Jörg",
                                  "Smith, Ann", 'a"b', "ann@example.com", "x" * 80])
def test_the_console_mailer_writes_to_as_the_email_package_does(name):
    """Plain names are written directly; the To line is what
    email.headerregistry.Address would print, quoting included."""
    mail = scimlite.compose_mail({"mail_from": "a@b.example"}, "m1", "ann@example.com",
                                 name, "s", "t", None)
    out = io.StringIO()
    scimlite.ConsoleMailer(out).send(mail)
    expected = email.headerregistry.Address(display_name=mail.display,
                                            addr_spec=mail.recipient)
    assert f"To: {expected}\n" in out.getvalue()


MAIL_DATE = scimlite.dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=scimlite.dt.timezone.utc)
MAIL_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300) \
    | st.lists(st.sampled_from(["Hello,", "a" * 78, "a" * 79, "b" * 200, "Grüße", "",
                                "From here", ".", "--===x==", "é" * 50, "\t x "]),
               max_size=14).map("\n".join)
MAIL_NAME = st.sampled_from(["", "Ann Smith", "Ann O'Brien", "John Q. Public", "Jörg",
                             "Smith, Ann", "x" * 80]) | st.text(max_size=30)


@examples(max_examples=300, deadline=None)
@given(mail_from=st.sampled_from(["licenses@example.com", "Acme <lic@example.com>",
                                  '"Acme, Inc" <a@b.example>', "Zoë <z@ex.example>"]),
       recipient=st.sampled_from(["ann@example.com", "a.b+c@sub.example.org"]),
       name=MAIL_NAME, subject=MAIL_NAME | st.text(max_size=90),
       text=MAIL_TEXT, html=st.none() | MAIL_TEXT)
def test_a_mail_is_the_bytes_the_email_package_writes(mail_from, recipient, name, subject,
                                                      text, html):
    """compose_mail builds plain mails itself (a tenth of the cost): the
    bytes on the wire must stay exactly those of EmailMessage."""
    subject, boundary = scimlite.one_line(subject), "=" * 15 + "1234567890123456789=="
    mail = scimlite.compose_mail({"mail_from": mail_from}, "a1b2", recipient, name, subject,
                                 text, html, date=MAIL_DATE, boundary=boundary)
    display = "" if scimlite.one_line(name) == recipient else scimlite.one_line(name)
    assert mail.data == scimlite._email_mime(mail_from, "a1b2", recipient, display, subject,
                                             scimlite.email.utils.format_datetime(MAIL_DATE),
                                             text, html, boundary)


def test_the_license_mail_is_built_directly_not_by_the_email_package():
    """The license mail is the hot path: its headers and its two parts take
    the direct way, and its lines are short enough to go as they are (no
    quoted-printable to encode)."""
    subject, text, html = scimlite.MailTemplates().render("license_issued", {
        "name": "Ann Smith", "user_name": "ann@example.com", "product": "Acme Studio",
        "key": "ABCD-EFGH-IJKL-MNOP"})
    head = scimlite.mail_from_header("Acme Licenses <licenses@example.com>")
    data = scimlite._plain_mime(head, "a1b2", "ann@example.com", "Ann Smith", subject,
                                "Fri, 02 Jan 2026 03:04:05 +0000", text, html, "=====b==")
    assert data is not None and data.count(b"Content-Transfer-Encoding: 7bit") == 2
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert "ABCD-EFGH-IJKL-MNOP" in message.get_body(("html",)).get_content()
    assert message.get_body(("plain",)).get_content().splitlines() == text.splitlines()


# --- send-test-email -----------------------------------------------------------------

def cli(tmp_path, *args, **settings):
    env = {f"SCIMLITE_{k.upper()}": str(v) for k, v in settings.items()}
    result = subprocess.run([sys.executable, SCRIPT, *args, "--db", str(tmp_path / "c.db")],
                            capture_output=True, text=True, env={**os.environ, **env})
    return result.returncode, result.stdout + result.stderr


def test_send_test_email_sends_and_says_so(tmp_path, smtp):
    smtp.start()
    code, output = cli(tmp_path, "send-test-email", "me@example.com", **smtp.settings())
    assert code == 0, output
    assert "sent a test mail to me@example.com" in output and "250" in output
    assert "STARTTLS" not in output and "login" not in output   # steps not taken
    assert not list(tmp_path.iterdir())         # no database made to send a mail
    assert smtp.inbox.messages[0][1]["Subject"] == "scimlite test mail"


@pytest.mark.parametrize("settings, up, refuse, says", [
    ({"smtp_host": "no-such-host.invalid"}, False, None,
     "DNS: looking up no-such-host.invalid failed"),
    ({}, False, None, "the connection was refused"),
    ({"smtp_security": "starttls"}, True, None, "TLS: STARTTLS failed"),
    ({"smtp_username": "u", "smtp_password": "Secret-pw-9"}, True, None,
     "login as 'u' failed"),
    ({}, True, "553 5.7.1 sender not allowed", "refused the sender 'licenses@example.com'"),
])
def test_send_test_email_names_the_step_that_failed(tmp_path, smtp, settings, up, refuse,
                                                    says):
    smtp.inbox.refuse_sender = refuse
    if up:
        smtp.start()
    code, output = cli(tmp_path, "send-test-email", "me@example.com",
                       **smtp.settings(**settings))
    assert code == 1 and says in output, output
    assert "Traceback" not in output and "Secret-pw-9" not in output


def test_send_test_email_without_smtp_host_prints_the_mail_and_says_why(tmp_path):
    code, output = cli(tmp_path, "send-test-email", "me@example.com")
    assert code == 1
    assert "scimlite test mail" in output and "smtp_host is empty" in output


# --- webhooks --------------------------------------------------------------------------

class Receiver(http_server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append((headers, body))
        status = self.server.script.pop(0) if self.server.script else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = http_server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received, server.script = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield server
    server.shutdown()
    server.server_close()


def verify_signature(secret, headers, body, now):
    """What a receiver does (Standard Webhooks): recompute, compare, check time."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1)[1] for s in headers["webhook-signature"].split()]
    fresh = abs(now - int(headers["webhook-timestamp"])) <= 300
    return fresh and any(hmac.compare_digest(expected, s) for s in offered)


def test_each_change_event_is_posted_signed_the_standard_webhooks_way(database, receiver):
    app, scim = make(database, mailer="memory", webhook_url=receiver.url)
    user = create(scim, "hook@example.com")
    assert app.scimlite.outbox.wait()
    secret = app.scimlite.outbox.webhook_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    events = [json.loads(body) for _, body in receiver.received]
    assert [e["type"] for e in events] == ["user.created", "license.issued"]
    assert events[0]["data"] == {"resourceType": "User", "id": user["id"],
                                 "keyName": app.scimlite.keys()[0].name,
                                 "organization": "default"}
    assert scimlite.parse_datetime(events[0]["timestamp"])
    for headers, body in receiver.received:
        assert verify_signature(secret, headers, body, time.time())
        assert not verify_signature(secret, headers, body + b" ", time.time())
        assert headers["webhook-id"].startswith("msg_")
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 2
    old = secret
    new = app.scimlite.outbox.rotate_webhook_secret()
    scim.delete(f"/Users/{user['id']}")
    assert app.scimlite.outbox.wait()
    headers, body = receiver.received[-1]
    assert verify_signature(new, headers, body, time.time())
    assert not verify_signature(old, headers, body, time.time())
    app.scimlite.close()


def test_a_failing_receiver_is_retried_with_the_same_id_and_a_refusal_is_dead(
        database, receiver, fast_retries):
    receiver.script = [503, 500]
    app, scim = make(database, mailer="memory", webhook_url=receiver.url,
                     license_mails=[])
    scim.create_user("r@example.com", active=False)      # one event: user.created
    assert wait_for(lambda: len(receiver.received) == 3)
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 1
    assert app.scimlite.outbox.wait()
    assert rows(app) == [(receiver.url, "sent", 3)]
    receiver.script = [410]
    scim.create_user("s@example.com", active=False)
    assert wait_for(lambda: rows(app)[-1][1] == "dead")
    assert app.scimlite.outbox.messages()[0].last_error.startswith("HTTP 410")
    receiver.script = [302]             # urllib would follow it with a bodiless GET
    scim.create_user("t@example.com", active=False)
    assert wait_for(lambda: rows(app)[-1][1] == "dead")
    assert "moved" in app.scimlite.outbox.messages()[0].last_error
    assert len(receiver.received) == 5          # 3 tries, the 410, the 302: no GET
    app.scimlite.close()


def test_an_organizations_own_receiver_gets_its_events_signed_with_its_own_secret(
        database, receiver):
    """Issue 22: the install's receiver (webhook_url) hears every
    organization, an organization's own receiver hears it alone, each
    payload names the organization, and each secret signs only its own."""
    app, scim = make(database, mailer="memory", webhook_url=receiver.url, license_mails=[])
    state = app.scimlite
    acme = state.create_organization("acme", "Acme", webhook_url=receiver.url + "/acme")
    acme_scim = SCIMClient(app, state.mint_key("okta", org="acme"))
    scim.create_user("d@default.example", active=False)
    acme_scim.create_user("a@acme.example", active=False)
    assert state.outbox.wait()
    by_path = {}
    for headers, body in receiver.received:
        event = json.loads(body)
        mine = headers["webhook-id"]
        by_path.setdefault(event["data"]["organization"], []).append((headers, body, mine))
    install, theirs = state.outbox.webhook_secret(), state.outbox.webhook_secret(acme)
    assert install != theirs
    assert len(by_path["default"]) == 1 and len(by_path["acme"]) == 2   # install's + its own
    signed_by = sorted((json.loads(b)["data"]["organization"],
                        verify_signature(install, h, b, time.time()),
                        verify_signature(theirs, h, b, time.time()))
                       for h, b, _ in by_path["default"] + by_path["acme"])
    assert signed_by == [("acme", False, True), ("acme", True, False),
                         ("default", True, False)]
    new = state.outbox.rotate_webhook_secret(acme)
    assert new != theirs and state.outbox.webhook_secret() == install
    with pytest.raises(ValueError, match="not an http"):
        state.update_organization("acme", webhook_url="ftp://x")
    app.scimlite.close()
