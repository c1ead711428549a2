#!/usr/bin/env python3
"""scimlite: a self-hosted SCIM 2.0 service provider in one file.

Point Microsoft Entra ID, Okta, OneLogin or JumpCloud at ``/scim/v2`` and they
create, update, deactivate and delete users and groups here.  The contract is
RFC 7643 (schema) and RFC 7644 (protocol), plus what the identity providers
really send (their quirks are named where they are handled).

Quick start::

    pip install -r requirements.txt && python scimlite.py

Embedding (tests of other projects)::

    app = scimlite.create_app({"db": ":memory:"})   # a WSGI app
    token = app.scimlite.mint_key("tests")

The embedding API is __all__ and, on an app, ScimLite.API; the rest is
internal.

The file reads top to bottom; each section uses only those above it.

    Constants       URNs, media type, templates, limits
    Errors          SCIMError and the scimType table, StartError
    Settings        the table of keys with their checks, and the loader
    Schema          the declarative attribute tables (RFC 7643 §4, §8.7.1)
    Values          request bodies checked and normalised against the tables
    Filter          tokenize, parse, check, print, evaluate (RFC 7644 §3.4.2.2)
    PATCH           paths, steps and operations, applied to a copy (RFC 7644 §3.5.2)
    Projection      attributes, excludedAttributes, `returned` (RFC 7644 §3.9)
    Database        connections, and what SQLite and PostgreSQL spell differently
    Statements      built once per app, run with each request's values
    Models          peewee models per app, organizations, migrations, moving a store
    SQL             filters and sortBy compiled over one resource type's table
    Events          the write queue, the unit of work, background workers
    Secrets         API keys, OAuth clients and tokens, password hashes
    Rendering       resources, ETags, ListResponses, discovery documents, pages
    Resources       reads, views, memberships and writes of Users and Groups
    Log             the provisioning log, the audit trail, request metrics
    Licenses        keys, seats, one license per user, the verify answer
    Event feed      changes told as signed SETs (RFC 9967), polled or pushed
    Outbox          mail and webhooks, written with the change, sent after commit
    Limits          rate limits, throttles and injected faults, in memory
    App             ScimLite, everything one app owns
    HTTP            bodies, parameters, auth, errors as SCIM JSON
    Queries         lists and .search (RFC 7644 §3.4)
    Bulk            /Bulk with bulkId references (RFC 7644 §3.7)
    Transfer        export and import as SCIM JSON, the seed file
    Admin           sessions, CSRF, the pages under /admin
    Other routes    the front page, /healthz, /metrics, license verification
    SCIM routes     discovery and resource routes, the WSGI app, create_app()
    Live server     scimlite.serve() for other projects' tests
    pytest plugin   fixtures for other projects' tests (`-p scimlite`)
    CLI             the commands (COMMANDS), serve and its shutdown, main()
"""

__version__ = "0.1.0"
# The embedding API: what other projects may import, kept stable (and, on
# an app, ScimLite.API).  Every other name is internal and may change.
__all__ = ["create_app", "serve", "LiveServer", "load_settings", "main", "SCIMError",
           "StartError", "SETTINGS", "RESOURCE_TYPES", "parse_filter", "SentMail", "Fault",
           "USER_URN", "GROUP_URN", "ENTERPRISE_URN", "PATCH_URN", "LIST_URN", "ERROR_URN",
           "SEARCH_URN", "BULK_REQUEST_URN", "BULK_RESPONSE_URN", "__version__"]

import argparse
import base64
import binascii
import bisect
import collections
import contextlib
import contextvars
import csv
import dataclasses
import fnmatch
import functools
import gc
import datetime as dt
import decimal
import email.headerregistry
import email.message
import email.policy
import email.quoprimime
import email.utils
import errno
import hashlib
import hmac
import html
import http.client
import inspect
import io
import itertools
import json
import logging
import math
import operator
import os
import random
import re
import secrets
import shutil
import signal
import smtplib
import socket
import sqlite3
import ssl
import sys
import threading
import time
import tomllib
import types
import urllib.error
import urllib.parse
import urllib.request
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path

import bottle
import peewee
from peewee import SQL, NodeList, Tuple, fn

log = logging.getLogger("scimlite")

###############################################################################
# Constants: URNs, media type, templates, limits ##############################
###############################################################################

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

SCIM_CONTENT_TYPE = "application/scim+json; charset=utf-8"
ADMIN = "/admin"        # where the admin pages are


def _templates_dir():
    """Beside this file in a checkout; after `pip install .`, under the
    install prefix's share/ (pyproject.toml puts them there: the product
    stays one module), found from sys.prefix or from this file's place in
    <prefix>/lib/pythonX.Y/site-packages."""
    here = Path(__file__).resolve()
    prefixes = [Path(sys.prefix), *here.parents[3:4]]
    candidates = [here.parent / "templates",
                  *(p / "share" / "scimlite" / "templates" for p in prefixes)]
    return next((d for d in candidates if d.is_dir()), candidates[0])


TEMPLATES_DIR = _templates_dir()

MAX_FILTER_LENGTH = 4096      # characters; longer filters are refused
MAX_FILTER_DEPTH = 16         # nesting of parentheses and `not` (SQLite parses 16
                              # levels of every kind; tests/test_filter.py)
MAX_JSON_DEPTH = 64           # nesting of a request body; deeper is 400 (no SCIM
                              # body needs more than 5, and deeper ones would
                              # reach Python's recursion limit in later steps)
CURSOR_TIMEOUT_SECONDS = 3600   # a cursor (RFC 9865) works this long after its page
# SCIM security events (RFC 9967 §7.4, lowercase as registered): the ones a
# change here is told as; ServiceProviderConfig lists them (RFC 9967 §4).
SCIM_EVENT = "urn:ietf:params:scim:event:"
SCIM_EVENT_URIS = tuple(SCIM_EVENT + name for name in (
    "prov:create:notice", "prov:put:notice", "prov:patch:notice", "prov:delete",
    "prov:activate", "prov:deactivate"))

# The license mails, each switchable (`license_mails`); the template of each
# is templates/mail/license_KIND.txt, and .html beside it when there is one.
LICENSE_MAILS = ("issued", "suspended", "restored", "revoked")



###############################################################################
# Errors: SCIMError and the scimType table, StartError ########################
###############################################################################

# RFC 7644 §3.12, Table 9: each scimType with the status it travels with.
ERRORS = {
    "invalidFilter": 400,
    "tooMany": 400,
    "uniqueness": 409,
    "mutability": 400,
    "invalidSyntax": 400,
    "invalidPath": 400,
    "noTarget": 400,
    "invalidValue": 400,
    "invalidVers": 400,
    "sensitive": 403,
    # RFC 9865 §2.1: cursor pagination's own.
    "invalidCursor": 400,
    "expiredCursor": 400,
    "invalidCount": 400,
}


class SCIMError(Exception):
    """An error a SCIM client is shown as an Error resource (RFC 7644 §3.12)."""

    def __init__(self, status, scim_type=None, detail=None, headers=None):
        super().__init__(detail or scim_type or str(status))
        self.status = status
        self.scim_type = scim_type
        self.detail = detail
        self.headers = headers or {}

    @classmethod
    def of(cls, scim_type, detail):
        """The error for a scimType, with the status the RFC pairs it with."""
        return cls(ERRORS[scim_type], scim_type, detail)

    def to_json(self):
        body = {"schemas": [ERROR_URN], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        if self.detail:
            body["detail"] = self.detail
        return body


def invalid_value(detail):
    return SCIMError.of("invalidValue", detail)


ECHO_CHARS = 100       # of a client's value, at most, in an error's detail


def echo(value):
    """A client's value as an error repeats it: cut short (a 100 KiB id is
    not sent back), one line."""
    text = re.sub(r"[\x00-\x1f\x7f]", "?", str(value))
    return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "..."


def not_found(what):
    return SCIMError(404, None, f"{what} not found")


class StartError(RuntimeError):
    """scimlite cannot start as configured.  Its message is one line that
    names the problem and the fix (the command line prints it and exits 2)."""

###############################################################################
# Settings: the table of keys with their checks, and the loader ###############
###############################################################################

ADDRESS = re.compile(r"[!#-'*+\-/-9=?A-Z^-~]+(\.[!#-'*+\-/-9=?A-Z^-~]+)*"
                     r"@[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def is_address(value):
    return isinstance(value, str) and len(value) <= 254 and ADDRESS.fullmatch(value)


def one_line(text, limit=200):
    """Text for a mail header: control characters (CR, LF...) and the
    other line breaks str.splitlines knows (NEL, U+2028, U+2029) become
    spaces, so no value can start a header of its own."""
    return re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]+", " ", str(text)).strip()[:limit]


def is_postgres(db_setting):
    """Whether the `db` setting names a PostgreSQL database (a URL)."""
    return db_setting.startswith(("postgresql://", "postgres://"))


# --- what a value of `faults` is ------------------------------------------------

@dataclass
class Fault:
    """A failure injected into matching SCIM requests (the `faults` setting,
    or LiveServer.inject() in a test): for testing a client's retries.

    route   a glob on the path below base_path, e.g. "/Users*"; method "*"
    or one method; then what happens: `status` (429 and 503 carry
    Retry-After: retry_after), `delay` seconds before the request is served,
    or `drop` (the connection ends mid-response); for the next `times`
    matching requests, or a `fraction` of them, or (neither) every one.
    A SCIM request can never change these.
    """
    route: str = "*"
    method: str = "*"
    status: int | None = None
    retry_after: int = 1
    delay: float = 0.0
    drop: bool = False
    times: int | None = None
    fraction: float | None = None

    @classmethod
    def read(cls, spec):
        if not isinstance(spec, dict) or set(spec) - {f.name for f in dataclasses.fields(cls)}:
            raise ValueError(f"a fault is a table of {[f.name for f in dataclasses.fields(cls)]}")
        fault = cls(**spec)
        if fault.status not in (None, 429, 500, 503):
            raise ValueError("a fault's status is 429, 500 or 503")
        if fault.status is None and not fault.delay and not fault.drop:
            raise ValueError("a fault needs a status, a delay or drop = true")
        if fault.fraction is not None and not 0 < fault.fraction <= 1:
            raise ValueError("a fault's fraction is above 0 and at most 1")
        return fault

    def matches(self, method, path):
        return self.method in ("*", method) and fnmatch.fnmatchcase(path, self.route)


# --- the checks the table names ------------------------------------------------

def _starts_with_slash(value):
    if not value.startswith("/"):
        raise ValueError("must start with '/'")


def _no_trailing_slash(value):
    return value.rstrip("/")


def _addresses(value):
    if not all(isinstance(a, str) for a in value):
        raise ValueError("must be a list of addresses")


def _address_or_empty(value):
    if value and not is_address(value):
        raise ValueError("must be an address (it@example.com)")


def _mail_from(value):
    if not is_address(email.utils.parseaddr(value)[1]) or one_line(value) != value:
        raise ValueError("must be an address, with or without a name: "
                         "licenses@example.com or Acme Licensing <licenses@example.com>")


def _http_url_or_empty(value):
    if value and not re.match(r"https?://", value):
        raise ValueError("must start with http:// or https://")


def _faults(value):
    for number, spec in enumerate(value, 1):
        try:
            Fault.read(spec)        # refused here, with the reason, if malformed
        except (ValueError, TypeError) as exc:
            raise ValueError(f"entry {number}: {exc}") from None


def _words(values):
    """("a", "b", "c") as "a, b or c"."""
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


# --- the table -------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One configuration key: its default, type, one line of help, and what
    a value must be.  Checked in this order: the type (a string from the
    environment converted), `choices` (of each element, for a list),
    `minimum` and `maximum`, `check` (raises ValueError saying what is
    wrong), then `clean` makes the value as it is kept.  `fold_case`: the
    choices ignore case, and the value is kept lower-cased.  `required_with`
    (key, test, why): the setting may not be empty when test(that key's
    value) holds."""
    key: str
    default: object
    type: type
    help: str
    choices: tuple = ()
    minimum: int | None = None
    maximum: int | None = None
    check: object = None
    clean: object = None
    fold_case: bool = False
    required_with: tuple = ()

    @property
    def env(self):
        return "SCIMLITE_" + self.key.upper()

    def allowed(self):
        """What a value must be, in words ("" when any value of the type is)."""
        if self.choices:
            return (f"any of {_words(self.choices)}" if self.type is list
                    else _words(self.choices))
        if self.minimum is not None and self.maximum is not None:
            return f"between {self.minimum} and {self.maximum}"
        if self.minimum is not None:
            return f"at least {self.minimum}"
        return ""

    def convert(self, value, source):
        """`value` as this setting's type (a string from the environment
        converted), or ValueError naming where it came from."""
        if self.type is list:
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    raise ValueError(f"{source}: '{self.key}' must be a JSON array") from None
            if not isinstance(value, list):
                raise ValueError(f"{source}: '{self.key}' must be an array")
        elif self.type is bool:
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
                value = value.strip().lower() in ("true", "1")
            if not isinstance(value, bool):
                raise ValueError(f"{source}: '{self.key}' must be true or false")
        elif self.type is int:
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{source}: '{self.key}' must be an integer")
        elif not isinstance(value, str):
            raise ValueError(f"{source}: '{self.key}' must be a string")
        return value

    def checked(self, value):
        """`value` checked against the table and cleaned, or ValueError."""
        if self.fold_case:
            value = value.lower()
        items = value if self.type is list else [value]
        wrong = [v for v in items if self.choices and v not in self.choices]
        if wrong:
            shown = ", ".join(map(str, wrong))
            raise ValueError(f"'{self.key}' takes only {_words(self.choices)}, not {shown}"
                             if self.type is list else f"'{self.key}' must be {self.allowed()}")
        if (self.minimum is not None and value < self.minimum) or \
                (self.maximum is not None and value > self.maximum):
            raise ValueError(f"'{self.key}' must be {self.allowed()}")
        if self.check is not None:
            try:
                self.check(value)
            except ValueError as exc:
                raise ValueError(f"'{self.key}' {exc}") from None
        return self.clean(value) if self.clean else value


# The settings table drives config-file checks, SCIMLITE_* environment
# variables, the --db/--host/--port flags, docs/configuration.md and
# config.example.toml (both written by tools/docs.py; tests keep them equal).
SETTINGS = (
    Setting("db", "scimlite.db", str,
            'SQLite database file (":memory:" for a throw-away database), or a '
            'PostgreSQL URL "postgresql://user:password@host:5432/name" '
            '(docs/operations.md: several instances)'),
    Setting("host", "127.0.0.1", str, "address the server listens on"),
    Setting("port", 8080, int, "TCP port the server listens on",
            minimum=0, maximum=65535),
    Setting("base_path", "/scim/v2", str, "URL path of the SCIM API",
            check=_starts_with_slash, clean=_no_trailing_slash),
    Setting("public_url", "", str,
            "external URL of the server (https://idm.example.com) used in "
            "Location and meta.location; empty: taken from each request",
            clean=_no_trailing_slash),
    Setting("max_body_bytes", 1048576, int,
            "largest request body accepted, in bytes (larger: 413)",
            minimum=1),
    Setting("page_size", 100, int, "list page size when a client sends no count",
            minimum=1),
    Setting("max_page_size", 1000, int,
            "largest list page served (advertised as filter.maxResults)",
            minimum=1),
    Setting("bulk_max_operations", 1000, int,
            "most operations in one /Bulk request (advertised; more: 413)",
            minimum=1),
    Setting("bulk_max_payload_bytes", 1048576, int,
            "largest /Bulk request body, in bytes (advertised; larger: 413)",
            minimum=1),
    Setting("publish_password", False, bool,
            "list `password` in /Schemas (it is accepted either way; Microsoft's SCIM "
            "Validator refuses a published one)"),
    Setting("group_patch_status", 200, int,
            "answer to a successful Group PATCH: 200 with the group, or 204 with no "
            "body (Microsoft's advice for large groups)",
            choices=(200, 204)),
    Setting("threads", 8, int,
            "Waitress worker threads (8 measured best on 2 cores; docs/performance.md)",
            minimum=1),
    Setting("connection_limit", 500, int,
            "most connections Waitress holds at once (beyond: new ones wait)",
            minimum=1),
    Setting("request_seconds", 15, int,
            "a request's head and body must arrive within this many seconds of its "
            "first byte, else the connection is closed (slow clients hold nothing)",
            minimum=1),
    Setting("connections_per_address", 50, int,
            "most connections one client address may hold (trusted_proxies exempt); "
            "beyond, its idle or half-sent ones are closed",
            minimum=1),
    Setting("drain_seconds", 20, int,
            "on SIGTERM or Ctrl+C, how long the requests in flight may take to finish",
            minimum=0),
    Setting("log_level", "info", str, "logging level: debug, info, warning, error",
            choices=("debug", "info", "warning", "error"), fold_case=True),
    Setting("log_format", "text", str,
            'log lines as "text" or "json" (one object per line); each request is '
            "one line: time, method, path, status, duration, key name, request id",
            choices=("text", "json")),
    Setting("trusted_proxies", [], list,
            "addresses of reverse proxies trusted with X-Forwarded-Proto and "
            "X-Forwarded-Host (the URLs scimlite builds) and X-Request-Id (kept as "
            "the request id); from anyone else these headers are ignored",
            check=_addresses),
    Setting("session_idle_minutes", 30, int,
            "an admin session ends after this many minutes without a request",
            minimum=1),
    Setting("session_max_hours", 12, int,
            "an admin session ends this many hours after login, however busy",
            minimum=1),
    Setting("invitation_hours", 72, int,
            "an invitation mailed to a new administrator works this many hours, once",
            minimum=1, maximum=24 * 30),
    Setting("log_reads", False, bool,
            "keep every read-only SCIM request in the provisioning log (off: "
            "reads are counted per day and key, writes and failures kept)"),
    Setting("log_retention_days", 30, int,
            "provisioning log entries older than this many days are deleted",
            minimum=1),
    Setting("log_max_rows", 100000, int,
            "the provisioning log keeps at most this many entries of each organization, "
            "newest first",
            minimum=1),
    Setting("license_seats", 0, int,
            "licenses that may be active at once in an organization without seats of "
            "its own (org create --seats; 0: no limit); a user past the limit is "
            "created and waits for a seat, oldest first",
            minimum=0),
    Setting("license_secret", "", str,
            "secret that license keys and the webhook secret derive from (empty: "
            "kept in the file DB.secret beside the database, made on first start; "
            "required with PostgreSQL, the same on every instance)",
            required_with=("db", is_postgres, "a PostgreSQL database needs "
                           "'license_secret' (or SCIMLITE_LICENSE_SECRET), the same on "
                           "every instance: e.g. the output of  python -c 'import "
                           "secrets; print(secrets.token_hex(32))'")),
    Setting("license_mails", list(LICENSE_MAILS), list,
            "license changes mailed to the user: issued, suspended, restored, revoked",
            choices=LICENSE_MAILS),
    Setting("product_name", "scimlite", str, "the product named in license mails"),
    Setting("mail_templates", "", str,
            "a folder of mail templates that replace the built-in ones, each KIND.txt (a "
            "Subject: line, a blank line, the body) and optional KIND.html; empty: none "
            "(docs/licenses-and-mail.md lists the kinds and their variables)"),
    Setting("admin_email", "", str,
            "address told when every license seat is taken (empty: dashboard only)",
            check=_address_or_empty),
    Setting("mailer", "smtp", str,
            'how mail leaves: "smtp" (printed to the console while smtp_host is '
            'empty), "console", or "memory" (kept on the app, for tests)',
            choices=("smtp", "console", "memory")),
    Setting("smtp_host", "", str, "SMTP server (empty: mail is printed, not sent)"),
    Setting("smtp_port", 587, int, "SMTP server port"),
    Setting("smtp_security", "starttls", str,
            'SMTP transport security: "starttls", "tls" (implicit, port 465) or "none"',
            choices=("starttls", "tls", "none")),
    Setting("smtp_username", "", str, "SMTP login (empty: no login)"),
    Setting("smtp_password", "", str, "SMTP password (never logged or shown)"),
    Setting("smtp_timeout", 30, int, "seconds an SMTP server may take to answer",
            minimum=1),
    Setting("mail_from", "scimlite@localhost", str, "the From address of every mail",
            check=_mail_from),
    Setting("verify_rate_per_minute", 60, int,
            "license verifications one client address may ask for per minute",
            minimum=1),
    Setting("webhook_url", "", str,
            "URL that each change event of every organization is POSTed to, signed "
            "(empty: none); an organization may have its own as well",
            check=_http_url_or_empty),
    Setting("metrics", False, bool,
            "serve GET /metrics in the Prometheus text format (off: 404)"),
    Setting("metrics_token", "", str,
            "bearer token /metrics asks for (empty: none; keep /metrics off the "
            "public internet then)"),
    Setting("deterministic", False, bool,
            "resources get counted ids and times from a clock that stands still "
            "until a test moves it (app.scimlite.clock), for snapshot tests"),
    Setting("seed", "", str,
            "a JSON file of SCIM users and groups (as `export` writes) loaded at "
            "start into an empty store (empty: none)"),
    Setting("oauth_token_minutes", 60, int,
            "how long an OAuth access token from POST /oauth/token works (Entra's "
            "gallery asks for 60 to 360 minutes)",
            minimum=60, maximum=360),
    Setting("key_rate_per_minute", 0, int,
            "SCIM requests one API key may make per minute (0: no limit); past it, "
            "429 with Retry-After",
            minimum=0),
    Setting("event_retention_days", 365, int,
            "events (each change, as a user's history shows it) older than this many "
            "days are deleted",
            minimum=1),
    Setting("set_retention_days", 7, int,
            "security events (RFC 9967) a poll receiver acknowledged are kept this many "
            "days, then dropped; those not acknowledged are kept event_retention_days",
            minimum=1),
    Setting("event_max_rows", 1000000, int,
            "the event table keeps at most this many events of each organization, "
            "newest first",
            minimum=1),
    Setting("faults", [], list,
            "failures injected into SCIM requests, to test a client's retries (off: "
            "empty); each a table of route, method, status/delay/drop, times/fraction",
            check=_faults),
)
SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}


# --- the loader ------------------------------------------------------------------

def check_settings(settings):
    """Every setting checked against its row of the table, then the ones
    that depend on another; `settings` cleaned in place and returned."""
    for setting in SETTINGS:
        settings[setting.key] = setting.checked(settings[setting.key])
    for setting in SETTINGS:
        if setting.required_with and not settings[setting.key]:
            other, test, why = setting.required_with
            if test(settings[other]):
                raise ValueError(why)
    return settings


def load_settings(config=None, *, environ=None, overrides=None):
    """The settings: defaults < config (dict or TOML path) < environ < overrides.

    create_app() passes only `config`, so an embedded app never reads the
    environment by surprise; the CLI adds SCIMLITE_* variables and its flags.
    """
    settings = {s.key: s.default for s in SETTINGS}
    layers = []
    if isinstance(config, (str, os.PathLike)):
        with open(config, "rb") as handle:
            layers.append((str(config), tomllib.load(handle)))
    elif config is not None:
        layers.append(("config", dict(config)))
    if environ is not None:
        layers.append(("environment", {s.key: environ[s.env] for s in SETTINGS
                                       if s.env in environ}))
    layers.append(("command line", {k: v for k, v in (overrides or {}).items()
                                    if v is not None}))
    for source, values in layers:
        for key, value in values.items():
            if key not in SETTINGS_BY_KEY:
                raise ValueError(f"{source}: unknown setting '{key}'")
            settings[key] = SETTINGS_BY_KEY[key].convert(value, source)
    return check_settings(settings)


###############################################################################
# Schema: the declarative attribute tables (RFC 7643 §4, §8.7.1) ##############
###############################################################################


@dataclass(frozen=True)
class Attr:
    """One attribute definition, as /Schemas publishes it (RFC 7643 §7),
    and where scimlite keeps it (the last three fields).

    storage  "json":        in the resource's JSON document (the default);
             "column":      only in a column of the resource's row;
             "members":     one row per member in the membership table;
             "memberships": computed from the membership table (User.groups);
             "computed":    made when rendering (schemas, meta);
             "hash":        only as a hash in a column (a password).
    column   the row's column holding the value, or an indexed copy of a
             JSON value (folded when the attribute ignores case), or what a
             computed value sorts by; the filter compiler and sortBy use it.
    index    the model of an index table holding the folded `value`s of a
             multi-valued attribute, so a filter on them uses an index.
    """
    name: str
    type: str = "string"
    multi: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    sub: tuple = ()
    canonical: tuple = ()
    ref_types: tuple = ()
    description: str = ""
    default: object = None      # stored when a write leaves the attribute out
    storage: str = "json"
    column: str | None = None
    index: str | None = None

    def child(self, name):
        """The sub-attribute called `name` (case-insensitive), or None."""
        folded = name.lower()
        return next((a for a in self.sub if a.name.lower() == folded), None)

    @property
    def is_complex(self):
        return self.type == "complex"

    @property
    def folds_case(self):
        """String comparisons on this attribute ignore case (RFC 7643 §2.2);
        a binary is always case exact (§2.3.6)."""
        return self.type in ("string", "reference") and not self.case_exact


@dataclass(frozen=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple

    def attr(self, name):
        folded = name.lower()
        return next((a for a in self.attributes if a.name.lower() == folded), None)


@dataclass(frozen=True)
class ResourceType:
    """A resource type (RFC 7643 §6) and how scimlite stores it.

    model          the peewee model holding its rows (see Models);
    display        the attributes that name it for display, first assigned
                   wins (a member's `display`, a group's in User.groups);
    member_column  the membership-table column that points at it as a member;
    active         the boolean attribute whose changes are (de)activation.
    """
    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple = ()
    model: str = ""
    display: tuple = ()
    member_column: str = ""
    active: str | None = None

    def attributes_stored_as(self, storage):
        return [a for a in self.schema.attributes if a.storage == storage]

    @property
    def password_attr(self):
        """The writeOnly attribute kept as a hash (User.password), or None."""
        return next(iter(self.attributes_stored_as("hash")), None)

    @property
    def members_attr(self):
        """The attribute kept as membership rows (Group.members), or None."""
        return next(iter(self.attributes_stored_as("members")), None)

    def schema_for(self, urn):
        """The core or extension schema named by `urn` (case-insensitive)."""
        folded = urn.lower()
        return next((s for s in (self.schema, *self.extensions)
                     if s.id.lower() == folded), None)


def _str(name, description="", **kw):
    return Attr(name, "string", description=description, **kw)


def _multi(name, description, types=(), value_type="string", value_ref=(),
           extra=(), index=None):
    """A multi-valued complex attribute with the usual value/display/type/
    primary sub-attributes (RFC 7643 §2.4)."""
    subs = (
        Attr("value", value_type, description=f"The value of the {name} entry.",
             ref_types=value_ref, case_exact=value_type == "binary"),
        _str("display", "A human-readable name, primarily used for display."),
        _str("type", "A label indicating the attribute's function.",
             canonical=types),
        Attr("primary", "boolean",
             description="The preferred entry; true at most once per list."),
    )
    return Attr(name, "complex", multi=True, description=description,
                sub=subs + extra, index=index)


NAME_ATTR = Attr("name", "complex", description="The components of the user's name.", sub=(
    _str("formatted", "The full name, formatted for display."),
    _str("familyName", "The family name (last name)."),
    _str("givenName", "The given name (first name)."),
    _str("middleName", "The middle name(s)."),
    _str("honorificPrefix", "Honorific prefix(es), e.g. 'Ms.'."),
    _str("honorificSuffix", "Honorific suffix(es), e.g. 'III'."),
))

ADDRESS_ATTR = Attr("addresses", "complex", multi=True,
                    description="Physical mailing addresses.", sub=(
    _str("formatted", "The full mailing address, formatted for display."),
    _str("streetAddress", "The full street address."),
    _str("locality", "The city or locality."),
    _str("region", "The state or region."),
    _str("postalCode", "The zip code or postal code."),
    _str("country", "The country name (ISO 3166-1 alpha-2 recommended)."),
    _str("type", "A label indicating the address's function.",
         canonical=("work", "home", "other")),
    Attr("primary", "boolean", description="The preferred mailing address."),
))

# RFC 7643 §4.1.2: groups is computed by the service provider from Group
# membership; clients cannot write it.
USER_GROUPS_ATTR = Attr(
    "groups", "complex", multi=True, mutability="readOnly", storage="memberships",
    description="Groups the user belongs to, directly or through nested groups.",
    sub=(
        Attr("value", mutability="readOnly", description="The group's id."),
        Attr("$ref", "reference", mutability="readOnly", ref_types=("User", "Group"),
             description="The URI of the group."),
        Attr("display", mutability="readOnly", description="The group's displayName."),
        Attr("type", mutability="readOnly", canonical=("direct", "indirect"),
             description="'direct' or 'indirect' membership."),
    ))

USER_SCHEMA = Schema(USER_URN, "User", "User Account", (
    _str("userName", "Unique identifier for the user, typically the sign-in name.",
         required=True, uniqueness="server", column="user_name_key"),
    NAME_ATTR,
    _str("displayName", "The name of the user, suitable for display.",
         column="display_name_key"),
    _str("nickName", "The casual way to address the user."),
    Attr("profileUrl", "reference", ref_types=("external",),
         description="A URI of the user's online profile."),
    _str("title", "The user's title, such as 'Vice President'."),
    _str("userType", "The relationship to the organisation, e.g. 'Employee'."),
    _str("preferredLanguage", "Preferred written or spoken language, e.g. 'en-US'."),
    _str("locale", "Default location for localisation, e.g. 'en-US'."),
    _str("timezone", "Time zone in IANA format, e.g. 'America/Los_Angeles'."),
    # No IdP leaves `active` out, but a hand-made client may; a user is
    # active until told otherwise, and filters then agree (`active eq true`).
    Attr("active", "boolean", default=True, column="active",
         description="Whether the user may use the service."),
    Attr("password", mutability="writeOnly", returned="never", storage="hash",
         column="password_hash",
         description="The user's cleartext password; stored hashed, never returned."),
    # Indexed: Entra and Okta match users by e-mail (`emails[type eq "work"].value eq`).
    _multi("emails", "Email addresses for the user.", ("work", "home", "other"),
           index="UserEmail"),
    _multi("phoneNumbers", "Phone numbers for the user.",
           ("work", "home", "mobile", "fax", "pager", "other")),
    _multi("ims", "Instant messaging addresses for the user.",
           ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
    _multi("photos", "URLs of photos of the user.", ("photo", "thumbnail"),
           value_type="reference", value_ref=("external",)),
    ADDRESS_ATTR,
    USER_GROUPS_ATTR,
    _multi("entitlements", "Entitlements for the user."),
    _multi("roles", "Roles for the user."),
    _multi("x509Certificates", "X.509 certificates issued to the user.",
           value_type="binary"),
))

ENTERPRISE_SCHEMA = Schema(ENTERPRISE_URN, "EnterpriseUser", "Enterprise User", (
    _str("employeeNumber", "Identifier assigned by the organisation."),
    _str("costCenter", "Name of a cost center."),
    _str("organization", "Name of an organisation."),
    _str("division", "Name of a division."),
    _str("department", "Name of a department."),
    Attr("manager", "complex", description="The user's manager.", sub=(
        _str("value", "The id of the manager's User resource."),
        Attr("$ref", "reference", ref_types=("User",),
             description="The URI of the manager's User resource."),
        _str("displayName", "The manager's displayName.", mutability="readOnly"),
    )),
))

GROUP_MEMBERS_ATTR = Attr(
    "members", "complex", multi=True, description="A list of members of the Group.",
    storage="members",
    sub=(
        _str("value", "Identifier of the member of this Group.",
             mutability="immutable", case_exact=True),
        Attr("$ref", "reference", mutability="immutable", ref_types=("User", "Group"),
             description="The URI of the member resource."),
        _str("display", "The member's display name.", mutability="readOnly"),
        _str("type", "The type of the member.", mutability="immutable",
             canonical=("User", "Group")),
    ))

GROUP_SCHEMA = Schema(GROUP_URN, "Group", "Group", (
    # RFC 7643 §4.2 calls displayName REQUIRED; Entra and Bruno need it unique.
    _str("displayName", "A human-readable name for the Group.", required=True,
         uniqueness="server", column="display_name_key"),
    GROUP_MEMBERS_ATTR,
))

# RFC 7643 §3.1: attributes every resource has, defined outside any schema.
SCHEMAS_ATTR = Attr("schemas", "reference", multi=True, mutability="readOnly",
                    returned="always", case_exact=True, storage="computed",
                    description="The schema URIs the resource uses.")
RESOURCE_TYPE_ATTR = Attr("resourceType", mutability="readOnly", case_exact=True,
                          storage="computed")
# location sorts by the id in it; version by the row's write counter.
META_LOCATION_ATTR = Attr("location", "reference", mutability="readOnly", case_exact=True,
                          storage="computed", column="id")
META_VERSION_ATTR = Attr("version", mutability="readOnly", case_exact=True,
                         storage="computed", column="version")
META_ATTR = Attr("meta", "complex", mutability="readOnly", storage="computed",
                 description="Resource metadata.", sub=(
    RESOURCE_TYPE_ATTR,
    Attr("created", "dateTime", mutability="readOnly", storage="column", column="created"),
    Attr("lastModified", "dateTime", mutability="readOnly", storage="column",
         column="last_modified"),
    META_LOCATION_ATTR,
    META_VERSION_ATTR,
))
COMMON_ATTRIBUTES = (
    SCHEMAS_ATTR,
    Attr("id", mutability="readOnly", returned="always", uniqueness="server",
         case_exact=True, storage="column", column="id",
         description="Unique identifier assigned by the service provider."),
    _str("externalId", "Identifier assigned by the provisioning client.",
         case_exact=True, column="external_id"),
    META_ATTR,
)
COMMON_SCHEMA = Schema("", "Common", "RFC 7643 §3.1 common attributes",
                       COMMON_ATTRIBUTES)
# The common attributes each resource's core schema publishes in /Schemas
# too (RFC 7643 §3.1 allows it): Microsoft's Schema_Discoverability_Test
# flattens /Schemas and fails on an attribute Entra's default mappings send
# that it does not list, and they map mailNickname and objectId to externalId.
PUBLISHED_COMMON = ("externalId",)

USER_TYPE = ResourceType("User", "/Users", "User Account", USER_SCHEMA,
                         (ENTERPRISE_SCHEMA,), model="User",
                         display=("displayName", "userName"), member_column="user",
                         active="active")
GROUP_TYPE = ResourceType("Group", "/Groups", "Group", GROUP_SCHEMA, model="Group",
                          display=("displayName",), member_column="child")
RESOURCE_TYPES = {rt.name: rt for rt in (USER_TYPE, GROUP_TYPE)}
ALL_SCHEMAS = (USER_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA)

###############################################################################
# Values: request bodies checked and normalised against the tables ############
###############################################################################

TRUTHY_STRINGS = {"true": True, "false": False}


def coerce_boolean(value, where):
    """A boolean, also when sent as a string.

    Quirk, Microsoft Entra ID: its default (non-gallery) provisioning job sends
    booleans as the strings "True"/"False" (AzureAD/SCIMReferenceCode#21), and
    its SCIM Validator sends roles[].primary as "True".  Any case is accepted.
    Replayed in tests/test_idp_entra.py.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in TRUTHY_STRINGS:
        return TRUTHY_STRINGS[value.lower()]
    raise invalid_value(f"'{where}' must be a boolean")


def fold(value, attr=None):
    """The case-insensitive key of a value (RFC 7643 §2.2 caseExact false):
    strings folded unless `attr` is case exact (a binary always is, §2.3.6);
    other values as they are.  SQL calls it as scim_fold()."""
    if isinstance(value, str) and (attr is None or attr.folds_case):
        return value.casefold()
    return value


def parse_datetime(text):
    """An xsd:dateTime (RFC 7643 §2.3.5) as an aware datetime, or None."""
    if not isinstance(text, str):
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("z", "Z"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):     # year 1 at +01:00 is before year 1 UTC
        return None


def format_datetime(value):
    """The one datetime format scimlite writes: UTC, milliseconds, 'Z'.
    (isoformat, not strftime: half the time, and a four-digit year before
    1000 too, as xsd:dateTime asks and text comparisons of them need.)"""
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


def now_text():
    """Now, as meta.created and every other timestamp scimlite writes."""
    return format_datetime(dt.datetime.now(dt.timezone.utc))


def _coerce_scalar(attr, value, where):
    kind = attr.type
    if kind == "boolean":
        return coerce_boolean(value, where)
    if kind in ("string", "reference", "binary"):
        if not isinstance(value, str):
            raise invalid_value(f"'{where}' must be a string")
        if "\x00" in value:    # SQLite's text functions stop at NUL
            raise invalid_value(f"'{where}' may not contain the character U+0000")
        if kind == "binary":
            try:    # RFC 7643 §2.3.6: trailing padding MAY be omitted
                base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
            except ValueError:
                raise invalid_value(f"'{where}' must be base64 (RFC 7643 §2.3.6)") from None
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_value(f"'{where}' must be an integer")
        return value
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid_value(f"'{where}' must be a number")
        return value
    if kind == "dateTime":
        if parse_datetime(value) is None:
            raise invalid_value(f"'{where}' must be an xsd:dateTime")
        return value
    raise AssertionError(f"schema table names unknown type {kind!r}")


def _coerce_complex(attr, value, where):
    if isinstance(value, dict):
        _check_distinct_names(value, f"'{where}'")
    if attr.name == "manager" and isinstance(value, str):
        # Quirk, Microsoft Entra ID: the enterprise manager arrives as a bare
        # id string, not {"value": id} (SCIM-SDK#686, scimple#1242); in PATCH
        # and, from other clients, in POST and PUT (tests/test_idp_entra.py).
        value = {"value": value}
    if not isinstance(value, dict):
        raise invalid_value(f"'{where}' must be an object")
    out = {}
    for key, item in value.items():
        sub = attr.child(key)
        if sub is None or sub.mutability == "readOnly":
            continue        # unknown or read-only sub-attribute: ignored (RFC 7644 §3.3)
        coerced = coerce_attribute(sub, item, f"{where}.{sub.name}")
        if coerced is not None:
            out[sub.name] = coerced
    return out or None


def _check_single_primary(attr, items, where):
    # RFC 7643 §2.4: "The primary attribute value 'true' MUST appear no more
    # than once."
    if attr.child("primary") and sum(1 for i in items if i.get("primary")) > 1:
        raise invalid_value(f"'{where}' has more than one primary value")


def coerce_attribute(attr, value, where):
    """`value` checked against `attr` and normalised, or None when unassigned.

    null, [] and {} mean "no value" (RFC 7643 §2.5) and are not stored.
    """
    if value is None or value == [] or value == {}:
        return None
    if attr.multi:
        if not isinstance(value, list):
            raise invalid_value(f"'{where}' must be an array")
        items = [coerce_attribute(dataclasses.replace(attr, multi=False), item, where)
                 for item in value]
        items = [item for item in items if item is not None]
        if attr.is_complex:
            _check_single_primary(attr, items, where)
        return items or None
    if attr.is_complex:
        return _coerce_complex(attr, value, where)
    return _coerce_scalar(attr, value, where)


def _check_schemas_list(rt, body):
    name = SCHEMAS_ATTR.name.lower()
    schemas = next((v for k, v in body.items() if k.lower() == name), None)
    if schemas is None:
        return      # lenient: several clients omit it on POST; the endpoint says what it is
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise SCIMError.of("invalidSyntax", "'schemas' must be an array of URIs")
    if rt.schema.id.lower() not in {s.lower() for s in schemas}:
        raise SCIMError.of("invalidSyntax", f"'schemas' must include {rt.schema.id}")


def read_resource(rt, body):
    """The stored form of a POST/PUT body: (data, password).

    data holds readWrite/immutable attributes under their canonical names,
    extension attributes under the extension's URN.  Decisions, documented in
    docs/reading-clients.md:
    - readOnly attributes (id, meta, groups, ...) are ignored, RFC 7644 §3.3;
    - unknown attributes and unknown schema URIs are ignored, so that an
      Entra or Okta mapping of a custom attribute never breaks provisioning;
    - writeOnly `password` is returned separately, to be stored hashed.
    """
    if not isinstance(body, dict):
        raise SCIMError.of("invalidSyntax", "the request body must be a JSON object")
    _check_schemas_list(rt, body)
    _check_distinct_names(body)
    data, password, ignored = {}, None, []
    for key, value in body.items():
        extension = rt.schema_for(key) if key.lower().startswith("urn:") else None
        if extension is not None and extension is not rt.schema:
            if value not in (None, [], {}) and not isinstance(value, dict):
                raise invalid_value(f"'{extension.id}' must be an object")
            coerced = _read_attributes(extension, value or {}, ignored)
            if coerced:
                data[extension.id] = coerced
            continue
        attr = rt.schema.attr(key) or COMMON_SCHEMA.attr(key)
        if attr is None:
            ignored.append(key)
            continue
        if attr.mutability == "writeOnly":
            password = _coerce_scalar(attr, value, attr.name) if value is not None else None
            continue
        if attr.mutability != "readOnly":
            coerced = coerce_attribute(attr, value, attr.name)
            if coerced is not None:
                data[attr.name] = coerced
    if ignored:
        log.debug("ignored unknown attributes: %s", ", ".join(sorted(ignored)))
    return data, password


def read_message(body, urn):
    """The fields of a message body (PatchOp, SearchRequest, BulkRequest;
    RFC 7644 §3.5.2, §3.4.3, §3.7), names lower-cased, `schemas` checked:
    it may be left out (several clients do), but if sent must name `urn`."""
    if not isinstance(body, dict):
        raise SCIMError.of("invalidSyntax", "the request body must be a JSON object")
    fields = {key.lower(): value for key, value in body.items()}
    schemas = fields.pop("schemas", None)
    if schemas is not None and (not isinstance(schemas, list) or urn not in schemas):
        raise SCIMError.of("invalidSyntax", f"'schemas' must be [\"{urn}\"]")
    return fields


def read_operations(fields):
    """The `Operations` array of a PatchOp or BulkRequest."""
    operations = fields.get("operations")
    if not isinstance(operations, list):
        raise SCIMError.of("invalidSyntax", "'Operations' must be an array")
    return operations


def _check_distinct_names(values, where="the body"):
    """JSON lets "emails" and "EMAILS" both appear; names ignore case
    (RFC 7643 §2.1), so which one meant what is unclear: refuse."""
    seen = set()
    for key in values:
        if key.lower() in seen:
            raise SCIMError.of("invalidSyntax", f"'{key}' appears twice in {where} "
                               "(attribute names ignore case)")
        seen.add(key.lower())


def _read_attributes(schema, values, ignored):
    _check_distinct_names(values, schema.id)
    out = {}
    for key, value in values.items():
        attr = schema.attr(key)
        if attr is None:
            ignored.append(f"{schema.id}:{key}")
        elif attr.mutability not in ("readOnly", "writeOnly"):
            coerced = coerce_attribute(attr, value, f"{schema.id}:{attr.name}")
            if coerced is not None:
                out[attr.name] = coerced
    return out


def apply_defaults(rt, data):
    """Attributes with a default in the table get it when left out."""
    for attr in rt.schema.attributes:
        if attr.default is not None and data.get(attr.name) is None:
            data[attr.name] = attr.default
    return data


def check_required(rt, data):
    """RFC 7643 §2.2 `required`: every required attribute has a value."""
    for schema in (rt.schema, *rt.extensions):
        values = data if schema is rt.schema else data.get(schema.id, {})
        for attr in schema.attributes:
            value = values.get(attr.name)
            if attr.required and (value is None or isinstance(value, str)
                                  and not value.strip()):
                raise invalid_value(f"'{attr.name}' is required and may not be empty")


def check_immutable(rt, old, new):
    """RFC 7644 §3.5.1: an immutable value, once set, may only be repeated.

    An immutable attribute left out of a PUT keeps its value.
    """
    for schema in (rt.schema, *rt.extensions):
        old_values = old if schema is rt.schema else old.get(schema.id, {})
        new_values = new if schema is rt.schema else new.setdefault(schema.id, {})
        for attr in schema.attributes:
            if attr.mutability != "immutable" or attr.name not in old_values:
                continue
            if attr.name not in new_values:
                new_values[attr.name] = old_values[attr.name]
            elif new_values[attr.name] != old_values[attr.name]:
                raise SCIMError.of("mutability", f"'{attr.name}' is immutable")
        if schema is not rt.schema and not new_values:
            new.pop(schema.id, None)

###############################################################################
# Filter: tokenize, parse, check, print, evaluate (RFC 7644 §3.4.2.2) #########
###############################################################################

COMPARE_OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
ORDERING_OPS = ("gt", "ge", "lt", "le")
STRING_OPS = ("co", "sw", "ew")

_TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<punct>[()\[\]])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])
  | (?P<subattr>\.[A-Za-z$][\w$-]*)
  | (?P<word>(?:[uU][rR][nN]:[^\s\[\]()"]*:)?[A-Za-z$][\w$-]*(?:\.[A-Za-z$][\w$-]*)?)
""", re.X)


@dataclass(frozen=True)
class Token:
    kind: str       # punct, string, number, subattr, word, end
    text: str
    pos: int


def tokenize_filter(text):
    """The tokens of a filter, ending with an `end` token."""
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise SCIMError.of("invalidFilter", f"unexpected character {text[pos]!r} "
                               f"at position {pos + 1}")
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


@dataclass(frozen=True)
class AttrPath:
    """A resolved attribute path: [schema URN ":"] attr ["." sub].

    `extension` is true when the attribute lives in an extension schema, and
    so sits under that schema's URN in a resource.
    """
    schema: Schema
    attr: Attr
    sub: Attr | None = None
    extension: bool = False

    @property
    def target(self):
        return self.sub or self.attr

    @property
    def holder_key(self):
        """Where the attribute sits in a resource: '' (top level) or a URN."""
        return self.schema.id if self.extension else ""

    def __str__(self):
        text = self.attr.name + (f".{self.sub.name}" if self.sub else "")
        return f"{self.schema.id}:{text}" if self.extension else text


def resolve_path(rt, text, scim_type="invalidFilter"):
    """The AttrPath that `text` names in resource type `rt`.

    The one path resolver behind filters, PATCH paths, sortBy and attributes.
    Unqualified names are core or common attributes; extension attributes need
    their URN prefix (RFC 7644 §3.10).  Names are case-insensitive.
    """
    schema, rest = rt.schema, text
    if text.lower().startswith("urn:"):
        schema = None
        for candidate in sorted((rt.schema, *rt.extensions), key=lambda s: -len(s.id)):
            if text.lower().startswith(candidate.id.lower() + ":"):
                schema, rest = candidate, text[len(candidate.id) + 1:]
                break
        if schema is None:
            raise SCIMError.of(scim_type, f"unknown schema in '{text}'")
    name, _, sub_name = rest.partition(".")
    attr = schema.attr(name)
    if attr is None and schema is rt.schema:
        attr, schema = COMMON_SCHEMA.attr(name), COMMON_SCHEMA
    if attr is None:
        raise SCIMError.of(scim_type, f"unknown attribute '{text}'")
    extension = schema is not rt.schema and schema is not COMMON_SCHEMA
    if not sub_name:
        return AttrPath(schema, attr, extension=extension)
    sub = attr.child(sub_name) if attr.is_complex else None
    if sub is None:
        raise SCIMError.of(scim_type, f"unknown attribute '{text}'")
    return AttrPath(schema, attr, sub, extension)


# --- the parsed filter ---------------------------------------------------------

def _literal(value):
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str
    value: object

    def show(self, inside=False):
        name = self.path.sub.name if inside else str(self.path)
        return f"{name} {self.op} {_literal(self.value)}"


@dataclass(frozen=True)
class Present:
    path: AttrPath

    def show(self, inside=False):
        return f"{self.path.sub.name if inside else self.path} pr"


@dataclass(frozen=True)
class Logical:
    op: str         # "and" or "or"
    left: object
    right: object

    def show(self, inside=False):
        def side(node, right):
            # `and` binds tighter than `or` (RFC 7644 §3.4.2.2), and both group
            # to the left: brackets go exactly where the tree needs them.
            grouped = isinstance(node, Logical) and (
                (self.op == "and" and node.op == "or") or (right and node.op == self.op))
            text = node.show(inside)
            return f"({text})" if grouped else text
        return f"{side(self.left, False)} {self.op} {side(self.right, True)}"


@dataclass(frozen=True)
class Not:
    expr: object

    def show(self, inside=False):
        return f"not ({self.expr.show(inside)})"


@dataclass(frozen=True)
class ValuePath:
    path: AttrPath  # a multi-valued complex attribute
    expr: object    # over its sub-attributes

    def show(self, inside=False):
        return f"{self.path}[{self.expr.show(True)}]"


def show_filter(node):
    """The canonical text of a parsed filter; parse_filter reads it back."""
    return node.show()


# --- the parser ------------------------------------------------------------------

class FilterParser:
    r"""Recursive descent over the RFC 7644 §3.4.2.2 grammar:

        FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
        valuePath = attrPath "[" valFilter "]"
        valFilter = attrExp / logExp / *1"not" "(" valFilter ")"
        attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
        logExp    = FILTER SP ("and" / "or") SP FILTER
        compValue = false / null / true / number / string
        attrPath  = [URI ":"] ATTRNAME *1subAttr

    Precedence: or < and < not < atom.  Inside brackets, paths name
    sub-attributes of the bracketed attribute.  Also read, because Entra's
    SCIM Validator sends it: `emails[type eq "work"].value eq "x"`, which
    means the same as `emails[type eq "work" and value eq "x"]`.
    """

    def __init__(self, rt, text):
        self.rt, self.text = rt, text
        self.tokens = tokenize_filter(text)
        self.index, self.depth = 0, 0

    def fail(self, message, token=None):
        token = token or self.peek()
        where = "at the end" if token.kind == "end" else f"at position {token.pos + 1}"
        raise SCIMError.of("invalidFilter", f"{message} {where} of the filter")

    def peek(self):
        return self.tokens[self.index]

    def take(self):
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_word(self, *words):
        token = self.peek()
        return token.kind == "word" and token.text.lower() in words

    def expect(self, text):
        if self.peek().text != text:
            self.fail(f"expected '{text}'")
        self.take()

    def parse(self):
        node = self.parse_or(None)
        if self.peek().kind != "end":
            self.fail(f"unexpected '{self.peek().text}'")
        return node

    def parse_or(self, scope):
        node = self.parse_and(scope)
        while self.at_word("or"):
            self.take()
            node = Logical("or", node, self.parse_and(scope))
        return node

    def parse_and(self, scope):
        node = self.parse_not(scope)
        while self.at_word("and"):
            self.take()
            node = Logical("and", node, self.parse_not(scope))
        return node

    def parse_not(self, scope):
        if self.at_word("not") and self.tokens[self.index + 1].text == "(":
            self.take()
            return Not(self.parse_group(scope))
        return self.parse_atom(scope)

    def parse_group(self, scope):
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            self.fail("filter nested too deeply")
        self.expect("(")
        node = self.parse_or(scope)
        self.expect(")")
        self.depth -= 1
        return node

    def parse_atom(self, scope):
        token = self.peek()
        if token.text == "(":
            return self.parse_group(scope)
        if token.kind != "word":
            self.fail("expected an attribute name")
        self.take()
        path = self.resolve(token, scope)
        if self.peek().text == "[":
            return self.parse_value_path(path, scope, token)
        return self.parse_attr_exp(path)

    def resolve(self, token, scope):
        if scope is None:
            return resolve_path(self.rt, token.text)
        sub = scope.attr.child(token.text)
        if sub is None:
            self.fail(f"'{token.text}' is not a sub-attribute of '{scope.attr.name}'", token)
        return dataclasses.replace(scope, sub=sub)

    def parse_value_path(self, path, scope, token):
        if scope is not None:
            self.fail(f"'{token.text}' cannot take a [filter]", token)
        inner, sub = self.parse_brackets(path, token)
        if sub is not None:
            inner = Logical("and", inner, self.parse_attr_exp(
                dataclasses.replace(path, sub=sub)))
        return ValuePath(path, inner)

    def parse_brackets(self, path, token):
        """`[valFilter]` and the `.subAttr` that may follow: (filter, sub).

        Shared by filters and PATCH paths (RFC 7644 §3.5.2 PATH = valuePath
        [subAttr])."""
        if path.sub or not (path.attr.multi and path.attr.is_complex):
            self.fail(f"'{token.text}' cannot take a [filter]", token)
        self.take()
        inner = self.parse_or(path)
        self.expect("]")
        sub = None
        if self.peek().kind == "subattr":
            sub_token = self.take()
            sub = path.attr.child(sub_token.text[1:])
            if sub is None:
                self.fail(f"unknown sub-attribute '{sub_token.text[1:]}'", sub_token)
        return inner, sub

    def parse_attr_exp(self, path):
        op_token = self.take()
        op = op_token.text.lower()
        if op_token.kind != "word" or op not in COMPARE_OPS + ("pr",):
            self.fail("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)",
                      op_token)
        if op == "pr":
            return Present(path)
        path = self.default_sub(path)
        return Compare(path, op, self.check_value(path.target, op, self.take_value()))

    def default_sub(self, path):
        # RFC 7644 §3.4.2.2: a filter on a multi-valued complex attribute with
        # no sub-attribute ("emails co ...") compares its `value`.
        if path.sub is None and path.attr.is_complex:
            sub = path.attr.child("value")
            if sub is None:
                self.fail(f"'{path}' is complex; name a sub-attribute")
            return dataclasses.replace(path, sub=sub)
        return path

    def take_value(self):
        token = self.take()
        if token.kind == "string":
            try:
                text = json.loads(token.text)
                text.encode("utf-8")        # no unpaired surrogate escapes
                if "\x00" not in text:     # values never hold NUL (see Values)
                    return text
            except (ValueError, UnicodeEncodeError):
                pass
            self.fail("bad escape in string", token)
        if token.kind == "number":
            number = float(token.text)
            return int(number) if number.is_integer() and "." not in token.text \
                and "e" not in token.text.lower() else number
        literals = {"true": True, "false": False, "null": None}
        if token.kind == "word" and token.text.lower() in literals:
            return literals[token.text.lower()]
        self.fail("expected a value (string, number, true, false or null)", token)

    def check_value(self, attr, op, value):
        """The filter checked against the schema table (RFC 7644 §3.4.2.2)."""
        where = f"'{attr.name}'"
        if value is None:
            if op not in ("eq", "ne"):
                self.fail(f"null only compares with eq or ne, not {op}")
            return None
        if op in ORDERING_OPS and attr.type in ("boolean", "binary"):
            self.fail(f"{op} is not defined for {attr.type} attribute {where}")
        if op in STRING_OPS and not (attr.type in ("string", "reference", "binary")
                                     and isinstance(value, str)):
            self.fail(f"{op} needs a string attribute and a string value, not {where}")
        if attr.type == "boolean":
            if isinstance(value, str) and value.lower() in TRUTHY_STRINGS:
                return TRUTHY_STRINGS[value.lower()]    # the Entra string boolean
            if not isinstance(value, bool):
                self.fail(f"{where} is a boolean")
        elif attr.type in ("integer", "decimal"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(f"{where} is a number")
        elif attr.type == "dateTime":
            moment = parse_datetime(value)
            if moment is None:
                self.fail(f"{where} is a dateTime; give one as an ISO 8601 string")
            return format_datetime(moment)
        elif not isinstance(value, str):
            self.fail(f"{where} is a string")
        return value


def parse_filter(rt, text):
    """The checked syntax tree of filter `text` for resource type `rt`."""
    if not isinstance(text, str) or not text.strip():
        raise SCIMError.of("invalidFilter", "the filter is empty")
    if len(text) > MAX_FILTER_LENGTH:
        raise SCIMError.of("invalidFilter",
                           f"the filter is longer than {MAX_FILTER_LENGTH} characters")
    return FilterParser(rt, text).parse()


# --- the reference evaluator (in memory) ------------------------------------------

def _compare(attr, op, actual, expected):
    """One stored value against one filter value; False when not comparable."""
    if actual is None or isinstance(actual, (dict, list)):
        return False
    if attr.type == "dateTime":
        moment = parse_datetime(actual)
        actual = format_datetime(moment) if moment else None
        if actual is None:
            return False
    actual, expected = fold(actual, attr), fold(expected, attr)
    if type(actual) is bool or type(expected) is bool:
        if type(actual) is not type(expected) or op not in ("eq",):
            return False
    try:
        return {
            "eq": lambda: actual == expected,
            "co": lambda: expected in actual,
            "sw": lambda: actual.startswith(expected),
            "ew": lambda: actual.endswith(expected),
            "gt": lambda: actual > expected,
            "ge": lambda: actual >= expected,
            "lt": lambda: actual < expected,
            "le": lambda: actual <= expected,
        }[op]()
    except TypeError:
        return False


def _values_of(resource, path):
    """Every value `path` reaches in a rendered resource, flattened."""
    holder = resource.get(path.holder_key) or {} if path.extension else resource
    value = holder.get(path.attr.name)
    items = value if isinstance(value, list) else [value]
    if path.sub is not None:
        items = [item.get(path.sub.name) for item in items if isinstance(item, dict)]
    return [item for item in items if item is not None]


def leaves(node, above=frozenset()):
    """Each comparison and presence test of a filter (or of a value filter
    inside brackets) with the operators above it ("and", "or", "not"): what
    the analyses of a filter read (its sub-attributes, whether it needs
    every element, the element it describes).  A value path is not entered."""
    match node:
        case Logical(op=op, left=left, right=right):
            yield from leaves(left, above | {op})
            yield from leaves(right, above | {op})
        case Not(expr=expr):
            yield from leaves(expr, above | {"not"})
        case _:
            yield node, above


def matches(node, resource):
    """Whether rendered `resource` satisfies filter `node` (RFC 7644 §3.4.2.2).

    Semantics shared with the SQL compiler: a comparison with a multi-valued
    attribute matches when any value matches; `ne` is `not eq` (an unassigned
    attribute is "not equal"); `eq null` means unassigned.
    """
    return _evaluate(node, lambda path: _values_of(resource, path),
                     lambda path: resource_elements(resource, path))


def matches_element(node, element):
    """A value filter inside brackets, against one element of the list."""
    def values(path):
        value = element.get(path.sub.name)
        return [] if value is None else [value]
    return _evaluate(node, values, None)


def _evaluate(node, values_at, elements_at):
    """The reference evaluator, the one walk of a filter in memory:
    values_at(path) gives the values a comparison reads, elements_at(path)
    the elements a value path filters."""
    match node:
        case Logical(op="and"):
            return _evaluate(node.left, values_at, elements_at) and \
                _evaluate(node.right, values_at, elements_at)
        case Logical():
            return _evaluate(node.left, values_at, elements_at) or \
                _evaluate(node.right, values_at, elements_at)
        case Not(expr=expr):
            return not _evaluate(expr, values_at, elements_at)
        case ValuePath(path=path, expr=expr):
            return any(matches_element(expr, element) for element in elements_at(path))
        case _:
            return values_match(node, values_at(node.path))


def resource_elements(resource, path):
    holder = resource.get(path.holder_key) or {} if path.extension else resource
    return [e for e in holder.get(path.attr.name) or [] if isinstance(e, dict)]


def values_match(node, values):
    """A comparison or presence test against the values its path reaches."""
    match node:
        case Present():
            return any(v not in ("", [], {}) for v in values)
        case Compare(value=None):
            return (not values) == (node.op == "eq")
        case Compare(op="ne"):
            return not values_match(Compare(node.path, "eq", node.value), values)
        case _:
            return any(_compare(node.path.target, node.op, v, node.value) for v in values)


###############################################################################
# PATCH: paths, steps and operations, applied to a copy (RFC 7644 §3.5.2) #####
###############################################################################

PATCH_OPS = ("add", "replace", "remove")
CLEARED = ""        # the password a `remove` leaves: none at all


@dataclass(frozen=True)
class PatchPath:
    """PATH = attrPath / valuePath [subAttr] (RFC 7644 §3.5.2)."""
    path: AttrPath              # attribute, or attribute.sub
    where: object = None        # value filter over the elements, if any
    sub: Attr | None = None     # sub-attribute after the filter, if any

    @property
    def target(self):
        return self.sub or self.path.target


def parse_patch_path(rt, text):
    """A PATCH `path`, resolved with the filter's tokenizer and resolver."""
    if not isinstance(text, str) or not text.strip():
        raise SCIMError.of("invalidPath", "'path' must be a non-empty string")
    try:
        parser = FilterParser(rt, text.strip())
        token = parser.take()
        if token.kind != "word":
            parser.fail("expected an attribute path", token)
        path = resolve_path(rt, token.text, "invalidPath")
        where, sub = None, None
        if parser.peek().text == "[":
            where, sub = parser.parse_brackets(path, token)
        if parser.peek().kind != "end":
            parser.fail(f"unexpected '{parser.peek().text}'")
    except SCIMError as error:
        raise SCIMError.of("invalidPath", error.detail) from None
    return PatchPath(path, where, sub)


def read_patch_request(body):
    """The operations of a PatchOp body as (op, path text or None, value)."""
    out = []
    for number, operation in enumerate(read_operations(read_message(body, PATCH_URN)), 1):
        if not isinstance(operation, dict):
            raise SCIMError.of("invalidSyntax", f"operation {number} must be an object")
        operation = {key.lower(): value for key, value in operation.items()}
        # Quirk, Microsoft Entra ID: ops arrive as "Add", "Replace", "Remove"
        # (use-scim-to-provision doc); op names ignore case.
        op = operation.get("op")
        if not isinstance(op, str) or op.lower() not in PATCH_OPS:
            raise SCIMError.of("invalidSyntax", f"operation {number}: 'op' must be add, "
                               "replace or remove")
        path = operation.get("path")
        if op.lower() != "remove" and "value" not in operation:
            raise SCIMError.of("invalidValue", f"operation {number}: '{op}' needs a value")
        out.append((op.lower(), path, operation.get("value")))
    return out


def member_ids_of(value):
    """The ids in a members (or groups) value: [{"value": id, ...}, ...].

    `$ref` (null from Entra) and `type` (absent from Okta) are not needed: an
    id names one resource, and its type is looked up.
    """
    items = [] if value is None else value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise invalid_value("each member needs a 'value' with a resource id")
        ids.append(item["value"])
    return ids


def _element_from_filter(node):
    """The element a filter of `eq`s joined by `and` describes: `type eq
    "work"` gives {"type": "work"}; None when it describes no single
    element (an `or`, a `not`, another operator, a name twice)."""
    element = {}
    for leaf, above in leaves(node):
        if above - {"and"} or not isinstance(leaf, Compare) or leaf.op != "eq" or \
                leaf.value is None or leaf.path.sub.name in element:
            return None
        element[leaf.path.sub.name] = leaf.value
    return element


def _same_element(attr, old, new):
    """Whether an added element is one already there: equal, or the same
    value and type (adding it again with primary set must not duplicate it)."""
    if old == new:
        return True
    value = attr.child("value")
    if value is None or "value" not in new or "value" not in old:
        return False
    return fold(old["value"], value) == fold(new["value"], value) and \
        fold(old.get("type")) == fold(new.get("type"))


def _drop_empty_extensions(data):
    """An extension left with no attribute is no value (RFC 7643 §2.5)."""
    for key in [k for k in data if k.startswith("urn:") and not data[k]]:
        del data[key]


def _unset_other_primaries(items, chosen):
    # RFC 7644 §3.5.2: setting primary true on one value sets it false on the rest.
    for item in items:
        if item is not chosen and item.get("primary"):
            item["primary"] = False


@dataclass(frozen=True)
class PatchStep:
    """One operation of a PatchOp, its path resolved once (RFC 7644 §3.5.2),
    as Patch.run() applies it.  A path-less operation is one step for each
    attribute its value names (`pathless`: read-only ones are dropped and
    mutability is not checked, as on a POST); `extension`: a `remove` whose
    path names an extension as a whole; `error`: what resolving the
    operation raised, raised in its turn (an earlier step's error first)."""
    op: str
    target: PatchPath | None = None
    value: object = None
    pathless: bool = False
    extension: Schema | None = None
    error: SCIMError | None = None


def patch_steps(rt, operations):
    """The steps of a PatchOp's operations, [(op, path text, value)] as
    read_patch_request() gives them: every path parsed here, once."""
    steps = []
    for op, path_text, value in operations:
        try:
            steps += _steps_of(rt, op, path_text, value)
        except SCIMError as error:
            steps.append(PatchStep(op, error=error))
    return steps


def _steps_of(rt, op, path_text, value):
    if path_text is None:
        return _pathless_steps(rt, op, value)
    extension = _extension_named(rt, path_text)
    if extension is None:
        return [PatchStep(op, parse_patch_path(rt, path_text), value)]
    # `"path": "urn:...:enterprise:2.0:User"`: the extension as one complex
    # value, which conformance tools (scim2-tester, scim2-cli) send.  add
    # and replace set the attributes named in the object and leave the
    # others, as for any complex attribute (§3.5.2.1, §3.5.2.3); remove
    # removes every attribute of the extension, each with the checks a path
    # to it would have.
    if op == "remove":
        return [PatchStep(op, extension=extension)]
    if not isinstance(value, dict):
        raise invalid_value(f"'{extension.id}' must be an object")
    return _pathless_steps(rt, op, {extension.id: value})


def _extension_named(rt, text):
    schema = rt.schema_for(text.strip()) if isinstance(text, str) else None
    return schema if schema is not None and schema is not rt.schema else None


def _pathless_steps(rt, op, value):
    """A path-less add or replace (§3.5.2.1, §3.5.2.3): a step per key, in
    order; a malformed part is an error step in its place, raised in turn."""
    if op == "remove":
        raise SCIMError.of("noTarget", "'remove' needs a 'path'")
    if not isinstance(value, dict):
        raise invalid_value(f"a path-less '{op}' needs an object value")
    steps = []
    for key, item in value.items():
        schema = rt.schema_for(key) if key.lower().startswith("urn:") else None
        if schema is None:      # `schemas` too: read-only, so dropped there
            steps += _pathless_key(rt, op, key, item)
        elif not isinstance(item, dict):
            return steps + [PatchStep(op, error=invalid_value(f"'{schema.id}' must be an object"))]
        else:                   # {"urn:...": {...}}, core or extension
            for sub_key, sub_item in item.items():
                steps += _pathless_key(rt, op, f"{schema.id}:{sub_key}", sub_item)
    return steps


def _pathless_key(rt, op, key, value):
    """The step of one key of a path-less value: a name, a dotted path
    ("name.givenName", sent by Entra) or a URN-qualified path (Entra's
    enterprise keys); none for an unknown or read-only attribute."""
    try:
        target = parse_patch_path(rt, key)
    except SCIMError:
        return []       # unknown attribute: ignored, as on POST and PUT
    if target.target.mutability == "readOnly" or target.path.attr.mutability == "readOnly":
        # Quirk, Okta: its group rename sends {"id": ..., "displayName": ...};
        # read-only keys in a path-less value are ignored (tests/test_idp_okta.py).
        return []
    return [PatchStep(op, target, value, pathless=True)]


def patched_password(steps):
    """The password the steps leave, found without applying them: None (no
    step names it), CLEARED (removed), or the text; None as well when a
    step is bound to fail (the PATCH will say why)."""
    password = None
    for step in steps:
        if step.error is not None:
            return None
        attr = step.target.path.attr if step.target is not None else None
        if attr is not None and attr.mutability == "writeOnly":
            try:
                password = PATCH_OPERATIONS[step.op].password(attr, step.value)
            except SCIMError:
                return None
    return password


# --- the membership changes a PATCH makes (rows, not JSON) ------------------------

class Members:
    """What membership changes change: a group's membership rows, or (the
    User.groups quirk) the groups a user is directly in; both live with the
    resources (see Resources)."""

    def ids(self):
        """Every member's id, as a set."""
        raise NotImplementedError

    def add(self, ids):
        raise NotImplementedError

    def remove(self, ids):
        raise NotImplementedError

    def select(self, node):
        """The ids a value filter over members (`value eq "..."`) selects."""
        raise NotImplementedError


@dataclass(frozen=True)
class AddMembers:
    ids: tuple

    def apply(self, members):
        members.add(list(self.ids))


@dataclass(frozen=True)
class RemoveMembers:
    ids: tuple

    def apply(self, members):
        members.remove(list(self.ids))


@dataclass(frozen=True)
class RemoveMembersWhere:
    """members[value eq "..."]: the members a value filter selects."""
    where: object

    def apply(self, members):
        members.remove(members.select(self.where))


@dataclass(frozen=True)
class ClearMembers:
    def apply(self, members):
        members.remove(members.ids())


@dataclass(frozen=True)
class ReplaceMembers:
    """The whole list (reading the current one is inherent)."""
    ids: tuple

    def apply(self, members):
        current = members.ids()
        members.remove(current - set(self.ids))
        members.add([i for i in dict.fromkeys(self.ids) if i not in current])


def apply_member_changes(changes, members):
    """Membership changes (AddMembers ...) applied, in order, to `members`."""
    for change in changes:
        change.apply(members)


# --- add, replace, remove ---------------------------------------------------------

class PatchOperation:
    """add, replace or remove (RFC 7644 §3.5.2.1-3) as one template: run()
    is the same for the three (members become membership changes, the
    mutability check, a password kept aside to be hashed), and each says
    what differs: operation() on attribute values, member_changes() on
    membership rows, password()."""
    name = ""

    def run(self, patch, step):
        target = step.target
        if target.path.attr.storage in ("members", "memberships"):
            if target.sub is not None or target.path.sub is not None:
                raise SCIMError.of("invalidPath", "name members as a whole, or filter "
                                   "them: members[value eq \"id\"]")
            patch.member_changes += self.member_changes(target, step.value)
            return
        if not step.pathless:
            patch.check_mutability(self.name, target)
        if target.path.attr.mutability == "writeOnly":    # password: kept aside, hashed
            patch.password = self.password(target.path.attr, step.value)
            return
        self.operation(patch, target, step.value)

    def operation(self, patch, target, value):
        raise NotImplementedError

    def member_changes(self, target, value):
        raise NotImplementedError

    def password(self, attr, value):
        return _coerce_one(attr, value, attr.name)


class Add(PatchOperation):
    """§3.5.2.1: values are added; a complex value's sub-attributes merge."""
    name = "add"

    def operation(self, patch, target, value):
        path, holder = target.path, patch.holder(target.path)
        attr = path.attr
        if target.where is not None:
            return self.add_where(patch, target, value)
        if attr.multi and path.sub is None:
            items = value if isinstance(value, list) else [value]
            new = patch.coerce(attr, items, attr.name) or []
            current = holder.setdefault(attr.name, [])
            for item in new:
                same = next((c for c in current if _same_element(attr, c, item)), None)
                if same is None:
                    current.append(item)
                else:
                    same.update(item)
                if item.get("primary"):
                    _unset_other_primaries(current, same or item)
            patch.tidy(holder, attr)
        elif attr.multi:
            patch.set_sub_everywhere(holder, path, value)
        elif path.sub is not None:
            patch.set_sub(holder.setdefault(attr.name, {}), attr, path.sub, value)
            patch.tidy(holder, attr)
        elif attr.is_complex:
            merged = {**(holder.get(attr.name) or {}),
                      **(patch.coerce(attr, value, attr.name) or {})}
            holder[attr.name] = merged
            patch.tidy(holder, attr)
        else:
            patch.set(holder, attr, value)

    def add_where(self, patch, target, value):
        """add on `emails[type eq "work"].value`: set it on the matching
        elements, or create the element the filter describes.  Microsoft's SCIM
        Validator relies on this, and sends several such adds that must build
        one element (its "Patch User" tests, as recorded in the result file
        scim-results-9.json of pranems/SCIMServer; SCIM-SDK#416;
        tests/test_patch.py)."""
        path, holder = target.path, patch.holder(target.path)
        items = holder.setdefault(path.attr.name, [])
        matched = [item for item in items if matches_element(target.where, item)]
        if not matched:
            template = _element_from_filter(target.where)
            if template is None:
                raise SCIMError.of("noTarget", f"no value of '{path.attr.name}' matches "
                                   "the filter, and it describes no new one")
            created = patch.coerce(path.attr, template, path.attr.name, multi=False)
            items.append(created)
            matched = [created]
        for item in matched:
            if target.sub is not None:
                patch.set_sub(item, path.attr, target.sub, value)
            else:
                item.update(patch.coerce(path.attr, value, path.attr.name, multi=False) or {})
            if item.get("primary"):
                _unset_other_primaries(items, item)
        patch.tidy(holder, path.attr)

    def member_changes(self, target, value):
        if target.where is not None:
            raise SCIMError.of("invalidPath", "add members with path 'members'")
        return [AddMembers(tuple(member_ids_of(value)))]


class Replace(PatchOperation):
    """§3.5.2.3: a value replaced; otherwise as add."""
    name = "replace"

    def operation(self, patch, target, value):
        if target.where is not None:
            return self.replace_where(patch, target, value)
        path, holder = target.path, patch.holder(target.path)
        if path.attr.multi and path.sub is None:
            holder.pop(path.attr.name, None)        # the whole list is replaced
            if value not in (None, []):
                ADD.operation(patch, target, value)
        else:
            # Otherwise as add: a complex value's "sub-attributes that are not
            # specified in the value parameter are left unchanged" (§3.5.2.3).
            ADD.operation(patch, target, value)

    def replace_where(self, patch, target, value):
        path, holder = target.path, patch.holder(target.path)
        items = holder.get(path.attr.name) or []
        matched = [item for item in items if matches_element(target.where, item)]
        if not matched:
            raise SCIMError.of("noTarget", f"no value of '{path.attr.name}' matches "
                               "the filter")
        for item in matched:
            if target.sub is not None:
                patch.set_sub(item, path.attr, target.sub, value)
            else:
                replacement = patch.coerce(path.attr, value, path.attr.name, multi=False)
                item.clear()
                item.update(replacement or {})
            if item.get("primary"):
                _unset_other_primaries(items, item)
        patch.tidy(holder, path.attr)

    def member_changes(self, target, value):
        if target.where is not None:
            return [RemoveMembersWhere(target.where), AddMembers(tuple(member_ids_of(value)))]
        return [ReplaceMembers(tuple(member_ids_of(value)))]


class Remove(PatchOperation):
    """§3.5.2.2: the value, the elements a filter selects, or (Entra) the
    values listed."""
    name = "remove"

    def operation(self, patch, target, value):
        path = target.path
        holder = patch.holder(path, create=False)
        attr = path.attr
        if attr.name not in holder:
            return
        if target.where is not None:
            items = holder[attr.name]
            keep = [i for i in items if not matches_element(target.where, i)]
            if target.sub is None:
                holder[attr.name] = keep
            else:
                for item in items:
                    if item not in keep:
                        item.pop(target.sub.name, None)
        elif attr.multi and path.sub is None and isinstance(value, list):
            # Quirk, Microsoft Entra ID: `remove` with a value list removes only
            # those values (never the whole attribute; azure-docs#30826).
            value_attr = attr.child("value")
            gone = {fold(v["value"], value_attr) for v in value
                    if isinstance(v, dict) and isinstance(v.get("value"), (str, int, float))}
            holder[attr.name] = [i for i in holder[attr.name]
                                 if fold(i.get("value"), value_attr) not in gone]
        elif path.sub is not None:
            for item in holder[attr.name] if attr.multi else [holder[attr.name]]:
                item.pop(path.sub.name, None)
        else:
            holder.pop(attr.name)
        patch.tidy(holder, attr)

    def member_changes(self, target, value):
        if target.where is not None:
            return [RemoveMembersWhere(target.where)]
        if isinstance(value, list):      # the Entra quirk, as in operation()
            return [RemoveMembers(tuple(member_ids_of(value)))]
        if value is None:
            return [ClearMembers()]
        raise invalid_value("remove takes a list of members as its value")

    def password(self, attr, value):
        return CLEARED


ADD, REPLACE, REMOVE = Add(), Replace(), Remove()
PATCH_OPERATIONS = {operation.name: operation for operation in (ADD, REPLACE, REMOVE)}


def _coerce_one(attr, value, where, multi=None):
    multi = attr.multi if multi is None else multi
    return coerce_attribute(dataclasses.replace(attr, multi=multi), value, where)


class Patch:
    """PATCH operations applied to a copy of a resource's stored attributes.

    Nothing is written here: the service stores `data` (and applies
    `member_changes`) only when every operation succeeded, in one
    transaction.  Group members and the User.groups quirk become membership
    changes, so that a change touches only the rows it names.
    """

    def __init__(self, rt, data):
        self.rt = rt
        self.data = json.loads(json.dumps(data))     # a deep copy
        self.password = None
        self.member_changes = []    # AddMembers, RemoveMembers, ...

    def run(self, steps):
        """Apply every step, in order (see patch_steps)."""
        for step in steps:
            if step.error is not None:
                raise step.error
            if step.extension is not None:      # remove the whole extension
                for name in list(self.data.get(step.extension.id) or {}):
                    self.apply("remove", f"{step.extension.id}:{name}", None)
            else:
                PATCH_OPERATIONS[step.op].run(self, step)
        return self

    def apply(self, op, path_text, value):
        """One operation as a client sends it (op, path or None, value)."""
        return self.run(patch_steps(self.rt, [(op, path_text, value)]))

    # --- checks and helpers of the operations ----------------------------------

    def check_mutability(self, op, target):
        for attr in (target.path.attr, target.path.sub, target.sub):
            if attr is not None and attr.mutability == "readOnly":
                raise SCIMError.of("mutability", f"'{attr.name}' is readOnly")
        attr = target.target
        # RFC 7643 §7 immutable: set once (by POST or an `add` to no value).
        if attr.mutability == "immutable" and (op != "add" or self.has_value(target)):
            raise SCIMError.of("mutability", f"'{attr.name}' is immutable")

    def has_value(self, target):
        value = self.holder(target.path, create=False).get(target.path.attr.name)
        if target.path.sub is not None and isinstance(value, dict):
            value = value.get(target.path.sub.name)
        return value not in (None, [], {})

    def holder(self, path, create=True):
        key = path.holder_key
        if not key:
            return self.data
        return self.data.setdefault(key, {}) if create else self.data.get(key) or {}

    def coerce(self, attr, value, where, multi=None):
        return _coerce_one(attr, value, where, multi)

    def set(self, holder, attr, value):
        coerced = self.coerce(attr, value, attr.name)
        if coerced is None:
            holder.pop(attr.name, None)
        else:
            holder[attr.name] = coerced

    def set_sub(self, item, attr, sub, value):
        if sub.mutability == "readOnly":
            raise SCIMError.of("mutability", f"'{attr.name}.{sub.name}' is readOnly")
        coerced = self.coerce(sub, value, f"{attr.name}.{sub.name}")
        if coerced is None:
            item.pop(sub.name, None)
        else:
            item[sub.name] = coerced

    def set_sub_everywhere(self, holder, path, value):
        """`emails.value` with no filter: every element, or a first one."""
        items = holder.setdefault(path.attr.name, [])
        if not items:
            items.append({})
        for item in items:
            self.set_sub(item, path.attr, path.sub, value)
        self.tidy(holder, path.attr)

    def tidy(self, holder, attr):
        """Drop what became empty; keep at most one primary; the Entra manager."""
        value = holder.get(attr.name)
        if attr.name == "manager" and isinstance(value, dict) and not value.get("value"):
            # Quirk, Microsoft's SCIM Validator: "Remove Manager" is a replace
            # with {"value": ""}, which clears the manager.
            value = None
        if isinstance(value, list):
            value = [item for item in value if item not in ({}, None)]
            if attr.child("primary") and sum(1 for i in value if i.get("primary")) > 1:
                raise invalid_value(f"'{attr.name}' would have more than one primary value")
        if value in (None, [], {}, ""):
            holder.pop(attr.name, None)
        else:
            holder[attr.name] = value
        _drop_empty_extensions(self.data)

    def finish(self):
        """The checks on the whole result (RFC 7643 §2.2 required), with
        extensions that were left empty dropped (they are no value).  No
        default is filled in: an attribute a PATCH removes "SHALL be
        considered unassigned" (RFC 7644 §3.5.2.2); an unassigned `active`
        still reads as active wherever scimlite decides (licenses)."""
        _drop_empty_extensions(self.data)
        check_required(self.rt, self.data)
        return self.data


###############################################################################
# Projection: attributes, excludedAttributes, `returned` (RFC 7644 §3.9) ######
###############################################################################

WHOLE = "*"     # in a projection: the whole attribute, not some sub-attributes


def parse_projection(rt, text):
    """`attributes`/`excludedAttributes` text as {(holder, attr): subs}.

    holder is "" (the top level) or an extension's URN, where its attributes
    sit; subs is WHOLE or a set of sub-attribute names.  A bare extension
    URN names the extension as a whole: the top-level member ("", URN).
    Unknown names are ignored: a client asking for an attribute scimlite
    does not have simply does not get it.
    """
    wanted = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        extension = rt.schema_for(item)
        if extension is not None and extension is not rt.schema:
            wanted[("", extension.id)] = WHOLE
            continue
        try:
            path = resolve_path(rt, item)
        except SCIMError:
            continue
        key = (path.holder_key, path.attr.name)
        if path.sub is None:
            wanted[key] = WHOLE
        elif key not in wanted or wanted[key] is not WHOLE:
            wanted.setdefault(key, set()).add(path.sub.name)
    return wanted


def wants(attributes, excluded, name):
    """Whether a projection keeps top-level attribute `name` (to skip work)."""
    if attributes:
        return ("", name) in attributes
    return excluded.get(("", name), set()) is not WHOLE


def _pick(value, subs, keep):
    """Sub-attributes `subs` of a complex value kept (keep) or dropped."""
    def one(item):
        if not isinstance(item, dict):
            return item
        picked = {k: v for k, v in item.items() if (k in subs) == keep}
        return picked or None
    if isinstance(value, list):
        return [p for p in map(one, value) if p is not None] or None
    return one(value)


def returned_on_request(rt):
    """Attributes shown only when `attributes` names them (returned: request)."""
    return {("" if schema is rt.schema else schema.id, attr.name): WHOLE
            for schema in (rt.schema, *rt.extensions) for attr in schema.attributes
            if attr.returned == "request"}


def project(rt, resource, attributes, excluded):
    """`resource` cut down as the client asked, honouring `returned`
    (RFC 7643 §7): `always` stays, `request` only when asked for, `never`
    is never stored in the first place."""
    always = {a.name for a in (*rt.schema.attributes, *COMMON_ATTRIBUTES)
              if a.returned == "always"}
    if attributes:
        return _include(resource, attributes, always)
    return _exclude(resource, {**returned_on_request(rt), **excluded}, always)


def _include(resource, attributes, always):
    """attributes=: what is named, and what is returned always."""
    out = {}
    for key in ("",) + tuple(k for k in resource if k.startswith("urn:")):
        if key and attributes.get(("", key)) is WHOLE:
            continue                    # the whole extension, taken at the top level
        holder = resource if key == "" else resource.get(key) or {}
        for name, value in holder.items():
            subs = attributes.get((key, name))
            if key == "" and name in always or subs is WHOLE:
                picked = value
            elif subs:
                picked = _pick(value, subs, True)
            else:
                continue
            if picked is not None:
                (out if key == "" else out.setdefault(key, {}))[name] = picked
    return out


def _exclude(resource, excluded, always):
    """excludedAttributes=: all but what is named (never what is always returned)."""
    out = dict(resource)
    for (key, name), subs in excluded.items():
        holder = out if key == "" else dict(out.get(key) or {})
        if name not in holder or (key == "" and name in always):
            continue
        picked = None if subs is WHOLE else _pick(holder[name], subs, False)
        if picked is None:
            holder.pop(name)
        else:
            holder[name] = picked
        if key:
            out[key] = holder
            if not holder:
                out.pop(key)
    return out

###############################################################################
# Database: connections, and what SQLite and PostgreSQL spell differently #####
###############################################################################

class _RemembersConnections:
    """A peewee database remembering every connection its threads open, so
    that closing an app closes them all (peewee's close() reaches only the
    calling thread's): no file handle or socket outlives the app."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._opened, self._opened_lock = [], threading.Lock()

    def _connect(self):
        connection = super()._connect()
        with self._opened_lock:
            self._opened.append(connection)
        return connection

    def close_all(self):
        self.close()
        with self._opened_lock:
            connections, self._opened = self._opened, []
        for connection in connections:
            connection.close()


class SqliteDatabase(_RemembersConnections, peewee.SqliteDatabase):
    pass


class PostgresDatabase(_RemembersConnections, peewee.PostgresqlDatabase):
    """PostgreSQL, whose server may go away under a running scimlite (a
    restart, a failover): a thread's connection found broken is replaced
    before its next statement, outside a transaction.  The request that met
    the break was answered 503 (see lost_database)."""

    def cursor(self, named_cursor=None):
        if not self.is_closed() and not self.in_transaction() and \
                not self.is_connection_usable():
            with contextlib.suppress(peewee.DatabaseError, peewee.InterfaceError):
                self._close(self._state.conn)
            self._state.reset()
        return super().cursor(named_cursor)


def database_label(db_setting):
    """The `db` setting as it may be shown: a URL's password hidden."""
    if not is_postgres(db_setting):
        return db_setting
    parts = urllib.parse.urlsplit(db_setting)
    if parts.password is None:
        return db_setting
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


def _create_private(path):
    """A new database file is made readable by its owner only (SQLite then
    gives its -wal and -shm files the same mode); an existing file keeps
    the mode its operator chose."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def open_database(path):
    """A peewee database: a SQLite file (WAL, foreign keys, a busy timeout),
    ":memory:", or a postgresql:// URL.

    SQLite write transactions start with BEGIN IMMEDIATE so that two writers
    queue on the busy timeout instead of failing with "database is locked"
    halfway.
    """
    if is_postgres(path):
        try:
            import psycopg      # noqa: F401  (only PostgreSQL needs it)
        except ImportError:
            raise StartError("a postgresql:// database needs the psycopg driver: "
                             "pip install -r requirements-postgres.txt") from None
        return PostgresDatabase(path, prefer_psycopg3=True)
    if path == ":memory:":
        # One shared connection; the app serialises requests with a lock.
        db = SqliteDatabase(":memory:", thread_safe=False,
                            check_same_thread=False, lock_type="IMMEDIATE",
                            pragmas={"foreign_keys": 1})
    else:
        _create_private(path)
        # One connection per thread, as peewee does; check_same_thread off
        # only so that close_all() may close them from the closing thread.
        db = SqliteDatabase(path, timeout=30, lock_type="IMMEDIATE",
                            check_same_thread=False, pragmas={
            "journal_mode": "wal",
            "synchronous": "full",      # an acknowledged write survives a crash
            "foreign_keys": 1,
            "busy_timeout": 30000,
        })
    db.register_function(fold, "scim_fold", 1, deterministic=True)
    return db


def cannot_store(exc):
    """The database could not write: the disk (or SQLite's max_page_count)
    is full, or the disk failed.  The transaction was rolled back; it
    passes when space comes back."""
    # SQLite rolls a full transaction back itself, so peewee's own ROLLBACK
    # then fails ("no transaction is active"): the cause is in the chain.
    while exc is not None:
        text = str(exc).lower()
        if isinstance(exc, (peewee.OperationalError, sqlite3.OperationalError)) and (
                "full" in text or "disk i/o error" in text):
            return True
        if getattr(exc, "sqlstate", None) == "53100":      # PostgreSQL's disk_full
            return True
        exc = exc.__context__
    return False


def lost_database(exc):
    """PostgreSQL could not be reached, dropped the connection (a restart,
    a failover) or gave the transaction up (a deadlock): nothing was
    committed, and a retry may pass."""
    while exc is not None:
        if type(exc).__module__.startswith("psycopg") and any(
                kind.__name__ == "OperationalError" for kind in type(exc).__mro__):
            return True
        exc = exc.__context__
    return False


def _json_path(keys):
    """SQLite's JSON path of nested keys: $."name"."familyName"."""
    return "$" + "".join(f'."{key}"' for key in keys)


class Dialect:
    """What SQLite and PostgreSQL spell differently, one method each: the
    rest of scimlite speaks peewee, which writes both.  SqliteDialect and
    PostgresDialect are its two siblings.  The hooks a database may need
    nothing for (locks, migration steps, work after a copy) do nothing
    here; every other method each dialect writes its own way."""
    name = ""
    same = ""               # the operator "equal, or both NULL"
    holds_a_file = False    # a file beside which backups and the secret go

    # --- reading JSON and comparing text ---------------------------------------

    def json_value(self, data, keys, attr=None):
        """The value at `keys` in a JSON column, as SQL compares it: text, a
        number, a boolean (SQLite: 1/0); NULL when absent or null."""
        raise NotImplementedError

    def json_elements(self, data, keys):
        """A FROM item `je` over the array at `keys`: je.key (its index) and
        je.value (an element)."""
        raise NotImplementedError

    def element_value(self, key, attr=None):
        """json_value() of sub-attribute `key` of je.value."""
        raise NotImplementedError

    def primary_first(self):
        """ORDER BY of json_elements(): the primary element, then in order."""
        raise NotImplementedError

    def literal(self, value):
        """A filter's value as this database compares it with json_value()."""
        raise NotImplementedError

    def fold(self, expr):
        """scim_fold(expr): Python's casefold() (see Values: fold)."""
        return fn.scim_fold(expr)

    def ordered(self, expr):
        """Text in code point order, whatever the database's collation."""
        raise NotImplementedError

    def contains(self, expr, value):
        raise NotImplementedError

    def ends_with(self, expr, value):
        raise NotImplementedError

    def list_values(self, value, kind):
        """The elements of JSON list `value` (a slot), as a subquery of
        `kind` ("int" or "text") for IN."""
        raise NotImplementedError

    def list_rows(self, value, kinds):
        """SELECT the rows of JSON list of lists `value` (a slot), their
        columns of `kinds`, for INSERT ... FROM."""
        raise NotImplementedError

    # --- writing side by side ---------------------------------------------------

    def locked(self, query, skip_locked=False):
        """`query` locking the rows it reads until commit (several instances)."""
        return query

    def hold(self, db, name):
        """Hold advisory lock `name` until the transaction ends."""

    def migrating(self, db):
        """What a migration runs under (one instance at a time)."""
        return contextlib.nullcontext()

    def inserted_id(self, cursor):
        """The key an INSERT gave its row (None if it was ignored)."""
        raise NotImplementedError

    def change_stamp(self, db):
        """What moves whenever keys, options or organizations may have
        changed (AuthCache)."""
        raise NotImplementedError

    def relax_durability(self, db):
        """The sender's bookkeeping need not wait for the disk (see Sender)."""
        raise NotImplementedError

    # --- the schema, copies and bulk loads --------------------------------------

    def table_exists(self, db, name):
        return db.table_exists(name)

    def describe(self, db):
        """The database and its version, for `version`."""
        raise NotImplementedError

    def prepare(self, db, models):
        """What the database needs beyond the tables, made by a migration."""

    def up_to_date(self, db, models):
        """Whether a start at the current schema may skip migrating."""
        return False

    def after_copy(self, db, models):
        """After rows came in with their own keys (copy_store)."""

    def after_bulk_load(self, db, models):
        """After an import or a copy, committed."""


class SqliteDialect(Dialect):
    """SQLite 3.38 or newer: JSON through json_extract and json_each, text
    compared as bytes, one writer at a time (the write queue, BEGIN
    IMMEDIATE)."""
    name = "sqlite"
    holds_a_file = True
    same = "IS"

    def json_value(self, data, keys, attr=None):
        return fn.json_extract(data, _json_path(keys))

    def json_elements(self, data, keys):
        return NodeList((SQL("json_each("), data, SQL(", ?) AS je", [_json_path(keys)])))

    def element_value(self, key, attr=None):
        return fn.json_extract(SQL("je.value"), _json_path([key]))

    def primary_first(self):
        return SQL("json_extract(je.value, '$.primary') = 1 DESC, je.key")

    def literal(self, value):
        return int(value) if isinstance(value, bool) else value     # JSON true reads as 1

    def ordered(self, expr):
        return expr         # SQLite compares text as bytes: code point order

    def contains(self, expr, value):
        return fn.instr(expr, value) > 0

    def ends_with(self, expr, value):
        return fn.substr(expr, -len(value)) == value

    def list_values(self, value, kind):
        return NodeList((SQL("(SELECT value FROM json_each("), value, SQL("))")))

    def list_rows(self, value, kinds):
        columns = [fn.json_extract(SQL("value"), f"$[{i}]") for i in range(len(kinds))]
        return peewee.Select([NodeList((SQL("json_each("), value, SQL(")")))], columns)

    def inserted_id(self, cursor):
        return cursor.lastrowid

    def describe(self, db):
        return f"SQLite {sqlite3.sqlite_version}"

    def change_stamp(self, db):
        return db.execute_sql("SELECT n FROM scimlite_auth_version").fetchone()[0]

    def prepare(self, db, models):
        """The version row AuthCache reads, moved by triggers on every change
        of keys or options: by this process, by another (`revoke-key`), or
        by a hand edit in sqlite3.  (PRAGMA data_version moved on every
        commit of anything, so under writes each request read its key
        again: two statements a write.)"""
        db.execute_sql("CREATE TABLE IF NOT EXISTS scimlite_auth_version (n INTEGER NOT NULL)")
        db.execute_sql("INSERT INTO scimlite_auth_version SELECT 0 WHERE NOT EXISTS "
                       "(SELECT 1 FROM scimlite_auth_version)")
        for table in auth_tables(models):
            for change in ("INSERT", "UPDATE", "DELETE"):
                db.execute_sql(f'CREATE TRIGGER IF NOT EXISTS "{table}_auth_{change.lower()}" '
                               f'AFTER {change} ON "{table}" BEGIN UPDATE '
                               "scimlite_auth_version SET n = n + 1; END")

    def relax_durability(self, db):
        db.execute_sql("PRAGMA synchronous = NORMAL")

    def up_to_date(self, db, models):
        # Never: create_tables() (IF NOT EXISTS, one writer) costs nothing
        # and puts back an index someone dropped.
        return False

    # The rest is inherited: one writer at a time needs no row lock nor
    # advisory lock; after a copy SQLite's next key is the largest plus one
    # by itself; it plans well without statistics after a bulk load.


MIGRATION_LOCK, SEATS_LOCK = 0x5C1A_0001, 0x5C1A_0002     # PostgreSQL advisory locks


class PostgresDialect(Dialect):
    """PostgreSQL: JSON is read with the json operators (the column holds
    the text as written, so every response is byte for byte the one SQLite
    gives; json reads a value from text without first building jsonb's
    binary form, which made a 1,000-member group's members 40 % slower);
    text orders by code point (COLLATE "C"), as in SQLite."""
    name = "postgresql"
    same = "IS NOT DISTINCT FROM"
    holds_a_file = False

    def _at(self, data, keys, as_text):
        return NodeList((data.cast("json"), SQL("#>>" if as_text else "#>"),
                         peewee.Value(list(keys), unpack=False)))

    def json_value(self, data, keys, attr=None):
        kind = attr.type if attr is not None else "string"
        if kind in ("boolean", "integer", "decimal"):
            # Typed as SQLite's json_extract gives them, NULL if another type.
            json_type, sql_type = ("boolean", "boolean") if kind == "boolean" else \
                ("number", "numeric")
            value = self._at(data, keys, False)
            return NodeList((SQL("CASE WHEN json_typeof("), value,
                             SQL(f") = '{json_type}' THEN ("), value,
                             SQL(f" #>> '{{}}')::{sql_type} END")))
        return self._at(data, keys, True)

    def json_elements(self, data, keys):
        array = self._at(data, keys, False)
        return NodeList((SQL("json_array_elements(CASE WHEN json_typeof("), array,
                         SQL(") = 'array' THEN "), array,
                         SQL(" END) WITH ORDINALITY AS je(value, key)")))

    def element_value(self, key, attr=None):
        return self.json_value(SQL("je.value"), [key], attr)

    def primary_first(self):
        return SQL("COALESCE(je.value ->> 'primary' = 'true', false) DESC, je.key")

    def literal(self, value):
        return value

    def ordered(self, expr):
        return NodeList((expr, SQL('COLLATE "C"')))

    def contains(self, expr, value):
        return fn.strpos(expr, value) > 0

    def ends_with(self, expr, value):
        return fn.right(expr, len(value)) == value

    def list_values(self, value, kind):
        return NodeList((SQL("(SELECT (json_array_elements_text("), value,
                         SQL(f"::json))::{self.TYPES[kind]})")))

    TYPES = {"int": "bigint", "text": "text"}

    def list_rows(self, value, kinds):
        columns = [SQL(f"(value ->> {i})::{self.TYPES[kind]}")
                   for i, kind in enumerate(kinds)]
        return peewee.Select([NodeList((SQL("json_array_elements("), value,
                                        SQL("::json) AS value")))], columns)

    def locked(self, query, skip_locked=False):
        # Instances write side by side: a row read to be changed is locked
        # until commit, so a second writer waits and then reads the change.
        return query.for_update("FOR UPDATE SKIP LOCKED" if skip_locked else True)

    def hold(self, db, name):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", [name])

    @contextlib.contextmanager
    def migrating(self, db):
        with db.atomic():
            self.hold(db, MIGRATION_LOCK)
            yield

    def table_exists(self, db, name):
        # Where search_path finds it (peewee's table_exists looks in public).
        return db.execute_sql("SELECT to_regclass(%s) IS NOT NULL",
                              [f'"{name}"']).fetchone()[0]

    def inserted_id(self, cursor):
        row = cursor.fetchone()     # INSERT ... RETURNING the key; none if ignored
        return row[0] if row else None

    def describe(self, db):
        import psycopg
        server = db.execute_sql("SHOW server_version").fetchone()[0]
        return f"PostgreSQL {server} (psycopg {psycopg.__version__})"

    def change_stamp(self, db):
        return db.execute_sql("SELECT n FROM scimlite_auth_version").fetchone()[0]

    def relax_durability(self, db):
        db.execute_sql("SET synchronous_commit = off")

    def after_bulk_load(self, db, models):
        # Statistics and the visibility map now, not when autovacuum comes
        # by: until then a deep page (Okta's import paging through every
        # user) reads the heap for each key it skips, 90 ms at 100k users.
        tables = ", ".join(f'"{model._meta.table_name}"' for model in models)
        db.execute_sql(f"VACUUM (ANALYZE) {tables}")

    def after_copy(self, db, models):
        # Rows inserted with their own keys leave each sequence behind.
        for model in models:
            key = model._meta.primary_key
            if isinstance(key, peewee.AutoField):
                table = model._meta.table_name
                db.execute_sql(f'SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE('
                               f'MAX("{key.column_name}"), 0) + 1, false) FROM "{table}"',
                               [f'"{table}"', key.column_name])

    def prepare(self, db, models):
        """scim_fold() as SQL, made from fold() itself (see
        _fold_function_sql), and the version row AuthCache reads: moved by a
        trigger on every change of keys or options, by any instance or a
        hand edit in psql.  Their digest goes in scim_fold's comment, so
        that a start finding them current runs no DDL (see up_to_date)."""
        statements = self._extras(db, models)
        for statement in statements:
            db.execute_sql(statement)
        db.execute_sql(f"COMMENT ON FUNCTION scim_fold(text) IS '{_digest(statements)}'")

    def up_to_date(self, db, models):
        made = db.execute_sql("SELECT obj_description(to_regprocedure('scim_fold(text)'), "
                              "'pg_proc')").fetchone()[0]
        return made == _digest(self._extras(db, models))

    def _extras(self, db, models):
        icu = db.execute_sql("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")
        return [_fold_function_sql(icu.fetchone() is not None),
                "CREATE TABLE IF NOT EXISTS scimlite_auth_version (n bigint NOT NULL)",
                "INSERT INTO scimlite_auth_version SELECT 0 WHERE NOT EXISTS "
                "(SELECT 1 FROM scimlite_auth_version)",
                "CREATE OR REPLACE FUNCTION scimlite_auth_changed() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN UPDATE scimlite_auth_version "
                "SET n = n + 1; RETURN NULL; END $$"] + [
            f'CREATE OR REPLACE TRIGGER "{table}_auth_changed" AFTER INSERT OR UPDATE OR '
            f'DELETE OR TRUNCATE ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION '
            "scimlite_auth_changed()"
            for table in auth_tables(models)]


def auth_tables(models):
    """The tables AuthCache keeps in memory, whose changes move its version."""
    return [m._meta.table_name for m in (models.ApiKey, models.Option, models.Organization,
                                         models.OAuthClient, models.OAuthSecret,
                                         models.OAuthGrant, models.EventStream)]


def _digest(statements):
    return hashlib.sha256("\n".join(statements).encode("utf-8")).hexdigest()[:16]


@functools.lru_cache(maxsize=2)       # 0.3 s of Unicode tables: once per process
def _fold_function_sql(icu=True):
    """CREATE FUNCTION scim_fold(text): Python's str.casefold() in SQL.

    PostgreSQL (before 18) has no case folding, only lower(), which differs
    from casefold() for 183 characters (ß folds to ss, final ς to σ, ...).
    The function lowers under ICU's root locale (Unicode's own rules, as
    Python's lower()) and then maps those characters, a table taken from
    this Python's Unicode data each time scimlite starts.  (A server built
    without ICU lowers by the database's own locale.)"""
    singles, expansions = {}, {}
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        lowered, folded = char.lower(), char.casefold()
        if lowered != folded:
            (singles if len(lowered) == len(folded) == 1 else expansions)[lowered] = folded
    expr = "lower($1 COLLATE \"und-x-icu\")" if icu else "lower($1)"
    for source, target in expansions.items():
        expr = f"replace({expr}, {_sql_text(source)}, {_sql_text(target)})"
    expr = (f"translate({expr}, {_sql_text(''.join(singles))}, "
            f"{_sql_text(''.join(singles.values()))})")
    return ("CREATE OR REPLACE FUNCTION scim_fold(text) RETURNS text LANGUAGE sql "
            f"IMMUTABLE STRICT PARALLEL SAFE AS $fold$ SELECT {expr} $fold$")


def _sql_text(text):
    return "'" + text.replace("'", "''") + "'"


def dialect_of(db):
    return PostgresDialect() if isinstance(db, peewee.PostgresqlDatabase) else SqliteDialect()


###############################################################################
# Statements: built once per app, run with each request's values ##############
###############################################################################
# peewee builds a query's SQL text afresh on every run, and that building
# was 37-56 % of the CPU of every request (issue 12's profile); SQLite's
# own work was 6-12 %.  The statements every request runs are therefore
# built once per app, with slot(name) where a value goes, and then run
# with each request's values.  Everything else stays ordinary peewee.

SLOT = "\x00slot:"


def slot(name):
    """A value left open in a Prepared statement, given at each run."""
    return peewee.Value(SLOT + name, converter=False)


def in_slot(models, field, name):
    """`field IN (the values of a list)`, the list given at each run as one
    JSON value: one statement, built once, for a list of any length (100
    member ids in a PATCH), instead of one per length with a `?` each."""
    kind = "int" if field.field_type in ("INT", "AUTO", "BIGINT", "BIGAUTO") else "text"
    return NodeList((field, SQL("IN"), models.dialect.list_values(slot(name), kind)))


def rows_slot(models, name, kinds):
    """SELECT the rows of a list given at each run as one JSON value (a
    list of lists, their columns of `kinds`, "int" or "text"): INSERT ...
    FROM it adds any number of rows with one statement, built once."""
    return models.dialect.list_rows(slot(name), kinds)


class UnscopedError(RuntimeError):
    """A query of an organization's rows ran outside any organization: a
    bug (every entry point names its organization), never a request's fault."""


class OrgScope:
    """Which organization this thread's queries are for (see Models: Owned).

    Every query of an organization's rows carries `org_id = ?`, its value
    taken from here when the query runs, so no query can forget it: a
    request enters its key's organization once (`with scope.of(org):`), and
    everything below reads and writes that organization's rows only.  A
    statement built once (Prepared) keeps the `?` open and fills it at each
    run, so one organization's statement never carries another's value.
    Outside any organization such a query is for the only one there is
    (`fallback`, which the app sets: an install of one organization, and
    the tests of other projects, never name it), and with several it
    raises UnscopedError.  Code that works across organizations (the
    outbox sender, retention, the verify API) says so by calling the
    model's `everywhere()` forms instead.

    One per app: a context variable, so each thread (and each group-commit
    ticket, see Changes.run) has its own."""

    def __init__(self):
        self._current = contextvars.ContextVar("scimlite_org", default=None)
        self.param = _OrgParam(self)
        self.fallback = self._unscoped

    @staticmethod
    def _unscoped():
        raise UnscopedError("a query of an organization's rows outside any organization")

    @property
    def current(self):
        """The current organization (its row): the one entered, or else the
        only one (fallback)."""
        return self._current.get() or self.fallback()

    @property
    def entered(self):
        """The organization entered (`of`), or None."""
        return self._current.get()

    def get(self):
        """The current organization's id."""
        return self.current.id

    @contextlib.contextmanager
    def of(self, org):
        """Run the block's queries for organization `org`: its row, as read
        when the block began (its seats, name and state), or its id alone
        where only the rows' organization matters (the sender's records)."""
        token = self._current.set(_OrgId(org) if isinstance(org, int) else org)
        try:
            yield org
        finally:
            self._current.reset(token)


_OrgId = collections.namedtuple("_OrgId", "id")


class _OrgParam(peewee.Node):
    """`?` with the current organization's id (OrgScope); left open in a
    statement built once, as slot() is."""

    def __init__(self, scope):
        super().__init__()
        self.scope = scope

    def __sql__(self, ctx):
        if ctx.state.preparing:
            return ctx.value(self.scope, converter=False)
        return ctx.value(self.scope.get(), converter=False)


class Prepared:
    """One statement: its SQL built once from a peewee query, run often."""

    def __init__(self, query):
        self.db, self.model = query.model._meta.database, query.model
        self.sql, params = self.db.get_sql_context(preparing=True).sql(query).query()
        self._reader = None     # how a row of this SELECT becomes a model row
        # (slot name, None) where a value is given at run time, else
        # (None, constant): LIMIT 1, a status the statement always uses.
        self.params = [(p[len(SLOT):], None) if isinstance(p, str) and p.startswith(SLOT)
                       else (None, p) for p in params]
        # Where the current organization's id goes (_OrgParam), and whose.
        self._orgs = [(i, p) for i, p in enumerate(params) if isinstance(p, OrgScope)]

    def _values(self, given):
        values = [given[name] if name else constant for name, constant in self.params]
        for i, scope in self._orgs:
            values[i] = scope.get()
        return values

    def rows(self, **given):
        """The model rows a SELECT finds, made as peewee makes them."""
        cursor = self.db.execute_sql(self.sql, self._values(given))
        if self._reader is None:
            self._reader = _RowReader(self.model, cursor.description)
        return [self._reader.read(values) for values in cursor]

    def first(self, **given):
        found = self.rows(**given)
        return found[0] if found else None

    def scalar(self, **given):
        row = self.db.execute_sql(self.sql, self._values(given)).fetchone()
        return row[0] if row else None

    def tuples(self, **given):
        return self.db.execute_sql(self.sql, self._values(given)).fetchall()

    def run(self, **given):
        """Run an INSERT, UPDATE or DELETE; the cursor (rowcount, lastrowid)."""
        return self.db.execute_sql(self.sql, self._values(given))

    def run_many(self, rows):
        """Run an INSERT once for each dict of values in `rows`, in one call
        to the driver (executemany), errors wrapped as execute_sql wraps them."""
        with peewee.__exception_wrapper__:     # what execute_sql wraps its call in
            self.db.cursor().executemany(self.sql, [self._values(row) for row in rows])


class _RowReader:
    """Model rows from a SELECT's values: which column is which field (and
    its conversion, e.g. 0/1 to a bool) is worked out once, not per row."""

    def __init__(self, model, description):
        columns = model._meta.columns
        self.model = model
        self.fields = [(i, columns[d[0]].name, columns[d[0]].python_value)
                       for i, d in enumerate(description) if d[0] in columns]
        self.extras = [(i, d[0]) for i, d in enumerate(description) if d[0] not in columns]

    def read(self, values):
        row = _stored_row(self.model, {name: convert(values[i])
                                       for i, name, convert in self.fields})
        for i, name in self.extras:
            setattr(row, name, values[i])
        return row


# --- peewee's row internals, in one place ----------------------------------------
# A row read by a statement built once is made here, and save_row() writes
# only what changed since: both need what peewee keeps inside a row (its
# values in __data__, the names set since it was read in _dirty, and
# Model(__no_default__=1) for a row without defaults filled in).  None of
# it is public API (peewee 3.17); it is what Model.save() and peewee's own
# cursor wrappers use, and going through them would build SQL per request.

def _stored_row(model, values):
    """A row of `model` holding `values` as read from the database."""
    row = model(__no_default__=1)
    row.__data__ = values
    return row


def _row_state(row):
    """(values by field name, names set since it was read or saved)."""
    return row.__data__, row._dirty


class Statements:
    """The statements of one app's database, built once each (Prepared),
    by key: the one home of SQL text that is not built per request."""

    def __init__(self):
        self._built = {}

    def get(self, key, build):
        """Statement `key`, built by build() the first time."""
        statement = self._built.get(key)
        if statement is None:
            statement = self._built[key] = Prepared(build())
        return statement


def prepared(models, key, build):
    """This app's statement `key` (see Statements)."""
    return models.statements.get(key, build)


class Models:
    """One app's models, bound to its own database: `db`, its `dialect`,
    its `statements`, `all` (every model, in table order) and one
    attribute per model, named as the schema tables name them
    (ResourceType.model, Attr.index).  build_models() makes it."""

    def __init__(self, db, models, scope):
        self.db, self.dialect, self.statements = db, dialect_of(db), Statements()
        self.scope = scope
        self.all = tuple(models.values())
        for name, model in models.items():
            setattr(self, name, model)


def mark_stored(row):
    """Say that the row's fields are as stored (after an UPDATE by other
    means set them), so that save_row writes only what is set after."""
    _row_state(row)[1].clear()


def save_row(models, row, ignore=False):
    """row.save() by statements built once: a new row is INSERTed (or, with
    `ignore`, not when it clashes with a unique one); a stored row UPDATEs
    only the fields set since it was read, which peewee marks dirty."""
    model = type(row)
    pk = model._meta.primary_key
    data, dirty = _row_state(row)
    if data.get(pk.name) is None:
        names = tuple(sorted(data))

        def insert():
            query = model.insert({model._meta.fields[n]: slot(n) for n in names})
            return query.on_conflict_ignore() if ignore else query
        statement = prepared(models, ("insert", model.__name__, names, ignore), insert)
        cursor = statement.run(**_db_values(model, data, names))
        if cursor.rowcount:
            data[pk.name] = models.dialect.inserted_id(cursor)
    elif dirty:
        names = tuple(sorted(dirty))
        statement = prepared(models, ("update", model.__name__, names), lambda: model.update(
            {model._meta.fields[n]: slot(n) for n in names}).where(pk == slot("_pk")))
        statement.run(_pk=data[pk.name], **_db_values(model, data, names))
    dirty.clear()
    return row


def _db_values(model, data, names):
    fields = model._meta.fields
    return {n: fields[n].db_value(data.get(n)) for n in names}


###############################################################################
# Models: peewee models per app, organizations, migrations, moving a store ####
###############################################################################

SCHEMA_VERSION = 10     # 6: organizations; 7-8: OAuth; 9: SETs; 10: administrators
# Columns added to tables that existed before: (version, table, column, SQL
# type, how existing rows get their value or None).  New tables and indexes
# need no entry: create_tables() adds what is missing (on PostgreSQL only
# when the version moves, so a new index moves it).
ADDED_COLUMNS = (
    (2, "api_key", "expires", "VARCHAR(255)", None),
    (3, "user", "active", "INTEGER", "COALESCE(json_extract(data, '$.active'), 1)"),
    # 6: what was stored before organizations is the first one's (DEFAULT_ORG).
    *((6, table, "org_id", "INTEGER NOT NULL DEFAULT 1", None) for table in (
        "user", "user_email", "group", "membership", "api_key", "event", "license",
        "outbox_message", "request_log")),
    (6, "audit", "org_id", "INTEGER", "1"),
    (6, "admin_session", "org_id", "INTEGER", None),
    (8, "o_auth_client", "redirect_uris", "TEXT", None),
    (8, "o_auth_token", "grant_id", "INTEGER", None),
    (10, "admin_session", "account", "INTEGER", None),
    (10, "user", "added_by", "VARCHAR(255)", None),
)
# Indexes a version replaced, dropped once it is reached (create_tables()
# adds, never drops): 6 made uniqueness per organization, and led every
# index a request uses with it.
DROPPED_INDEXES = {6: (
    "user_id", "user_pk", "user_external_id", "user_user_name_key", "user_display_name_key",
    "user_active", "user_email_value_key", "group_id", "group_pk", "group_external_id",
    "group_display_name_key", "membership_member_id", "event_type", "event_resource_id",
    "request_log_key_name", "request_log_status", "request_log_resource_id",
    "license_user_id", "license_status", "outbox_message_created")}
# Tables whose key a version changed, so rebuilt: their rows are read, the
# table made anew, the rows put back (6: read counts by organization too).
REBUILT_TABLES = {6: ("read_count",)}
DEFAULT_ORG = 1         # the first organization's id (slug "default")
NO_ORG = 0              # the org of a provisioning-log entry with no valid key


def build_models(db):
    """The Models of one app, bound to its own database."""

    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    scope = OrgScope()
    Owned = _owned_base(Base, scope)
    models = Models(db, {"Organization": _organization_model(Base),
                         **_resource_models(Owned), **_service_models(Base, Owned)}, scope)
    if models.dialect.name == "sqlite":
        # An organization's id is never given again after it is deleted (a
        # serial never goes back on PostgreSQL): nothing of the deleted one
        # (a secret derived from its id, say) may pass to a new one.
        models.Organization._meta.primary_key.constraints = [SQL("AUTOINCREMENT")]
    if models.dialect.name == "postgresql":
        # VARCHAR with no length, as SQLite's: a 300-character userName is
        # stored on both, not refused by one of them.
        for model in models.all:
            for field in model._meta.fields.values():
                if isinstance(field, peewee.CharField):
                    field.max_length = None
    return models


def _organization_model(Base):
    """The customer organizations of the install: every Owned row is one's."""

    class Organization(Base):
        """One customer organization, and its settings that are its own.
        The first start makes one (DEFAULT_ORG), so that an install with no
        configuration works as one organization, with nothing to choose."""
        id = peewee.AutoField()
        slug = peewee.CharField(unique=True)        # in /o/{slug}/scim/v2 and --org
        name = peewee.CharField()
        seats = peewee.IntegerField(null=True)      # 0: no limit; None: license_seats
        plan = peewee.CharField(null=True)
        ends = peewee.CharField(null=True)          # the subscription's last day, YYYY-MM-DD
        state = peewee.CharField(default="active")  # active, suspended
        scim_enabled = peewee.BooleanField(default=True)
        webhook_url = peewee.CharField(null=True)   # its own receiver (see Outbox)
        webhook_generation = peewee.IntegerField(default=1)     # of its signing secret
        created = peewee.CharField()

    return Organization


def _owned_base(Base, scope):
    """The base of every model whose rows belong to one organization."""

    class Owned(Base):
        """A row of one organization.  Its queries (select, update, delete,
        and the insert forms, which fill org in) are of the current
        organization's rows only (OrgScope); everywhere(),
        update_everywhere() and delete_everywhere() are the forms that
        cross organizations, named so that each such place is plain to see.
        Joins follow foreign keys, which never cross organizations."""
        # No foreign key: a column added in place to a table with rows
        # (SQLite refuses ADD COLUMN ... REFERENCES with a default).
        # Indexes lead with it (a lone index on it turned a page from 0.3
        # into 80 ms: SQLite chose it over the one the page needed).
        org = peewee.IntegerField(column_name="org_id")

        @classmethod
        def select(cls, *fields):
            return super().select(*fields).where(cls.org == scope.param)

        @classmethod
        def everywhere(cls, *fields):
            return super().select(*fields)

        @classmethod
        def update(cls, __data=None, **update):
            return super().update(__data, **update).where(cls.org == scope.param)

        @classmethod
        def update_everywhere(cls, __data=None, **update):
            return super().update(__data, **update)

        @classmethod
        def delete(cls):
            return super().delete().where(cls.org == scope.param)

        @classmethod
        def delete_everywhere(cls):
            return super().delete()

        @classmethod
        def insert(cls, __data=None, **insert):
            data = cls._normalize_data(__data, insert)
            data.setdefault(cls.org, scope.param)
            return super().insert(data)

        @classmethod
        def insert_many(cls, rows, fields=None):
            if fields is not None or not all(isinstance(row, dict) for row in rows):
                raise TypeError("insert_many of an organization's rows takes dicts")
            return super().insert_many([row if "org" in row or cls.org in row
                                        else {**row, "org": scope.param} for row in rows])

        @classmethod
        def insert_from(cls, query, fields):
            return super().insert_from(query.select_extend(scope.param), [*fields, cls.org])

    return Owned


def _resource_models(Base):
    """Users, groups and their index and membership rows.  Columns named by
    Attr.column hold a JSON value's indexed copy (folded when it ignores case).
    Uniqueness is per organization, and every index leads with it."""

    class Resource(Base):
        pk = peewee.AutoField()
        id = peewee.CharField()
        external_id = peewee.CharField(null=True)
        data = peewee.TextField()               # attributes as JSON, wire names
        version = peewee.IntegerField(default=1)
        created = peewee.CharField()
        last_modified = peewee.CharField()

    # The rows' own order again, in a b-tree of keys alone: a deep page
    # (startIndex=99901) skips 99,900 keys there, not 99,900 rows of JSON in
    # the table (1 ms instead of 10 at 100k users).  (A subclass's Meta
    # replaces its base's indexes, so each resource model lists these.)
    resource_indexes = ((("org", "pk"), False), (("org", "id"), True),
                        (("org", "external_id"), False))

    class User(Resource):
        user_name_key = peewee.CharField()
        display_name_key = peewee.CharField(null=True)
        active = peewee.BooleanField(null=True)
        password_hash = peewee.CharField(null=True)
        # Who added them by hand (an administrator, on the admin page);
        # None: an identity provider provisioned them, or an import.
        added_by = peewee.CharField(null=True)

        class Meta:
            indexes = (*resource_indexes, (("org", "user_name_key"), True),
                       (("org", "display_name_key"), False), (("org", "active"), False))

    class UserEmail(Base):
        """emails[].value, folded, so `emails.value eq` uses an index."""
        owner = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
        value_key = peewee.CharField()

        class Meta:
            indexes = ((("org", "value_key"), False),)

    class Group(Resource):
        display_name_key = peewee.CharField()

        class Meta:
            indexes = (*resource_indexes, (("org", "display_name_key"), True))

    class Membership(Base):
        """One row per member: adding or removing one touches one row."""
        group = peewee.ForeignKeyField(Group, on_delete="CASCADE")
        member_id = peewee.CharField()
        member_type = peewee.CharField()
        user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE")
        child = peewee.ForeignKeyField(Group, null=True, on_delete="CASCADE")

        class Meta:
            indexes = ((("group", "member_id"), True), (("org", "member_id"), False))

    return dict(User=User, UserEmail=UserEmail, Group=Group, Membership=Membership)


def _service_models(Base, Owned):
    """What the service keeps besides resources: keys, options, events."""

    class ApiKey(Owned):
        name = peewee.CharField()
        public_id = peewee.CharField(unique=True)   # install-wide: a key names its org
        key_hash = peewee.CharField()
        created = peewee.CharField()
        last_used = peewee.CharField(null=True)
        revoked = peewee.CharField(null=True)
        expires = peewee.CharField(null=True)       # the first moment it no longer works

    class Option(Base):
        """The install's own values kept in the database (schema_version, the
        admin password's hash); an organization's are in Organization."""
        key = peewee.CharField(primary_key=True)
        value = peewee.TextField()

    class Event(Owned):
        """What happened: one row per committed change (see Events)."""
        pk = peewee.AutoField()
        at = peewee.CharField(index=True)
        type = peewee.CharField()
        resource_type = peewee.CharField()
        resource_id = peewee.CharField()
        actor = peewee.CharField(null=True)
        detail = peewee.TextField()

        class Meta:
            indexes = ((("org", "pk"), False), (("org", "type"), False),
                       (("org", "resource_id"), False))

    return dict(ApiKey=ApiKey, Option=Option, Event=Event, **_oauth_models(Owned),
                **_license_models(Owned), **_event_stream_models(Owned),
                **_admin_models(Base, Owned))


def _event_stream_models(Owned):
    """Receivers of security events (RFC 9967 SETs) and the SETs waiting
    for a poll receiver's acknowledgement (RFC 8936); a push receiver's go
    through the outbox (RFC 8935)."""

    class EventStream(Owned):
        pk = peewee.AutoField()
        public_id = peewee.CharField(unique=True)   # names it, and its token
        name = peewee.CharField()
        delivery = peewee.CharField()               # poll, push
        url = peewee.CharField(null=True)           # push: the receiver's endpoint
        token_hash = peewee.CharField(null=True)    # poll: the receiver's credential
        issuer = peewee.CharField()                 # the SETs' iss
        audience = peewee.CharField()               # and aud
        created = peewee.CharField()
        # No "last polled": a write to this table empties the key cache
        # (auth_tables), and receivers poll every few seconds.
        revoked = peewee.CharField(null=True)

    class SecurityEvent(Owned):
        pk = peewee.AutoField()
        stream = peewee.IntegerField()
        jti = peewee.CharField(unique=True)
        claims = peewee.TextField()                 # JSON, signed when sent
        created = peewee.CharField()
        acked = peewee.CharField(null=True)
        error = peewee.TextField(null=True)         # what the receiver said (setErrs)

        class Meta:
            indexes = ((("org", "stream", "acked", "pk"), False),)

    return dict(EventStream=EventStream, SecurityEvent=SecurityEvent)


def _oauth_models(Owned):
    """OAuth 2.0 clients (RFC 6749 §4.4), their secrets and the access
    tokens they were given: secrets and tokens stored as hashes only."""

    class OAuthClient(Owned):
        pk = peewee.AutoField()
        client_id = peewee.CharField(unique=True)   # install-wide: it names its org
        name = peewee.CharField()
        scopes = peewee.CharField()                 # what it may ask for, space-separated
        created = peewee.CharField()
        last_used = peewee.CharField(null=True)
        revoked = peewee.CharField(null=True)
        # Federated (RFC 7523 §2.2): no secret; a JWT signed by the issuer's
        # key, for this subject and audience, is its proof.
        issuer = peewee.CharField(null=True)
        subject = peewee.CharField(null=True)
        audience = peewee.CharField(null=True)
        jwks_url = peewee.CharField(null=True)
        # Authorization code grant (RFC 6749 §4.1, Okta's OAuth mode): the
        # redirect URIs registered for it, one per line, matched exactly.
        redirect_uris = peewee.TextField(null=True)

        class Meta:
            indexes = ((("issuer", "subject"), False),)

    class OAuthGrant(Owned):
        """One administrator's consent (the authorization code grant): its
        one-time code, then its refresh token, rotated on each use.  The
        organization is the one consented to: an install-wide client's
        grants each act in one."""
        pk = peewee.AutoField()
        public_id = peewee.CharField(unique=True)   # names it to revoke: sag_...
        client = peewee.ForeignKeyField(OAuthClient, on_delete="CASCADE")
        scopes = peewee.CharField()
        created = peewee.CharField()
        granted_by = peewee.CharField()             # who consented, and from where
        code_id = peewee.CharField(unique=True)     # looked up by, as a key's public id
        code_hash = peewee.CharField()
        code_expires = peewee.CharField()
        code_used = peewee.CharField(null=True)
        redirect_uri = peewee.TextField(null=True)  # as the authorization request gave it
        code_challenge = peewee.CharField(null=True)    # PKCE (RFC 7636), S256
        refresh_id = peewee.CharField(null=True, unique=True)
        refresh_hash = peewee.CharField(null=True)
        refresh_expires = peewee.CharField(null=True)
        previous_refresh = peewee.CharField(null=True)  # the hash rotated away
        last_used = peewee.CharField(null=True)
        revoked = peewee.CharField(null=True)

    class OAuthSecret(Owned):
        pk = peewee.AutoField()
        client = peewee.ForeignKeyField(OAuthClient, on_delete="CASCADE")
        prefix = peewee.CharField(unique=True)      # shown in lists, names it to revoke
        secret_hash = peewee.CharField()
        created = peewee.CharField()
        expires = peewee.CharField()                # the first moment it no longer works
        revoked = peewee.CharField(null=True)

    class OAuthToken(Owned):
        pk = peewee.AutoField()
        public_id = peewee.CharField(unique=True)   # looked up by, as an API key's
        token_hash = peewee.CharField()
        client = peewee.ForeignKeyField(OAuthClient, on_delete="CASCADE")
        secret = peewee.ForeignKeyField(OAuthSecret, null=True, on_delete="CASCADE")
        scopes = peewee.CharField()
        issued = peewee.CharField()
        expires = peewee.CharField()
        assertion = peewee.CharField(null=True)     # the jti of the JWT it was given for
        grant = peewee.IntegerField(null=True, column_name="grant_id")  # its OAuthGrant

        class Meta:
            indexes = ((("client", "assertion"), True),)    # a JWT is used once

    return dict(OAuthClient=OAuthClient, OAuthSecret=OAuthSecret, OAuthGrant=OAuthGrant,
                OAuthToken=OAuthToken)


def _license_models(Owned):
    """Licenses, and the outbox of mail and webhooks (see Licenses, Outbox)."""

    class License(Owned):
        """One user's license; kept when the user is deleted (revoked)."""
        pk = peewee.AutoField()
        uid = peewee.CharField(unique=True)         # random; the key derives from it
        user_id = peewee.CharField()                # the user's SCIM id
        user_name = peewee.CharField()
        display_name = peewee.CharField(null=True)
        email = peewee.CharField(null=True)         # where its mail goes
        status = peewee.CharField()                 # active, suspended, waiting, revoked
        generation = peewee.IntegerField(default=0)     # 0: no key issued yet
        key_hash = peewee.CharField(null=True, unique=True)
        transitions = peewee.IntegerField(default=0)
        created = peewee.CharField()
        updated = peewee.CharField()
        issued = peewee.CharField(null=True)
        suspended = peewee.CharField(null=True)
        restored = peewee.CharField(null=True)
        revoked = peewee.CharField(null=True)
        waiting_since = peewee.CharField(null=True)

        class Meta:
            indexes = ((("org", "user_id"), True), (("org", "status"), False))

    class OutboxMessage(Owned):
        """A mail or webhook to deliver, written with the change causing it."""
        pk = peewee.AutoField()
        uid = peewee.CharField(unique=True)         # Message-ID, webhook-id
        kind = peewee.CharField()                   # mail, webhook, set (RFC 8935)
        dedupe = peewee.CharField(unique=True)      # its cause: one row per cause
        recipient = peewee.CharField(null=True)     # an address or a URL
        template = peewee.CharField(null=True)
        context = peewee.TextField()                # JSON; never a key or a secret
        license = peewee.IntegerField(null=True)    # whose key the mail carries
        status = peewee.CharField()                 # pending, sending, sent, dead
        attempts = peewee.IntegerField(default=0)
        created = peewee.CharField()
        next_attempt = peewee.CharField()
        lease_until = peewee.CharField(null=True)
        sent_at = peewee.CharField(null=True)
        last_error = peewee.TextField(null=True)
        reply = peewee.TextField(null=True)         # the server's answer

        class Meta:
            # The due rows, of every organization (the sender); a license's
            # unfinished ones (the sender's order check); the admin's list.
            indexes = ((("status", "next_attempt"), False), (("license", "status"), False),
                       (("org", "created"), False))

    return dict(License=License, OutboxMessage=OutboxMessage)


def _admin_models(Base, Owned):
    """What the admin page keeps: sessions, the audit trail, the
    provisioning log and the daily counts of reads."""

    class AdminSession(Base):
        token_hash = peewee.CharField(primary_key=True)     # SHA-256 of the cookie
        csrf = peewee.CharField()
        created = peewee.CharField()
        last_seen = peewee.CharField()
        client = peewee.CharField(null=True)
        org = peewee.IntegerField(null=True, column_name="org_id")  # the one it looks at
        # Whose: an AdminAccount's pk; None for the install's password (an
        # operator without an account).
        account = peewee.IntegerField(null=True)

    class AdminAccount(Base):
        """A person who administers: one organization (org), or with org
        None the whole install (an operator).  An address administers one
        organization at most: it is what they sign in with."""
        pk = peewee.AutoField()
        email = peewee.CharField(unique=True)       # as typed, lowercased
        name = peewee.CharField()
        org = peewee.IntegerField(null=True, column_name="org_id")
        password_hash = peewee.CharField(null=True)     # optional, instead of codes
        created = peewee.CharField()
        invited_by = peewee.CharField(null=True)
        joined = peewee.CharField(null=True)        # when they followed the invitation
        last_login = peewee.CharField(null=True)

    class AdminLink(Base):
        """A one-time invitation or sign-in code.  Its text is derived from
        the install's secret and `nonce` when it is mailed, never stored:
        only its hash is kept (and the outbox row holds the nonce)."""
        pk = peewee.AutoField()
        account = peewee.IntegerField(index=True)
        kind = peewee.CharField()                   # invitation, code
        nonce = peewee.CharField()
        token_hash = peewee.CharField(unique=True)
        created = peewee.CharField()
        expires = peewee.CharField()
        used = peewee.CharField(null=True)          # used, spent by tries, or replaced
        tries = peewee.IntegerField(default=0)

    class Audit(Base):
        """An admin action: in the organization it was done in (org), or
        the install's own (org None: the password, an organization made)."""
        pk = peewee.AutoField()
        at = peewee.CharField()
        action = peewee.CharField()
        client = peewee.CharField(null=True)
        detail = peewee.TextField()
        org = peewee.IntegerField(null=True, column_name="org_id")

    class RequestLog(Owned):
        """One SCIM request that changed something or failed (see Log)."""
        pk = peewee.AutoField()
        at = peewee.CharField(index=True)           # retention, across organizations
        key_name = peewee.CharField(null=True)
        client = peewee.CharField(null=True)
        user_agent = peewee.CharField(null=True)
        method = peewee.CharField()
        path = peewee.TextField()
        status = peewee.IntegerField()
        duration_ms = peewee.FloatField()
        resource_type = peewee.CharField(null=True)
        resource_id = peewee.CharField(null=True)
        summary = peewee.TextField()
        request_body = peewee.TextField(null=True)
        response_body = peewee.TextField(null=True)

        class Meta:
            indexes = ((("org", "pk"), False), (("org", "key_name"), False),
                       (("org", "status"), False), (("org", "resource_id"), False))

    class ReadCount(Owned):
        day = peewee.CharField()
        key_name = peewee.CharField()
        count = peewee.IntegerField(default=0)

        class Meta:
            primary_key = peewee.CompositeKey("org", "day", "key_name")

    return dict(AdminSession=AdminSession, AdminAccount=AdminAccount, AdminLink=AdminLink,
                Audit=Audit, RequestLog=RequestLog,
                ReadCount=ReadCount)


def get_option(models, key, default):
    Option = models.Option
    value = prepared(models, "option", lambda: Option.select(Option.value).where(
        Option.key == slot("key"))).scalar(key=key)
    return default if value is None else json.loads(value)


def set_option(models, key, value):
    Option = models.Option
    Option.insert(key=key, value=json.dumps(value)).on_conflict(
        conflict_target=[Option.key], update={Option.value: json.dumps(value)}).execute()


def organizations(models):
    """Every organization, oldest first."""
    Organization = models.Organization
    return list(Organization.select().order_by(Organization.id))


def find_organization(models, slug):
    """The organization called `slug`, or None."""
    Organization = models.Organization
    return prepared(models, "organization", lambda: Organization.select().where(
        Organization.slug == slot("slug"))).first(slug=slug)


def choose_organization(models, slug=None):
    """The organization `slug` names; with no slug, the only one there is.
    LookupError, naming the slugs there are, when it is not clear which."""
    if slug is not None:
        found = find_organization(models, slug)
        if found is None:
            raise LookupError(f"no organization {slug!r}; there are: "
                              + ", ".join(o.slug for o in organizations(models)))
        return found
    every = organizations(models)
    if len(every) != 1:
        raise LookupError("there are several organizations: say which with --org SLUG ("
                          + ", ".join(o.slug for o in every) + ")")
    return every[0]


SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")   # as a DNS label, shorter
ORG_STATES = ("active", "suspended")


def organization_fields(given, creating=False):
    """An organization's fields as given (by the CLI or the admin page),
    checked: {field: value}, or ValueError saying what is wrong."""
    fields = {}
    for name, value in given.items():
        if value is None and name not in ("plan", "ends", "seats", "webhook_url"):
            continue
        fields[name] = _organization_field(name, value)
    if creating and "slug" not in fields:
        raise ValueError("an organization needs a slug")
    return fields


def _organization_field(name, value):
    if name == "slug":
        if not isinstance(value, str) or not SLUG.fullmatch(value):
            raise ValueError(f"{value!r} is not a slug: 1 to 40 lowercase letters, digits "
                             "and dashes, not starting or ending with a dash")
    elif name == "name":
        value = (value or "").strip()
        if not value or len(value) > 200:
            raise ValueError("an organization's name is 1 to 200 characters")
    elif name == "seats":
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValueError("seats is a whole number, 0 for no limit")
    elif name == "plan":
        value = (value or "").strip()[:100] or None
    elif name == "ends":
        if value not in (None, ""):
            try:
                value = dt.date.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        value = value or None
    elif name == "state":
        if value not in ORG_STATES:
            raise ValueError(f"an organization is {' or '.join(ORG_STATES)}")
    elif name == "scim_enabled":
        value = bool(value)
    elif name == "webhook_url":
        value = (value or "").strip() or None
        if value is not None and not re.fullmatch(r"https?://[^\s/]+\S*", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
    else:
        raise ValueError(f"an organization has no {name!r}")
    return value


def copy_database(source, target):
    """Copy a live SQLite file with its online backup API (readers and
    writers go on meanwhile); the copy's integrity_check ("ok" if sound)."""
    if os.path.exists(target):
        raise ValueError(f"{target} exists; back up to a new file")
    with contextlib.closing(sqlite3.connect(source)) as live, \
            contextlib.closing(sqlite3.connect(target)) as copy:
        live.backup(copy)
        return copy.execute("PRAGMA integrity_check").fetchone()[0]


def backup_before_upgrade(path, current):
    """A copy of a database file before its schema moves on from `current`:
    DB.schema-N.bak (a second upgrade attempt leaves the first copy)."""
    target = f"{path}.schema-{current}.bak"
    if os.path.exists(target):
        return target
    result = copy_database(path, target)
    if result != "ok":
        raise StartError(f"the backup {target} before the upgrade is not sound "
                         f"({result}); the database was left as it was")
    log.warning("upgrading the database from schema %s to %s; a copy of it as it "
                "was is in %s", current, SCHEMA_VERSION, target)
    return target


def migrate(models, path=":memory:", org_name="scimlite"):
    """Create what is missing; record the schema version in the database.
    An existing file from an older scimlite is copied first (see
    backup_before_upgrade), then upgraded in one transaction.  On
    PostgreSQL all of it is one transaction under an advisory lock:
    instances starting together migrate once, one after the other."""
    db, dialect = models.db, models.dialect
    with dialect.migrating(db):
        _migrate(models, path, org_name)


def _migrate(models, path, org_name):
    db, dialect = models.db, models.dialect
    with db.atomic():
        exists = dialect.table_exists(db, models.Option._meta.table_name)
        current = get_option(models, "schema_version", 0) if exists else 0
    if current > SCHEMA_VERSION:
        raise StartError(f"the database was written by a newer scimlite "
                         f"(schema {current}); upgrade scimlite, or choose another "
                         "file with --db PATH")
    if current == SCHEMA_VERSION and dialect.up_to_date(db, models):
        # PostgreSQL: no DDL, whose table locks would wait on other
        # instances' writes (and deadlock with one that waits for us).
        return
    if 0 < current < SCHEMA_VERSION and dialect.holds_a_file and path != ":memory:":
        backup_before_upgrade(path, current)
    with db.atomic():
        # Columns first: create_tables() then indexes them.
        for version, table, column, kind, fill in ADDED_COLUMNS:
            if version > current and dialect.table_exists(db, table) and \
                    column not in {c.name for c in db.get_columns(table)}:
                db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {kind}')
                if fill:
                    db.execute_sql(f'UPDATE "{table}" SET "{column}" = {fill}')
        kept = _take_rebuilt_tables(models, current)
        db.create_tables(models.all)        # the tables and indexes a version brings
        for version, names in DROPPED_INDEXES.items():
            for name in names if 0 < current < version else ():
                db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        _put_back(models, kept)
        dialect.prepare(db, models)
        set_option(models, "schema_version", SCHEMA_VERSION)


def ensure_an_organization(models, name):
    """The first organization (DEFAULT_ORG), made if there is none: in a new
    database, or one from before organizations, whose rows it then owns
    (ADDED_COLUMNS).  Instances starting together make it once."""
    Organization = models.Organization
    with models.db.atomic():
        if Organization.select().exists():
            return
        # Before organizations the SCIM switch was an option.
        Organization.insert(id=DEFAULT_ORG, slug="default", name=name, created=now_text(),
                            scim_enabled=get_option(models, "scim_enabled", True)
                            ).on_conflict_ignore().execute()
        models.dialect.after_copy(models.db, [Organization])   # the next id: 2


def _take_rebuilt_tables(models, current):
    """The rows of each table a version rebuilds (REBUILT_TABLES), each
    table dropped; _put_back() then fills the new one, in DEFAULT_ORG."""
    db, kept = models.db, {}
    for version, tables in REBUILT_TABLES.items():
        for table in tables if 0 < current < version else ():
            if models.dialect.table_exists(db, table):
                cursor = db.execute_sql(f'SELECT * FROM "{table}"')
                names = [d[0] for d in cursor.description]
                kept[table] = [dict(zip(names, row)) for row in cursor.fetchall()]
                db.execute_sql(f'DROP TABLE "{table}"')
    return kept


def _put_back(models, kept):
    by_table = {model._meta.table_name: model for model in models.all}
    for table, rows in kept.items():
        model = by_table[table]
        columns = model._meta.columns
        for part in chunks(rows):
            model.insert_many([{columns[name].name: value for name, value in row.items()
                                if name in columns} | {"org": DEFAULT_ORG}
                               for row in part]).execute()


def open_store(path, org_name="scimlite"):
    """The models of database `path`, migrated; a database that cannot be
    opened is a StartError naming the problem and the fix.  A new database
    (or one from before organizations) gets its first organization, named
    `org_name` (the product_name setting)."""
    try:
        models = build_models(open_database(path))
    except OSError as exc:      # a new file that cannot be made
        raise StartError(_store_problem(path, exc)) from None
    try:
        if models.dialect.holds_a_file and path != ":memory:":
            _check_sqlite_file(path, models.Option._meta.table_name)
        migrate(models, path, org_name)
        ensure_an_organization(models, org_name)
    except BaseException as exc:
        models.db.close_all()
        if isinstance(exc, (OSError, peewee.DatabaseError, sqlite3.DatabaseError)):
            raise StartError(_store_problem(path, exc)) from None
        raise
    return models


def _check_sqlite_file(path, option_table):
    """A file that holds tables but not scimlite's (--db naming another
    program's database) is refused, read-only: opened for writing, it would
    be switched to WAL, then filled with scimlite's tables."""
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
        tables = {name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and option_table not in tables:
        raise StartError(f"{path} is a database of another program (it has tables, "
                         "none of them scimlite's): choose a new file with --db PATH")


def _store_problem(path, exc):
    """One line for a database that does not open: what, and what to do."""
    if is_postgres(path):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"cannot open the PostgreSQL database {database_label(path)} ({first}): "
                "check the URL in db / SCIMLITE_DB and that the server is up")
    folder = os.path.dirname(os.path.abspath(path))
    text = str(exc).lower()
    if "not a database" in text:
        return (f"{path} is not a SQLite database: is --db right? A new scimlite "
                "database needs a new file name (--db PATH)")
    if isinstance(exc, IsADirectoryError) or os.path.isdir(path):
        inside = os.path.join(path, "scimlite.db")
        return f"{path} is a folder: --db names a file, e.g. --db {inside}"
    if not os.path.isdir(folder):
        return (f"the folder {folder} does not exist: create it, or choose another "
                "place with --db PATH")
    return (f"cannot write the database {path} ({exc}): choose a folder scimlite may "
            "write in with --db PATH")


# --- moving a store to another database ----------------------------------------

SQL_CHUNK = 500     # rows or ids per statement, well under SQLite's variable limit


def chunks(items, size=SQL_CHUNK):
    """Lists of up to `size` items, taken from `items` as they are needed."""
    items = iter(items)
    while part := list(itertools.islice(items, size)):
        yield part


def copy_store(source, target):
    """Copy every row of every table from one store (models) into another
    database's, empty but for its schema: keys kept, so every reference
    (a membership, a license's outbox mail) still points where it did.

    The source is read in one transaction (SQLite: no writer can change it
    meanwhile) and the target written in one: all of it, or nothing.
    {table: rows copied}."""
    counts = {}
    with source.db.atomic(), target.db.atomic():
        for model in target.all:
            if model not in (target.Option, target.Organization) and \
                    every_row(model).exists():
                raise ValueError(f"the target database is not empty ({model._meta.table_name}"
                                 " has rows): migrate-db copies into an empty one")
        # Its schema_version and its first organization come from the source.
        target.Option.delete().execute()
        target.Organization.delete().execute()
        for mine, theirs in zip(source.all, target.all):
            rows = _rows_in_key_order(mine).dicts().iterator()
            counts[mine._meta.table_name] = 0
            for part in chunks(rows):
                theirs.insert_many(part).execute()
                counts[mine._meta.table_name] += len(part)
        target.dialect.after_copy(target.db, target.all)
    target.dialect.after_bulk_load(target.db, target.all)
    return counts


def tables_that_differ(one, other):
    """The tables whose rows are not the same in two stores: every column
    of every row, compared in key order."""
    differ = []
    with one.db.atomic(), other.db.atomic():
        for mine, theirs in zip(one.all, other.all):
            pairs = itertools.zip_longest(_rows_in_key_order(mine).tuples().iterator(),
                                          _rows_in_key_order(theirs).tuples().iterator())
            if any(a != b for a, b in pairs):
                differ.append(mine._meta.table_name)
    return differ


def every_row(model, *fields):
    """SELECT of every row, of every organization's too (Owned)."""
    return model.everywhere(*fields) if hasattr(model, "everywhere") else model.select(*fields)


def _rows_in_key_order(model):
    ordered = dialect_of(model._meta.database).ordered
    return every_row(model).order_by(*[
        ordered(key) if isinstance(key, peewee.CharField) else key
        for key in model._meta.get_primary_keys()])


###############################################################################
# SQL: filters and sortBy compiled over one resource type's table #############
###############################################################################

# --- the table of one resource type --------------------------------------------

TEXT_TYPES = ("string", "reference", "binary", "dateTime")     # ordered as text

class Table:
    """What the filter compiler needs to know about one resource type's table."""

    def __init__(self, rt, models):
        self.rt, self.models, self.dialect = rt, models, models.dialect
        self.model = getattr(models, rt.model)
        self.data = self.model.data

    def select(self):
        """The rows of this type, each with `in_group` when the type has
        groups (User.groups): whether it is a member of any group, so that
        the groups query runs only for rows that are (see Resources)."""
        model = self.model
        if not self.rt.attributes_stored_as("memberships"):
            return model.select()
        M = self.models.Membership
        return model.select(model, fn.EXISTS(
            M.select(M.id).where(M.member_id == model.id)).alias("in_group"))

    @staticmethod
    def may_be_in_a_group(row):
        """False only when select() found the row in no group (or a write
        since said so, see set_in_group): its groups need no query."""
        return getattr(row, "in_group", True)

    @staticmethod
    def set_in_group(row, member):
        """What select() would now read for a row a write just changed (and
        its groups, read before, are to be read again)."""
        row.in_group, row.groups_read = member, None

    def json_keys(self, path):
        """The nested keys of `path` in the JSON column."""
        holder = path.holder_key
        parts = ([holder] if holder else []) + [path.attr.name]
        if path.sub is not None and not path.attr.multi:
            parts.append(path.sub.name)
        return parts

    def operand(self, path):
        """The SQL value of a single-valued attribute (see Attr.storage)."""
        target = path.target
        if target is RESOURCE_TYPE_ATTR:
            return peewee.Value(self.rt.name)
        if target.storage == "computed":
            raise SCIMError.of("invalidFilter", f"'{path}' cannot be filtered on")
        if target.column is not None and target.storage in ("json", "column"):
            return getattr(self.model, target.column)
        # Anything else (a password hash) compares as unassigned.
        return self.dialect.json_value(self.data, self.json_keys(path), target)

    def sort_expression(self, path):
        """What `sortBy` orders by (RFC 7644 §3.4.2.3): a multi-valued
        attribute sorts by its primary value, else its first."""
        attr = path.attr
        if attr.is_complex and not attr.multi and path.sub is None:
            raise invalid_value(f"cannot sort by complex attribute '{path}'; name a "
                                "sub-attribute")
        if path.target.storage == "computed" and path.target.column is not None:
            return getattr(self.model, path.target.column)
        if not attr.multi:
            expr = self.operand(path)
            target = path.target
        else:
            target = path.sub or attr.child("value")
            if target is None or attr.storage != "json":
                raise invalid_value(f"cannot sort by '{path}'")
            whole = self.json_keys(dataclasses.replace(path, sub=None))
            dialect = self.dialect
            expr = NodeList((
                SQL("(SELECT"), dialect.element_value(target.name, target), SQL("FROM"),
                dialect.json_elements(self.data, whole), SQL("ORDER BY"),
                dialect.primary_first(), SQL("LIMIT 1)")))
        if target.folds_case and not (not attr.multi and self.is_folded(path)):
            expr = self.dialect.fold(expr)
        return self.dialect.ordered(expr) if target.type in TEXT_TYPES else expr

    def is_folded(self, path):
        """Whether the operand already holds folded text: the indexed copy
        of a JSON value that ignores case (Attr.column; Resources._columns)."""
        target = path.target
        return target.storage == "json" and target.column is not None and \
            target.folds_case

    def elements(self, path, subs, every_element=False):
        """An index table covering sub-attributes `subs` of `path`, or None.

        An index table holds only elements that have a value, so a filter
        that must see every element (`not`, `eq null`) reads the JSON instead.
        """
        attr, m = path.attr, self.models
        if attr.storage == "memberships":
            raise SCIMError.of("invalidFilter", f"'{attr.name}' cannot be filtered on; "
                               "filter /Groups on members.value instead")
        if attr.storage == "members":
            columns = {"value": m.Membership.member_id, "type": m.Membership.member_type}
            if not subs <= set(columns):
                raise SCIMError.of("invalidFilter", f"{attr.name} can be filtered on "
                                   "value and type only")
            return _IndexElements(m.Membership, m.Membership.group, self.model,
                                  columns, set(), self.dialect)
        if attr.index and subs == {"value"} and not every_element:
            index = getattr(m, attr.index)
            return _IndexElements(index, index.owner, self.model,
                                  {"value": index.value_key}, {"value"}, self.dialect)
        return None


class _IndexElements:
    """Elements of a multi-valued attribute kept in their own indexed table."""

    def __init__(self, model, owner, outer, columns, folded, dialect):
        self.model, self.owner, self.outer = model, owner, outer
        self.columns, self.folded, self.dialect = columns, folded, dialect

    def operand(self, sub):
        return self.columns[sub.name]

    def exists(self, condition):
        # Uncorrelated `pk IN (...)`: SQLite searches the index table first,
        # then the owners by primary key; a correlated EXISTS would scan owners.
        return self.outer.pk.in_(self.model.select(self.owner).where(condition))


# --- filters -------------------------------------------------------------------

class _JsonElements:
    """Elements of a multi-valued attribute stored in the JSON column."""
    folded = frozenset()

    def __init__(self, table, path):
        self.table, self.path, self.dialect = table, path, table.dialect

    def operand(self, sub):
        return self.dialect.element_value(sub.name, sub)

    def exists(self, condition):
        elements = self.table.dialect.json_elements(self.table.data,
                                                    self.table.json_keys(self.path))
        return NodeList((SQL("EXISTS (SELECT 1 FROM"), elements, SQL("WHERE"),
                         condition, SQL(")")))


def filter_to_sql(node, table):
    """Filter `node` as a peewee expression over `table` (see SQL).

    Indexed columns and index tables serve the hot attributes; the rest is
    read with the dialect's JSON functions.  Every expression is NULL-free,
    so `not` means exactly what the reference evaluator means.
    """
    return _compile(node, table, None)


def element_sql(node, elements):
    """A value filter inside brackets over the elements of one attribute."""
    return _compile(node, None, elements)


def _compile(node, table, elements):
    """The compiler, the one walk of a filter into SQL: over a resource
    type's `table`, or inside brackets over `elements`."""
    match node:
        case Logical(op=op):
            return _join([_compile(part, table, elements) for part in _chain(node, op)], op)
        case Not(expr=expr):
            return ~_compile(expr, table, elements)
        case ValuePath(path=path, expr=expr):
            inner = _elements(table, path, subs_used(expr), every_element=not _positive(expr))
            return inner.exists(element_sql(expr, inner))
        case _ if elements is not None:
            sub = node.path.sub
            return _value_sql(node, elements.operand(sub), sub, sub.name in elements.folded,
                              elements.dialect)
        case _:
            return _attr_exp_sql(node, table)


def indexed_equality(node, table):
    """(column, key) when `node` is `attr eq "text"` on an attribute with its
    own indexed column (userName, externalId, displayName, id), else None.

    That is the lookup Entra ID and Okta send before every change, so it
    runs a statement built once (Resources.search) instead of a compiled
    filter; `column = key` is exactly what filter_to_sql() would give."""
    if not isinstance(node, Compare) or node.op != "eq" or not isinstance(node.value, str):
        return None
    path, target = node.path, node.path.target
    if path.attr.multi or path.attr in (SCHEMAS_ATTR, META_ATTR) or \
            target.type != "string" or target.column is None or \
            target.storage not in ("json", "column"):
        return None
    if target.folds_case and not table.is_folded(path):
        return None
    return target.column, node.value.casefold() if target.folds_case else node.value


def _attr_exp_sql(node, table):
    """One attribute expression (`pr` or a comparison) as SQL."""
    path = node.path
    if path.attr is SCHEMAS_ATTR:
        return _schemas_sql(node, table)
    if path.attr is META_ATTR and path.sub is None:     # `meta pr`: always
        return SQL_TRUE
    if not path.attr.multi:
        return _value_sql(node, table.operand(path), path.target, table.is_folded(path),
                          table.dialect)
    return _multi_valued_sql(node, table)


def _multi_valued_sql(node, table):
    """`emails pr`, `emails.value co "x"`: true when some element matches."""
    path = node.path
    if path.sub is None:        # `emails pr`: any element at all
        return _elements(table, path, set()).exists(SQL_TRUE)
    if isinstance(node, Compare) and node.op == "ne":
        # Any value "ne" would be true of lists with one other value; scimlite
        # reads `ne` as `not eq` (see matches()).
        return ~filter_to_sql(Compare(path, "eq", node.value), table)
    elements = _elements(table, path, {path.sub.name})
    if isinstance(node, Compare) and node.value is None:     # eq null: none assigned
        return ~elements.exists(_assigned(elements.operand(path.sub)))
    return elements.exists(element_sql(node, elements))


SQL_TRUE, SQL_FALSE = SQL("(1 = 1)"), SQL("(1 = 0)")


def _schemas_sql(node, table):
    """`schemas` is computed: the core URN, and each extension with data."""
    if isinstance(node, Present):
        return SQL_TRUE
    if node.op == "ne":
        return ~_schemas_sql(Compare(node.path, "eq", node.value), table)
    candidates = [(table.rt.schema.id, SQL_TRUE)] + [
        (ext.id, table.dialect.json_value(table.data, [ext.id]).is_null(False))
        for ext in table.rt.extensions]
    hits = [present for urn, present in candidates if values_match(node, [urn])]
    return functools.reduce(lambda a, b: a | b, hits) if hits else SQL_FALSE


def _assigned(expr):
    return expr.is_null(False)


def _chain(node, op):
    """The operands of a run of one logical operator, in order."""
    if isinstance(node, Logical) and node.op == op:
        return _chain(node.left, op) + _chain(node.right, op)
    return [node]


def _join(parts, op):
    # One flat `(a OR b OR c)`, not peewee's nested ((a OR b) OR c): SQLite's
    # parser stack overflows at about 80 levels of nesting.  Parts need no
    # brackets of their own: comparisons, NOT, EXISTS and IN bind tighter
    # than AND, and AND tighter than OR; joins bring their own brackets.
    return NodeList(parts, glue=f" {op.upper()} ", parens=True)


def _elements(table, path, subs, every_element=False):
    return table.elements(path, subs, every_element) or _JsonElements(table, path)


def _positive(node):
    """Whether a value filter can only match elements that have the values it
    names (no `not`, no `eq null`, no `ne`): then an index of values is enough."""
    return all("not" not in above and not (
        isinstance(leaf, Compare) and (leaf.value is None or leaf.op == "ne"))
        for leaf, above in leaves(node))


def subs_used(node):
    """The sub-attributes a value filter names."""
    return {leaf.path.sub.name for leaf, _ in leaves(node)}


def _value_sql(node, expr, attr, pre_folded, dialect):
    """One comparison; `pre_folded` when the column already holds folded text."""
    present = _assigned(expr)
    if isinstance(node, Present):
        # "If the attribute has a non-empty value" (RFC 7644 §3.4.2.2); only
        # text can be empty (and a typed column would read "" as its own 0).
        return present & (expr != "") if attr.type in ("string", "reference", "binary") \
            else present
    if node.value is None:
        return ~present if node.op == "eq" else present
    if node.op == "ne":
        return ~_value_sql(Compare(node.path, "eq", node.value), expr, attr, pre_folded,
                           dialect)
    value = node.value
    if attr.folds_case and isinstance(value, str):
        value = value.casefold()
        if not pre_folded:
            expr = dialect.fold(expr)
    value = dialect.literal(value)
    op = node.op
    if op == "eq":
        test = expr == value
    elif op == "co":
        test = dialect.contains(expr, value)
    elif op == "sw":
        test = fn.substr(expr, 1, len(value)) == value
        if isinstance(expr, peewee.Field) and value:
            test = _prefix_range(dialect.ordered(expr), value) & test
    elif op == "ew":
        test = dialect.ends_with(expr, value) if value else present
    else:
        if isinstance(value, str):
            expr = dialect.ordered(expr)
        test = {"gt": expr > value, "ge": expr >= value,
                "lt": expr < value, "le": expr <= value}[op]
    return present & test


def _prefix_range(column, prefix):
    """A range of an indexed text column that holds every value starting
    with `prefix`, so `sw` reads an index range instead of every row (the
    substr test beside it stays the exact one).  Text compares as UTF-8
    bytes, in code point order: [prefix, prefix with its last character
    one higher)."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:        # surrogates are no characters: skip them
        last = 0xE000
    if last > 0x10FFFF:
        return column >= prefix
    return (column >= prefix) & (column < prefix[:-1] + chr(last))


# --- sorting -------------------------------------------------------------------

def sort_order(table, sort_by, descending):
    """The ORDER BY of every list, .search and root /.search: a total order.

    sortBy's value with unassigned values last (RFC 7644 §3.4.2.3), then
    insertion order in the same direction, so ties (two users created in
    one millisecond, one familyName shared by many) come back in one order
    on every page: paging never shows a resource twice or skips one.
    """
    pk = table.model.pk
    if sort_by is None:
        return [pk]
    expr = table.sort_expression(sort_by)
    # A column that is never NULL (userName, a group's displayName) needs no
    # IS NULL first, and then its index serves the order.
    nulls = [] if never_null(expr) else [expr.is_null()]
    if descending:
        return [*nulls, expr.desc(), pk.desc()]
    return [*nulls, expr.asc(), pk.asc()]


def never_null(expr):
    """Whether a sort expression is a column that cannot hold NULL."""
    return isinstance(expr, peewee.Field) and not expr.null

###############################################################################
# Events: the write queue, the unit of work, background workers ###############
###############################################################################

EVENT_TYPES = (
    "user.created", "user.updated", "user.deactivated", "user.reactivated",
    "user.deleted", "group.created", "group.updated", "group.deleted",
    "group.members_changed", "license.issued", "license.suspended", "license.restored",
    "license.revoked", "license.waiting",
)


class WriteQueue:
    """The writers of one database in this process, let in one at a time, in
    arrival order.

    SQLite admits one writer at a time.  A writer that finds the database
    locked sleeps in SQLite's busy handler, which backs off in growing steps
    and so wakes late and out of turn: under 8 concurrent clients PATCH had a
    6 ms median and a p99 of 0.6-1.4 s.  Queueing here first means BEGIN
    IMMEDIATE finds the database free, and no writer is overtaken (a plain
    Lock makes no such promise).  A write inside a write on the same thread
    goes straight in.

    One queue per database file (for_database): the queue belongs to the
    file, not to an app, so two apps on one file in one process queue
    together.  Other processes (a CLI command beside the server) still meet
    in SQLite's busy handler.
    """
    _by_file = weakref.WeakValueDictionary()    # real path -> its queue
    _by_file_lock = threading.Lock()

    @classmethod
    def for_database(cls, path):
        if path == ":memory:":      # every in-memory database is its own
            return cls()
        key = os.path.realpath(path)
        with cls._by_file_lock:
            queue = cls._by_file.get(key)
            if queue is None:
                queue = cls._by_file[key] = cls()
            return queue

    def __init__(self):
        self._mutex = threading.Lock()
        self._waiters = collections.deque()     # (thread id, its turn), in order
        self._owner, self._depth = None, 0

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()

    @property
    def waiting(self):
        return len(self._waiters)

    def acquire(self):
        me = threading.get_ident()
        with self._mutex:
            if self._owner in (me, None):
                self._owner, self._depth = me, self._depth + 1
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append((me, turn))
        turn.acquire()      # the writer before us made us the owner, then let us in

    def release(self):
        with self._mutex:
            self._depth -= 1
            if self._depth:
                return
            if self._waiters:
                self._owner, turn = self._waiters.popleft()
                self._depth = 1
                turn.release()
            else:
                self._owner = None


class UnitOfWork:
    """One write in progress: the events it records, inside its transaction."""

    def __init__(self, changes, actor, whole=False):
        self.changes, self.actor, self.whole = changes, actor, whole
        self.models = changes.models
        self.events = []
        self._unheard, self._dispatching = collections.deque(), False

    def record(self, event_type, resource_id, subject=None, **detail):
        """Record one change inside the transaction that makes it, and let the
        subscribers of its type add their rows in the same transaction (a
        license, an outbox row, a log entry): a rollback takes all of them.
        `subject`, if given, is the row the event is about as the change
        left it (event.subject), so that subscribers need not read it again.

        Subscribers hear events in the order they were recorded: an event a
        subscriber records (license.issued, on user.created) waits until
        every subscriber has heard the one before it."""
        assert event_type in EVENT_TYPES, event_type
        event = save_row(self.models, self.models.Event(
            at=now_text(), type=event_type, resource_type=event_type.split(".")[0].capitalize(),
            resource_id=resource_id, actor=self.actor,
            detail=json.dumps(detail, sort_keys=True)))
        event.subject = subject
        self.events.append(event)
        self._unheard.append(event)
        if not self._dispatching:
            self._dispatch()

    def take_back(self, mark):
        """Forget the events from `mark` on: their savepoint was rolled back,
        so no subscriber may hear them any more."""
        dropped = {id(event) for event in self.events[mark:]}
        del self.events[mark:]
        self._unheard = collections.deque(e for e in self._unheard if id(e) not in dropped)

    def _dispatch(self):
        self._dispatching = True
        try:
            while self._unheard:
                event = self._unheard[0]
                for handler in self.changes.subscribers.get(event.type, ()):
                    handler(self, event)
                self._unheard.popleft()
        finally:
            self._dispatching = False
            self._unheard.clear()


class Changes:
    """The one way anything is written.

    `with changes.unit(actor) as work:` waits its turn in the write queue,
    opens the transaction, and gives `work.record(...)` for the events; on
    commit, every after-commit callback hears the events (to wake a sender).
    Nothing slow belongs inside: hash passwords before, render after.

    `changes.run(job, actor)` is the same write as `job(work)`, and may be
    committed together with others (group commit, see run).

    `lock`: an in-memory database is one connection, so everything that
    uses it takes turns, reads too (a request holds it throughout, see
    scim_endpoint; a background thread takes it for what it reads).  A
    unit takes it first.  For a file or a server, a lock that does nothing.
    """
    GROUP_MAX = 32          # units committed together at most

    def __init__(self, models, queue, lock=None, group_commit=False):
        self.models, self.queue = models, queue
        self.lock = lock or contextlib.nullcontext()
        self.group_commit = group_commit
        self.subscribers = {}       # event type -> [handler(unit, event)]
        self.after_commit = []      # [callback(events)], outside the transaction
        self._local = threading.local()
        self._tickets, self._tickets_mutex = collections.deque(), threading.Lock()

    def subscribe(self, event_type, handler):
        assert event_type in EVENT_TYPES, event_type
        self.subscribers.setdefault(event_type, []).append(handler)

    @contextlib.contextmanager
    def unit(self, actor=None, whole=False):
        """One write: queued, one transaction, its events.  `whole`: it
        succeeds or fails as one (an import), so the writes nested in it
        need no savepoints (two statements each, per imported resource)."""
        outer = getattr(self._local, "unit", None)
        if outer is not None:
            yield from self._nested(outer, actor)
            return
        work = UnitOfWork(self, actor, whole)
        with self.lock, self.queue:
            self._local.unit = work
            try:
                with self.models.db.atomic():
                    yield work
            finally:
                self._local.unit = None
        self._after(work)

    def _after(self, work):
        """A committed unit's after-commit work, on the thread that asked
        for the unit: its events to the thread's collector, the callbacks."""
        if work.events:
            collected = getattr(self._local, "collected", None)
            if collected is not None:
                collected.extend(work.events)
            self._committed(work.events)

    # Group commit ---------------------------------------------------------------

    def run(self, job, actor=None):
        """One write, `job(work)` in a unit; returns what the job returns.

        On a database file (group_commit), writers that queue behind the
        write lock are committed together, as databases do with their log:
        the first in line runs its own job and then the jobs of those
        waiting, each in a savepoint of its own, and commits once; each
        waiter then has its own result or its own error (a job that raised
        was rolled back to its savepoint, and the others still commit).
        Nothing is answered before that one commit is on disk (synchronous
        = FULL), and each unit's after-commit work runs as unit()'s does,
        on its own thread.  One fsync for a batch is what lets many writers
        through a disk that takes milliseconds per flush.

        Solo (as unit()) inside another unit, in memory (one connection,
        nothing to share), and on PostgreSQL, where each connection commits
        for itself and commits that wait on the log at the same time share
        its flush already (one fsync writes the log up to the newest)."""
        if not self.group_commit or getattr(self._local, "unit", None) is not None:
            with self.unit(actor) as work:
                return job(work)
        ticket = _Ticket(job, actor, self.models.scope.entered)
        with self._tickets_mutex:
            self._tickets.append(ticket)
        # The write queue is the leader's: a leader lets go of it only after
        # the commit, so a ticket taken by one is settled by the time its
        # writer's turn comes.
        with self.queue:
            if not ticket.taken:
                self._lead(ticket)
        if ticket.error is not None:
            raise ticket.error
        self._after(ticket.work)
        return ticket.result

    def _take(self, limit):
        """The waiting tickets, oldest first, at most `limit`."""
        with self._tickets_mutex:
            taken = []
            while self._tickets and len(taken) < limit:
                ticket = self._tickets.popleft()
                ticket.taken = True
                taken.append(ticket)
            return taken

    def _lead(self, own):
        """Run `own`, then every ticket that waits meanwhile, in one
        transaction (see run).  `own` goes first and needs no savepoint:
        if it fails, nothing else has run, and the rollback takes only it."""
        with self._tickets_mutex:
            self._tickets.remove(own)
            own.taken = True
        batch = [own]
        try:
            with self.models.db.atomic():
                self._perform(own)
                while len(batch) < self.GROUP_MAX:
                    more = self._take(self.GROUP_MAX - len(batch))
                    if not more:
                        break
                    for ticket in more:
                        batch.append(ticket)
                        try:
                            with self.models.db.atomic():       # its savepoint
                                self._perform(ticket)
                        except Exception as exc:
                            ticket.error, ticket.work = exc, None
        except BaseException as exc:      # own failed, or the commit did: none is stored
            for ticket in batch:
                if ticket.error is None:
                    ticket.error, ticket.work = exc, None
            if not isinstance(exc, Exception):
                raise

    def _perform(self, ticket):
        """Run a ticket's job, perhaps on a leader's thread: in the unit and
        the organization (OrgScope) of the writer who asked for it."""
        work = UnitOfWork(self, ticket.actor)
        self._local.unit = work
        try:
            with self.models.scope.of(ticket.org):     # None too: never the leader's
                ticket.result = ticket.job(work)
        finally:
            self._local.unit = None
        ticket.work = work

    def collect(self):
        """The list that the events this thread commits from now on go to
        (a request's own, for the provisioning log); None stops it."""
        self._local.collected = []
        return self._local.collected

    def stop_collecting(self):
        self._local.collected = None

    def _nested(self, outer, actor):
        """A write inside a write (a subscriber's, say): part of the outer
        transaction, but a savepoint of its own, so a failure that the outer
        code catches takes back only this part, and its events with it.
        Inside a `whole` unit (an import) nothing catches and goes on: any
        failure undoes it all, so no savepoint is needed."""
        mark, outer_actor = len(outer.events), outer.actor
        outer.actor = actor or outer_actor
        try:
            with contextlib.nullcontext() if outer.whole else self.models.db.atomic():
                yield outer
        except BaseException:
            outer.take_back(mark)
            raise
        finally:
            outer.actor = outer_actor

    def _committed(self, events):
        for callback in self.after_commit:
            try:
                callback(events)
            except Exception:       # the change is committed; a waker cannot undo it
                log.exception("after-commit callback failed")


class _Ticket:
    """A writer's job waiting for the write lock (see Changes.run): taken by
    a leader, then its result, or its error, and its unit's events."""
    __slots__ = ("actor", "error", "job", "org", "result", "taken", "work")

    def __init__(self, job, actor, org):
        self.job, self.actor, self.org, self.taken = job, actor, org, False
        self.result = self.error = self.work = None


class Worker:
    """A background thread of one app: runs `work()` when woken (after a
    commit) or every `interval` seconds, until the app's close() stops it.

    A bound method is held weakly, so an app that is dropped without
    close() (common in other projects' tests) is still garbage: its worker
    notices and ends."""

    def __init__(self, name, work, interval=60.0, on_commit=True):
        self.name, self.interval, self.on_commit = name, interval, on_commit
        self._wake, self._stopping = threading.Event(), threading.Event()
        # The work's owner going away wakes the thread, which then ends.
        self._work = (weakref.WeakMethod(work, lambda _: self._wake.set())
                      if inspect.ismethod(work) else lambda: work)
        self.thread = threading.Thread(target=self._run, name=f"scimlite-{name}",
                                       daemon=True)

    def start(self):
        self.thread.start()
        return self

    def wake(self, *_):
        self._wake.set()

    @property
    def stopping(self):
        return self._stopping.is_set()

    join_seconds = 10.0         # how long stop() waits for a round in progress

    def stop(self):
        self._stopping.set()
        self._wake.set()
        self.thread.join(self.join_seconds)

    def rest(self, seconds):
        """Sleep in a round, unless stop() comes first (then True)."""
        return self._stopping.wait(seconds)

    def _run(self):
        pause = self.interval
        while not self._stopping.is_set():
            self._wake.wait(pause)
            self._wake.clear()
            if self._stopping.is_set():
                break
            pause = self._run_once()
            if pause is None:
                break

    def _run_once(self):
        """One round of work; how long to wait before the next (work() may
        return the seconds until it is due again, if sooner than the
        interval), or None when the app it works for is gone.  (A function
        of its own, so no reference to the work outlives the round and
        keeps the app alive while the thread waits.)"""
        work = self._work()
        if work is None:
            return None
        try:
            due = work()
        except Exception as exc:
            if cannot_store(exc) or lost_database(exc):     # one line, not a trace
                log.error("background worker %s cannot store (%s); it tries again",
                          self.name, exc)
            else:
                log.exception("background worker %s failed; it runs again when woken",
                              self.name)
            due = None
        return self.interval if due is None else max(0.0, min(self.interval, due))


class Workers:
    """The background threads of one app: each started here, woken after
    every commit that recorded events (those that asked, on_commit), and
    every one stopped and joined by stop(); none is left behind."""

    def __init__(self):
        self._started = []

    def start(self, name, work, interval=60.0, on_commit=True):
        """Run `work()` in a thread of its own every `interval` seconds and,
        if `on_commit`, after every commit, until stop() (see Worker)."""
        worker = Worker(name, work, interval, on_commit).start()
        self._started.append(worker)
        return worker

    def wake(self, events=None):
        """An after-commit callback: the workers that act on commits run now."""
        for worker in self._started:
            if worker.on_commit:
                worker.wake()

    def stop(self):
        while self._started:
            self._started.pop().stop()

    def __iter__(self):
        return iter(list(self._started))

    def __len__(self):
        return len(self._started)


def changed_attributes(old, new):
    """Names of attributes whose values differ between two stored forms."""
    names = set(old) | set(new)
    changed = []
    for name in sorted(names):
        if name.startswith("urn:") and isinstance(new.get(name, {}), dict):
            inner = changed_attributes(old.get(name) or {}, new.get(name) or {})
            changed += [f"{name}:{n}" for n in inner]
        elif old.get(name) != new.get(name):
            changed.append(name)
    return changed


def change_events(rt, old, new):
    """The events of an update and the attributes it changed: updated, and
    deactivated / reactivated when the type's `active` attribute flips."""
    changes, events, kind = changed_attributes(old, new), [], rt.name.lower()
    rest = changes
    if rt.active:
        default = rt.schema.attr(rt.active).default
        was, now = old.get(rt.active, default), new.get(rt.active, default)
        if was and not now:
            events.append(f"{kind}.deactivated")
        elif now and not was:
            events.append(f"{kind}.reactivated")
        rest = [c for c in changes if c != rt.active]
    if rest:
        events.append(f"{kind}.updated")
    return events, changes


###############################################################################
# Secrets: API keys, OAuth clients and tokens, password hashes ################
###############################################################################

KEY_PREFIX = "scim_"
KEY_PUBLIC_CHARS = 8        # token_urlsafe(6): shown in list-keys, used to look up
KEY_SECRET_BYTES = 32


def hash_api_key(token):
    # A key carries 256 random bits, so one SHA-256 is enough: a slow password
    # hash would only slow every request down without adding strength.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def mint_api_key(models, name, expires=None):
    """A new API key called `name`; the secret is returned once, never stored.
    `expires`: None, or the instant (format_datetime) it stops working."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValueError("a key name is 1 to 100 characters")
    if expires is not None and expires <= now_text():
        raise ValueError("the expiry date must be in the future")
    with models.db.atomic():
        if active_keys(models).where(models.ApiKey.name == name).exists():
            raise ValueError(f"an active key named {name!r} exists; revoke it or "
                             f"choose another name")
        public_id = secrets.token_urlsafe(6)
        token = KEY_PREFIX + public_id + secrets.token_urlsafe(KEY_SECRET_BYTES)
        models.ApiKey.create(name=name, public_id=public_id, key_hash=hash_api_key(token),
                             created=now_text(), expires=expires)
    return token


def key_state(row, now=None):
    """"revoked", "expired" or "active": the one definition of a key that
    works (active_keys() is the same test in SQL)."""
    if row.revoked:
        return "revoked"
    return "expired" if row.expires is not None and row.expires <= (now or now_text()) \
        else "active"


def active_keys(models, now=None, everywhere=False):
    """Keys whose key_state() is "active" (at `now`, else now), as a query:
    of the current organization, or with `everywhere` of all of them."""
    ApiKey = models.ApiKey
    keys = ApiKey.everywhere() if everywhere else ApiKey.select()
    return keys.where(ApiKey.revoked.is_null() & (
        ApiKey.expires.is_null() | (ApiKey.expires > (now or now_text()))))


def find_api_key(models, token):
    """The active key row whose secret is `token`, or None, in any
    organization: the key names its organization."""
    if not token.startswith(KEY_PREFIX) or len(token) < len(KEY_PREFIX) + 40:
        return None
    public_id = token[len(KEY_PREFIX):len(KEY_PREFIX) + KEY_PUBLIC_CHARS]
    row = prepared(models, "active key", lambda: active_keys(models, slot("now"), True).where(
        models.ApiKey.public_id == slot("public_id")).limit(1)).first(
            now=now_text(), public_id=public_id)
    stored = row.key_hash if row else hash_api_key("")
    # Compared in constant time even when no row matched.
    return row if hmac.compare_digest(stored, hash_api_key(token)) and row else None


class AuthCache:
    """The active API keys and the organizations (their slugs, states and
    SCIM switches), read once and kept until the database changes, so that
    a request runs no query to be let in (two SELECTs were 37 % of a
    lookup's CPU, 55 % of a GET's).

    A revoked key is still refused on the very next request: before each
    use, a version row says whether keys, options or organizations changed
    since the cache was filled, moved by triggers on those tables (see the
    dialects' prepare), whoever wrote them: another thread, `revoke-key`
    run in another process, another instance on PostgreSQL; a new version
    starts a new, empty snapshot.  Writes of anything else leave the
    cache alone.  A request
    fills only the snapshot it began with, so a key read just before a
    revocation lands in a snapshot already dropped, never in the new one.
    Expiry is checked on every use."""

    def __init__(self, models, now=now_text):
        self.models, self.clock_now = models, now   # the app's clock, for tokens
        self._snapshot = _AuthSnapshot()
        self._seen = threading.local()      # this thread's connection and its stamp

    def admit(self, token, slug=None):
        """(the active key row whose secret is `token` or None, its
        organization, the organization `slug` names or None): what a SCIM
        request is let in by, all as of one state of the database."""
        snapshot = self._current()
        named = slug and self.organization_named(slug, snapshot)
        row = self._key(snapshot, token) if token else None
        org = self.organization(row.org, snapshot) if row else None
        return row, org, named

    def organization(self, org_id, snapshot=None):
        """The organization with id `org_id`, or None."""
        orgs = self._organizations(snapshot or self._current())
        return orgs.get(org_id)

    def organization_ids(self):
        return list(self._organizations(self._current()))

    def organization_named(self, slug, snapshot=None):
        """The organization whose slug is `slug`, or None."""
        orgs = self._organizations(snapshot or self._current())
        return next((org for org in orgs.values() if org.slug == slug), None)

    def _organizations(self, snapshot):
        if snapshot.orgs is None:
            orgs = {org.id: org for org in organizations(self.models)}
            # Each with its event receivers, so that a write learns whom to
            # tell without a query (SecurityEvents); and whether it is the
            # only one, whose rows are all the rows (Resources.count_all).
            for org in orgs.values():
                org.event_streams, org.alone = [], len(orgs) == 1
            Stream = self.models.EventStream
            for stream in Stream.everywhere().where(Stream.revoked.is_null()):
                if stream.org in orgs:
                    orgs[stream.org].event_streams.append(stream)
            snapshot.orgs = orgs
        return snapshot.orgs

    def _key(self, snapshot, token):
        """The API key or OAuth access token row whose secret is `token`."""
        hashed = hash_api_key(token)
        row = snapshot.keys.get(hashed)
        if row is None:
            row = find_oauth_token(self.models, token, self.clock_now()) \
                if token.startswith(TOKEN_PREFIX) else find_api_key(self.models, token)
            if row is not None:
                snapshot.keys[hashed] = row
        elif not self._still_works(row):
            return None
        return row

    def _still_works(self, row):
        """Expiry, checked on every use (a revocation empties the cache)."""
        if isinstance(row, self.models.OAuthToken):
            return row.expires > self.clock_now()
        return key_state(row) == "active"

    def _current(self):
        stamp = self.models.dialect.change_stamp(self.models.db)
        if getattr(self._seen, "stamp", None) != stamp:
            self._snapshot = _AuthSnapshot()
            self._seen.stamp = stamp
        return self._snapshot


class _AuthSnapshot:
    """What AuthCache knows as of one state of the database."""

    def __init__(self):
        self.keys, self.orgs = {}, None     # key hash -> row; id -> organization


def revoke_api_key(models, name_or_prefix):
    """Revoke the one active key with this name or public prefix; its name."""
    text = name_or_prefix.strip()
    public_id = text[len(KEY_PREFIX):] if text.startswith(KEY_PREFIX) else text
    ApiKey = models.ApiKey
    with models.db.atomic():
        rows = list(active_keys(models).where(
            (ApiKey.name == text) | (ApiKey.public_id == public_id[:KEY_PUBLIC_CHARS])))
        if not rows:
            raise LookupError(f"no active key named or starting with {text!r}")
        if len(rows) > 1:
            raise LookupError(f"{text!r} matches {len(rows)} keys; use the prefix")
        revoke_key_by_id(models, rows[0].id)
    return rows[0].name


def revoke_key_by_id(models, key_id):
    """Mark key `key_id` revoked now, if it is not yet; whether it was."""
    ApiKey = models.ApiKey
    return bool(ApiKey.update(revoked=now_text()).where(
        (ApiKey.id == key_id) & ApiKey.revoked.is_null()).execute())


def key_prefix(row):
    return KEY_PREFIX + row.public_id


# --- OAuth 2.0 client credentials (RFC 6749 §4.4) ---------------------------------
# A client id names its client (and so its organization); a secret and an
# access token each carry a public part to look them up by, then random
# bytes compared as a hash in constant time, as API keys do.

OAUTH_SCOPES = ("scim.read", "scim.write")
# Scope values Entra's documents show it sending: whatever the client may have.
SCOPE_ALIASES = ("scim", "scim.readwrite")
TOKEN_PATH = "/oauth/token"     # the token endpoint (see Other routes)
CLIENT_ID_PREFIX, SECRET_PREFIX, TOKEN_PREFIX = "sc_", "scs_", "sat_"
OAUTH_PUBLIC_CHARS = 8          # token_urlsafe(6)
OAUTH_MAX_SECRETS = 2           # active at once: one to rotate to
OAUTH_SECRET_DAYS, OAUTH_MAX_SECRET_DAYS = 365, 3 * 365


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `error` code, its description, HTTP status."""

    def __init__(self, error, description, status=400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def oauth_scopes(text, allowed=OAUTH_SCOPES):
    """The scopes a space-separated `text` names, in OAUTH_SCOPES' order;
    ValueError naming one that is not `allowed`."""
    wanted = [name for scope in (text or "").split()
              for name in (allowed if scope in SCOPE_ALIASES else (scope,))]
    unknown = [scope for scope in wanted if scope not in allowed]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}: ask for "
                         + " and/or ".join(allowed))
    return " ".join(scope for scope in OAUTH_SCOPES if scope in wanted)


def create_oauth_client(models, name, scopes=None, secret_days=None, now=None,
                        redirect_uris=()):
    """A new client of the current organization and its first secret:
    (client row, secret text, shown once).  `redirect_uris`: where the
    authorization code grant may send its codes (none: client credentials
    only)."""
    name, scopes = _client_name_and_scopes(name, scopes)
    uris = checked_redirect_uris(redirect_uris)
    client = models.OAuthClient.create(
        client_id=CLIENT_ID_PREFIX + secrets.token_urlsafe(12), name=name, scopes=scopes,
        created=now or now_text(), redirect_uris="\n".join(uris) or None)
    return client, add_oauth_secret(models, client, secret_days, now)


def _client_name_and_scopes(name, scopes):
    """A client's name and scopes (default both), checked."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValueError("a client name is 1 to 100 characters")
    scopes = oauth_scopes(scopes) if scopes else " ".join(OAUTH_SCOPES)
    if not scopes:
        raise ValueError("a client needs a scope: scim.read and/or scim.write")
    return name, scopes


def client_credentials(models, clients, now):
    """{client pk: what proves it, in words}: its secrets still working
    (prefix and last day; never the secret), or its federation; one query."""
    Secret = models.OAuthSecret
    said = {c.pk: [f"federated ({c.issuer}, sub {c.subject})"] if c.issuer else []
            for c in clients}
    if said:
        for s in Secret.select().where(Secret.client.in_(list(said)) & Secret.revoked.is_null()
                                       & (Secret.expires > now)).order_by(Secret.pk):
            said[s.client_id].append(f"{SECRET_PREFIX}{s.prefix}... until {s.expires[:10]}")
    return said


def add_oauth_secret(models, client, days=None, now=None):
    """A new secret for `client` (at most OAUTH_MAX_SECRETS active), working
    `days` days (default a year, at most three); the text, shown once."""
    days = OAUTH_SECRET_DAYS if days is None else days
    if not isinstance(days, int) or not 1 <= days <= OAUTH_MAX_SECRET_DAYS:
        raise ValueError(f"a secret works 1 to {OAUTH_MAX_SECRET_DAYS} days")
    now = now or now_text()
    Secret = models.OAuthSecret
    active = Secret.select().where((Secret.client == client.pk) & Secret.revoked.is_null() &
                                   (Secret.expires > now)).count()
    if active >= OAUTH_MAX_SECRETS:
        raise ValueError(f"the client has {active} active secrets: revoke one first")
    prefix = secrets.token_urlsafe(6)
    text = SECRET_PREFIX + prefix + secrets.token_urlsafe(KEY_SECRET_BYTES)
    expires = format_datetime(parse_datetime(now) + dt.timedelta(days=days))
    Secret.create(client=client.pk, prefix=prefix, secret_hash=hash_api_key(text),
                  created=now, expires=expires)
    return text


def active_client(models, client_id):
    """The current organization's client `client_id`, not revoked."""
    Client = models.OAuthClient
    client = Client.select().where((Client.client_id == client_id) &
                                   Client.revoked.is_null()).first()
    if client is None:
        raise LookupError(f"no active client {client_id!r}")
    return client


def revoke_oauth(models, text, now=None):
    """Revoke a client (by its client id), one secret (by its prefix, as
    listed) or one grant (sag_...): their tokens stop working at once.
    What was revoked, in words."""
    text, now = text.strip(), now or now_text()
    Client, Secret = models.OAuthClient, models.OAuthSecret
    client = Client.select().where((Client.client_id == text) &
                                   Client.revoked.is_null()).first()
    if client is not None:
        Client.update(revoked=now).where(Client.pk == client.pk).execute()
        return f"client {client.name!r}"
    if text.startswith(GRANT_PREFIX):
        Grant = models.OAuthGrant
        grant = visible_grants(models).where(
            Grant.public_id == text[len(GRANT_PREFIX):]).first()
        if grant is None or grant.revoked:
            raise LookupError(f"no active grant {text!r}")
        revoke_grant(models, grant, now)
        return f"grant {text}"
    prefix = text[len(SECRET_PREFIX):] if text.startswith(SECRET_PREFIX) else text
    secret = Secret.select().where((Secret.prefix == prefix[:OAUTH_PUBLIC_CHARS]) &
                                   Secret.revoked.is_null()).first()
    if secret is None:
        raise LookupError(f"no active client or secret {text!r}")
    Secret.update(revoked=now).where(Secret.pk == secret.pk).execute()
    return f"secret {SECRET_PREFIX}{secret.prefix}..."


def issue_oauth_token(models, client_id, secret, scope, minutes, now):
    """An access token for a client that proves itself with one of its
    secrets (client credentials, RFC 6749 §4.4): (its row, the token
    text).  OAuthError (RFC 6749 §5.2) if not."""
    client, stored = authenticated_client(models, client_id, secret, now)
    try:
        scopes = oauth_scopes(scope, client.scopes.split()) if scope else client.scopes
    except ValueError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    return create_access_token(models, client, client.org, scopes, minutes, now,
                               secret=stored.pk)


def authenticated_client(models, client_id, secret, now):
    """(client, secret row) of a client that proves itself with one of its
    secrets.  Every way of failing is one answer, invalid_client."""
    Client, Secret = models.OAuthClient, models.OAuthSecret
    client = Client.everywhere().where(Client.client_id == client_id).first() \
        if client_id else None
    prefix = secret[len(SECRET_PREFIX):][:OAUTH_PUBLIC_CHARS] \
        if secret.startswith(SECRET_PREFIX) else ""
    stored = client and prefix and Secret.everywhere().where(
        (Secret.client == client.pk) & (Secret.prefix == prefix)).first()
    expected = stored.secret_hash if stored else hash_api_key("")
    # Compared in constant time even when nothing matched.
    good = hmac.compare_digest(expected, hash_api_key(secret)) and stored
    if not good or client.revoked or stored.revoked or stored.expires <= now:
        raise OAuthError("invalid_client", "client authentication failed", 401)
    return client, stored


def create_access_token(models, client, org_id, scopes, minutes, now, **origin):
    """A new access token of `client` acting in `org_id`, working `minutes`:
    (its row, the text, shown once).  `origin`: the secret, grant or
    assertion it was given for, which revoked or replayed stop it."""
    public_id = secrets.token_urlsafe(6)
    token = TOKEN_PREFIX + public_id + secrets.token_urlsafe(KEY_SECRET_BYTES)
    expires = format_datetime(parse_datetime(now) + dt.timedelta(minutes=minutes))
    row = models.OAuthToken.create(org=org_id, public_id=public_id, client=client.pk,
                                   token_hash=hash_api_key(token), scopes=scopes,
                                   issued=now, expires=expires, **origin)
    models.OAuthClient.update_everywhere(last_used=now).where(
        models.OAuthClient.pk == client.pk).execute()
    return row, token

# --- OAuth 2.0 authorization code (RFC 6749 §4.1): Okta's OAuth mode ---------------
# Okta's SCIM connector speaks OAuth only as the authorization code grant
# (Okta's SCIM FAQ: no client credentials).  The customer's Okta admin
# clicks Authenticate; their browser comes to /admin/oauth/authorize (an
# admin page, so that the admin session's cookie reaches it), they sign
# in here and allow it; Okta gets a one-time code at its redirect URI and
# trades it, with the client's secret, for an access token and a refresh
# token, then refreshes.  One client may serve every tenant (Okta's OIN
# apps, made with --install): each consent names the organization it is
# for, and its tokens act there only.

CODE_PREFIX, REFRESH_PREFIX, GRANT_PREFIX = "sac_", "sar_", "sag_"
CODE_MINUTES = 10       # RFC 6749 §4.1.2: "a maximum lifetime of 10 minutes"
REFRESH_DAYS = 180      # a refresh token unused this long stops working
# The redirect URIs Okta's guide (scim-provisioning-integration-prepare)
# asks an OIN app to accept, {appName} being the integration's name.
OKTA_CALLBACK_HOSTS = ("system-admin.okta.com", "system-admin.okta-emea.com",
                       "system-admin.oktapreview.com", "system-admin.trexcloud.com")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# A redirect URI's host[:port]: no user info, nothing a header could not hold.
REDIRECT_HOST = re.compile(r"([A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?")
PKCE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")     # RFC 7636 §4.1


def okta_redirect_uris(app_name):
    """Okta's callbacks for the integration `app_name`, one per Okta cell."""
    name = urllib.parse.quote(app_name.strip(), safe="")
    return [f"https://{host}/admin/app/cpc/{name}/oauth/callback"
            for host in OKTA_CALLBACK_HOSTS]


def checked_redirect_uris(uris):
    """The redirect URIs, one per line, each absolute, without a fragment
    (RFC 6749 §3.1.2) and https, or http on this machine (RFC 8252 §7.3);
    ValueError naming the first that is not."""
    kept = []
    for uri in (u.strip() for u in uris if u.strip()):
        parts = urllib.parse.urlsplit(uri)
        secure = parts.scheme == "https" or (parts.scheme == "http" and
                                             parts.hostname in LOOPBACK_HOSTS)
        if not REDIRECT_HOST.fullmatch(parts.netloc) or "#" in uri or not secure or \
                len(uri) > 1000 or any(c.isspace() for c in uri):
            raise ValueError(f"{uri!r} is not a redirect URI: an https URL (http only on "
                             "localhost) without a #fragment")
        if uri not in kept:
            kept.append(uri)
    return kept


def set_redirect_uris(models, client, uris):
    """Register `uris` for `client` (replacing what it had)."""
    kept = checked_redirect_uris(uris)
    if len(kept) > 20:
        raise ValueError("a client has at most 20 redirect URIs")
    models.OAuthClient.update_everywhere(redirect_uris="\n".join(kept) or None).where(
        models.OAuthClient.pk == client.pk).execute()
    return kept


class AuthorizeRefused(Exception):
    """An authorization request that names no client of ours or a redirect
    URI not registered for it: shown to the person, never redirected
    (RFC 6749 §4.1.2.1: it could send them anywhere)."""


def authorization_request(models, params):
    """What a valid authorization request asks (RFC 6749 §4.1.1, RFC 7636
    §4.3): {client, redirect_uri, given (whether the request named it),
    state, scopes, challenge}.  AuthorizeRefused if its client or redirect
    URI is not right; OAuthError, to send to the redirect URI (`request`
    attached), for anything else."""
    doubled = sorted({name for name in params if len(params.getall(name)) > 1})
    single = {name: params.getunicode(name) or "" for name in params}
    Client = models.OAuthClient
    client = Client.everywhere().where((Client.client_id == single.get("client_id", "")) &
                                       Client.revoked.is_null()).first()
    registered = (client.redirect_uris or "").split("\n") if client else []
    if client is None or not client.redirect_uris:
        raise AuthorizeRefused("No client with this client_id may ask for a code here. "
                               "The operator registers its redirect URIs first: "
                               "python scimlite.py oauth-client create --redirect-uri URI")
    uri = single.get("redirect_uri")
    if uri and uri not in registered or not uri and len(registered) != 1 or \
            "redirect_uri" in doubled:
        raise AuthorizeRefused("The redirect_uri is not one registered for this client, "
                               "so nothing is sent back to it.")
    request = {"client": client, "redirect_uri": uri or registered[0], "given": bool(uri),
               "state": single.get("state")}

    def refuse(error, text):
        exc = OAuthError(error, text)
        exc.request = request
        return exc
    if doubled:     # RFC 6749 §3.1: parameters MUST NOT be included more than once
        raise refuse("invalid_request", f"'{doubled[0]}' is sent more than once")
    if single.get("response_type") != "code":
        raise refuse("unsupported_response_type", "only response_type=code is supported")
    try:
        request["scopes"] = oauth_scopes(single.get("scope"), client.scopes.split()) \
            if single.get("scope") else client.scopes
    except ValueError as exc:
        raise refuse("invalid_scope", str(exc)) from None
    challenge = single.get("code_challenge")
    if challenge and single.get("code_challenge_method") != "S256":
        raise refuse("invalid_request", "code_challenge_method must be S256")
    if challenge and not PKCE_VERIFIER.fullmatch(challenge):
        raise refuse("invalid_request", "code_challenge is not a base64url SHA-256")
    request["challenge"] = challenge or None
    return request


def authorization_redirect(request, **answer):
    """The redirect URI with `answer` (a code, or an error) and the
    request's state added to its query (RFC 6749 §4.1.2)."""
    if request.get("state") is not None:
        answer["state"] = request["state"]
    uri = request["redirect_uri"]
    return uri + ("&" if urllib.parse.urlsplit(uri).query else "?") + \
        urllib.parse.urlencode(answer)


def grant_code(models, request, org_id, granted_by, now):
    """Record a consent in organization `org_id`: its one-time code, valid
    CODE_MINUTES (the text; only its hash is kept)."""
    code_id = secrets.token_urlsafe(6)
    code = CODE_PREFIX + code_id + secrets.token_urlsafe(KEY_SECRET_BYTES)
    models.OAuthGrant.insert(
        org=org_id, public_id=secrets.token_urlsafe(6), client=request["client"].pk,
        scopes=request["scopes"], created=now, granted_by=granted_by[:255], code_id=code_id,
        code_hash=hash_api_key(code), redirect_uri=request["redirect_uri"]
        if request["given"] else None, code_challenge=request["challenge"],
        code_expires=format_datetime(parse_datetime(now) + dt.timedelta(minutes=CODE_MINUTES))
    ).execute()
    return code


def redeem_code(models, params, minutes, now):
    """RFC 6749 §4.1.3: a code (with the redirect URI it was asked for,
    and the PKCE verifier if it was asked with a challenge) for an access
    token and a refresh token: (access row, access text, refresh text).
    A code used twice revokes its grant and every token it gave (§4.1.2)."""
    client, secret = authenticated_client(models, params["client_id"],
                                          params["client_secret"], now)
    grant = _grant_by(models, "code_id", params.get("code", ""), CODE_PREFIX, "code_hash")
    if grant is None or grant.client_id != client.pk or grant.revoked:
        raise OAuthError("invalid_grant", "the code is not valid")
    if grant.code_used:
        revoke_grant(models, grant, now)
        raise OAuthError("invalid_grant", "the code was used before: the tokens it gave "
                         "are revoked too")
    if grant.code_expires <= now:
        raise OAuthError("invalid_grant", f"the code expired ({CODE_MINUTES} minutes)")
    # §4.1.3: required, and the same, if the request for the code named one;
    # if it did not (the client's one URI), it may be sent or left out.
    sent = params.get("redirect_uri") or None
    if grant.redirect_uri is not None and sent != grant.redirect_uri or \
            grant.redirect_uri is None and sent is not None and \
            sent not in (client.redirect_uris or "").split("\n"):
        raise OAuthError("invalid_grant", "redirect_uri is not the one the code was "
                         "asked with")
    verifier = params.get("code_verifier")
    if grant.code_challenge and not (verifier and PKCE_VERIFIER.fullmatch(verifier) and
                                     hmac.compare_digest(pkce_s256(verifier),
                                                         grant.code_challenge)):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    if verifier and not grant.code_challenge:
        raise OAuthError("invalid_grant", "a code_verifier for a code asked without "
                         "a code_challenge")
    Grant = models.OAuthGrant
    if not Grant.update_everywhere(code_used=now).where(
            (Grant.pk == grant.pk) & Grant.code_used.is_null()).execute():
        raise OAuthError("invalid_grant", "the code was used before")
    return _rotated(models, client, secret, grant, grant.scopes, None, minutes, now)


def refresh_access(models, params, minutes, now):
    """RFC 6749 §6: a refresh token for a new access token and a new
    refresh token (rotation, OAuth 2.0 Security BCP §4.14.2): the one
    presented stops working; presented again, it revokes its grant."""
    client, secret = authenticated_client(models, params["client_id"],
                                          params["client_secret"], now)
    presented = params.get("refresh_token", "")
    grant = _grant_by(models, "refresh_id", presented, REFRESH_PREFIX, "refresh_hash")
    if grant is None:
        Grant = models.OAuthGrant
        replayed = presented and Grant.everywhere().where(
            Grant.previous_refresh == hash_api_key(presented)).first()
        if replayed and replayed.client_id == client.pk:
            revoke_grant(models, replayed, now)
            raise OAuthError("invalid_grant", "the refresh token was used before: its "
                             "grant is revoked; authorize again")
        raise OAuthError("invalid_grant", "the refresh token is not valid")
    if grant.client_id != client.pk or grant.revoked or grant.refresh_expires <= now:
        raise OAuthError("invalid_grant", "the refresh token is not valid, expired or "
                         "revoked; authorize again")
    try:
        scopes = oauth_scopes(params["scope"], grant.scopes.split()) \
            if params.get("scope") else grant.scopes
    except ValueError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    return _rotated(models, client, secret, grant, scopes, grant.refresh_hash, minutes, now)


def _rotated(models, client, secret, grant, scopes, presented_hash, minutes, now):
    """A grant's new access token and refresh token; the refresh token
    `presented_hash` (None for a code) is the one replaced, exactly once."""
    Grant = models.OAuthGrant
    refresh_id = secrets.token_urlsafe(6)
    refresh = REFRESH_PREFIX + refresh_id + secrets.token_urlsafe(KEY_SECRET_BYTES)
    same = Grant.refresh_hash.is_null() if presented_hash is None else \
        (Grant.refresh_hash == presented_hash)
    if not Grant.update_everywhere(
            refresh_id=refresh_id, refresh_hash=hash_api_key(refresh), last_used=now,
            previous_refresh=presented_hash, refresh_expires=format_datetime(
                parse_datetime(now) + dt.timedelta(days=REFRESH_DAYS))).where(
            (Grant.pk == grant.pk) & same).execute():
        raise OAuthError("invalid_grant", "the refresh token was used at the same moment "
                         "by another request")
    row, token = create_access_token(models, client, grant.org, scopes, minutes, now,
                                     secret=secret.pk, grant=grant.pk)
    return row, token, refresh


def _grant_by(models, column, text, prefix, hash_column):
    """The grant whose code or refresh token (by `column`, its public part)
    is `text`, compared in constant time, or None."""
    Grant = models.OAuthGrant
    public = text[len(prefix):][:OAUTH_PUBLIC_CHARS] if text.startswith(prefix) else ""
    grant = public and Grant.everywhere().where(getattr(Grant, column) == public).first()
    stored = getattr(grant, hash_column) if grant else hash_api_key("")
    return grant if hmac.compare_digest(stored, hash_api_key(text)) and grant else None


def pkce_s256(verifier):
    """RFC 7636 §4.2: BASE64URL(SHA256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def visible_grants(models):
    """The grants the current organization answers for: consented to in
    it, or given to one of its clients (the install's, under --install)."""
    Grant, Client = models.OAuthGrant, models.OAuthClient
    return Grant.everywhere().where((Grant.org == models.scope.param) |
                                    Grant.client.in_(Client.select(Client.pk)))


def revoke_grant(models, grant, now):
    """A grant and every token it gave stop working at once."""
    Grant = models.OAuthGrant
    Grant.update_everywhere(revoked=now).where(
        (Grant.pk == grant.pk) & Grant.revoked.is_null()).execute()


# --- workload identity federation (RFC 7523 §2.2) ----------------------------------
# A federated client has no secret: the identity provider signs a JWT (the
# client assertion) with its own key, for the subject and audience the
# client was made with, and the key comes from the issuer's published key
# set.  PyJWT verifies it (an optional dependency: scimlite[oauth]).

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Asymmetric algorithms only: never "none", never HMAC (whose "secret"
# would be the issuer's public key, which anyone can fetch).
ASSERTION_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                        "ES256", "ES384", "ES512")
ASSERTION_LEEWAY_SECONDS = 60       # clock skew allowed on exp, nbf and iat
KEY_SET_SECONDS, KEY_SET_TIMEOUT = 300, 5
# An unknown kid fetches the key set again at most this often: forged kids
# cannot make scimlite hammer the issuer (issuers publish a key before use).
KEY_SET_COOLDOWN = 30



def create_federated_client(models, name, issuer, subject, audience, jwks_url,
                            scopes=None, now=None):
    """A new client of the current organization that proves itself with a
    JWT from `issuer` about `subject`, for `audience`, signed by a key in
    the key set at `jwks_url`; its row."""
    name, scopes = _client_name_and_scopes(name, scopes)
    for label, value in (("issuer", issuer), ("subject", subject), ("audience", audience)):
        if not (value or "").strip():
            raise ValueError(f"a federated client needs its {label}")
    if not re.fullmatch(r"https?://[^\s/]+\S*", jwks_url or ""):
        raise ValueError(f"{jwks_url!r} is not the http(s) URL of a key set (JWKS)")
    return models.OAuthClient.create(
        client_id=CLIENT_ID_PREFIX + secrets.token_urlsafe(12), name=name, scopes=scopes,
        created=now or now_text(), issuer=issuer.strip(), subject=subject.strip(),
        audience=audience.strip(), jwks_url=jwks_url)


class KeySets:
    """The issuers' key sets (JWKS), each fetched with a timeout and kept
    KEY_SET_SECONDS; a key id not in the kept set fetches it once again
    (PyJWKClient does both).  A key that verified before is still used
    while its key set cannot be fetched, as Microsoft advises: an issuer's
    outage then refuses only keys never seen.  One per app."""

    def __init__(self):
        self._clients, self._seen, self._mutex = {}, {}, threading.Lock()

    def signing_key(self, url, assertion):
        import jwt
        with self._mutex:
            client = self._clients.get(url)
            if client is None:
                # cache_keys would keep a key by its kid for good, past the
                # issuer's removing it from the set: the set is kept instead.
                client = self._clients[url] = jwt.PyJWKClient(
                    url, cache_keys=False, lifespan=KEY_SET_SECONDS, timeout=KEY_SET_TIMEOUT,
                    cooldown_duration=KEY_SET_COOLDOWN)
        kid = jwt.get_unverified_header(assertion).get("kid")
        try:
            key = client.get_signing_key_from_jwt(assertion).key
        except jwt.PyJWKClientConnectionError:
            known = self._seen.get((url, kid))
            if known is None:
                raise
            log.warning("the key set at %s could not be fetched; using its key %s as "
                        "last fetched", url, kid)
            return known
        self._seen[(url, kid)] = key
        return key


def verify_assertion(models, key_sets, assertion, client_id, lock):
    """(the federated client, the claims) of a valid client assertion;
    OAuthError (invalid_client, 401, saying what was wrong) if not.  The
    key set may be fetched: nothing here holds the write queue, and `lock`
    (an in-memory database's) only while the client is read."""
    try:
        import jwt
    except ImportError:
        raise OAuthError("invalid_client", "this server has no JWT library for client "
                         "assertions: pip install 'scimlite[oauth]'", 401) from None
    with lock:
        client = _asserted_client(models, jwt, assertion, client_id)
    return client, _verified_claims(jwt, key_sets, client, assertion)


def issue_federated_token(models, client, claims, assertion, scope, minutes, now):
    """An access token for a verified assertion (verify_assertion): (its
    row, the token text); a replayed one is invalid_client."""
    try:
        scopes = oauth_scopes(scope, client.scopes.split()) if scope else client.scopes
    except ValueError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    try:
        with models.db.atomic():        # a savepoint: a replay fails alone
            return create_access_token(models, client, client.org, scopes, minutes, now,
                                       assertion=replay_key(claims, assertion))
    except peewee.IntegrityError:
        raise OAuthError("invalid_client", "this client assertion was used before "
                         "(its jti, or itself): send a new one", 401) from None


def replay_key(claims, assertion):
    """What an assertion is remembered by, so that it is taken once: its
    jti (RFC 7523 §3), else Entra's uti, else the hash of the JWT itself."""
    for claim in ("jti", "uti"):
        if claims.get(claim):
            return f"{claim}:{claims[claim]}"[:255]
    return "sha256:" + hashlib.sha256(assertion.encode("utf-8")).hexdigest()


def _asserted_client(models, jwt, assertion, client_id):
    """The federated client an assertion names (its iss and sub), not yet
    trusting a word of it."""
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError("invalid_client", "the client assertion is not a JWT", 401) from None
    Client = models.OAuthClient
    named = (Client.issuer == str(claims.get("iss"))) & \
        (Client.subject == str(claims.get("sub"))) & Client.revoked.is_null()
    if client_id:       # two organizations may trust the same issuer and subject
        named &= Client.client_id == client_id
    client = Client.everywhere().where(named).order_by(Client.pk).first()
    if client is None:
        raise OAuthError("invalid_client", "no client is made for this assertion's issuer "
                         "and subject", 401)
    return client


def _verified_claims(jwt, key_sets, client, assertion):
    """The assertion's claims once its signature, issuer, subject, audience,
    times and algorithm hold; OAuthError saying which does not."""
    try:
        algorithm = jwt.get_unverified_header(assertion).get("alg")
    except jwt.PyJWTError:
        raise OAuthError("invalid_client", "the client assertion is not a JWT", 401) from None
    if algorithm not in ASSERTION_ALGORITHMS:
        raise OAuthError("invalid_client", f"the assertion's algorithm {algorithm!r} is not "
                         "accepted: " + ", ".join(ASSERTION_ALGORITHMS), 401)
    try:
        key = key_sets.signing_key(client.jwks_url, assertion)
    except jwt.PyJWKClientConnectionError as exc:
        log.warning("the key set of OAuth client %s could not be fetched from %s: %s",
                    client.client_id, client.jwks_url, one_line(str(exc)))
        raise OAuthError("invalid_client", "the issuer's key set could not be fetched; "
                         "retry later", 401) from None
    except jwt.PyJWKClientError:
        raise OAuthError("invalid_client", "no key in the issuer's key set matches the "
                         "assertion's key id (kid)", 401) from None
    try:
        claims = jwt.decode(assertion, key, algorithms=list(ASSERTION_ALGORITHMS),
                            audience=client.audience, issuer=client.issuer,
                            leeway=ASSERTION_LEEWAY_SECONDS, options={
                                "require": ["exp", "iat", "iss", "sub", "aud"]})
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_client", f"the client assertion is not valid: {exc}",
                         401) from None
    if claims["sub"] != client.subject:
        raise OAuthError("invalid_client", "the assertion's subject is not the client's", 401)
    return claims


def find_oauth_token(models, token, now):
    """The working access token row whose text is `token`, or None: not
    expired, its client and its secret not revoked.  The row carries its
    client's name (`name`) and its scopes."""
    if not token.startswith(TOKEN_PREFIX) or len(token) < len(TOKEN_PREFIX) + 40:
        return None
    Token, Client, Secret = models.OAuthToken, models.OAuthClient, models.OAuthSecret
    Grant = models.OAuthGrant
    public_id = token[len(TOKEN_PREFIX):len(TOKEN_PREFIX) + OAUTH_PUBLIC_CHARS]
    row = prepared(models, "oauth token", lambda: Token.everywhere(
        Token, Client.name, Client.revoked.alias("client_revoked"),
        Secret.revoked.alias("secret_revoked"), Grant.revoked.alias("grant_revoked")).join(
        Client, on=(Token.client == Client.pk)).join(
        Secret, peewee.JOIN.LEFT_OUTER, on=(Token.secret == Secret.pk)).join(
        Grant, peewee.JOIN.LEFT_OUTER, on=(Token.grant == Grant.pk)).where(
        Token.public_id == slot("public_id")).limit(1)).first(public_id=public_id)
    stored = row.token_hash if row else hash_api_key("")
    if not (hmac.compare_digest(stored, hash_api_key(token)) and row):
        return None
    if row.client_revoked or row.secret_revoked or row.grant_revoked or row.expires <= now:
        return None
    return row


def hash_password(password):
    """scrypt (RFC 7914) with a random salt; the only form a password is kept in."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, 2 ** 14, 8, 1)
    encode = base64.b64encode
    return f"scrypt$16384$8$1${encode(salt).decode()}${encode(digest).decode()}"


def _scrypt(password, salt, n, r, p):
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=2 ** 26)


def verify_password(password, stored):
    """Whether `password` is the one hash_password() gave `stored`; the
    digests are compared in constant time."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        salt, digest, n, r, p = (base64.b64decode(salt), base64.b64decode(digest),
                                 int(n), int(r), int(p))
    except (AttributeError, ValueError):
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), digest)


def new_token():
    """An opaque random secret: a session id, a setup token, a CSRF token."""
    return secrets.token_urlsafe(32)

###############################################################################
# Rendering: resources, ETags, ListResponses, discovery documents, pages ######
###############################################################################

# What ServiceProviderConfig advertises (RFC 7643 §5).  Each flag is true only
# when the feature works; tests/test_discovery.py holds them to it.
CAPABILITIES = {
    "patch": True,
    "bulk": True,
    "filter": True,
    "changePassword": True,     # a PUT with a password replaces its hash
    "sort": True,
    "etag": True,
    "cursor": True,             # RFC 9865 pagination by cursor (see Queries)
    "index": True,              # RFC 7644 §3.4.2.4 pagination by startIndex
}


def etag_of(row, groups=None):
    """meta.version (RFC 7644 §3.14): the row's write counter and, for a User
    in groups, a digest of its computed `groups` ([(id, display, kind)]), so
    that the ETag moves whenever the representation does (a group joined,
    left or renamed)."""
    if not groups:
        return f'W/"{row.version}"'
    seen = json.dumps([(group_id, kind, name) for group_id, name, kind in groups])
    return f'W/"{row.version}-{hashlib.sha1(seen.encode()).hexdigest()[:8]}"'


def _opaque_tag(tag):
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def etag_matches(etag, header):
    """Whether an If-Match / If-None-Match header names this ETag.

    Weak comparison (RFC 7232 §2.3.2): SCIM's versions are weak ETags and
    RFC 7644 §3.14 sends them in If-Match as they are.
    """
    tags = [t for t in header.split(",") if t.strip()]
    current = _opaque_tag(etag)
    return any(t.strip() == "*" or _opaque_tag(t) == current for t in tags)


def check_if_match(etag, header):
    """RFC 7644 §3.14: a stale If-Match on PUT, PATCH or DELETE is 412."""
    if header is not None and not etag_matches(etag, header):
        raise SCIMError(412, None, f"the resource is at version {etag}, not the "
                        "one If-Match names; read it again")


def location_of(base_url, rt, resource_id):
    """A resource's URI: meta.location, the Location header, a $ref and a
    bulk result's location (RFC 7644 §3.1)."""
    return f"{base_url}{rt.endpoint}/{resource_id}"


def render_resource(rt, row, base_url, computed, etag):
    """One stored row as the wire resource, read from where the table says
    each attribute is stored: the common attributes, the core ones
    (`computed` holds groups and members), each extension with data, and
    meta last."""
    data = json.loads(row.data)
    made = {SCHEMAS_ATTR.name: [rt.schema.id] + [e.id for e in rt.extensions
                                                 if data.get(e.id)],
            RESOURCE_TYPE_ATTR.name: rt.name,
            META_LOCATION_ATTR.name: location_of(base_url, rt, row.id),
            META_VERSION_ATTR.name: etag}
    out = {}
    for attr in _top_level_attributes(rt.name):
        value = _stored_value(attr, row, data, made, computed)
        if value is not None:
            out[attr.name] = value
    for extension in rt.extensions:
        if data.get(extension.id):
            out[extension.id] = data[extension.id]
    out[META_ATTR.name] = {sub.name: _stored_value(sub, row, data, made, computed)
                           for sub in META_ATTR.sub}
    return out


@functools.lru_cache(maxsize=None)
def _top_level_attributes(type_name):
    """A type's attributes in the order they are rendered, meta aside (a
    list page renders them a hundred times: worked out once)."""
    rt = RESOURCE_TYPES[type_name]
    return tuple(a for a in (*COMMON_ATTRIBUTES, *rt.schema.attributes) if a is not META_ATTR)


def _stored_value(attr, row, data, made, computed):
    storage = attr.storage
    if storage == "json":
        return data.get(attr.name)
    if storage == "column":
        return getattr(row, attr.column)
    if storage == "computed":
        return made.get(attr.name)
    if storage in ("members", "memberships"):
        return computed.get(attr.name)
    return None         # a password's hash is never rendered


def render_reference(base_url, resource_id, resource_type, display, kind=None):
    """A members[] or groups[] element (RFC 7643 §4.1.2, §4.2)."""
    item = {"value": resource_id,
            "$ref": location_of(base_url, RESOURCE_TYPES[resource_type], resource_id)}
    if display is not None:
        item["display"] = display
    item["type"] = kind or resource_type
    return item


def list_response(resources, total, start):
    """RFC 7644 §3.4.2: integers, and Resources present even when empty
    (Okta's connector test fails on a missing Resources)."""
    return {"schemas": [LIST_URN], "totalResults": total, "itemsPerPage": len(resources),
            "startIndex": start, "Resources": resources}


def attribute_document(attr):
    """One attribute as /Schemas publishes it (RFC 7643 §7); no nulls."""
    doc = {"name": attr.name, "type": attr.type, "multiValued": attr.multi,
           "description": attr.description, "required": attr.required}
    if attr.type in ("string", "reference", "binary"):
        doc["caseExact"] = attr.case_exact
    if attr.canonical:
        doc["canonicalValues"] = list(attr.canonical)
    if attr.ref_types:
        doc["referenceTypes"] = list(attr.ref_types)
    doc.update(mutability=attr.mutability, returned=attr.returned,
               uniqueness=attr.uniqueness)
    if attr.sub:
        doc["subAttributes"] = [attribute_document(sub) for sub in attr.sub]
    return doc


def schema_document(schema, base_url, publish_password=False):
    """/Schemas/{id} (RFC 7643 §7).  `password` is accepted either way (Okta
    sends it on create) but published only with publish_password: Microsoft's
    SCIM Validator, discovering the schema, refuses a published password."""
    attributes = [a for a in schema.attributes if publish_password or a.storage != "hash"]
    if any(rt.schema is schema for rt in RESOURCE_TYPES.values()):
        attributes += [a for a in COMMON_ATTRIBUTES if a.name in PUBLISHED_COMMON]
    return {"schemas": [SCHEMA_URN], "id": schema.id, "name": schema.name,
            "description": schema.description,
            "attributes": [attribute_document(a) for a in attributes],
            "meta": {"resourceType": "Schema",
                     "location": f"{base_url}/Schemas/{schema.id}"}}


def resource_type_document(rt, base_url):
    return {"schemas": [RESOURCE_TYPE_URN], "id": rt.name, "name": rt.name,
            "endpoint": rt.endpoint, "description": rt.description,
            "schema": rt.schema.id,
            "schemaExtensions": [{"schema": e.id, "required": False}
                                 for e in rt.extensions],
            "meta": {"resourceType": "ResourceType",
                     "location": f"{base_url}/ResourceTypes/{rt.name}"}}


# RFC 7643 §5 authenticationSchemes: both ways a client may authenticate.
# Microsoft's gallery validation looks for type oauth2 before it tries the
# token endpoint.
AUTHENTICATION_SCHEMES = (
    {"type": "oauthbearertoken", "name": "Bearer token",
     "description": "An API key minted by scimlite, sent as 'Authorization: Bearer <key>'",
     "primary": True},
    {"type": "oauth2", "name": "OAuth 2.0",
     "description": "POST /oauth/token with grant_type=client_credentials and a client "
                    "id and secret (HTTP Basic or the form), or a signed client assertion; "
                    "or the authorization code grant from /admin/oauth/authorize, with "
                    "refresh tokens; send the access token as 'Authorization: Bearer "
                    "<token>'",
     "specUri": "https://www.rfc-editor.org/rfc/rfc6749",
     "documentationUri": "https://github.com/scimlite/scimlite/blob/main/docs/oauth.md"},
)


def service_provider_config(settings, base_url, security_events=False):
    """The ServiceProviderConfig; with `security_events` (the organization
    has receivers) it says which events they are told (RFC 9967 §4; absent,
    "not currently configured")."""
    caps = CAPABILITIES
    told = {"securityEvents": {"asyncRequest": "none", "eventUris": list(SCIM_EVENT_URIS)}} \
        if security_events else {}
    return {
        "schemas": [SPC_URN],
        "documentationUri": "https://github.com/scimlite/scimlite#readme",
        "patch": {"supported": caps["patch"]},
        "bulk": {"supported": caps["bulk"],
                 "maxOperations": settings["bulk_max_operations"],
                 "maxPayloadSize": settings["bulk_max_payload_bytes"]},
        "filter": {"supported": caps["filter"], "maxResults": settings["max_page_size"]},
        "changePassword": {"supported": caps["changePassword"]},
        "sort": {"supported": caps["sort"]},
        "etag": {"supported": caps["etag"]},
        # RFC 9865 §4.  Index stays the default: clients that predate
        # cursors send neither parameter (§2.4).
        "pagination": {"cursor": caps["cursor"], "index": caps["index"],
                       "defaultPaginationMethod": "index",
                       "defaultPageSize": settings["page_size"],
                       "maxPageSize": settings["max_page_size"],
                       "cursorTimeout": CURSOR_TIMEOUT_SECONDS},
        "authenticationSchemes": [dict(scheme) for scheme in AUTHENTICATION_SCHEMES],
        **told,
        "meta": {"resourceType": "ServiceProviderConfig",
                 "location": f"{base_url}/ServiceProviderConfig"},
    }

# --- HTML pages ---------------------------------------------------------------

class Pages:
    """The HTML templates of one app (templates/*.html), each compiled once:
    the admin pages and the front page."""

    def __init__(self):
        self._cache = {}

    def render(self, name, code=200, csrf=None, **values):
        """Template `name`; its forms' CSRF field is `csrf_field`, with the
        session's token, or `csrf` (the form token, before sign-in)."""
        template = self._cache.get(name)
        if template is None:
            template = self._cache[name] = bottle.SimpleTemplate(
                name=name, lookup=[str(TEMPLATES_DIR)])
        bottle.response.status = code
        bottle.response.content_type = "text/html; charset=utf-8"
        session = values.get("session")
        token = csrf or (session.csrf if session is not None else "")
        return template.render(version=__version__, admin=ADMIN,
                               csrf_field=csrf_field(token), **values)


def csrf_field(token):
    """The one hidden field every admin form carries (see csrf_ok)."""
    return f'<input type="hidden" name="csrf" value="{html.escape(token)}">'


###############################################################################
# Resources: reads, views, memberships and writes of Users and Groups #########
###############################################################################

class Clock:
    """The times and ids resources get: real ones, or (the `deterministic`
    setting, for snapshot tests in other projects) a clock that stands
    still at START until set() or advance()d, and ids counted up:
    00000000-0000-4000-8000-000000000001, ...  app.scimlite.clock."""
    START = "2024-01-01T00:00:00.000Z"

    def __init__(self, deterministic=False):
        self.deterministic = deterministic
        self._now, self._next_id = parse_datetime(self.START), 1
        self._mutex = threading.Lock()

    def now_text(self):
        return format_datetime(self.now_datetime())

    def now_datetime(self):
        return self._now if self.deterministic else dt.datetime.now(dt.timezone.utc)

    def set(self, when):
        """Stand still at `when` (an xsd:dateTime text or an aware datetime)."""
        moment = parse_datetime(when) if isinstance(when, str) else when
        if moment is None or moment.tzinfo is None:
            raise ValueError(f"not a time with a zone: {when!r}")
        self._now = moment.astimezone(dt.timezone.utc)

    def advance(self, seconds):
        self._now += dt.timedelta(seconds=seconds)

    def new_id(self):
        if not self.deterministic:
            return str(uuid.uuid4())
        with self._mutex:
            number, self._next_id = self._next_id, self._next_id + 1
        return f"00000000-0000-4000-8000-{number:012d}"


# SQLite's integers are 64-bit: an OFFSET past them cannot be bound, and a
# page that far past every row is empty anyway (startIndex=10**20).
MAX_OFFSET = 2 ** 62


class Finder:
    """Reading Users and Groups: one by id, or a page of what a filter
    selects, by statements built once for what IdPs ask most."""

    def __init__(self, models):
        self.models = models
        self.tables = {name: Table(rt, models) for name, rt in RESOURCE_TYPES.items()}

    def model(self, rt):
        return self.tables[rt.name].model

    def get(self, rt, resource_id, lock=False):
        """The row of a resource; `lock` it when a write will change it:
        on PostgreSQL another instance's write of it then waits for this
        one's commit, and reads what it left (no lost update)."""
        table, dialect = self.tables[rt.name], self.models.dialect
        row = prepared(self.models, ("get", rt.name, lock), lambda: (
            dialect.locked if lock else (lambda query: query))(table.select().where(
                table.model.id == slot("id")))).first(id=resource_id)
        if row is None:
            raise not_found(f"{rt.name} '{echo(resource_id)}'")
        return row

    def search(self, rt, node, start, count, sort_by=None, descending=False):
        """(totalResults, rows of the page) for a filter, in sort_order()."""
        table = self.tables[rt.name]
        if sort_by is None and node is None:        # Okta's import pages through all
            return self._prepared_page(table, "all", None, start, count)
        lookup = indexed_equality(node, table) if sort_by is None else None
        if lookup is not None:
            column, key = lookup
            field = getattr(table.model, column)
            return self._prepared_page(table, column, lambda: field == slot("key"),
                                       start, count, key=key)
        where = filter_to_sql(node, table) if node is not None else SQL_TRUE
        with _within_parser_limits():
            rows = list(table.select().where(where).order_by(
                *sort_order(table, sort_by, descending)).offset(
                    min(start - 1, MAX_OFFSET)).limit(count)) if count else []
            total = _total(rows, start, count, table.model.select().where(where).count)
        return total, rows

    def _prepared_page(self, table, name, where, start, count, **given):
        """search() by statements built once, for the hot cases: every row,
        or `attr eq "text"` on an indexed column (indexed_equality).  `where`
        (None: every row) builds the condition, with slots for `given`."""
        model = table.model

        def page():
            if where is None:
                # Start at the key found at the offset in Resource's index on
                # pk: the rows before the page are skipped as keys, not read.
                first = model.select(model.pk).order_by(model.pk).offset(slot("offset"))
                return table.select().where(model.pk >= first.limit(1)).order_by(
                    model.pk).limit(slot("limit"))
            return table.select().where(where()).order_by(model.pk).limit(
                slot("limit")).offset(slot("offset"))

        def counter():
            return model.select(fn.COUNT(SQL("*"))).where(where())
        rows = prepared(self.models, ("page", table.rt.name, name), page).rows(
            limit=count, offset=min(start - 1, MAX_OFFSET), **given) if count else []
        if where is None:
            return _total(rows, start, count, lambda: self.count_all(model)), rows
        counting = prepared(self.models, ("count", table.rt.name, name), counter)
        return _total(rows, start, count, lambda: counting.scalar(**given)), rows

    def count_all(self, model):
        """The current organization's rows of `model`.  When it is the only
        organization (as the key cache read them) they are all the rows,
        and COUNT(*) with no WHERE counts SQLite's smallest index by its
        pages, not row by row: at 100,000 users 0.1 ms instead of 2.1 ms
        a page (every list page and cursor page counts)."""
        alone = getattr(self.models.scope.current, "alone", False)
        return prepared(self.models, ("count all", model.__name__, alone), lambda: (
            model.everywhere if alone else model.select)(fn.COUNT(SQL("*")))).scalar()

    def page_after(self, rt, node, sort_by, descending, key, count, before=False):
        """A page of `count` rows that a filter selects, in sort_order(),
        after the row whose sort key (sort_key()) is `key` (None: from the
        first), or with `before`, the page before it: keyset paging (RFC
        9865), which costs the same on the thousandth page as on the first
        and neither repeats nor skips a row when others come and go.
        Returns (totalResults, the rows, whether more lie beyond them)."""
        table = self.tables[rt.name]
        where = matching = filter_to_sql(node, table) if node is not None else SQL_TRUE
        model = table.model
        expr = table.sort_expression(sort_by) if sort_by is not None else None
        query = table.select()
        if expr is not None:
            query = query.select_extend(expr.alias("scim_sort"))
        descending = descending and sort_by is not None     # as sort_order()
        ascending = descending == before        # the direction this query reads in
        if key is not None:
            where = where & keyset_after(model.pk, key, ascending, expr, not before)
        order = [model.pk.asc() if ascending else model.pk.desc()]
        if expr is not None:
            order = [expr.asc() if ascending else expr.desc(), *order]
            if not never_null(expr):        # as sort_order(): unassigned last
                order.insert(0, expr.is_null().desc() if before else expr.is_null().asc())
        with _within_parser_limits():
            rows = list(query.where(where).order_by(*order).limit(count + 1)) if count else []
            total = self.count_all(model) if node is None else \
                model.select(fn.COUNT(SQL("*"))).where(matching).scalar()
        more, rows = len(rows) > count, rows[:count]
        if before:
            rows.reverse()
        return total, rows, more

    def id_taken(self, rt, resource_id):
        model = self.model(rt)
        return prepared(self.models, ("id taken", rt.name), lambda: model.select(
            model.pk).where(model.id == slot("id")).limit(1)).scalar(
                id=resource_id) is not None

    def direct_groups(self, member_id):
        G, M = self.model(GROUP_TYPE), self.models.Membership
        return [gid for (gid,) in G.select(G.id).join(M, on=(M.group == G.pk)).where(
            M.member_id == member_id).order_by(G.pk).tuples()]


@contextlib.contextmanager
def _within_parser_limits():
    """A safety net under MAX_FILTER_DEPTH: SQLite's own parser limits are
    an invalidFilter, not a 500."""
    try:
        yield
    except peewee.OperationalError as exc:
        if "stack overflow" not in str(exc) and "too large" not in str(exc):
            raise
        raise SCIMError.of("invalidFilter", "the filter is too complex") from None


def sort_key(row, sorted_by):
    """What a cursor holds of the row a page ends at: its pk, after the
    value it is sorted by (and whether that is unassigned), if sorted."""
    if not sorted_by:
        return [row.pk]
    value = row.scim_sort
    if isinstance(value, decimal.Decimal):
        value = float(value)
    return [value is None, value, row.pk]


def keyset_after(pk, key, ascending, expr=None, nulls_after=True):
    """The rows after `key` (sort_key()) in an order by pk, or by `expr`
    (unassigned values after the others, or before them) then pk, each
    ascending or not: the condition a keyset page starts with."""
    past = operator.gt if ascending else operator.lt
    if expr is None:
        return past(pk, key[0])
    was_null, value, last = key
    if never_null(expr):
        return past(Tuple(expr, pk), Tuple(value, last))   # an index range
    if was_null:
        beyond = expr.is_null() & past(pk, last)
        return beyond if nulls_after else beyond | expr.is_null(False)
    beyond = expr.is_null(False) & (past(expr, value) | ((expr == value) & past(pk, last)))
    return beyond | expr.is_null() if nulls_after else beyond


def _total(rows, start, count, count_all):
    """totalResults of a page: known without a COUNT when the page is not
    full and is not past the end (a lookup's page of one, the last page)."""
    if count and (rows or start == 1) and len(rows) < count:
        return start - 1 + len(rows)
    return count_all()


class Views:
    """Rows as wire resources: each with its groups (User.groups, direct
    and indirect) or its members, in one query per page, and its ETag."""

    def __init__(self, models, finder):
        self.models, self.finder = models, finder

    def render(self, rt, rows, base_url, attributes=None, excluded=None):
        """Rows as wire resources: one query for their groups or members."""
        return [resource for resource, _ in self.render_with_etags(
            rt, rows, base_url, attributes, excluded)]

    def render_with_etags(self, rt, rows, base_url, attributes=None, excluded=None):
        """[(resource, ETag)]: the ETag survives a projection that drops meta."""
        attributes, excluded = attributes or {}, excluded or {}
        computed = {row.pk: {} for row in rows}
        etags = {row.pk: etag_of(row) for row in rows}
        for attr in rt.attributes_stored_as("memberships"):    # in the ETag even unshown
            refs = self._group_refs(rows)
            show = wants(attributes, excluded, attr.name)
            for row in rows:
                etags[row.pk] = etag_of(row, refs.get(row.pk))
                if show and row.pk in refs:
                    computed[row.pk][attr.name] = self._group_references(refs[row.pk],
                                                                         base_url)
        for attr in rt.attributes_stored_as("members"):
            if wants(attributes, excluded, attr.name):
                for pk, members in self._members_of(rows, base_url).items():
                    computed[pk][attr.name] = members
        out = [(render_resource(rt, row, base_url, computed[row.pk], etags[row.pk]),
                etags[row.pk]) for row in rows]
        if attributes or excluded or returned_on_request(rt):
            out = [(project(rt, r, attributes, excluded), e) for r, e in out]
        return out

    def etag(self, rt, row):
        """The row's current ETag, as rendering would give it."""
        groups = self._group_refs([row]).get(row.pk) \
            if rt.attributes_stored_as("memberships") else None
        return etag_of(row, groups)

    def check_if_match(self, rt, row, header):
        if header is not None:
            check_if_match(self.etag(rt, row), header)

    def _members_of(self, rows, base_url):
        """members[] of each group row; a member's display is the first
        assigned of its type's display attributes (ResourceType.display)."""
        M = self.models.Membership
        members = {row.pk: [] for row in rows}
        if not rows:
            return members

        def build():
            query = M.select(M.group, M.member_id, M.member_type)
            names = []
            for rt in RESOURCE_TYPES.values():
                member = self.finder.model(rt).alias()
                names += [self.models.dialect.json_value(member.data, [name])
                          for name in rt.display]
                query = query.join_from(M, member, peewee.JOIN.LEFT_OUTER,
                                        on=(getattr(M, rt.member_column) == member.pk))
            return query.select_extend(fn.COALESCE(*names)).where(
                in_slot(self.models, M.group, "groups")).order_by(M.id)
        for group, member_id, member_type, display in prepared(
                self.models, "members", build).tuples(groups=json.dumps(list(members))):
            members[group].append(render_reference(base_url, member_id, member_type, display))
        return members

    @staticmethod
    def _group_references(refs, base_url):
        """groups[] (RFC 7643 §4.1.2) of one row's group refs, as rendered."""
        return [render_reference(base_url, group_id, GROUP_TYPE.name, name, kind)
                for group_id, name, kind in refs]

    def _group_refs(self, rows):
        """{pk: [(group id, its displayName, "direct" or "indirect")]}: the
        direct and indirect groups of each row, in one recursive query;
        UNION (not UNION ALL) ends cycles of nested groups.  A row keeps
        what was read for it (a PATCH's If-Match, then its answer, ask
        once), until a write changes its groups (Table.set_in_group)."""
        # A row in no group is skipped before any getattr() with a default
        # (which raises and catches inside, for each row of a page).
        candidates = [row for row in rows if Table.may_be_in_a_group(row)]
        unread = [row for row in candidates if getattr(row, "groups_read", None) is None]
        if unread:
            found = self._read_group_refs(unread)
            for row in unread:
                row.groups_read = found.get(row.pk, [])
        return {row.pk: row.groups_read for row in candidates if row.groups_read}

    def _read_group_refs(self, rows):
        m, db = self.models, self.models.db
        by_id = {row.id: row.pk for row in rows}
        quote = db.quote        # the dialect's quote characters, e.g. '""'
        membership = quote[0] + m.Membership._meta.table_name + quote[1]
        group = quote[0] + self.finder.model(GROUP_TYPE)._meta.table_name + quote[1]
        marks = ", ".join(db.param for _ in by_id)
        sql = f"""
            WITH RECURSIVE chain(member_id, group_pk, direct) AS (
                SELECT member_id, group_id, 1 FROM {membership}
                 WHERE org_id = {db.param} AND member_id IN ({marks})
                UNION
                SELECT chain.member_id, m.group_id, 0
                  FROM chain JOIN {group} g ON g.pk = chain.group_pk
                  JOIN {membership} m ON m.org_id = g.org_id AND m.member_id = g.id)
            SELECT chain.member_id, g.id, g.data, MAX(chain.direct)
              FROM chain JOIN {group} g ON g.pk = chain.group_pk
             GROUP BY chain.member_id, g.pk ORDER BY g.pk"""
        groups = {}
        display = GROUP_TYPE.display[0]
        # SQL written out (peewee has no recursive CTE over a join), so its
        # organization is named here by hand: ids are unique only within one.
        org = m.scope.get()
        for member_id, group_id, data, direct in db.execute_sql(sql, [org, *by_id]):
            name = json.loads(data).get(display)
            kind = "direct" if direct else "indirect"
            groups.setdefault(by_id[member_id], []).append((group_id, name, kind))
        return groups


class Memberships:
    """Group membership as rows: a change touches only the rows it names,
    whether it comes through the group (members) or, the User.groups quirk,
    through the member."""

    def __init__(self, models, finder, clock):
        self.models, self.finder, self.clock = models, finder, clock

    def resolve_members(self, ids):
        """Member ids as {id: Membership row fields}; an unknown id is 400
        invalidValue (a dangling member would be shown as if it existed)."""
        empty = {rt.member_column: None for rt in RESOURCE_TYPES.values()}
        found = {}
        named = json.dumps(list(set(ids)))
        for rt in RESOURCE_TYPES.values():
            model = self.finder.model(rt)
            for pk, rid in prepared(self.models, ("named", rt.name), lambda: model.select(
                    model.pk, model.id).where(in_slot(self.models, model.id, "ids"))).tuples(
                    ids=named):
                found[rid] = {**empty, "member_type": rt.name, rt.member_column: pk}
        missing = [i for i in ids if i not in found]
        if missing:
            raise invalid_value(f"no User or Group with id '{missing[0]}'")
        return {i: found[i] for i in ids}

    def change_members(self, work, group_row, ops):
        """Membership changes (AddMembers ...) of a group; one event with
        the net change.  True if anything changed."""
        members = _GroupMembers(self, group_row)
        apply_member_changes(ops, members)
        added = [i for i in members.added if i not in members.removed]
        removed = [i for i in members.removed if i not in members.added]
        if added or removed:
            work.record("group.members_changed", group_row.id, added=added, removed=removed)
        return bool(added or removed)

    def change_groups_of_member(self, work, row, ops):
        """Quirk, Bruno's SCIM docs: membership written through the user,
        PATCH /Users/{id} {"op": "Add", "path": "groups", "value": [{"value":
        groupId}]}.  RFC 7643 makes User.groups readOnly; scimlite accepts it
        and changes the named groups' members (docs/reading-clients.md;
        tests/test_patch.py)."""
        groups = _DirectGroups(self.finder.direct_groups(row.id), self._check_groups)
        apply_member_changes(ops, groups)
        Table.set_in_group(row, bool(groups.target))
        for gid in sorted(groups.target ^ groups.before):
            group = self.finder.get(GROUP_TYPE, gid, lock=True)
            change = AddMembers if gid in groups.target else RemoveMembers
            if self.change_members(work, group, [change((row.id,))]):
                self._touch(group)


    def _check_groups(self, ids):
        """Every id names a Group (each op of the User.groups quirk is checked
        as it comes, even if a later op undoes it)."""
        model, ids = self.finder.model(GROUP_TYPE), list(dict.fromkeys(ids))
        found = {i for (i,) in prepared(self.models, "groups named", lambda: model.select(
            model.id).where(in_slot(self.models, model.id, "ids"))).tuples(
                ids=json.dumps(ids))}
        missing = [i for i in ids if i not in found]
        if missing:
            raise invalid_value(f"no Group with id '{missing[0]}'")

    def _touch(self, row):
        model = type(row)
        row.version, row.last_modified = row.version + 1, self.clock.now_text()
        model.update(version=row.version, last_modified=row.last_modified).where(
            model.pk == row.pk).execute()


def _password_hash(password, hashed=None):
    """What is stored for a password a request sent: None (unchanged),
    CLEARED for "" or a PATCH remove (no password), or its hash (found in
    `hashed`, {password: hash}, when it was made before the write queue)."""
    if password in (None, CLEARED):
        return password
    return (hashed or {}).get(password) or hash_password(password)


class _GroupMembers(Members):
    """A group's membership rows, as membership changes change them: only
    the rows named are read or written (a 100,000-member group is not read
    to add one member)."""

    def __init__(self, memberships, group_row):
        self.memberships, self.group = memberships, group_row
        self.M = memberships.models.Membership
        self.added, self.removed = [], []

    def ids(self):
        M = self.M
        return {mid for (mid,) in M.select(M.member_id).where(M.group == self.group.pk).tuples()}

    def _present(self, ids):
        """Which of `ids` are members now, in the order given."""
        M = self.M
        models = self.memberships.models
        there = {mid for (mid,) in prepared(models, "members named", lambda: (
            M.select(M.member_id).where((M.group == slot("group")) &
                                        in_slot(models, M.member_id, "ids")))).tuples(
            group=self.group.pk, ids=json.dumps(list(ids)))}
        return [mid for mid in ids if mid in there]

    def add(self, ids):
        """Insert only the members not there yet."""
        M, resolved = self.M, self.memberships.resolve_members(ids)
        existing = set(self._present(list(resolved)))
        new = [mid for mid in resolved if mid not in existing]
        fields = ("member_id", "member_type",
                  *(rt.member_column for rt in RESOURCE_TYPES.values()))
        if new:
            prepared(self.memberships.models, "add members", lambda: M.insert_from(
                rows_slot(self.memberships.models, "rows",
                          ["text", "text"] + ["int"] * (len(fields) - 2)).select_extend(
                    slot("group")),
                [getattr(M, f) for f in fields] + [M.group])).run(
                rows=json.dumps([[mid, *(resolved[mid][f] for f in fields[1:])]
                                 for mid in new]), group=self.group.pk)
        self.added += new

    def remove(self, ids):
        """Delete only the listed members that are there."""
        M, models = self.M, self.memberships.models
        hit = self._present(list(dict.fromkeys(ids)))
        if hit:
            prepared(models, "remove members", lambda: M.delete().where(
                (M.group == slot("group")) & in_slot(models, M.member_id, "ids"))).run(
                group=self.group.pk, ids=json.dumps(hit))
        self.removed += hit

    def select(self, node):
        """Ids of the members a value filter (members[value eq "…"]) selects."""
        table = self.memberships.finder.tables[GROUP_TYPE.name]
        path = AttrPath(GROUP_TYPE.schema, GROUP_TYPE.members_attr)
        elements = table.elements(path, subs_used(node))
        M = self.M
        return [mid for (mid,) in M.select(M.member_id).where(
            (M.group == self.group.pk) & element_sql(node, elements)).tuples()]


class _DirectGroups(Members):
    """The groups a resource is directly in, as membership changes change
    them (the User.groups quirk); applied to the groups afterwards."""

    def __init__(self, group_ids, check):
        self.before, self.target = set(group_ids), set(group_ids)
        self.check = check

    def ids(self):
        return set(self.target)

    def add(self, ids):
        self.check(ids)
        self.target |= set(ids)

    def remove(self, ids):
        self.target -= set(ids)

    def select(self, node):
        return [gid for gid in self.target
                if matches_element(node, {"value": gid, "type": "direct"})]

class Resources:
    """Users and Groups: the service behind the SCIM routes, /Bulk, import
    and the admin pages.  Each write (create, replace, patch, delete) is
    one unit of work (see Events): queued, one transaction, its events
    recorded inside it; nothing slow inside (a password is hashed before).
    Reading is the Finder's, rendering the Views', group membership the
    Memberships'; the ones the routes use are reached from here too.
    """

    def __init__(self, models, changes, clock=None):
        self.models, self.changes, self.clock = models, changes, clock or Clock()
        self.finder = Finder(models)
        self.views = Views(models, self.finder)
        self.memberships = Memberships(models, self.finder, self.clock)
        self.tables, self.model, self.get = self.finder.tables, self.finder.model, self.finder.get
        self.search, self.page_after = self.finder.search, self.finder.page_after
        self.render, self.render_with_etags = self.views.render, self.views.render_with_etags
        self.etag, self.check_if_match = self.views.etag, self.views.check_if_match

    def _columns(self, rt, data):
        """The indexed copies of JSON values (Attr.column), folded where the
        attribute ignores case, so that filters and uniqueness use an index."""
        return {attr.column: fold(data.get(attr.name), attr)
                for attr in (*rt.schema.attributes, *COMMON_ATTRIBUTES)
                if attr.storage == "json" and attr.column is not None}

    def _check_unique(self, rt, columns, pk=None):
        """RFC 7644 §3.3: a clash on a server-unique attribute is 409 uniqueness."""
        model = self.model(rt)
        for attr in rt.schema.attributes:
            if attr.uniqueness == "server" and attr.column in columns:
                column = getattr(model, attr.column)
                clash = prepared(self.models, ("clash", rt.name, attr.column), lambda: (
                    model.select(model.pk).where((column == slot("key")) &
                                                 (model.pk != slot("pk"))).limit(1)))
                if clash.scalar(key=columns[attr.column], pk=pk or 0) is not None:
                    raise SCIMError.of("uniqueness", f"a {rt.name} with this {attr.name} "
                                                     f"already exists")

    def _sync_index_rows(self, rt, row, data, old):
        """Rewrite the index rows (Attr.index) of an attribute's `value`s,
        if they changed from `old` (None: a new row, which has none)."""
        for attr in rt.schema.attributes:
            if attr.index is None:
                continue
            index, value = getattr(self.models, attr.index), attr.child("value")
            keys = {fold(e["value"], value) for e in data.get(attr.name) or [] if "value" in e}
            if old is not None:
                if keys == {fold(e["value"], value) for e in old.get(attr.name) or []
                            if "value" in e}:
                    continue
                index.delete().where(index.owner == row.pk).execute()
            add = prepared(self.models, ("index row", attr.index), lambda: index.insert(
                {index.owner: slot("owner"), index.value_key: slot("key")}))
            for key in sorted(keys):
                add.run(owner=row.pk, key=key)

    def _read_body(self, rt, body):
        """(data, member ids or None, password or None) of a POST/PUT body."""
        data, password = read_resource(rt, body)
        members = rt.members_attr and data.pop(rt.members_attr.name, None)
        check_required(rt, apply_defaults(rt, data))
        ids = member_ids_of(members) if rt.members_attr else None
        return data, ids, password

    def create(self, rt, body, actor, kept=None):
        """POST (RFC 7644 §3.3).  `kept`: the id, created and lastModified of
        a resource being imported (see Transfer), kept as they were; or
        who added a user by hand (added_by)."""
        data, members, password = self._read_body(rt, body)
        password_hash = _password_hash(password)   # before the write queue
        kept = kept or {}

        def write(work):
            columns = self._columns(rt, data)
            self._check_unique(rt, columns)
            if password_hash:
                columns[rt.password_attr.column] = password_hash
            if kept.get("added_by"):
                columns["added_by"] = kept["added_by"]
            resource_id = kept.get("id") or self._new_id(rt)
            if kept.get("id") and self.finder.id_taken(rt, resource_id):
                raise SCIMError.of("uniqueness", f"a {rt.name} with id {resource_id} exists")
            stamp = self.clock.now_text()
            row = save_row(self.models, self.model(rt)(
                id=resource_id, data=json.dumps(data), created=kept.get("created") or stamp,
                last_modified=kept.get("last_modified") or stamp, **columns))
            Table.set_in_group(row, False)      # a new resource is in no group
            self._sync_index_rows(rt, row, data, None)
            # A password set is named as PUT and PATCH name it (update),
            # never its value (RFC 9967 Figure 5 names it too).
            work.record(f"{rt.name.lower()}.created", row.id, row,
                        attributes=changed_attributes({}, data) + (
                            [rt.password_attr.name] if password_hash else []))
            if members:
                self.memberships.change_members(work, row, [AddMembers(tuple(members))])
            return row
        return self.changes.run(write, actor)

    def replace(self, rt, resource_id, body, actor, if_match=None):
        """PUT (RFC 7644 §3.5.1): the body replaces every writable attribute.

        readOnly attributes in the body (id, meta, groups) are ignored, so a
        client may PUT back what it read (Okta's AIW apps do).  A password left
        out keeps the stored one: clients cannot echo a writeOnly value.
        """
        data, members, password = self._read_body(rt, body)
        if password:        # a PUT bound to fail (404, 412) costs no hash
            self.check_if_match(rt, self.get(rt, resource_id), if_match)
        password_hash = _password_hash(password)   # before the write queue

        def write(work):
            row = self.get(rt, resource_id, lock=True)
            self.check_if_match(rt, row, if_match)
            check_immutable(rt, json.loads(row.data), data)
            touched = members is not None and self.memberships.change_members(
                work, row, [ReplaceMembers(tuple(members))])
            self.update(work, rt, row, data, password_hash, touched=touched, via="put")
            return row
        return self.changes.run(write, actor)

    def patch(self, rt, resource_id, body, actor, if_match=None):
        """PATCH (RFC 7644 §3.5.2): every operation applies, or none does.

        Every path is parsed once, before the write queue; so is the
        password a PATCH sets, which is hashed there too: scrypt takes tens
        of milliseconds, which no other writer should wait for."""
        steps = patch_steps(rt, read_patch_request(body))
        password, hashed = patched_password(steps), {}
        if password not in (None, CLEARED):     # a PATCH bound to fail costs no hash
            self.check_if_match(rt, self.get(rt, resource_id), if_match)
            hashed[password] = hash_password(password)

        def write(work):
            row = self.get(rt, resource_id, lock=True)
            self.check_if_match(rt, row, if_match)
            patch = Patch(rt, json.loads(row.data)).run(steps)
            data = patch.finish()
            touched = False
            if patch.member_changes and rt.members_attr:
                touched = self.memberships.change_members(work, row, patch.member_changes)
            elif patch.member_changes:
                self.memberships.change_groups_of_member(work, row, patch.member_changes)
            # What the run set is stored; hashed before the queue, if the
            # steps said the same (patched_password), else hashed here.
            self.update(work, rt, row, data, _password_hash(patch.password, hashed),
                        touched=touched)
            return row
        return self.changes.run(write, actor)

    def update(self, work, rt, row, data, password_hash, touched=False, via="patch"):
        """Store `data` as the row's new attributes, if anything changed.

        The one write path of PUT and PATCH: nothing changed, nothing written
        (meta.version and lastModified stay).  `touched` says that members
        changed, which is a change of the group.  password_hash: None keeps
        the password, "" (CLEARED) removes it.  `via`: put or patch, as the
        events say (RFC 9967 tells them apart).
        """
        old = json.loads(row.data)
        if old == data and password_hash is None and not touched:
            return False
        self._store(rt, row, old, data, password_hash)
        events, changes = change_events(rt, old, data)
        if password_hash is not None:
            changes.append(rt.password_attr.name)
            events = events or [f"{rt.name.lower()}.updated"]
        for event in events:
            work.record(event, row.id, row, attributes=changes, via=via)
        if set(rt.display) & set(changes) and Table.may_be_in_a_group(row):
            self._touch_holders(row.id)     # their members[].display changed
        return True

    def _store(self, rt, row, old, data, password_hash):
        """Write what changed: the JSON, meta, and the indexed copies that
        differ (a uniqueness check only for a value that changed)."""
        columns = self._columns(rt, data)
        if password_hash is not None:
            columns[rt.password_attr.column] = password_hash or None
        columns = {name: value for name, value in columns.items()
                   if getattr(row, name) != value}
        self._check_unique(rt, columns, row.pk)
        text = json.dumps(data)
        if text != row.data:        # a group whose members alone changed keeps it
            row.data = text
        row.version, row.last_modified = row.version + 1, self.clock.now_text()
        for name, value in columns.items():
            setattr(row, name, value)
        save_row(self.models, row)
        self._sync_index_rows(rt, row, data, old)

    def _touch_holders(self, member_id):
        """Move the version of every group that lists `member_id` directly."""
        G, M = self.model(GROUP_TYPE), self.models.Membership
        # A group that contains itself was just written: it is not touched twice.
        G.update(version=G.version + 1, last_modified=self.clock.now_text()).where(
            G.pk.in_(M.select(M.group).where(M.member_id == member_id)) &
            (G.id != member_id)).execute()

    def delete(self, rt, resource_id, actor, if_match=None):
        """DELETE (RFC 7644 §3.6); membership rows go with the resource."""
        def write(work):
            row = self.get(rt, resource_id, lock=True)
            self.check_if_match(rt, row, if_match)
            holders = self.finder.direct_groups(row.id)
            self._touch_holders(row.id)     # one UPDATE for all its groups
            row.delete_instance()
            for group_id in holders:
                work.record("group.members_changed", group_id, added=[], removed=[row.id])
            external_id = json.loads(row.data).get("externalId")
            work.record(f"{rt.name.lower()}.deleted", row.id,
                        **({"external_id": external_id} if external_id else {}))
        self.changes.run(write, actor)

    def _new_id(self, rt):
        """A fresh id; a counted one (deterministic) skips ids a database
        opened again already holds."""
        while True:
            resource_id = self.clock.new_id()
            if not self.clock.deterministic or not any(
                    self.finder.id_taken(t, resource_id) for t in RESOURCE_TYPES.values()):
                return resource_id


###############################################################################
# Log: the provisioning log, the audit trail, request metrics #################
###############################################################################

LOGGED_BODY_CHARS = 65536       # a logged request or response body is cut here
REDACTED = "[redacted]"


def _names_password(key):
    """"password", "PASSWORD", "urn:...:User:password": any spelling a
    server would read as the password attribute."""
    return key.rsplit(":", 1)[-1].lower() == "password"


def redact(value):
    """A copy of a JSON body with secrets replaced: every value under a key
    that names a password, and the value of a PATCH operation whose path
    names one."""
    if isinstance(value, list):
        return [redact(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        out[key] = REDACTED if _names_password(key) else redact(item)
    path = next((v for k, v in value.items() if k.lower() == "path"), None)
    if isinstance(path, str) and "password" in path.lower():
        out.update({k: REDACTED for k in value if k.lower() == "value"})
    return out


def loggable_body(raw, limit=LOGGED_BODY_CHARS * 4):
    """A body as the log keeps it: redacted JSON, cut short.  A body that is
    not JSON, too deep or longer than `limit` is not kept: its secrets could
    not be found to redact (a JSON escape can spell "password")."""
    if not raw:
        return None
    if len(raw) >= limit:
        return "[not kept: too large to redact]"
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        parsed = json.loads(text)
        # A body that cannot spell "password" (no such word, no \u escape:
        # the others spell no letter) has nothing to redact: kept as sent,
        # not walked (a 1,000-member group).
        if "password" in text.lower() or "\\u" in text:
            text = json.dumps(redact(parsed), ensure_ascii=False)
    except (ValueError, RecursionError):
        return "[not kept: not JSON, so secrets could not be redacted]"
    return text[:LOGGED_BODY_CHARS]


def summarize(status, events, error_detail):
    """The one line an administrator reads: what changed, or the error as
    the client saw it."""
    if status >= 400:
        return error_detail or f"HTTP {status}"
    parts = []
    for event in events:
        attributes = json.loads(event.detail).get("attributes")
        parts.append(event.type + (f" ({', '.join(attributes)})" if attributes else ""))
    return "; ".join(parts) or "no change"


class ProvisioningLog:
    """SCIM requests as the admin page shows them (like Entra's provisioning
    logs, from the service provider's side).

    Requests that changed something or failed are kept one by one; reads
    are counted per day and key, and kept one by one only with
    `log_reads`.  Entries wait in memory and are written in one
    transaction by a background worker (at most a second later) or before
    the admin page reads them, so logging never makes a SCIM request wait
    for a turn in the write queue.  Retention (`log_retention_days`,
    `log_max_rows`, and the events') is applied by every flush the admin
    page asks for, and by the worker's at most once a minute: finding where
    the newest log_max_rows begin reads that many keys (event_max_rows: a
    million) while every writer waits for the queue.
    """
    FLUSH_SECONDS = 1.0
    RETENTION_SECONDS = 60.0
    KEYLESS_ROWS = 1000     # at most this many requests without a valid key

    def __init__(self, changes, settings, workers):
        self.changes, self.models, self.settings = changes, changes.models, settings
        self.workers = workers
        self.pending, self.reads = collections.deque(), collections.Counter()
        self.last_request = {}          # org -> what the dashboard shows, reads included
        self._mutex, self._flushing = threading.Lock(), threading.Lock()
        self._worker, self._retained = None, -self.RETENTION_SECONDS

    def note(self, entry, is_read):
        """Note a request (the dashboard's last request, the daily count of
        reads); whether it is to be kept one by one (see keep())."""
        self.last_request[entry["org"]] = _storable(entry)
        with self._mutex:
            self._start_worker()
            if is_read and entry["status"] < 400:
                self.reads[(entry["org"], entry["at"][:10], entry["key_name"] or "")] += 1
                return self.settings["log_reads"]
            return True

    def keep(self, entry):
        with self._mutex:
            self._start_worker()
            self.pending.append(_storable(entry))

    def forget(self, org):
        """Drop what is kept in memory of organization `org` (deleted)."""
        with self._mutex:
            self.last_request.pop(org, None)
            self.pending = collections.deque(e for e in self.pending if e["org"] != org)
            for key in [k for k in self.reads if k[0] == org]:
                del self.reads[key]

    def _start_worker(self):
        if self._worker is None:
            self._worker = self.workers.start(
                "provisioning-log", self._scheduled_flush, self.FLUSH_SECONDS,
                on_commit=False)

    def flush(self, retain=True):
        """Write what waits; apply retention.  One flush at a time: the admin
        page's flush waits for the worker's in progress, so that what it
        then reads includes every request made before it."""
        with self.changes.lock, self._flushing:   # always in this order: no deadlock
            self._flush(retain)

    def _scheduled_flush(self):
        self.flush(retain=time.monotonic() - self._retained >= self.RETENTION_SECONDS)

    def _flush(self, retain):
        with self._mutex:
            entries, self.pending = list(self.pending), collections.deque()
            reads, self.reads = self.reads, collections.Counter()
        if not entries and not reads and not retain:
            return
        m = self.models
        with self.changes.unit():
            # Every writer waits while this runs: one statement built once,
            # run for all rows (a second's 500 writes took 30-50 ms as
            # insert_many, which builds its SQL afresh, and were the p99).
            if entries:         # each entry holds every column (log_request)
                prepared(m, "log entry", lambda: m.RequestLog.insert(
                    {field: slot(field.name) for field in m.RequestLog._meta.sorted_fields
                     if not field.primary_key})).run_many(entries)
            for (org, day, key_name), count in reads.items():
                m.ReadCount.insert(org=org, day=day, key_name=key_name, count=count).on_conflict(
                    conflict_target=[m.ReadCount.org, m.ReadCount.day, m.ReadCount.key_name],
                    update={m.ReadCount.count: m.ReadCount.count + count}).execute()
            if retain:
                self._apply_retention()
                self._retained = time.monotonic()

    def _apply_retention(self):
        RequestLog = self.models.RequestLog
        days = self.settings["log_retention_days"]
        cutoff = format_datetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days))
        RequestLog.delete_everywhere().where(RequestLog.at < cutoff).execute()
        # Caps per organization: a busy one never pushes a quiet one's
        # history out.
        for org in organizations_in(RequestLog):
            mine = RequestLog.org == org
            keep_newest(RequestLog, self.settings["log_max_rows"], mine)
            # Requests with no valid key cost nothing to send: their own smaller
            # cap, so they can never push the real provisioning history out.
            keep_newest(RequestLog, self.KEYLESS_ROWS, mine & RequestLog.key_name.is_null())
        ReadCount = self.models.ReadCount
        ReadCount.delete_everywhere().where(ReadCount.day < cutoff[:10]).execute()
        self._apply_event_retention()

    def _apply_event_retention(self):
        """Events are kept event_retention_days and at most event_max_rows,
        the oldest going first (an event's pk never comes back: only the
        oldest are deleted)."""
        Event = self.models.Event
        days = self.settings["event_retention_days"]
        cutoff = format_datetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days))
        Event.delete_everywhere().where(Event.at < cutoff).execute()
        for org in organizations_in(Event):
            keep_newest(Event, self.settings["event_max_rows"], Event.org == org)
        # Security events (RFC 9967): acknowledged ones after
        # set_retention_days (RFC 8936 §2: once acknowledged, the transmitter
        # need keep a SET no longer); others with the events they tell of.
        SET = self.models.SecurityEvent
        acked = format_datetime(dt.datetime.now(dt.timezone.utc) -
                                dt.timedelta(days=self.settings["set_retention_days"]))
        SET.delete_everywhere().where((SET.acked.is_null(False) & (SET.acked < acked)) |
                                      (SET.created < cutoff)).execute()


def organizations_in(model):
    """The organizations that have rows of an organization's model."""
    return [org for (org,) in model.everywhere(model.org).distinct().tuples()]


def keep_newest(model, rows, where=SQL_TRUE):
    """Delete all but the newest `rows` rows of an organization's model, of
    every organization (retention is the install's), of those `where`
    selects: finding where they begin reads that many keys, from the newest."""
    keep_from = (model.everywhere(model.pk).where(where).order_by(model.pk.desc())
                 .offset(rows).limit(1).scalar())
    if keep_from is not None:
        model.delete_everywhere().where(where & (model.pk <= keep_from)).execute()


def _storable(entry):
    # Lone surrogates (from JSON escapes in a refused body) are not text
    # SQLite can store: kept as their escapes.
    return {k: v.encode("utf-8", "backslashreplace").decode("utf-8")
            if isinstance(v, str) else v for k, v in entry.items()}


def record_audit(changes, action, client, **detail):
    """One admin action in the audit trail (login, setup, a key minted...)."""
    org = changes.models.scope.entered      # None: the install's own (a password)
    with changes.unit():
        changes.models.Audit.create(at=now_text(), action=action, client=client,
                                    org=org and org.id,
                                    detail=json.dumps(detail, sort_keys=True))


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Counts of one app's requests, for GET /metrics: by route (the
    route's pattern, so ids never become labels), method and status, and
    a latency histogram.  In memory: they start again with the process."""

    def __init__(self):
        self.requests = collections.Counter()       # (route, method, status) -> n
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.seconds, self.count = 0.0, 0
        self._mutex = threading.Lock()

    def observe(self, route, method, status, seconds):
        with self._mutex:
            self.requests[(route, method, status)] += 1
            self.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self.seconds, self.count = self.seconds + seconds, self.count + 1

    def lines(self):
        with self._mutex:
            requests, buckets = dict(self.requests), list(self.buckets)
            seconds, count = self.seconds, self.count
        yield "# HELP scimlite_requests_total HTTP requests answered, by route pattern."
        yield "# TYPE scimlite_requests_total counter"
        for (route, method, status), n in sorted(requests.items(), key=str):
            labels = prometheus_labels(route=route, method=method, status=status)
            yield f"scimlite_requests_total{{{labels}}} {n}"
        yield "# HELP scimlite_request_duration_seconds Time to answer a request."
        yield "# TYPE scimlite_request_duration_seconds histogram"
        total = 0
        for bound, n in zip((*LATENCY_BUCKETS, "+Inf"), buckets):
            total += n
            yield f'scimlite_request_duration_seconds_bucket{{le="{bound}"}} {total}'
        yield f"scimlite_request_duration_seconds_sum {seconds:.6f}"
        yield f"scimlite_request_duration_seconds_count {count}"


def prometheus_labels(**labels):
    def escape(value):
        return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return ",".join(f'{name}="{escape(value)}"' for name, value in labels.items())


###############################################################################
# Licenses: keys, seats, one license per user, the verify answer ##############
###############################################################################

# A key is five groups of five characters from 31 that cannot be taken for
# one another (no 0/O, 1/I/L): 24 of them carry 118 bits, the 25th is a
# check character.  ABCDE-FGHJK-MNPQR-STUVW-XYZ23, typed in any case.
LICENSE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LICENSE_GROUP_CHARS = 5
LICENSE_CHARS = 25
def organization_verify_code(org, today):
    """What every license of an organization verifies as, whatever its own
    state, or None: SUSPENDED while the operator has suspended it, EXPIRED
    after the subscription's last day (`ends`, a date: text compares as dates)."""
    if org.state == "suspended":
        return "SUSPENDED"
    if org.ends and org.ends < today:
        return "EXPIRED"
    return None


# What POST /api/licenses/verify answers for a license in each state.
VERIFY_CODES = {"active": "VALID", "suspended": "SUSPENDED", "waiting": "SUSPENDED",
                "revoked": "REVOKED"}
SECRET_FINGERPRINT_OPTION = "license_secret_fingerprint"
def license_check_char(body):
    """The check character of a key's first 24 characters: their values
    weighted by position, modulo 31.  31 is a prime above every weight, so
    one wrong character or two neighbours swapped always change it: a typo
    is refused without a lookup."""
    total = sum(i * LICENSE_ALPHABET.index(c) for i, c in enumerate(body, 1))
    return LICENSE_ALPHABET[total % len(LICENSE_ALPHABET)]


def license_key_from(digest):
    """A key's 25 characters made from 32 random bytes: 24 base-31 digits
    (2^256 is so far above 31^24 that every digit is as good as uniform)
    and the check character."""
    number, body = int.from_bytes(digest, "big"), ""
    for _ in range(LICENSE_CHARS - 1):
        number, digit = divmod(number, len(LICENSE_ALPHABET))
        body += LICENSE_ALPHABET[digit]
    return body + license_check_char(body)


def group_license_key(compact):
    size = LICENSE_GROUP_CHARS
    return "-".join(compact[i:i + size] for i in range(0, len(compact), size))


def parse_license_key(text):
    """A key as typed (any case, dashes and spaces anywhere) as its 25
    characters; None when it cannot be a key: wrong length, a character
    outside the alphabet, or a check character that does not match."""
    if not isinstance(text, str) or len(text) > 4 * LICENSE_CHARS:
        return None
    compact = re.sub(r"[\s-]", "", text).upper()
    if len(compact) != LICENSE_CHARS or set(compact) - set(LICENSE_ALPHABET):
        return None
    return compact if license_check_char(compact[:-1]) == compact[-1] else None


def derive_secret(secret, *purpose):
    """32 bytes for one purpose (a license's key, the webhook secret),
    derived from the app's secret with HMAC-SHA256: nothing derived is
    stored, and none of it can be made without the secret."""
    message = "\0".join(str(part) for part in purpose).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).digest()


def license_secret_path(settings):
    return settings["db"] + ".secret"


def load_license_secret(settings):
    """The secret license keys and the webhook secret are derived from.

    It is kept outside the database, so that the database alone (a stolen
    copy, a leaked backup) gives no working key: `license_secret` when set,
    else a file beside the database, made on first start and readable by
    its owner only.  An in-memory database gets a fresh one.  PostgreSQL
    has no file beside it, and its instances must share one secret: there
    `license_secret` (SCIMLITE_LICENSE_SECRET) is required.
    """
    if settings["license_secret"]:
        return settings["license_secret"].encode("utf-8")
    if settings["db"] == ":memory:":
        return secrets.token_hex(32).encode("ascii")
    assert not is_postgres(settings["db"]), "check_settings requires license_secret"
    path = license_secret_path(settings)
    if not os.path.exists(path):
        # Written whole under another name, then linked: a process starting
        # beside this one reads the whole secret or makes none of its own.
        draft = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    text = Path(path).read_text("utf-8").strip()
    if len(text) < 32:
        raise StartError(f"{path}: the license secret is shorter than 32 characters")
    return text.encode("utf-8")


CONTACT_ATTRIBUTES = frozenset({"userName", "emails", "name", "displayName"})


def user_contact(data):
    """Whom a user's mail goes to and by which name: the work email, else
    the primary one, else the userName when it is an address, else the
    first email.  Kept on the license, since a revoked user is gone."""
    user_name = data.get("userName") or ""
    emails = [e for e in data.get("emails") or []
              if isinstance(e, dict) and is_address(e.get("value"))]
    chosen = (next((e for e in emails if str(e.get("type", "")).lower() == "work"), None)
              or next((e for e in emails if e.get("primary") is True), None))
    if chosen is not None:
        address = chosen["value"]
    elif is_address(user_name):
        address = user_name
    else:
        address = emails[0]["value"] if emails else None
    name = data.get("name") or {}
    full = " ".join(filter(None, (name.get("givenName"), name.get("familyName"))))
    display = data.get("displayName") or name.get("formatted") or full or user_name
    return {"user_name": user_name, "email": address, "display_name": display}


class Licenses:
    """One license per user that has been active: issued (a key mailed)
    when the user becomes active, suspended while the user is inactive,
    restored with the same key, revoked when the user is deleted.

    It follows the users through the event seam: its handlers run inside
    the transaction of the change, so no license outlives a change that
    was rolled back, and each transition records a license.* event of its
    own (which the outbox turns into mail).  A key is never stored: it is
    derived from the secret, the license's random uid and its generation,
    and the row keeps a keyed hash to find it by.

    Seats (`license_seats`, 0: no limit): a user who becomes active when
    every seat is taken is created all the same (an IdP's sync must not
    fail for a business rule) and waits; the oldest waiting user gets the
    next seat that frees.  Lowering the limit takes no key back.
    """

    def __init__(self, changes, settings, secret):
        self.models, self.settings, self.secret = changes.models, settings, secret
        changes.subscribe("user.created", self._on_active)
        changes.subscribe("user.reactivated", self._on_active)
        changes.subscribe("user.updated", self._on_updated)
        changes.subscribe("user.deactivated", self._on_deactivated)
        changes.subscribe("user.deleted", self._on_deleted)
        self.changes = changes

    def catch_up(self):
        """At start, once every subscriber listens (the outbox's too):
        check the secret, issue what the stored users are owed, in every
        organization."""
        with self.changes.unit() as work:
            # Instances starting together on PostgreSQL take turns (so would
            # they at the fingerprint's row below, but only by chance).
            self.models.dialect.hold(self.models.db, SEATS_LOCK)
            self._check_secret()
            for org in organizations(self.models):
                with self.models.scope.of(org):
                    self._fill_seats(work)      # the limit may have been raised
                    self._license_unlicensed(work)

    def _check_secret(self):
        """Refuse to start with a secret other than the one the stored
        licenses were made with: not one of their keys would verify."""
        fingerprint = derive_secret(self.secret, "fingerprint").hex()[:16]
        stored = get_option(self.models, SECRET_FINGERPRINT_OPTION, None)
        if stored not in (None, fingerprint) and self.models.License.everywhere().exists():
            raise StartError(
                "the license secret is not the one this database's licenses were made "
                f"with (see license_secret, or the file {license_secret_path(self.settings)}"
                "); restore it, or no license key will verify")
        set_option(self.models, SECRET_FINGERPRINT_OPTION, fingerprint)

    # Keys -------------------------------------------------------------------

    def key_of(self, license):
        """The license's key, as the user is mailed it (grouped)."""
        digest = derive_secret(self.secret, "license-key", license.uid, license.generation)
        return group_license_key(license_key_from(digest))

    def key_hash(self, compact):
        return hmac.new(self.secret, b"license-verify\0" + compact.encode("ascii"),
                        hashlib.sha256).hexdigest()

    def verify(self, text):
        """What POST /api/licenses/verify answers about a key.  A malformed
        key needs no lookup; an unknown key and a wrong one cost the same."""
        compact = parse_license_key(text)
        if compact is None:
            return {"valid": False, "active": False, "code": "MALFORMED"}
        License = self.models.License        # keys are unique in the install
        row = License.everywhere().where(License.key_hash == self.key_hash(compact)).first()
        if row is None:
            return {"valid": False, "active": False, "code": "NOT_FOUND"}
        Organization = self.models.Organization
        org = prepared(self.models, "organization by id", lambda: Organization.select().where(
            Organization.id == slot("id"))).first(id=row.org)
        code = organization_verify_code(org, self.clock_today()) or VERIFY_CODES[row.status]
        answer = {"valid": code == "VALID", "active": code == "VALID", "code": code,
                  "organization": {"slug": org.slug, "name": org.name}}
        if answer["valid"]:
            answer.update(userName=row.user_name, email=row.email)
        return answer

    @staticmethod
    def clock_today():
        return now_text()[:10]      # YYYY-MM-DD, in UTC

    def of_user(self, user_id):
        License = self.models.License
        return prepared(self.models, "license of user", lambda: License.select().where(
            License.user_id == slot("user"))).first(user=user_id)

    def reissue(self, user_id, actor=None):
        """A new key for an active license (the old one leaked or was lost):
        the old key stops verifying at once and the user is mailed the new."""
        with self.changes.unit(actor) as work:
            license = self.of_user(user_id)
            if license is None or license.status != "active":
                raise ValueError("only an active license can get a new key")
            license.generation += 1
            license.key_hash = self.key_hash(self.key_of(license).replace("-", ""))
            self._move(work, license, "active", "license.issued", "issued")

    def counts(self):
        """{status: how many}, and the seat limit, for the dashboard."""
        License = self.models.License
        rows = License.select(License.status, fn.COUNT(License.pk).alias("n")).group_by(
            License.status).tuples()
        return {"seats": self.seats(), **{s: 0 for s in VERIFY_CODES}, **dict(rows)}

    def seats(self):
        """The current organization's seats (0: no limit): its own, or
        else the license_seats setting."""
        seats = self.models.scope.current.seats
        return self.settings["license_seats"] if seats is None else seats

    # Transitions ------------------------------------------------------------

    def _on_active(self, work, event):
        User = self.models.User
        user = event.subject or User.get_or_none(User.id == event.resource_id)
        if user is None or user.active is False:
            return
        contact = user_contact(json.loads(user.data))
        # A user just created has no license yet: no need to look.
        license = None if event.type == "user.created" else self.of_user(user.id)
        if license is None:     # saved (one INSERT) by the transition below
            license = self.models.License(
                uid=secrets.token_hex(16), user_id=user.id, status="new",
                created=now_text(), updated=now_text(), **contact)
        elif license.status in ("active", "waiting"):
            return
        self._update_contact(license, contact)
        self._seat(work, license)

    @staticmethod
    def _update_contact(license, contact):
        """The address as the change left it: a request that changes the
        address and the user's state mails the new address."""
        for name, value in contact.items():
            setattr(license, name, value)

    def _license_unlicensed(self, work):
        """Active users without a license get one: those stored before
        scimlite had licenses (an upgrade mails them their keys)."""
        User, License = self.models.User, self.models.License
        unlicensed = User.select().where(
            (User.active != False) & User.id.not_in(License.select(License.user_id)))  # noqa: E712
        issued = 0
        for user in unlicensed.order_by(User.pk):
            self._on_active(work, types.SimpleNamespace(
                type="user.created", resource_id=user.id, subject=user))
            issued += 1
        if issued:
            log.warning("%d active users stored before scimlite had licenses get one "
                        "now, and its mail", issued)

    def _on_updated(self, work, event):
        """Keep the name and address the next mail goes to."""
        User, License = self.models.User, self.models.License
        if not CONTACT_ATTRIBUTES & set(json.loads(event.detail).get("attributes", ())):
            return      # user_contact() reads only these
        user = event.subject or User.get_or_none(User.id == event.resource_id)
        if user is None:
            return
        contact = user_contact(json.loads(user.data))
        # Only a license whose contact differs is written.  `IS`: equal, or
        # both NULL (a user with no address).
        def build():
            same = functools.reduce(operator.and_, (
                peewee.Expression(getattr(License, k), self.models.dialect.same, slot(k))
                for k in contact))
            return License.update({getattr(License, k): slot(k) for k in contact}).where(
                (License.user_id == slot("user")) & ~same)
        prepared(self.models, "license contact", build).run(user=user.id, **contact)

    def _on_deactivated(self, work, event):
        license = self.of_user(event.resource_id)
        if license is None or license.status in ("suspended", "revoked"):
            return
        if event.subject is not None:
            self._update_contact(license, user_contact(json.loads(event.subject.data)))
        if license.status == "waiting":
            # Never given a key: nothing to suspend.  Given one before, then
            # reactivated while every seat was taken: suspended still, quietly.
            if license.generation == 0:
                license.delete_instance()
            else:
                self._move(work, license, "suspended", None, "suspended")
            return
        self._move(work, license, "suspended", "license.suspended", "suspended")
        self._seat_freed(work)

    def _on_deleted(self, work, event):
        license = self.of_user(event.resource_id)
        if license is None or license.status == "revoked":
            return
        if license.generation == 0:
            license.delete_instance()       # it only waited: no key to revoke
            return
        had_seat = license.status == "active"
        self._move(work, license, "revoked", "license.revoked", "revoked")
        if had_seat:
            self._seat_freed(work)

    def _seat(self, work, license):
        """Give the license a seat (issue its key, or restore it), or let
        it wait for one."""
        if not self._seat_free():
            if license.status != "waiting":
                self._move(work, license, "waiting", "license.waiting", "waiting_since")
        elif license.generation == 0:
            license.generation = 1
            license.key_hash = self.key_hash(self.key_of(license).replace("-", ""))
            self._move(work, license, "active", "license.issued", "issued")
        else:
            self._move(work, license, "active", "license.restored", "restored")

    def _seat_free(self):
        seats, License = self.seats(), self.models.License
        if not seats:
            return True
        # Instances on PostgreSQL count and take seats one at a time.
        self.models.dialect.hold(self.models.db, SEATS_LOCK)
        return License.select().where(License.status == "active").count() < seats

    def _seat_freed(self, work):
        """A seat came free: the oldest waiting license takes it.  With no
        limit nobody waits (catch_up() seated every waiter at start), so
        there is no one to look for."""
        if self.seats():
            self._fill_seats(work)

    def _fill_seats(self, work):
        License = self.models.License
        while self._seat_free():
            license = License.select().where(License.status == "waiting").order_by(
                License.waiting_since, License.pk).first()
            if license is None:
                return
            self._seat(work, license)

    def _move(self, work, license, status, event_type, stamp):
        """One transition: the new status, its time, and (unless quiet) a
        license.* event with the count of transitions, which makes each one
        a distinct mail (see Outbox)."""
        license.status, license.updated = status, now_text()
        setattr(license, stamp, license.updated)
        if event_type:
            license.transitions += 1
        save_row(self.models, license)
        if event_type:
            work.record(event_type, license.user_id, license, transition=license.transitions)


###############################################################################
# Event feed: changes told as signed SETs (RFC 9967), polled or pushed ########
###############################################################################

# A receiver (an EventStream) is set up by the operator (`event-stream
# create`).  Each change of a user or group is written, in the transaction
# that makes it, as the claims of one Security Event Token (RFC 8417) per
# receiver of its organization: for a poll receiver a SecurityEvent row that
# it fetches and acknowledges (RFC 8936), for a push receiver an outbox row
# posted to it with the outbox's retries and dead letters (RFC 8935).  They
# are signed when sent, with the organization's ES256 key: derived from the
# install's secret (never stored), published at /o/{slug}/events/jwks.json.
# An organization without receivers pays nothing: the organizations the key
# cache holds carry their receivers, so a write needs no query to know.

SET_MEDIA_TYPE = "application/secevent+jwt"
STREAM_PREFIX, STREAM_TOKEN_PREFIX = "ses_", "sst_"
POLL_MAX_EVENTS = 1000      # SETs in one answer at most (maxEvents omitted: this many)
POLL_WAIT_SECONDS = 15      # a long poll waits at most this long for a SET
LONG_POLLS_AT_ONCE = 2      # more answer at once: each waiting one holds a server thread
POLL_BODY_BYTES = 1 << 20
# RFC 8935 §2.4 (and RFC 8936 §2.4.4 for setErrs): what a receiver may say.
SET_ERRORS = ("invalid_request", "invalid_key", "invalid_issuer", "invalid_audience",
              "authentication_failed", "access_denied")
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class PollError(Exception):
    """A poll request refused: RFC 8935 §2.3's {"err", "description"}."""

    def __init__(self, err, description, status=400, headers=()):
        super().__init__(description)
        self.err, self.description, self.status = err, description, status
        self.headers = list(headers)


@functools.lru_cache(maxsize=256)
def event_signing_key(secret, org_id):
    """(the private key, its public JWK) that sign organization `org_id`'s
    SETs: a P-256 key whose scalar is derived from the install's secret,
    so nothing is stored and every instance signs alike.  The kid is the
    key's RFC 7638 thumbprint."""
    from cryptography.hazmat.primitives.asymmetric import ec
    scalar = int.from_bytes(derive_secret(secret, "set-signing-key", org_id), "big")
    key = ec.derive_private_key(scalar % (P256_ORDER - 1) + 1, ec.SECP256R1())
    point = key.public_key().public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": _b64url(point.x.to_bytes(32, "big")),
           "y": _b64url(point.y.to_bytes(32, "big"))}
    thumbprint = hashlib.sha256(json.dumps(jwk, sort_keys=True, separators=(",", ":"))
                                .encode("ascii")).digest()
    return key, {**jwk, "kid": _b64url(thumbprint), "use": "sig", "alg": "ES256"}


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_set(secret, org_id, claims):
    """The SET `claims` (a dict) as a compact JWS, typ secevent+jwt
    (RFC 8417 §2.3), signed with the organization's key."""
    import jwt
    key, jwk = event_signing_key(secret, org_id)
    return jwt.encode(claims, key, algorithm="ES256",
                      headers={"kid": jwk["kid"], "typ": "secevent+jwt"})


def told_as(event):
    """(the RFC 9967 event URI, its payload) that tell `event`, or None.
    Notices (§2.4): the attributes a change touched, never their values."""
    kind = event.type.split(".", 1)[1]
    detail = json.loads(event.detail)
    if kind == "created":
        return SCIM_EVENT + "prov:create:notice", {"attributes": detail.get("attributes", [])}
    if kind == "updated":
        verb = "put" if detail.get("via") == "put" else "patch"
        return SCIM_EVENT + f"prov:{verb}:notice", {"attributes": detail.get("attributes", [])}
    if kind == "members_changed":
        return SCIM_EVENT + "prov:patch:notice", {"attributes": ["members"]}
    # §2.4.4: delete, activate and deactivate carry no payload attributes.
    return {"deleted": (SCIM_EVENT + "prov:delete", {}),
            "deactivated": (SCIM_EVENT + "prov:deactivate", {}),
            "reactivated": (SCIM_EVENT + "prov:activate", {})}.get(kind)


SET_EVENT_TYPES = ("user.created", "user.updated", "user.deactivated", "user.reactivated",
                   "user.deleted", "group.created", "group.updated", "group.deleted",
                   "group.members_changed")


class SecurityEvents:
    """The SETs of one app: their claims written with each change, one per
    receiver of the change's organization; polled (poll) and signed."""

    def __init__(self, changes, resources, secret):
        self.changes, self.models = changes, changes.models
        self.resources, self.secret = resources, secret
        self._arrived = threading.Condition()
        self._waiting = 0
        for event_type in SET_EVENT_TYPES:
            changes.subscribe(event_type, self._on_change)
        changes.after_commit.append(self._committed)

    def streams(self):
        """The current organization's receivers: as the key cache read
        them, else (outside a request) from the database."""
        streams = getattr(self.models.scope.current, "event_streams", None)
        if streams is None:
            Stream = self.models.EventStream
            streams = list(Stream.select().where(Stream.revoked.is_null()))
        return streams

    def _on_change(self, work, event):
        streams = self.streams()
        told = streams and told_as(event)
        if not told:
            return
        uri, payload = told
        subject = event.subject
        rt = RESOURCE_TYPES[event.resource_type]
        sub_id = {"format": "scim", "uri": f"{rt.endpoint}/{event.resource_id}"}
        external_id = json.loads(subject.data).get("externalId") if subject is not None \
            else json.loads(event.detail).get("external_id")
        if external_id:
            sub_id["externalId"] = external_id
        if subject is not None and payload:
            payload = {**payload, "version": self.resources.etag(rt, subject)}
        for stream in streams:
            claims = {"iss": stream.issuer, "iat": int(time.time()), "jti": uuid.uuid4().hex,
                      "aud": stream.audience, "txn": str(work.events[0].pk),
                      "sub_id": sub_id, "events": {uri: payload}}
            self._write(stream, claims, event)

    def _write(self, stream, claims, event):
        stamp, text = now_text(), json.dumps(claims)
        if stream.delivery == "push":
            event.queued = True         # its commit wakes the outbox's sender
            save_row(self.models, self.models.OutboxMessage(
                uid=claims["jti"], kind="set", dedupe=f"set:{claims['jti']}",
                recipient=stream.url, context=text, template=stream.public_id,
                created=stamp, next_attempt=stamp, status="pending", attempts=0))
        else:
            save_row(self.models, self.models.SecurityEvent(
                stream=stream.pk, jti=claims["jti"], claims=text, created=stamp))

    def _committed(self, events):
        if any(event.type in SET_EVENT_TYPES for event in events):
            with self._arrived:
                self._arrived.notify_all()

    # --- a poll (RFC 8936) -------------------------------------------------------

    def poll(self, stream, asked, lock, stopping=lambda: False):
        """Answer one poll of `stream` (its row; `asked`, the checked body:
        poll_request()): acknowledgements and errors first, in one write
        (an unknown jti refuses it all), then the oldest SETs not yet
        acknowledged, signed; with returnImmediately false and none to
        send, wait up to POLL_WAIT_SECONDS for one.  `lock`: an in-memory
        database's, held only while reading and writing, never waiting."""
        with self.models.scope.of(stream.org):
            with lock:
                self._acknowledge(stream, asked["ack"], asked["setErrs"])
                found, more = self._pending(stream, asked["maxEvents"])
            if not found and not asked["returnImmediately"] and asked["maxEvents"] != 0:
                found, more = self._wait(stream, asked["maxEvents"], lock, stopping)
        return {"sets": {row.jti: sign_set(self.secret, row.org, json.loads(row.claims))
                         for row in found}, "moreAvailable": more}

    def _acknowledge(self, stream, acks, errors):
        Event = self.models.SecurityEvent
        named = [*acks, *errors]
        if not named:
            return          # a poll that acknowledges nothing writes nothing
        with self.changes.unit():
            known = {jti for (jti,) in Event.select(Event.jti).where(
                (Event.stream == stream.pk) & Event.jti.in_(named)).tuples()}
            unknown = [jti for jti in named if jti not in known]
            if unknown:
                raise PollError("invalid_request", f"no SET with jti {unknown[0]!r} was sent "
                                "to this stream (or it is past its retention)")
            stamp = now_text()
            if acks:
                Event.update(acked=stamp).where((Event.stream == stream.pk) &
                                                Event.jti.in_(acks) &
                                                Event.acked.is_null()).execute()
            for jti, said in errors.items():
                log.warning("event stream %s refused SET %s: %s %s", stream.name, jti,
                            said["err"], said.get("description", ""))
                Event.update(acked=stamp, error=json.dumps(said)).where(
                    (Event.stream == stream.pk) & (Event.jti == jti)).execute()

    def _pending(self, stream, limit):
        """The oldest SETs of `stream` not acknowledged (at most `limit`,
        or POLL_MAX_EVENTS), and whether there are more."""
        Event = self.models.SecurityEvent
        limit = POLL_MAX_EVENTS if limit is None else min(limit, POLL_MAX_EVENTS)
        rows = list(Event.select().where((Event.stream == stream.pk) & Event.acked.is_null())
                    .order_by(Event.pk).limit(limit + 1)) if limit else []
        return rows[:limit], len(rows) > limit

    def _wait(self, stream, limit, lock, stopping):
        """A long poll (RFC 8936 §2.5): the SETs once one comes, or none at
        POLL_WAIT_SECONDS.  A commit here wakes it; a commit of another
        instance (PostgreSQL) is seen at the next look, every second."""
        with self._arrived:
            if self._waiting >= LONG_POLLS_AT_ONCE:
                return [], False
            self._waiting += 1
        try:
            deadline = time.monotonic() + POLL_WAIT_SECONDS
            while (left := deadline - time.monotonic()) > 0 and not stopping():
                with self._arrived:
                    self._arrived.wait(min(1.0, left))
                with lock:
                    found, more = self._pending(stream, limit)
                if found:
                    return found, more
            return [], False
        finally:
            with self._arrived:
                self._waiting -= 1

    def wake(self):
        """End every long poll's wait now (the app is stopping)."""
        with self._arrived:
            self._arrived.notify_all()


def poll_request(body):
    """A poll body (RFC 8936 §2.2), checked: {maxEvents (None: no limit),
    returnImmediately, ack, setErrs}; PollError naming what is wrong.
    Members this server does not know are ignored, as JSON extensions are."""
    if not isinstance(body, dict):
        raise PollError("invalid_request", "the body is not a JSON object")
    most = body.get("maxEvents")
    if most is not None and (not isinstance(most, int) or isinstance(most, bool) or most < 0):
        raise PollError("invalid_request", "maxEvents is a non-negative integer")
    immediately = body.get("returnImmediately", False)
    if not isinstance(immediately, bool):
        raise PollError("invalid_request", "returnImmediately is true or false")
    acks = body.get("ack", [])
    if not isinstance(acks, list) or not all(isinstance(j, str) and j for j in acks) or \
            len(acks) > POLL_MAX_EVENTS:
        raise PollError("invalid_request", f"ack is a list of at most {POLL_MAX_EVENTS} jti "
                        "strings")
    errors = body.get("setErrs", {})
    if not isinstance(errors, dict) or len(errors) > POLL_MAX_EVENTS or not all(
            isinstance(said, dict) and said.get("err") in SET_ERRORS and
            isinstance(said.get("description", ""), str) for said in errors.values()):
        raise PollError("invalid_request", "setErrs maps a jti to {\"err\": one of " +
                        ", ".join(SET_ERRORS) + ", \"description\": text}")
    if set(acks) & set(errors):
        raise PollError("invalid_request", "a jti is both acknowledged and in error")
    return {"maxEvents": most, "returnImmediately": immediately, "ack": list(dict.fromkeys(acks)),
            "setErrs": errors}


# --- receivers -------------------------------------------------------------------

def create_event_stream(models, name, issuer, url=None, audience=None, now=None):
    """A receiver of the current organization's SETs: pushed to `url`
    (RFC 8935), or without one polled (RFC 8936) with the token returned
    (shown once; only its hash is kept).  (its row, the token or None)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValueError("a stream name is 1 to 100 characters")
    if url is not None and not re.fullmatch(r"https?://[^\s/]+\S*", url):
        raise ValueError(f"{url!r} is not the http(s) URL of a receiver")
    public_id = secrets.token_urlsafe(6)
    token = None if url else \
        STREAM_TOKEN_PREFIX + public_id + secrets.token_urlsafe(KEY_SECRET_BYTES)
    stream = models.EventStream.create(
        public_id=public_id, name=name, delivery="push" if url else "poll", url=url,
        token_hash=hash_api_key(token) if token else None, issuer=issuer,
        audience=audience or url or f"{issuer}/Feeds/{STREAM_PREFIX}{public_id}",
        created=now or now_text())
    return stream, token


def find_event_stream(models, token):
    """The poll receiver whose token is `token` (in any organization: the
    token names it), not revoked, or None; compared in constant time."""
    Stream = models.EventStream
    public = token[len(STREAM_TOKEN_PREFIX):][:KEY_PUBLIC_CHARS] \
        if token.startswith(STREAM_TOKEN_PREFIX) else ""
    row = public and Stream.everywhere().where(
        (Stream.public_id == public) & (Stream.delivery == "poll")).first()
    stored = row.token_hash if row else hash_api_key("")
    good = hmac.compare_digest(stored, hash_api_key(token)) and row
    return row if good and not row.revoked else None


def revoke_event_stream(models, text, now=None):
    """Stop a receiver (by ses_… id or name): nothing more is written for
    it, its token stops working; its name."""
    Stream, text = models.EventStream, text.strip()
    public = text[len(STREAM_PREFIX):] if text.startswith(STREAM_PREFIX) else text
    rows = list(Stream.select().where(((Stream.public_id == public) | (Stream.name == text)) &
                                      Stream.revoked.is_null()))
    if len(rows) != 1:
        raise LookupError(f"no active stream {text!r}" if not rows else
                          f"{text!r} names {len(rows)} streams; use its ses_ id")
    Stream.update(revoked=now or now_text()).where(Stream.pk == rows[0].pk).execute()
    return rows[0].name


def describe_event_streams(models):
    """The current organization's receivers, each with its SETs waiting
    and its last acknowledgement."""
    Stream, Event = models.EventStream, models.SecurityEvent
    counts = {stream: (waiting, last) for stream, waiting, last in Event.select(
        Event.stream, fn.COUNT(peewee.Case(None, ((Event.acked.is_null(), 1),), None)),
        fn.MAX(Event.acked)).group_by(
        Event.stream).tuples()}
    return [{"id": STREAM_PREFIX + s.public_id, "name": s.name, "delivery": s.delivery,
             "url": s.url, "issuer": s.issuer, "audience": s.audience, "created": s.created,
             "waiting": int(counts.get(s.pk, (0, None))[0] or 0),
             "last_acked": counts.get(s.pk, (0, None))[1],
             "state": f"revoked {s.revoked}" if s.revoked else "active"}
            for s in Stream.select().order_by(Stream.pk)]


###############################################################################
# Outbox: mail and webhooks, written with the change, sent after commit #######
###############################################################################

MAIL_DIR = TEMPLATES_DIR / "mail"
KEY_TEMPLATES = ("license_issued", "license_restored")     # the mails with the key
# Seconds before each retry of a transient failure (no connection, a
# timeout, a 4xx reply), each stretched or shrunk by up to a fifth at random
# so that messages failing together do not retry together.  After the last
# the message is dead: about two days of trying in all.  A permanent
# failure (a 5xx reply, a 4xx from a webhook receiver) is dead at once.
RETRY_DELAYS = (15, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400)
RETRY_JITTER = 0.2
WEBHOOK_SECRET_OPTION = "webhook_secret_generation"
# 4xx replies a receiver may get over: a timeout, too early, too many, and
# 401/403, which a receiver answers while its secret is being rotated.
WEBHOOK_TRANSIENT = (401, 403, 408, 425, 429)
WEBHOOK_TIMEOUT = 10                        # seconds for a receiver to answer


class DeliveryError(Exception):
    """A failed delivery: `permanent` (dead at once) or worth a retry.
    `session`: the server refused the connection or us (no answer, a failed
    login, our sender address), not this message: every message would fail
    alike, so the round stops and the outbox waits before the next."""

    def __init__(self, text, permanent=False, session=False):
        super().__init__(text)
        self.permanent, self.session = permanent, session


class MailTemplates:
    """The mail templates, each compiled once and again only when its file
    changes (an edited template is used within a second).  mail/KIND.txt
    is a `Subject:` line, a blank line and the body; mail/KIND.html, if
    there is one, the HTML version.

    `overrides` (the mail_templates setting): a folder whose KIND.txt (and
    KIND.html) replace the built-in ones, so that a customer's wording
    survives upgrades.  One that is missing is not overridden; one that
    cannot be read, compiled or rendered falls back to the built-in
    template, said in the log at start (check) and at each use that fails
    (as Bruno's self-hosted server does)."""
    CHECK_SECONDS = 1.0     # how often the files' times are looked at

    def __init__(self, folder=None, overrides=None):
        self.folder, self._compiled, self._checked = folder or MAIL_DIR, {}, {}
        self.overrides = Path(overrides) if overrides else None

    def render(self, kind, values):
        """(subject, text, html or None).  The text is plain (`noescape`: no
        HTML entities in it); the HTML escapes every value."""
        if self.overrides is not None and (self.overrides / f"{kind}.txt").exists():
            try:
                return self._render(self.overrides, kind, values)
            except Exception as exc:        # any template error: the built-in one
                log.warning("the mail template %s in %s cannot be used (%s: %s); the "
                            "built-in one is sent instead", kind, self.overrides,
                            type(exc).__name__, exc)
        return self._render(self.folder, kind, values)

    def _render(self, folder, kind, values):
        subject, text, html = self._templates(folder, kind)
        return (one_line(subject.render(**values)), text.render(**values),
                html.render(**values) if html else None)

    def check(self):
        """What is wrong with each override, [(kind, problem)], each
        rendered with sample values; logged (at start)."""
        problems = []
        if self.overrides is None:
            return problems
        if not self.overrides.is_dir():
            problems.append(("*", f"{self.overrides} is not a folder"))
        for path in sorted(self.overrides.glob("*.txt")) if self.overrides.is_dir() else ():
            kind = path.stem
            if kind not in MAIL_KINDS:
                problems.append((kind, f"{path.name} is not a mail scimlite sends (one of "
                                 + ", ".join(MAIL_KINDS) + ")"))
                continue
            try:
                self._render(self.overrides, kind, SAMPLE_MAIL_VALUES)
            except Exception as exc:
                problems.append((kind, f"{type(exc).__name__}: {exc}"))
        for kind, problem in problems:
            log.warning("mail template %s in %s: %s; the built-in one is used",
                        kind, self.overrides, problem)
        return problems

    def _templates(self, folder, kind):
        compiled, now = self._compiled.get((folder, kind)), time.monotonic()
        if compiled is not None and now - self._checked[(folder, kind)] < self.CHECK_SECONDS:
            return compiled[1]
        self._checked[(folder, kind)] = now
        text_path, html_path = folder / f"{kind}.txt", folder / f"{kind}.html"
        version = (kind, text_path.stat().st_mtime_ns,
                   html_path.stat().st_mtime_ns if html_path.exists() else None)
        if compiled is None or compiled[0] != version:
            head, _, body = text_path.read_text("utf-8").partition("\n\n")
            plain = functools.partial(bottle.SimpleTemplate, noescape=True)
            compiled = version, (plain(head.removeprefix("Subject:").strip()), plain(body),
                                 bottle.SimpleTemplate(html_path.read_text("utf-8"))
                                 if version[2] is not None else None)
            self._compiled[(folder, kind)] = compiled
        return compiled[1]


# The mails there are, and the values every one of them may use (with the
# key of a license mail, and the link or code of an administrator's).
MAIL_KINDS = ("license_issued", "license_suspended", "license_restored", "license_revoked",
              "admin_invitation", "admin_code", "seats_full", "test")
SAMPLE_MAIL_VALUES = {
    "product": "Product", "org_name": "Example Corp", "name": "Ann Example",
    "email": "ann@example.com", "user_name": "ann@example.com", "year": 2026,
    "key": "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX", "link": "https://example.com/admin/invitation",
    "code": "XXXX-XXXX", "minutes": 10, "hours": 72, "invited_by": "the operator",
    "seats": 10, "origin": "https://example.com", "kind": "code"}


def render_mail(kind, values):
    """(subject, text, html or None) of mail/KIND (see MailTemplates)."""
    return MailTemplates().render(kind, values)


@dataclass(frozen=True)
class Mail:
    """One composed mail: its envelope, what it says, and its bytes on the
    wire, built once.  `message` parses the bytes (for tests, the console)."""
    sender: str             # MAIL FROM
    recipient: str          # RCPT TO
    subject: str
    text: str
    html: str | None
    data: bytes
    shown_from: str         # the From header, decoded, as a person reads it
    display: str            # the recipient's name in To ("" for none)
    date: str

    @property
    def message(self):
        return email.message_from_bytes(self.data, policy=email.policy.default)


def compose_mail(settings, message_id, recipient, name, subject, text, html,
                 date=None, boundary=None):
    """A Mail; the address is checked again and the display name flattened,
    so nothing a client sent can add a header.  `date` (an aware datetime)
    and `boundary` are for tests: the clock and a random one otherwise.

    The bytes are those the `email` package writes (EmailMessage,
    set_content, add_alternative, as_bytes with the SMTP policy), built
    directly where that is plain to do: ASCII headers that need no quoting,
    encoding nor folding, and body lines of at most 78 bytes (7bit or
    8bit).  Anything else (a name with a comma or an accent, a long line
    that needs quoted-printable) is left to `email` itself.  Building it
    directly costs a tenth; tests/test_notify.py proves the bytes equal."""
    if not is_address(recipient):
        raise DeliveryError(f"not a deliverable address: {recipient!r}", permanent=True)
    name = one_line(name)
    display = "" if name == recipient else name
    date = email.utils.format_datetime(date or dt.datetime.now(dt.timezone.utc))
    head = mail_from_header(settings["mail_from"])
    data = _plain_mime(head, message_id, recipient, display, subject, date, text, html,
                       boundary or f"{'=' * 15}{random.randrange(sys.maxsize):019d}==") \
        or _email_mime(settings["mail_from"], message_id, recipient,
                                                display, subject, date, text, html, boundary)
    return Mail(head.sender, recipient, subject, text, html, data, head.shown, display, date)


@functools.lru_cache(maxsize=8)
def mail_from_header(mail_from):
    """The From line as `email` writes it, and the envelope sender, for a
    mail_from setting (one per install: worked out once)."""
    message = email.message.EmailMessage()
    message["From"] = mail_from
    line = message.as_bytes(policy=email.policy.SMTP).partition(b"\r\n\r\n")[0] + b"\r\n"
    domain = mail_from.rpartition("@")[2].strip("> ") or "scimlite"
    return types.SimpleNamespace(line=line, domain=one_line(domain), shown=str(message["From"]),
                                 sender=email.utils.parseaddr(str(message["From"]))[1])


_PLAIN_WORDS = re.compile(r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+( [A-Za-z0-9!#$%&'*+/^_`{|}~-]+)*")
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                            r"@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
_PLAIN_SUBJECT = re.compile(r"[!-~]+( [!-~]+)*")
_PLAIN_ID = re.compile(r"[A-Za-z0-9]+")


def _plain_body(text):
    """(Content-Transfer-Encoding, body bytes) as set_content picks them:
    7bit or 8bit for lines of at most 78 bytes, else quoted-printable, by
    the same encoder; None where `email` would pick base64 (a body that is
    mostly not ASCII)."""
    lines = text.encode("utf-8").splitlines()
    if max(map(len, lines), default=0) <= 78:
        return ("7bit" if text.isascii() else "8bit"), b"\r\n".join(lines) + b"\r\n"
    sniff = b"\n".join(lines[:10]) + b"\n"
    encoded = email.quoprimime.body_encode(sniff.decode("latin-1"), 78)
    if len(encoded) > len(binascii.b2a_base64(sniff)):
        return None
    if len(lines) > 10:
        encoded = email.quoprimime.body_encode(
            (b"\n".join(lines) + b"\n").decode("latin-1"), 78)
    return "quoted-printable", encoded.replace("\n", "\r\n").encode("ascii")


def _plain_mime(head, message_id, recipient, display, subject, date, text, html, boundary):
    """The mail's bytes built directly, or None where `email` must (see
    compose_mail)."""
    to = f"To: {display} <{recipient}>" if display else f"To: {recipient}"
    if not (_PLAIN_ADDRESS.fullmatch(recipient) and _PLAIN_SUBJECT.fullmatch(subject)
            and (not display or _PLAIN_WORDS.fullmatch(display))
            and len(to) <= 78 and len(subject) <= 69 and "=?" not in subject
            and _PLAIN_ID.fullmatch(message_id) and _PLAIN_ADDRESS.fullmatch(f"x@{head.domain}")
            and len(message_id) + len(head.domain) <= 62):
        return None
    parts = [_plain_body(text)] + ([_plain_body(html)] if html is not None else [])
    if None in parts:
        return None
    top = b"".join((head.line, to.encode("ascii"), b"\r\nSubject: ", subject.encode("ascii"),
                    b"\r\nDate: ", date.encode("ascii"), b"\r\nMessage-ID: <",
                    message_id.encode("ascii"), b"@", head.domain.encode("ascii"), b">\r\n"))
    if html is None:
        cte, body = parts[0]
        return b"".join((top, b'Content-Type: text/plain; charset="utf-8"\r\n',
                              b"Content-Transfer-Encoding: ", cte.encode("ascii"),
                         b"\r\nMIME-Version: 1.0\r\n\r\n", body))
    mark = b"--" + boundary.encode("ascii")
    if any(mark in body for _, body in parts):
        return None         # `email` would pick another boundary
    (text_cte, text_body), (html_cte, html_body) = parts
    return b"".join((
        top, b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="',
        boundary.encode("ascii"), b'"\r\n\r\n', mark,
        b'\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: ',
        text_cte.encode("ascii"), b"\r\n\r\n", text_body, b"\r\n", mark,
        b'\r\nContent-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: ',
        html_cte.encode("ascii"), b"\r\nMIME-Version: 1.0\r\n\r\n", html_body, b"\r\n",
        mark, b"--\r\n"))


def _email_mime(mail_from, message_id, recipient, display, subject, date, text, html,
                boundary):
    """The mail's bytes as the `email` package writes them."""
    message = email.message.EmailMessage()
    message["From"] = mail_from
    message["To"] = email.headerregistry.Address(display_name=display, addr_spec=recipient)
    message["Subject"] = subject
    message["Date"] = date
    domain = mail_from.rpartition("@")[2].strip("> ") or "scimlite"
    message["Message-ID"] = f"<{message_id}@{one_line(domain)}>"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
        if boundary:        # else `email` picks one that is in no part
            message.set_boundary(boundary)
    return message.as_bytes(policy=email.policy.SMTP)


def smtp_reply(code, text):
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"


def smtp_failure(exc):
    """A DeliveryError for what smtplib raised: 5xx replies are permanent
    (RFC 5321 §4.2.1), 4xx replies and failures to connect are transient."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return DeliveryError(smtp_reply(code, text), permanent=500 <= code < 600)
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryError(smtp_reply(exc.smtp_code, exc.smtp_error),
                             permanent=500 <= exc.smtp_code < 600)
    return DeliveryError(f"{type(exc).__name__}: {exc}")


def smtp_session_steps(settings):
    """The steps of opening an SMTP session as the settings say
    (smtp_security: "starttls", "tls" from the first byte, or "none"):
    (session, [(what the step is, how to take it)]); session["smtp"] is the
    connection once made.  open_smtp() takes them all; send-test-email takes
    them one by one, to say which one failed."""
    host, port = settings["smtp_host"], settings["smtp_port"]
    security, timeout = settings["smtp_security"], settings["smtp_timeout"]
    context = ssl.create_default_context()
    session = {}

    def connect():
        session["smtp"] = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context) \
            if security == "tls" else smtplib.SMTP(host, port, timeout=timeout)

    steps = [(f"connection to {host}:{port}" + (" with TLS" if security == "tls" else ""),
              connect)]
    if security == "starttls":
        steps.append(("TLS: STARTTLS", lambda: session["smtp"].starttls(context=context)))
    if settings["smtp_username"]:
        steps.append((f"login as {settings['smtp_username']!r}", lambda: session["smtp"].login(
            settings["smtp_username"], settings["smtp_password"])))
    return session, steps


def open_smtp(settings):
    """A logged-in SMTP connection as the settings say."""
    session, steps = smtp_session_steps(settings)
    try:
        for _, step in steps:
            step()
    except BaseException:
        if "smtp" in session:
            session["smtp"].close()
        raise
    return session["smtp"]


def smtp_send(smtp, mail):
    """Send one Mail on an open connection; the server's reply to it
    ("250 2.0.0 Ok: queued as ...")."""
    smtp.ehlo_or_helo_if_needed()
    code, text = smtp.mail(mail.sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, text, mail.sender)
    code, text = smtp.rcpt(mail.recipient)
    if code not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({mail.recipient: (code, text)})
    code, text = smtp.data(mail.data)
    if code != 250:
        raise smtplib.SMTPDataError(code, text)
    return smtp_reply(code, text)


def smtp_session_failure(exc):
    """The connection, TLS, the login or our sender address failed: never
    the message's fault, so never permanent (a wrong password is fixed and
    the mail still goes).  No exception text that could hold a secret."""
    if isinstance(exc, UnicodeError):
        text = "the login failed: smtp_username and smtp_password must be ASCII"
    else:
        text = str(smtp_failure(exc))
    return DeliveryError(text, session=True)


class SmtpMailer:
    """Mail over SMTP: one connection for a round of sending."""

    def __init__(self, settings):
        self.settings, self._smtp = settings, None

    def send(self, mail):
        try:
            if self._smtp is None:
                self._smtp = open_smtp(self.settings)
            return smtp_send(self._smtp, mail)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
            self.close()        # the next message starts on a fresh connection
            raise smtp_failure(exc) from None
        except (OSError, UnicodeError) as exc:  # smtplib's other errors are OSErrors too
            self.close()
            raise smtp_session_failure(exc) from None

    def close(self):
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._smtp.close()
            self._smtp = None


class ConsoleMailer:
    """No SMTP server set (smtp_host empty): each mail is printed, marked
    as not sent, so a trial run shows what would have gone out: as a
    person reads it (the headers that matter and the plain text, decoded),
    not as MIME (quoted-printable breaks lines in the middle of words).
    From what the Mail holds, not by parsing it again (which costs ms)."""

    def __init__(self, out=None):
        self.out = out

    def send(self, mail):
        out = self.out or sys.stdout
        # A plain name needs no quoting: written as is (Address() parses
        # it again, a few % of a write's CPU with license mail on).
        to = (f"{mail.display} <{mail.recipient}>" if _PLAIN_WORDS.fullmatch(mail.display)
              else mail.recipient if not mail.display
              else email.headerregistry.Address(display_name=mail.display,
                                                addr_spec=mail.recipient))
        headers = (f"From: {mail.shown_from}\nTo: {to}\nSubject: {mail.subject}\n"
                   f"Date: {mail.date}\n")
        text = "\n".join(mail.text.splitlines()).rstrip("\n")
        also = "\n(and an HTML version of the same)" if mail.html is not None else ""
        print(f"----- scimlite: mail NOT sent (smtp_host is empty), printed instead -----\n"
              f"{headers}\n{text}{also}\n----- end of mail -----", file=out, flush=True)
        return "printed to the console"

    def close(self):
        pass


@dataclass(frozen=True)
class SentMail:
    """A mail the "memory" mailer kept (app.scimlite.outbox.sent)."""
    to: str
    subject: str
    text: str
    html: str | None
    mail: Mail | None

    @property
    def message(self):
        """The mail as an email.message.EmailMessage."""
        return self.mail.message

    def key(self):
        """The license key in the mail, if it carries one."""
        found = re.search(r"\b[%s]{5}(-[%s]{5}){4}\b" % ((LICENSE_ALPHABET,) * 2), self.text)
        return found.group(0) if found else None


class MemoryMailer:
    def __init__(self, sent):
        self.sent = sent

    def send(self, mail):
        # As a reader of the message would see them: lines end in "\n".
        text, html = (None if body is None else
                      b"\n".join(body.encode("utf-8").splitlines()).decode("utf-8") + "\n"
                      for body in (mail.text, mail.html))
        self.sent.append(SentMail(mail.recipient, mail.subject, text, html, mail))
        return "kept in memory"

    def close(self):
        pass


def mailer_kind(settings):
    """How mail leaves: "memory", "console" (mailer = "console", or "smtp"
    while smtp_host is empty) or "smtp"."""
    if settings["mailer"] == "memory":
        return "memory"
    return "console" if settings["mailer"] == "console" or not settings["smtp_host"] \
        else "smtp"


def describe_mailer(settings):
    """Where mail goes, in words (the start-up lines, the outbox page)."""
    kind = mailer_kind(settings)
    if kind == "memory":
        return "kept in memory (mailer = \"memory\"): nothing leaves the process"
    if kind == "console":
        return ("printed to the console, NOT sent (set smtp_host; check it with "
                "python scimlite.py send-test-email ADDRESS)")
    return (f"SMTP via {settings['smtp_host']}:{settings['smtp_port']} "
            f"({settings['smtp_security']}), from {settings['mail_from']}")


def webhook_secret_of(secret, generation):
    """The Standard Webhooks signing secret: whsec_ and 32 bytes in base64."""
    return "whsec_" + base64.b64encode(derive_secret(secret, "webhook", generation)).decode()


ORG_WEBHOOK = "org"     # the template of a webhook to an organization's own receiver


def organization_webhook_secret(secret, org_id, generation):
    """An organization's own signing secret: derived for it alone, so that
    its receiver can never check (or forge) another's webhooks."""
    return "whsec_" + base64.b64encode(
        derive_secret(secret, "webhook", "org", org_id, generation)).decode()


def sign_webhook(signing_secret, message_id, timestamp, body):
    """webhook-signature (Standard Webhooks): v1, then the base64 HMAC-SHA256
    of "id.timestamp.body" keyed with the secret's decoded bytes."""
    key = base64.b64decode(signing_secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode("utf-8") + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a 301/302/303 with a GET and no body, and the
    event would count as delivered: a redirect is an error instead."""

    def redirect_request(self, *args, **kwargs):
        return None


def post_webhook(url, message_id, signing_secret, body, timeout):
    """POST one signed event; the receiver's answer, or DeliveryError (a
    redirect, or a 4xx other than WEBHOOK_TRANSIENT, is permanent: the
    receiver refuses it or has moved)."""
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": f"scimlite/{__version__}",
        "webhook-id": message_id, "webhook-timestamp": timestamp,
        "webhook-signature": sign_webhook(signing_secret, message_id, timestamp, body)})
    try:
        with urllib.request.build_opener(_NoRedirects).open(request, timeout=timeout) as answer:
            return f"HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise DeliveryError(f"HTTP {exc.code}: the receiver moved to "
                                f"{exc.headers.get('Location')!r}; set webhook_url to it",
                                permanent=True) from None
        permanent = 400 <= exc.code < 500 and exc.code not in WEBHOOK_TRANSIENT
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}", permanent) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None


def push_set(url, token, timeout):
    """POST one signed SET to a push receiver (RFC 8935 §2.1); its answer,
    or DeliveryError.  A 400 is the receiver's verdict on this SET
    ({"err", "description"}, §2.3), so permanent; 202 and any other 2xx
    are delivered; the rest as webhooks' (post_webhook)."""
    request = urllib.request.Request(url, data=token.encode("ascii"), method="POST", headers={
        "Content-Type": SET_MEDIA_TYPE, "Accept": "application/json",
        "User-Agent": f"scimlite/{__version__}"})
    try:
        with urllib.request.build_opener(_NoRedirects).open(request, timeout=timeout) as answer:
            return f"HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        if exc.code == 400:
            said = exc.read(2000).decode("utf-8", "replace")
            raise DeliveryError(f"HTTP 400: the receiver refused the SET: {said}",
                                permanent=True) from None
        if 300 <= exc.code < 400:
            raise DeliveryError(f"HTTP {exc.code}: the receiver moved to "
                                f"{exc.headers.get('Location')!r}", permanent=True) from None
        permanent = 400 <= exc.code < 500 and exc.code not in WEBHOOK_TRANSIENT
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}", permanent) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None


# --- what an administrator is mailed: invitations and sign-in codes ----------------
# Their secret part is derived from the install's secret and the link's
# nonce when the mail is sent, as a license key is: neither the database nor
# the outbox (nor its admin view) ever holds it.

ADMIN_MAILS = ("admin_invitation", "admin_code")
CODE_LENGTH = 8         # characters of LICENSE_ALPHABET: about 40 bits, typed as XXXX-XXXX


def admin_link_text(secret, kind, nonce):
    """The invitation token or the sign-in code of a link (AdminLink)."""
    digest = derive_secret(secret, "admin-link", kind, nonce)
    if kind == "invitation":
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    number, chars = int.from_bytes(digest, "big"), []
    for _ in range(CODE_LENGTH):
        number, index = divmod(number, len(LICENSE_ALPHABET))
        chars.append(LICENSE_ALPHABET[index])
    return "".join(chars[:4]) + "-" + "".join(chars[4:])


def typed_code(text):
    """A code as a person types it (any case, spaces, with or without the
    dash), written as admin_link_text() writes it."""
    bare = re.sub(r"[\s-]", "", text or "").upper()
    return f"{bare[:4]}-{bare[4:]}" if len(bare) == CODE_LENGTH else bare


class Outbox:
    """Mail and webhook deliveries: each a row written in the transaction
    of the change that causes it (a transactional outbox), delivered after
    commit by the Sender below, retried on RETRY_DELAYS.  Here: the rows
    written as licenses change (and, with webhook_url, as anything does),
    what the admin page reads and retries, the webhook signing secret, and
    what tests wait for.

    A unique `dedupe` per cause (a license's n-th transition, an event)
    makes a second row for the same cause impossible.

    mailer  "smtp" (console when smtp_host is empty), "console", or
            "memory": mails are kept in `sent` (SentMail), for tests.
    """

    def __init__(self, changes, settings, secret, licenses, workers):
        self.changes, self.models, self.settings = changes, changes.models, settings
        self.secret, self.licenses = secret, licenses
        self.sent = []
        self.sender = Sender(changes, settings, secret, licenses, self.sent, workers)
        for kind in (*LICENSE_MAILS, "waiting"):
            changes.subscribe(f"license.{kind}", self._on_license)
        for event_type in EVENT_TYPES:
            changes.subscribe(event_type, self._on_event)
        changes.after_commit.append(self._committed)

    def start(self):
        """Begin sending (see Sender.start)."""
        self.sender.start()

    def wake(self):
        """Let the sender look for due rows now (it also does after every
        commit, and every few seconds)."""
        self.sender.wake()

    def _committed(self, events):
        if any(getattr(event, "queued", False) for event in events):
            self.sender.wake()

    # Rows -------------------------------------------------------------------

    def _add(self, event, kind, dedupe, recipient, context, license=None, template=None):
        """A row for `event`, which is then marked, so that its commit wakes
        the sender (a commit that wrote none does not)."""
        event.queued, stamp = True, now_text()
        # Every mail may name the organization (org_name, as Bruno's {{orgName}}).
        context = {**context, "org_name": self.models.scope.current.name} \
            if kind == "mail" else context
        row = dict(uid=uuid.uuid4().hex, kind=kind, dedupe=dedupe, recipient=recipient,
                   context=json.dumps(context), license=license, template=template,
                   created=stamp, next_attempt=stamp, status="pending", attempts=0)
        if recipient is None:
            row.update(status="dead", last_error="no email address to send it to")
        save_row(self.models, self.models.OutboxMessage(**row), ignore=True)

    def mail_admin(self, template, account, link, context):
        """The invitation or sign-in code mail of `link`, in the current
        unit (the caller wakes the sender after commit: no event does)."""
        stamp = now_text()
        save_row(self.models, self.models.OutboxMessage(
            org=NO_ORG if account.org is None else account.org, uid=uuid.uuid4().hex,
            kind="mail", dedupe=f"admin-link:{link.pk}", recipient=account.email,
            template=template, created=stamp, next_attempt=stamp, status="pending",
            attempts=0, context=json.dumps({"name": account.name, "email": account.email,
                                            "kind": link.kind, "nonce": link.nonce,
                                            **context})))

    def mail_license_again(self, license):
        """The license mail once more (a person lost it), in the current
        unit: the key is derived when it is sent, as the first time."""
        stamp = now_text()
        save_row(self.models, self.models.OutboxMessage(
            uid=uuid.uuid4().hex, kind="mail", recipient=license.email,
            dedupe=f"license:{license.uid}:again:{uuid.uuid4().hex}", template="license_issued",
            license=license.pk, created=stamp, next_attempt=stamp, status="pending",
            attempts=0, context=json.dumps({
                "name": license.display_name, "user_name": license.user_name,
                "org_name": self.models.scope.current.name})))

    def _on_license(self, work, event):
        kind = event.type.split(".", 1)[1]
        license = event.subject or self.licenses.of_user(event.resource_id)
        if kind == "waiting":
            self._tell_admin_seats_full(event, license)
            return
        if kind not in self.settings["license_mails"]:
            return
        transition = json.loads(event.detail)["transition"]
        self._add(event, "mail", f"license:{license.uid}:{transition}", license.email,
                  {"name": license.display_name, "user_name": license.user_name},
                  license=license.pk, template=f"license_{kind}")

    def _tell_admin_seats_full(self, event, license):
        """The first user to wait for a seat tells the administrator (one
        mail per time the waiting list fills, not one per user)."""
        License = self.models.License
        waiting = License.select().where(License.status == "waiting").count()
        if waiting != 1:
            return
        log.warning("every license seat (%s) is taken: users wait for one (the "
                    "dashboard counts them)", self.licenses.seats())
        if self.settings["admin_email"]:
            self._add(event, "mail", f"seats-full:{license.uid}:{license.transitions}",
                      self.settings["admin_email"], {
                          "name": "", "user_name": license.user_name,
                          "seats": self.licenses.seats()}, template="seats_full")

    def _on_event(self, work, event):
        """A webhook to the install's receiver (webhook_url: every
        organization's events, signed with the install's secret) and to the
        organization's own (its webhook_url, signed with its own secret,
        template "org"); each payload names the organization."""
        install, org = self.settings["webhook_url"], self.models.scope.current
        if not install and not org.webhook_url:
            return
        body = {"type": event.type, "timestamp": event.at, "data": {
            "resourceType": event.resource_type, "id": event.resource_id,
            "keyName": event.actor, "organization": org.slug}}
        if install:
            self._add(event, "webhook", f"event:{event.pk}", install, body)
        if org.webhook_url:
            self._add(event, "webhook", f"event:{event.pk}:org", org.webhook_url, body,
                      template=ORG_WEBHOOK)

    def webhook_secret(self, org=None):
        """The signing secret webhook receivers check signatures with: the
        install's, or organization `org`'s (its row) for its own receiver."""
        if org is not None:
            return organization_webhook_secret(self.secret, org.id, org.webhook_generation)
        return current_webhook_secret(self.changes, self.secret)

    def rotate_webhook_secret(self, org=None):
        """A new signing secret, the install's or organization `org`'s (the
        old one stops signing at once); shown to whoever asked, once: it is
        derived again to sign, never stored."""
        Organization = self.models.Organization
        with self.changes.unit():
            if org is not None:
                Organization.update(webhook_generation=Organization.webhook_generation + 1
                                    ).where(Organization.id == org.id).execute()
                org = Organization.get_by_id(org.id)
                return organization_webhook_secret(self.secret, org.id, org.webhook_generation)
            generation = get_option(self.models, WEBHOOK_SECRET_OPTION, 1) + 1
            set_option(self.models, WEBHOOK_SECRET_OPTION, generation)
        return webhook_secret_of(self.secret, generation)

    def retry(self, pk):
        """Send a dead message again, from its first retry delay on."""
        Message, License = self.models.OutboxMessage, self.models.License
        with self.changes.unit():
            row = Message.get_or_none((Message.pk == pk) & (Message.status == "dead"))
            license = row and row.license and License.get_or_none(License.pk == row.license)
            changed = row and Message.update(
                status="pending", attempts=0, next_attempt=now_text(), last_error=None,
                # to where the user's mail goes now: the IdP may have sent an address since
                recipient=license.email if license else row.recipient).where(
                (Message.pk == pk) & (Message.status == "dead")).execute()
        if changed:
            self.wake()
        return bool(changed)

    def messages(self, status=None, limit=200):
        Message = self.models.OutboxMessage
        query = Message.select().order_by(Message.pk.desc()).limit(limit)
        return list(query.where(Message.status == status) if status else query)

    def counts(self):
        Message = self.models.OutboxMessage
        rows = Message.select(Message.status, fn.COUNT(Message.pk)).group_by(Message.status)
        return {"pending": 0, "sending": 0, "sent": 0, "dead": 0, **dict(rows.tuples())}

    def wait(self, timeout=10.0):
        """Wait until nothing is due or being sent: every mail so far has
        been delivered, or has failed and waits for its retry.  For tests;
        True when so, False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._busy():
                return True
            self.wake()
            time.sleep(0.02)
        return False

    def _busy(self):
        Message = self.models.OutboxMessage
        with self.changes.lock:
            return Message.everywhere().where(
                ((Message.status == "pending") & (Message.next_attempt <= now_text())) |
                (Message.status == "sending")).exists()

    def mail_to(self, address):
        """The mails the "memory" mailer kept for `address`, oldest first."""
        return [m for m in self.sent if m.to.lower() == address.lower()]



def current_webhook_secret(changes, secret):
    with changes.lock:
        generation = get_option(changes.models, WEBHOOK_SECRET_OPTION, 1)
    return webhook_secret_of(secret, generation)


class Sender:
    """The one background sender of an app's outbox: the due rows in
    batches, oldest first, one after another over one SMTP connection per
    round.

    A batch is claimed before it is sent (status "sending" with a lease),
    so that two senders (two instances on PostgreSQL) never take the same
    row; a sender that dies mid-send leaves a lease that runs out, and the
    rows are sent again: delivery is at least once, each mail with its
    row's stable Message-ID and each webhook with its webhook-id, for
    receivers that deduplicate.  What a batch needs from the database (the
    keys its mails carry, the webhook secret) is read in the claim's
    transaction, and how each went is recorded in one more: two commits a
    batch, not two a row.  Nothing is held while a server answers.
    """
    WORK_SECONDS = 5.0
    CLEAN_SECONDS = 3600.0
    CLAIM_WINDOW = 50       # rows claimed at most per batch, oldest first
    RECORD_SECONDS = 1.0    # a long batch records what it sent this often
    # A round begins this long after the commit that woke it: the commits
    # of a burst then share one round (a claim and a record, and one
    # refill of the writers' page caches, which a commit of the sender's
    # connection empties), for 20 ms more before a mail leaves.
    SETTLE_SECONDS = 0.02

    def __init__(self, changes, settings, secret, licenses, sent, workers):
        self.changes, self.models, self.settings = changes, changes.models, settings
        self.secret, self.licenses, self.sent, self.workers = secret, licenses, sent, workers
        self.templates = MailTemplates(overrides=settings["mail_templates"])
        self.templates.check()          # said once at start, in the log
        self._worker, self._cleaned, self._paused_until = None, 0.0, 0.0

    def start(self):
        """Begin sending.  What an earlier process left pending is due at
        once: whoever restarts scimlite has likely just fixed its mail."""
        Message = self.models.OutboxMessage
        with self.changes.unit():
            Message.update_everywhere(next_attempt=now_text()).where(
                Message.status == "pending").execute()
        # Woken by the Outbox after a commit that wrote a row, not by every commit.
        self._worker = self.workers.start("outbox", self.deliver_due, self.WORK_SECONDS,
                                          on_commit=False)
        # close() lets a send in progress finish (and be recorded as sent).
        self._worker.join_seconds = self.settings["smtp_timeout"] + 5
        self._worker.wake()

    def wake(self):
        if self._worker is not None:
            self._worker.wake()

    @property
    def stopping(self):
        return self._worker is not None and self._worker.stopping

    def deliver_due(self):
        """One round: the due rows, batch after batch while batches come
        full, over one SMTP connection.  Rows committed during a round wait
        for the next (their commits woke it): a round that claimed again at
        once would trail the writers a row or two at a time."""
        if time.monotonic() < self._paused_until:
            return self._paused_until - time.monotonic()
        if self._worker and self._worker.rest(self.SETTLE_SECONDS):
            return None
        self._relax_durability()
        mailer = self._mailer()
        try:
            while not self.stopping:
                batch = self._claim()
                if not batch or not self._deliver(batch, mailer) or \
                        len(batch) < self.CLAIM_WINDOW:
                    break
        finally:
            mailer.close()
        self._clean()
        return self._seconds_to_next()

    def _relax_durability(self):
        """The sender's own bookkeeping (a claim, a result) need not wait
        for the disk: in WAL mode, synchronous=NORMAL on the sender's
        connection still survives a crash of the process, and a power cut
        can lose only such bookkeeping, whose worst outcome is a mail sent
        again (delivery is at least once anyway).  Each fsync saved is one
        that writers in the queue behind it do not wait for."""
        if self.settings["db"] != ":memory:":
            self.models.dialect.relax_durability(self.models.db)

    def _seconds_to_next(self):
        """Seconds until the next pending row is due (None: none pending),
        so that a retry 15 s away is tried in 15 s, not at the next round."""
        Message = self.models.OutboxMessage
        with self.changes.lock:
            due = (Message.everywhere(fn.MIN(Message.next_attempt))
                   .where(Message.status == "pending").scalar())
        if due is None:
            return None
        return (parse_datetime(due) - dt.datetime.now(dt.timezone.utc)).total_seconds()

    def _mailer(self):
        kind = mailer_kind(self.settings)
        if kind == "memory":
            return MemoryMailer(self.sent)
        return ConsoleMailer() if kind == "console" else SmtpMailer(self.settings)

    def lease_seconds(self):
        """How long one send may take: the steps of a session that may each
        take smtp_timeout (connect, EHLO, STARTTLS, EHLO, login, MAIL, RCPT,
        DATA), and some.  A batch is leased for two: its next row is begun
        only while one whole send is still left on the lease."""
        return 8 * self.settings["smtp_timeout"] + 30

    # The batch ----------------------------------------------------------------

    def _claim(self):
        """A batch of due rows, each with the values its mail needs, claimed
        in one transaction: at most one row per license, the oldest
        unfinished one, so that a license's mails go in the order they were
        written ("suspended" never overtakes the "issued" before it that
        waits for a retry)."""
        Message, License = self.models.OutboxMessage, self.models.License
        now = dt.datetime.now(dt.timezone.utc)
        with self.changes.unit():
            rows = prepared(self.models, "due messages", self._due_messages).rows(
                now=format_datetime(now))
            if not rows:
                return []
            lease = format_datetime(now + dt.timedelta(seconds=2 * self.lease_seconds()))
            # Built once, as the writers' statements: every writer waits
            # for the queue while a claim holds it.
            prepared(self.models, "claim messages", lambda: Message.update_everywhere(
                status="sending", attempts=Message.attempts + 1, lease_until=slot("lease")
            ).where(in_slot(self.models, Message.pk, "pks"))).run(
                lease=lease, pks=json.dumps([r.pk for r in rows]))
            keyed = [row.license for row in rows if row.template in KEY_TEMPLATES]
            licenses = {license.pk: license for license in prepared(
                self.models, "claimed licenses", lambda: License.everywhere().where(
                    in_slot(self.models, License.pk, "pks"))).rows(
                pks=json.dumps(keyed))} if keyed else {}
            secret = (current_webhook_secret(self.changes, self.secret)
                      if any(row.kind == "webhook" for row in rows) else None)
            own = self._organization_secrets(rows)
        batch = []
        for row in rows:
            row.status, row.attempts, row.lease_until = "sending", row.attempts + 1, lease
            mark_stored(row)        # as the UPDATE above left it
            batch.append((row, self._values(row, licenses.get(row.license),
                                            own.get(row.org) if row.template else secret)))
        return batch

    def _organization_secrets(self, rows):
        """{org id: its signing secret} for the rows bound for an
        organization's own receiver (ORG_WEBHOOK)."""
        wanted = {row.org for row in rows if row.kind == "webhook" and row.template}
        if not wanted:
            return {}
        Organization = self.models.Organization
        return {org.id: organization_webhook_secret(self.secret, org.id, org.webhook_generation)
                for org in Organization.select().where(Organization.id.in_(wanted))}

    def _due_messages(self):
        Message = self.models.OutboxMessage
        Older = Message.alias()
        older_unfinished = Older.select(SQL("1")).where(
            (Older.license == Message.license) & Older.status.in_(("pending", "sending")) &
            (Older.pk < Message.pk))
        # PostgreSQL: rows another instance is claiming are skipped, not
        # waited for (it marks them "sending" at its commit).  The sender
        # sends for every organization.
        return self.models.dialect.locked(Message.everywhere().where(
            (((Message.status == "pending") & (Message.next_attempt <= slot("now"))) |
             ((Message.status == "sending") & (Message.lease_until < slot("now")))) &
            (Message.license.is_null() | ~fn.EXISTS(older_unfinished)))
            .order_by(Message.pk).limit(self.CLAIM_WINDOW), skip_locked=True)

    def _values(self, row, license, secret):
        """What sending `row` takes: the webhook secret, or the values of
        its mail's template, with the key if it carries one; a
        DeliveryError if it must not go.  As the claim read them: a license
        revoked after that is revoked while its mail was on its way."""
        if row.kind == "webhook":
            return secret
        if row.kind == "set":       # signed now: the key is derived, never stored
            return sign_set(self.secret, row.org, json.loads(row.context))
        context = json.loads(row.context)
        if row.template in ADMIN_MAILS:     # the code or link, derived now
            text = admin_link_text(self.secret, context["kind"], context.pop("nonce"))
            if context["kind"] == "code":
                context["code"] = text
            else:
                context["link"] = f"{context['origin']}{ADMIN}/invitation?" + \
                    urllib.parse.urlencode({"token": text})
        # Names on one line: a CR/LF in a display name is text, not layout.
        values = {"product": self.settings["product_name"], "key": None,
                  "email": row.recipient, "year": dt.date.today().year,
                  **{k: one_line(v) if isinstance(v, str) else v for k, v in context.items()}}
        if row.template in KEY_TEMPLATES:
            # Suspended meanwhile: sent all the same, and the "suspended"
            # mail follows it (in order).  Revoked: the key is dead for good.
            if license.status == "revoked":
                return DeliveryError("not sent: the license was revoked before this "
                                     "mail could go", permanent=True)
            values["key"] = self.licenses.key_of(license)
        return values

    def _deliver(self, batch, mailer):
        """Send a claimed batch and record how each row went (every
        RECORD_SECONDS, and at the end).  Rows not begun are handed back
        untried: when the server refuses the session (False: the round
        stops, and waits until that row's retry is due), when the app
        stops, or when less than one send is left on the lease."""
        started = recorded = time.monotonic()
        results, tried, going = [], 0, True
        for row, values in batch:
            if self.stopping or time.monotonic() - started > self.lease_seconds():
                break
            if time.monotonic() - recorded > self.RECORD_SECONDS:
                self._record(results)
                results, recorded = [], time.monotonic()
            tried += 1
            columns, session_delay = self._attempt(row, values, mailer)
            results.append((row, columns))
            if session_delay is not None:
                self._paused_until, going = time.monotonic() + session_delay, False
                break
        untried = [(row, {"status": "pending", "attempts": row.attempts - 1})
                   for row, _ in batch[tried:]]
        self._record(results + untried)
        return going and not self.stopping

    def _attempt(self, row, values, mailer):
        """Deliver one row: (the columns that record how it went, the
        seconds to wait before the next round if the server refused the
        session, else None)."""
        try:
            if isinstance(values, DeliveryError):
                raise values
            reply = self._send(row, values, mailer)
        except DeliveryError as exc:
            columns, delay = self._failure(row, str(exc), exc.permanent)
            return columns, (delay or 0) if exc.session else None
        except Exception as exc:    # a broken template, say: no retry mends it
            log.exception("outbox message %s could not be sent", row.pk)
            return self._failure(row, f"{type(exc).__name__}: {exc}", True)[0], None
        return {"status": "sent", "sent_at": now_text(), "reply": reply[:1000],
                "last_error": None}, None

    def _send(self, row, values, mailer):
        if row.kind == "set":
            return push_set(row.recipient, values, WEBHOOK_TIMEOUT)
        if row.kind == "webhook":
            return post_webhook(row.recipient, f"msg_{row.uid}", values,
                                row.context.encode("utf-8"), WEBHOOK_TIMEOUT)
        subject, text, html = self.templates.render(row.template, values)
        return mailer.send(compose_mail(self.settings, row.uid, row.recipient,
                                        values.get("name", ""), subject, text, html))

    def _failure(self, row, error, permanent):
        """How a failure is recorded: dead, or pending again after a retry
        delay (the columns, and the delay in seconds or None)."""
        if permanent or row.attempts > len(RETRY_DELAYS):
            log.warning("outbox message %s is dead: %s", row.pk, error)
            return {"status": "dead", "last_error": error[:1000]}, None
        delay = RETRY_DELAYS[row.attempts - 1] * random.uniform(1 - RETRY_JITTER,
                                                                1 + RETRY_JITTER)
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delay)
        log.info("outbox message %s failed (%s); retry in %.0f s", row.pk, error, delay)
        return {"status": "pending", "next_attempt": format_datetime(later),
                "last_error": error[:1000]}, delay

    def _record(self, results):
        """Record how rows went, in one transaction; each leaves its lease."""
        if not results:
            return
        with self.changes.unit():
            for row, columns in results:
                for name, value in {"lease_until": None, **columns}.items():
                    setattr(row, name, value)
                with self.models.scope.of(row.org):
                    save_row(self.models, row)      # only these columns

    def _clean(self):
        """Sent and dead messages go after log_retention_days."""
        if time.monotonic() - self._cleaned < self.CLEAN_SECONDS:
            return
        self._cleaned = time.monotonic()
        Message = self.models.OutboxMessage
        cutoff = format_datetime(dt.datetime.now(dt.timezone.utc) -
                                 dt.timedelta(days=self.settings["log_retention_days"]))
        with self.changes.unit():
            Message.delete_everywhere().where(Message.status.in_(("sent", "dead")) &
                                              (Message.created < cutoff)).execute()


###############################################################################
# Limits: rate limits, throttles and injected faults, in memory ###############
###############################################################################

class RateLimit:
    """At most `per_minute` requests per client address: a token bucket
    that holds a minute's worth and refills evenly.  In memory, per app;
    a request over the limit is answered at once (429), never made to sleep."""
    MAX_ADDRESSES = 10000

    def __init__(self, per_minute):
        self.per_minute, self.per_second = per_minute, per_minute / 60.0
        self.buckets = {}       # address -> (tokens, when counted)
        self._mutex = threading.Lock()

    def wait(self, client, now):
        """0 if `client` may go ahead (its token is spent), else the seconds
        until it may."""
        with self._mutex:
            tokens, last = self.buckets.pop(client, (self.per_minute, now))
            tokens = min(self.per_minute, tokens + (now - last) * self.per_second)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.per_second
            self.buckets[client] = (tokens - (not wait), now)    # newest last
            if len(self.buckets) > self.MAX_ADDRESSES:
                self._forget(now)
            return wait

    def _forget(self, now):
        """Addresses quiet for a minute have full buckets: forget them; if
        that is not enough (many addresses at once), the longest quiet."""
        self.buckets = {c: v for c, v in self.buckets.items() if now - v[1] < 60}
        for client in list(self.buckets)[:len(self.buckets) - self.MAX_ADDRESSES // 2]:
            del self.buckets[client]


class AuthFailures:
    """Failed SCIM authentication, per client address: probing made visible
    and slowed.  An address may fail FREE_PER_MINUTE times a minute; past
    that its failures are answered 429 with Retry-After.  A valid key is
    checked first and never slowed, even from a throttled address (behind
    a proxy, the IdP and a prober share one).  Failures are logged at most
    once a minute per address, with the key's public prefix, never a token."""
    FREE_PER_MINUTE = 20
    LOG_SECONDS = 60.0

    def __init__(self):
        self.limit = RateLimit(self.FREE_PER_MINUTE)
        self._quiet = {}        # address -> (logged at, failures since)
        self._mutex = threading.Lock()

    def failed(self, client, token, now):
        """Count one failure; the seconds the client must wait (0: none)."""
        self._log(client, token, now)
        return self.limit.wait(client, now)

    def _log(self, client, token, now):
        with self._mutex:
            logged, since = self._quiet.get(client, (None, 0))
            if logged is not None and now - logged < self.LOG_SECONDS:
                self._quiet[client] = (logged, since + 1)
                return
            if len(self._quiet) >= RateLimit.MAX_ADDRESSES:
                self._quiet.clear()
            self._quiet[client] = (now, 0)
        shown = (token[:len(KEY_PREFIX) + KEY_PUBLIC_CHARS] + "..."
                 if token.startswith(KEY_PREFIX) else "not a scimlite key") if token else "none"
        log.warning("SCIM authentication failed from %s (key: %s)%s", client, shown,
                    f"; {since} more failures from it in the minute before" if since else "")


class LoginThrottle:
    """Failed logins slowed down per client address and overall, in memory.

    An address may fail LOGIN_FREE times; after that each attempt waits
    twice as long as the last (2, 4, 8 s ... at most LOGIN_MAX_WAIT).
    Overall, more than LOGIN_BURST failures in a minute (many addresses)
    space every attempt LOGIN_SPACING seconds apart.  A wait is answered at
    once with 429 and Retry-After (a request never sleeps: sleeping would
    hold a server thread), and the real administrator waits seconds, not
    hours.  A success clears its address.
    """
    LOGIN_FREE, LOGIN_MAX_WAIT = 5, 300
    LOGIN_BURST, LOGIN_SPACING = 30, 2.0
    MAX_ADDRESSES = 10000

    def __init__(self):
        self.by_client = {}                      # address -> (failures, last failure)
        self.recent = collections.deque()        # times of recent failures, any address
        self._mutex = threading.Lock()

    def attempt(self, client, now):
        """Seconds `client` must wait (0: go ahead).  A permitted attempt is
        counted as a failure at once, before the slow password check, so
        parallel requests cannot all slip past; success clears it."""
        with self._mutex:
            wait = self._wait(client, now)
            if not wait:
                self._failed(client, now)
            return wait

    def wait(self, client, now):
        """Seconds `client` must wait before its next attempt (0: go ahead)."""
        with self._mutex:
            return self._wait(client, now)

    def _wait(self, client, now):
        count, last = self.by_client.get(client, (0, 0.0))
        wait = 0.0
        if count >= self.LOGIN_FREE:      # the exponent is capped: no overflow, ever
            doubling = min(count - self.LOGIN_FREE + 1, 10)
            wait = min(self.LOGIN_MAX_WAIT, 2.0 ** doubling) - (now - last)
        while self.recent and now - self.recent[0] > 60:
            self.recent.popleft()
        if len(self.recent) > self.LOGIN_BURST:
            wait = max(wait, self.LOGIN_SPACING - (now - self.recent[-1]))
        return max(0.0, wait)

    def failed(self, client, now):
        with self._mutex:
            self._failed(client, now)

    def _failed(self, client, now):
        if len(self.by_client) >= self.MAX_ADDRESSES:     # bounded memory
            stale = [c for c, (_, t) in self.by_client.items()
                     if now - t > self.LOGIN_MAX_WAIT]
            for c in stale or list(self.by_client)[:len(self.by_client) // 2]:
                del self.by_client[c]
        count, _ = self.by_client.get(client, (0, 0.0))
        self.by_client[client] = (count + 1, now)
        self.recent.append(now)

    def succeeded(self, client):
        with self._mutex:
            self.by_client.pop(client, None)


class Faults:
    """The faults of one app, consumed as requests match them."""

    def __init__(self, specs):
        self._faults = [Fault.read(spec) for spec in specs]
        self._mutex, self._random = threading.Lock(), random.Random()

    def add(self, **spec):
        with self._mutex:
            self._faults.append(Fault.read(spec))

    def clear(self):
        with self._mutex:
            self._faults.clear()

    def take(self, method, path):
        """The fault this request meets, if any (a `times` fault counts down)."""
        with self._mutex:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                if fault.fraction is not None and self._random.random() >= fault.fraction:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None


###############################################################################
# App: ScimLite, everything one app owns ######################################
###############################################################################

class ScimLite:
    """Everything one app owns, built here and nowhere else: settings,
    database and models, the unit of work, services, the in-memory limits
    and throttles, the admin page's one-time messages, background workers.
    Two apps in one process share none of it.  An app reaches it as
    `app.scimlite`, and the code below calls it `scimlite`.

    The embedding API (API below) is what other projects' tests may use,
    kept stable: settings, clock (set, advance), faults (add, clear),
    mint_key(name), revoke_key(name or prefix), keys(), scim_enabled,
    events(**where), outbox (sent, mail_to(address), wait(), webhook_secret(),
    licenses.verify(key)), licenses (verify(key)) and close(); for several
    organizations, create_organization(slug, name, **fields),
    update_organization(slug, **fields), organization(slug), in_org(slug)
    (a `with` block acting in it), and the `org=` of mint_key, revoke_key,
    keys and events (with one organization it is never needed).  Everything
    else on it is internal and may change.

    Lifecycle: workers start with the services that need them (Workers)
    and run until close(), which stops and joins every one of them, then
    closes the database; none is left behind.
    """
    API = ("settings", "clock", "faults", "mint_key", "revoke_key", "keys", "scim_enabled",
           "events", "outbox", "licenses", "close", "create_organization",
           "update_organization", "organization", "in_org")
    KEY_TOUCH_SECONDS = 60      # last_used is written at most this often

    def __init__(self, settings):
        self.settings = settings
        self.models = open_store(settings["db"], settings["product_name"])
        self.scope = self.models.scope
        self.scope.fallback = self._only_organization
        # An in-memory database is one connection: everything takes turns.
        turns = threading.RLock() if settings["db"] == ":memory:" else None
        self.changes = Changes(self.models, WriteQueue.for_database(settings["db"]), turns,
                               group_commit=self.models.dialect.holds_a_file and not turns)
        self.lock = self.changes.lock
        self.clock = Clock(settings["deterministic"])
        self.resources = Resources(self.models, self.changes, self.clock)
        self.workers = Workers()
        self.changes.after_commit.append(self.workers.wake)
        self.secret = load_license_secret(settings)
        self.licenses = Licenses(self.changes, settings, self.secret)
        self.outbox = Outbox(self.changes, settings, self.secret, self.licenses,
                             self.workers)
        self.security_events = SecurityEvents(self.changes, self.resources, self.secret)
        self._key_touched = {}
        self.auth = AuthCache(self.models, self.clock.now_text)
        self.key_sets = KeySets()           # the OAuth issuers' key sets, fetched
        self.log = ProvisioningLog(self.changes, settings, self.workers)
        self.faults = Faults(settings["faults"])
        self.metrics = Metrics()
        # What the HTTP layer and the admin pages keep, in memory only.
        self.auth_failures = AuthFailures()
        per_key = settings["key_rate_per_minute"]
        self.key_limit = RateLimit(per_key) if per_key else None
        self.verify_limit = RateLimit(settings["verify_rate_per_minute"])
        self.login_throttle = LoginThrottle()
        self.pages = Pages()                # the HTML templates, compiled once
        self.flash = {}                     # admin session -> a message shown once
        self.setup_lock = threading.Lock()  # one first setup, even from parallel requests
        self.setup_token_hash = None
        self.closing = False

    def new_setup_token(self):
        """A one-time token for the first administrator's setup page; only
        its hash is kept, and only in this process, until used."""
        token = new_token()
        self.setup_token_hash = hash_api_key(token)
        return token

    def check_setup_token(self, token):
        expected = self.setup_token_hash
        return bool(expected and token) and hmac.compare_digest(expected, hash_api_key(token))

    def audit(self, action, client, **detail):
        """One admin action in the audit trail (see record_audit)."""
        record_audit(self.changes, action, client, **detail)

    def _only_organization(self):
        """The organization of a query outside any (OrgScope.fallback)."""
        ids = self.auth.organization_ids()
        if len(ids) != 1:
            raise UnscopedError("a query of one organization's rows, outside any, "
                                "while there are several")
        return self.auth.organization(ids[0])

    def organization(self, slug=None):
        """The organization `slug` names, or with none the only one there
        is (LookupError naming the slugs when it is not clear which)."""
        return choose_organization(self.models, slug)

    def in_org(self, slug=None):
        """`with scimlite.in_org(slug):` the block acts in that organization
        (see organization() for slug None).  Inside one already, and with
        no slug, it stays in that one."""
        current = self.scope.entered
        if slug is None and current is not None and hasattr(current, "slug"):
            return self.scope.of(current)
        return self.scope.of(self.organization(slug))

    def mint_key(self, name, org=None):
        with self.in_org(org), self.changes.unit():
            return mint_api_key(self.models, name)

    def revoke_key(self, name_or_prefix, org=None):
        with self.in_org(org), self.changes.unit():
            return revoke_api_key(self.models, name_or_prefix)

    def keys(self, org=None):
        with self.in_org(org):
            return list(self.models.ApiKey.select().order_by(self.models.ApiKey.id))

    @property
    def scim_enabled(self):
        """The SCIM switch of the organization (see in_org())."""
        with self.in_org() as org:
            return self.auth.organization(org.id).scim_enabled

    @scim_enabled.setter
    def scim_enabled(self, value):
        self.update_organization(self.in_org_slug(), scim_enabled=bool(value))

    def in_org_slug(self):
        with self.in_org() as org:
            return org.slug

    def create_organization(self, slug, name=None, **fields):
        """A new organization (its row); ValueError if a field is wrong or
        the slug is taken."""
        fields = organization_fields({"slug": slug, "name": name or slug, **fields}, True)
        Organization = self.models.Organization
        with self.changes.unit():
            if find_organization(self.models, fields["slug"]) is not None:
                raise ValueError(f"the slug {fields['slug']!r} is taken")
            org_id = Organization.insert(created=now_text(), **fields).execute()
        return self.auth.organization(org_id) or Organization.get_by_id(org_id)

    def organization_summaries(self):
        """[{org, seats, used, waiting, last_used}] of every organization:
        what `org list` and the Organizations page show."""
        License, ApiKey = self.models.License, self.models.ApiKey
        counts = collections.Counter()
        for org, status, n in License.everywhere(License.org, License.status, fn.COUNT(
                License.pk)).where(License.status.in_(("active", "waiting"))).group_by(
                License.org, License.status).tuples():
            counts[org, status] = n
        last = dict(ApiKey.everywhere(ApiKey.org, fn.MAX(ApiKey.last_used)).group_by(
            ApiKey.org).tuples())
        out = []
        for org in organizations(self.models):
            seats = self.settings["license_seats"] if org.seats is None else org.seats
            out.append({"org": org, "seats": seats, "used": counts[org.id, "active"],
                        "waiting": counts[org.id, "waiting"], "last_used": last.get(org.id)})
        return out

    def delete_organization(self, slug):
        """Delete an organization and every row of it, in one transaction
        ({table: rows deleted}); never the last one.  Nobody is mailed: it
        is the operator's act, and its pending mail goes with it."""
        org = self.organization(slug)
        counts = {}
        self.log.flush()        # what it logged in memory goes with the rest of it
        with self.changes.unit():
            if len(organizations(self.models)) == 1:
                raise ValueError("this is the only organization: it cannot be deleted")
            with self.scope.of(org):
                for model in reversed(self.models.all):
                    if hasattr(model, "everywhere"):
                        counts[model._meta.table_name] = model.delete().execute()
            m = self.models
            counts["audit"] = m.Audit.delete().where(m.Audit.org == org.id).execute()
            # Its administrators go with it, their sessions and links too.
            theirs = m.AdminAccount.select(m.AdminAccount.pk).where(m.AdminAccount.org == org.id)
            m.AdminSession.delete().where(m.AdminSession.account.in_(theirs)).execute()
            m.AdminLink.delete().where(m.AdminLink.account.in_(theirs)).execute()
            counts["admin_account"] = m.AdminAccount.delete().where(
                m.AdminAccount.org == org.id).execute()
            m.AdminSession.update(org=None).where(m.AdminSession.org == org.id).execute()
            m.Organization.delete().where(m.Organization.id == org.id).execute()
        self.log.forget(org.id)
        return counts

    def update_organization(self, slug, **fields):
        """Change an organization's fields (organization_fields()); its row."""
        fields = organization_fields(fields)
        org = self.organization(slug)
        Organization = self.models.Organization
        with self.changes.unit():
            if "slug" in fields and fields["slug"] != org.slug and \
                    find_organization(self.models, fields["slug"]) is not None:
                raise ValueError(f"the slug {fields['slug']!r} is taken")
            if fields:
                Organization.update(**fields).where(Organization.id == org.id).execute()
        return Organization.get_by_id(org.id)

    def touch_key(self, row):
        if not isinstance(row, self.models.ApiKey):
            return      # an OAuth token: its client's last use is its issue
        now = dt.datetime.now().timestamp()
        if now - self._key_touched.get(row.id, 0) < self.KEY_TOUCH_SECONDS:
            return
        self._key_touched[row.id] = now
        ApiKey = self.models.ApiKey
        with self.changes.unit():
            ApiKey.update_everywhere(last_used=now_text()).where(ApiKey.id == row.id).execute()

    def events(self, org=None, **where):
        """Recorded events of an organization (see in_org()), oldest first."""
        Event = self.models.Event
        with self.in_org(org):
            return self._events(Event.select().order_by(Event.pk), where)

    def _events(self, query, where):
        Event = self.models.Event
        for name, value in where.items():
            query = query.where(getattr(Event, name) == value)
        return [dict(type=e.type, resource_type=e.resource_type, resource_id=e.resource_id,
                     actor=e.actor, detail=json.loads(e.detail), at=e.at) for e in query]

    def close(self):
        self.closing = True
        self.security_events.wake()     # a long poll answers now
        self.workers.stop()
        self.log.flush(retain=False)    # a read-only command writes nothing
        self.models.db.close_all()


###############################################################################
# HTTP: bodies, parameters, auth, errors as SCIM JSON #########################
###############################################################################

def scim_response(body, status=200, headers=None):
    payload = "" if body is None else json.dumps(body, ensure_ascii=False)
    out = {"Content-Type": SCIM_CONTENT_TYPE} if body is not None else {}
    return bottle.HTTPResponse(payload, status, headers={**out, **(headers or {})})


def error_response(error):
    return scim_response(error.to_json(), error.status, error.headers)


def declared_length():
    """Content-Length as the client declared it (-1: none).  Waitress refuses
    a malformed one itself; other WSGI servers pass it on, and Bottle's
    request.content_length would then raise: refused here, as a 400."""
    text = bottle.request.environ.get("CONTENT_LENGTH") or "-1"
    try:
        return int(text)
    except ValueError:
        raise SCIMError.of("invalidSyntax", "Content-Length is not a number") from None


def read_json_body(limit):
    """The request body as JSON, read ourselves: Bottle's request.json ignores
    application/scim+json, which every SCIM client sends."""
    request = bottle.request
    if declared_length() > limit:
        raise SCIMError(413, None, f"the request body is larger than {limit} bytes")
    raw = request.body.read(limit + 1)
    if len(raw) > limit:
        raise SCIMError(413, None, f"the request body is larger than {limit} bytes")
    if not raw.strip():
        raise SCIMError.of("invalidSyntax", "the request body is empty")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        _check_depth(body)
        # JSON's \udfff escapes can spell lone surrogates, which are no text:
        # refused here, they could never be stored or sent back.  (UTF-8
        # itself cannot carry one: only a body with an escape is looked at.)
        if b"\\u" in raw:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        return body
    except UnicodeEncodeError:
        raise SCIMError.of("invalidSyntax", "the request body holds an unpaired "
                           "surrogate escape (\\ud800-\\udfff), which is not text") from None
    except UnicodeDecodeError:
        raise SCIMError.of("invalidSyntax", "the request body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise SCIMError.of("invalidSyntax", f"malformed JSON: {exc.msg} at line "
                           f"{exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError):
        raise SCIMError.of("invalidSyntax", "malformed JSON") from None


def _check_depth(body):
    """Refuse a body nested deeper than MAX_JSON_DEPTH (without recursing)."""
    # After n rounds: the containers inside n containers (none: shallow enough).
    level = [body] if isinstance(body, (dict, list)) else []
    for _ in range(MAX_JSON_DEPTH):
        if not level:
            return
        level = [child for item in level
                 for child in (item.values() if isinstance(item, dict) else item)
                 if isinstance(child, (dict, list))]
    if level:
        raise SCIMError.of("invalidSyntax", f"the request body is nested more than "
                           f"{MAX_JSON_DEPTH} levels deep")


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def query_params():
    """Query parameters, UTF-8 decoded, names case-insensitive."""
    try:
        return {k.lower(): v for k, v in bottle.request.query.decode().items()}
    except UnicodeDecodeError:
        raise SCIMError.of("invalidSyntax", "the query string is not UTF-8") from None


def read_paging(params, settings):
    """startIndex and count per RFC 7644 §3.4.2.4."""
    def integer(name, default):
        text = params.get(name.lower())
        if text is None or text == "":
            return default
        try:
            return int(text)
        except ValueError:
            raise invalid_value(f"'{name}' must be an integer") from None
    start = max(1, integer("startIndex", 1))        # "less than 1 ... as 1"
    count = integer("count", settings["page_size"])
    return start, min(max(0, count), settings["max_page_size"])   # "negative ... as 0"


def read_projection(rt, params):
    attributes = parse_projection(rt, params.get("attributes"))
    excluded = {} if attributes else parse_projection(rt, params.get("excludedattributes"))
    return attributes, excluded


def request_header(name):
    """A request header as the server received it, or None.

    Bottle's get_header() decodes values as UTF-8 and raises on other
    bytes; scimlite compares headers to ASCII tokens and ETags, so a value
    that is not UTF-8 is simply one that matches nothing."""
    return bottle.request.environ.get("HTTP_" + name.upper().replace("-", "_"))


def retry_after_header(seconds):
    """Retry-After (RFC 9110 §10.2.3) for a wait: whole seconds, rounded up,
    at least 1 (a client told 0 would come straight back)."""
    return str(max(1, math.ceil(seconds)))


def bearer_token():
    scheme, _, token = (request_header("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def client_address():
    """The peer's address as the server saw it.  (X-Forwarded-For is not
    read: anyone can send it; behind a proxy every client is the proxy.)"""
    return bottle.request.environ.get("REMOTE_ADDR") or "unknown"


def authenticate(scimlite):
    """(the API key behind this request, its organization), or 401/403
    (RFC 7644 §2).  On an organization's own Tenant URL (/o/{slug}/scim/v2)
    a key of any other organization is refused exactly as a wrong key is:
    nothing says that the key exists, or whose it is."""
    token, environ = bearer_token(), bottle.request.environ
    slug = environ.get("scimlite.org_slug")
    row, org, named = scimlite.auth.admit(token, slug)
    if row is not None and row.org == NO_ORG:
        # An install-wide OAuth client's token (Okta's one client for every
        # tenant): it acts in the organization its Tenant URL names, and on
        # the shared URL, which names none, in none.
        row, org = (row, named) if named is not None else (None, None)
    if slug is not None:
        # Slugs are not secrets (they are in Tenant URLs, as a company's
        # Okta subdomain is): an unknown one is a URL that does not exist.
        if named is None:
            raise not_found("organization")
        environ["scimlite.org_id"] = named.id      # its log's, even if refused
        if row is not None and org.id != named.id:
            row = None
    if row is None:
        wait = scimlite.auth_failures.failed(client_address(), token or "", time.monotonic())
        if wait:
            raise SCIMError(429, None, "too many failed authentications from this "
                            "address; retry later", {"Retry-After": retry_after_header(wait)})
        challenge = 'Bearer realm="scimlite"' + (', error="invalid_token"' if token else "")
        raise SCIMError(401, None, "a valid API key is required: "
                        "'Authorization: Bearer <key>'" if not token else
                        "the API key is not valid or has been revoked",
                        headers={"WWW-Authenticate": challenge})
    scimlite.touch_key(row)
    # Per organization: key names are unique only within one.
    wait = scimlite.key_limit and scimlite.key_limit.wait((org.id, row.name), time.monotonic())
    if wait:
        raise SCIMError(429, None, f"the key '{row.name}' is over key_rate_per_minute; "
                        "retry later", {"Retry-After": retry_after_header(wait)})
    if org.state == "suspended":
        raise SCIMError(403, None, f"the organization '{org.name}' is suspended: "
                        "SCIM requests are refused until the operator resumes it")
    if not org.scim_enabled:
        raise SCIMError(403, None, "SCIM provisioning is disabled for this organization; "
                        "an administrator can enable it on the admin page, or with: "
                        "python scimlite.py scim enable")
    if writes(bottle.request) and "scim.write" not in getattr(row, "scopes", "scim.write"):
        raise SCIMError(403, None, "this token may read but not write: ask /oauth/token "
                        "for scope scim.write", {"WWW-Authenticate": 'Bearer realm="scimlite"'
                                                  ', error="insufficient_scope", '
                                                  'scope="scim.write"'})
    return row, org


def writes(request):
    """Whether a SCIM request may change something (RFC 7644 §3: every
    method but GET, and POST but for a query, .search)."""
    return request.method not in ("GET", "HEAD") and not request.path.endswith("/.search")


def scim_endpoint(scimlite, callback):
    """Wrap a SCIM route: auth, one lock for in-memory databases, and every
    failure turned into a SCIM Error (never Bottle's HTML, never a trace)."""
    @functools.wraps(callback)
    def endpoint(*args, **kwargs):
        started, events = time.perf_counter(), scimlite.changes.collect()
        actor = None
        fault = scimlite.faults.take(bottle.request.method,
                                  bottle.request.path[len(scimlite.settings["base_path"]):])
        if fault is not None:
            injected = inject_fault(fault)
            if injected is not None:
                scimlite.changes.stop_collecting()
                return injected
        with scimlite.lock:
            try:
                key, org = authenticate(scimlite)
                actor = key.name
                bottle.request.environ["scimlite.key_name"] = actor
                bottle.request.environ["scimlite.org_id"] = org.id
                with scimlite.scope.of(org):
                    response = callback(actor, *args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except Exception as exc:
                where = f"{bottle.request.method} {bottle.request.path}"
                response = error_response(as_scim_error(exc, where))
        scimlite.changes.stop_collecting()
        try:
            log_request(scimlite, actor, response, events, time.perf_counter() - started)
        except Exception:       # the log never turns an answered request into a 500
            log.exception("could not log %s %s", bottle.request.method, bottle.request.path)
        return response
    return endpoint


def inject_fault(fault):
    """Apply an injected fault: wait, then answer with its status or end
    the connection mid-response; None when the request is then served."""
    if fault.delay:
        time.sleep(fault.delay)
    if fault.drop:
        # More body promised than sent: the server closes the connection,
        # and the client sees it end mid-response.
        return bottle.HTTPResponse("", 200, headers={"Content-Length": "1024",
                                                     "Content-Type": SCIM_CONTENT_TYPE})
    if fault.status is None:
        return None
    headers = {"Retry-After": str(fault.retry_after)} if fault.status in (429, 503) else {}
    return error_response(SCIMError(fault.status, None, "injected fault (the faults "
                                    "setting): retry later", headers))


def log_request(scimlite, actor, response, events, seconds):
    """Hand one SCIM request to the provisioning log (see Log).  A read that
    is only counted costs no more than that: its bodies are never read."""
    request = bottle.request
    method, status = request.method, response.status_code
    entry = {"at": now_text(), "key_name": actor, "org": _log_org(scimlite),
             "client": request.environ.get("REMOTE_ADDR"),
             "user_agent": (request_header("User-Agent") or "")[:300] or None,
             "method": method, "path": request.fullpath + (
                 "?" + request.query_string if request.query_string else ""),
             "status": status, "duration_ms": round(seconds * 1000, 2)}
    if not scimlite.log.note(entry, method == "GET" or request.path.endswith("/.search")):
        return
    body = response.body if isinstance(response.body, str) else ""
    detail = None
    if status >= 400 and body:
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(body).get("detail")
    rt, resource_id = resource_type_of(scimlite, request.path, body, status)
    scimlite.log.keep({**entry, "resource_type": rt, "resource_id": resource_id,
                    "summary": summarize(status, events, detail)[:1000],
                    "request_body": loggable_body(_raw_request_body()),
                    "response_body": loggable_body(body)})


def _log_org(scimlite):
    """Whose log a request goes to: its key's organization, or the one its
    URL names.  A request with no valid key on the shared URL is the only
    organization's, and with several, no organization's (NO_ORG: the
    operator's alone, since its body may be another's data)."""
    org = bottle.request.environ.get("scimlite.org_id")
    if org is None:
        ids = scimlite.auth.organization_ids()
        org = ids[0] if len(ids) == 1 else NO_ORG
    return org


def _raw_request_body():
    body = bottle.request.environ.get("bottle.request.body")
    if body is None:
        return None
    body.seek(0)
    return body.read(LOGGED_BODY_CHARS * 4)


def resource_type_of(scimlite, path, body, status):
    """(type name, id) a SCIM request touched: from its path, or for a
    create from the id it answered with."""
    rest = path[len(scimlite.settings["base_path"]):]
    for rt in RESOURCE_TYPES.values():
        if rest == rt.endpoint or rest.startswith(rt.endpoint + "/"):
            resource_id = rest[len(rt.endpoint) + 1:] or None
            if resource_id is None and status == 201 and body:
                with contextlib.suppress(ValueError, AttributeError):
                    resource_id = json.loads(body).get("id")
            return rt.name, None if resource_id == ".search" else resource_id
    return None, None


def as_scim_error(exc, where):
    """The SCIM Error a failure is shown as: the one mapping shared by every
    SCIM route and every /Bulk operation.  Never a trace, never HTML."""
    if isinstance(exc, SCIMError):
        return exc
    if isinstance(exc, peewee.IntegrityError):
        # A concurrent write won the race past _check_unique (another thread,
        # or another instance on PostgreSQL): the unique index decided.
        log.warning("%s lost a race to a concurrent write: %s", where,
                    one_line(str(exc)))
        return SCIMError.of("uniqueness", "the resource conflicts with one that "
                            "already exists")
    if isinstance(exc, (peewee.OperationalError, sqlite3.OperationalError)) and \
            ("locked" in str(exc) or "busy" in str(exc)):
        log.error("database busy past the timeout on %s", where)
        return SCIMError(503, None, "the server is busy; retry", {"Retry-After": "1"})
    if cannot_store(exc):
        # One line, no trace: nothing is wrong with the request or the code.
        log.error("cannot store %s: %s (the disk is full?); nothing was changed", where, exc)
        return SCIMError(507, None, "the server cannot store anything now (its disk is "
                         "full); nothing was changed: retry later", {"Retry-After": "60"})
    if lost_database(exc):
        log.error("the database is unavailable on %s: %s; nothing was changed", where,
                  one_line(str(exc)))
        return SCIMError(503, None, "the database is unavailable; nothing was changed: "
                         "retry", {"Retry-After": "1"})
    log.error("unhandled error on %s", where, exc_info=exc)
    return SCIMError(500, None, "internal server error")


# Every page (admin, front, error): no framing, no referrer, no caching, and scripts only
# from this origin (the one small admin.js; no inline script at all).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def set_security_headers():
    for name, value in SECURITY_HEADERS.items():
        bottle.response.set_header(name, value)


def install_error_pages(app, scimlite):
    """Bottle's own errors (no route, wrong method) as SCIM JSON on SCIM paths."""
    details = {404: "no such SCIM endpoint", 405: "method not allowed on this endpoint",
               500: "internal server error"}
    base = scimlite.settings["base_path"]

    def handler(error):
        path = bottle.request.path
        if error.status_code == 500:
            log.error("unhandled error on %s: %s", path, error.traceback or error.exception)
        if path == base or path.startswith(base + "/"):
            bottle.response.content_type = SCIM_CONTENT_TYPE
            detail = details.get(error.status_code, error.status_line)
            return json.dumps(SCIMError(error.status_code, None, detail).to_json())
        if path.startswith("/api/"):        # the license API answers JSON too
            bottle.response.content_type = "application/json"
            text = {404: "no such endpoint"}.get(error.status_code) or details.get(
                error.status_code, error.status_line)
            return json.dumps({"error": text})
        set_security_headers()      # e.g. a 404 under /admin
        return bottle.Bottle.default_error_handler(app, error)
    app.default_error_handler = handler


def request_base_url(scimlite):
    """The SCIM base URL for Location and meta.location (RFC 7644 §3.1):
    the Tenant URL the request came to (/o/{slug} before the base path on
    an organization's own, see App)."""
    return (request_origin(scimlite.settings) +
            bottle.request.environ.get("scimlite.org_prefix", "") +
            scimlite.settings["base_path"])


FORWARDED_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


def request_origin(settings):
    """scheme://host of this server as the client addressed it: every link
    scimlite builds starts here (Location, meta.location, $ref, the admin
    cookie's secure flag).

    public_url, when set, always wins.  Else the request's own scheme and
    Host, and X-Forwarded-Proto / X-Forwarded-Host only from an address in
    trusted_proxies: anyone can send them, and Bottle's request.urlparts
    believes them from any client.  (Waitress strips them itself unless
    told otherwise; scimlite decides, so that an app embedded under another
    WSGI server is no easier to steer.)"""
    if settings["public_url"]:
        return settings["public_url"]
    environ = bottle.request.environ
    scheme = environ.get("wsgi.url_scheme") or "http"
    host = environ.get("HTTP_HOST") or _server_host(environ, scheme)
    if environ.get("REMOTE_ADDR") in settings["trusted_proxies"]:
        # A chain of proxies lists the one the client reached first.
        proto = (environ.get("HTTP_X_FORWARDED_PROTO") or "").split(",")[0].strip().lower()
        forwarded = (environ.get("HTTP_X_FORWARDED_HOST") or "").split(",")[0].strip()
        scheme = proto if proto in ("http", "https") else scheme
        host = forwarded if FORWARDED_HOST.fullmatch(forwarded) else host
    return f"{scheme}://{host}"


def _server_host(environ, scheme):
    """The host of an HTTP/1.0 request without a Host header."""
    host, port = environ.get("SERVER_NAME") or "127.0.0.1", environ.get("SERVER_PORT")
    return host if not port or port == ("443" if scheme == "https" else "80") \
        else f"{host}:{port}"


def request_is_https(settings):
    return request_origin(settings).startswith("https://")


def listening_url(settings):
    """http://host:port/ of the `host` and `port` settings (an IPv6
    address in brackets), or public_url when set."""
    if settings["public_url"]:
        return settings["public_url"]
    host = settings["host"]
    return f"http://[{host}]:{settings['port']}" if ":" in host else \
        f"http://{host}:{settings['port']}"


###############################################################################
# Queries: lists and .search (RFC 7644 §3.4) ##################################
###############################################################################

def read_sort_order(params):
    """sortOrder (RFC 7644 §3.4.2.3): whether it is descending."""
    order = (params.get("sortorder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise invalid_value("'sortOrder' must be 'ascending' or 'descending'")
    return order == "descending"


def read_sort(rt, table, params):
    """sortBy and sortOrder (RFC 7644 §3.4.2.3) as (expression path, descending)."""
    text = params.get("sortby")
    descending = read_sort_order(params)
    if not text:
        return None, False
    try:
        path = resolve_path(rt, text.strip(), "invalidValue")
        table.sort_expression(path)         # refuses what cannot be sorted on
    except SCIMError as error:
        raise invalid_value(f"sortBy: {error.detail}") from None
    return path, descending


def list_resources(scimlite, rt, params):
    """One ListResponse page for GET /{type} and POST /{type}/.search: by
    index (startIndex), or with `cursor` by cursor (RFC 9865)."""
    service = scimlite.resources
    node = parse_filter(rt, params["filter"]) if params.get("filter") is not None else None
    attributes, excluded = read_projection(rt, params)
    sort_by, descending = read_sort(rt, service.tables[rt.name], params)
    if uses_cursor(params):
        return cursor_page(scimlite, rt, node, sort_by, descending, params,
                           lambda rows: service.render(rt, rows, request_base_url(scimlite),
                                                       attributes, excluded))
    start, count = read_paging(params, scimlite.settings)
    total, rows = service.search(rt, node, start, count, sort_by, descending)
    resources = service.render(rt, rows, request_base_url(scimlite), attributes, excluded)
    return list_response(resources, total, start)


# --- cursors (RFC 9865) ---------------------------------------------------------
# A cursor is the sort key of the row a page ended at (keyset paging, see
# Finder.page_after), with the query it belongs to, the page size and when
# it was made, signed with a key derived from the install's secret:
# base64url(JSON) "." base64url(HMAC-SHA256), only RFC 3986 unreserved
# characters.  Nothing is kept on the server: any instance reads it.
# Decided where the RFC is silent: `cursor` and `startIndex` together are
# invalidValue (as scim2-server); a count above max_page_size is served as
# max_page_size (as index paging does), while a count that differs from the
# cursor's is invalidCount; `attributes` may change between pages (they
# change what a page shows, not which resources it holds); index paging
# stays the default (defaultPaginationMethod "index", RFC 9865 §2.4).

_CURSOR = re.compile(r"([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9_-]{43})")


def uses_cursor(params):
    """Whether a request pages by cursor: a `cursor` parameter, even empty
    (RFC 9865 §2: the first request sends it empty, or bare: `&cursor&`)."""
    if "cursor" not in params:
        return False
    if params.get("startindex") not in (None, ""):
        raise invalid_value("'startIndex' and 'cursor' ask for two kinds of paging; "
                            "send one of them")
    return True


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Cursors:
    """Making and reading the cursors of one query (see above), in one
    organization: another's cursor is one of another query (invalidCursor)."""

    def __init__(self, secret, clock, org, query):
        self.key, self.clock = derive_secret(secret, "cursor"), clock
        self.query = hashlib.sha256(json.dumps([org, *query]).encode("utf-8")).hexdigest()[:16]

    def make(self, count, key, before=False):
        payload = _b64(json.dumps({"q": self.query, "n": count, "k": key, "b": int(before),
                                   "t": int(self.clock.now_datetime().timestamp())},
                                  separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def read(self, text, count):
        """(sort key or None, before) of a cursor of this query; a cursor
        that was not made here, or for another query, is invalidCursor."""
        found = _CURSOR.fullmatch(text)
        if not found or not hmac.compare_digest(found[2], self._sign(found[1])):
            raise SCIMError.of("invalidCursor", "the cursor is not one this server made; "
                               "send nextCursor or previousCursor as it came, or an "
                               "empty cursor for the first page")
        # Signed, so made here: well-formed.
        data = json.loads(base64.urlsafe_b64decode(found[1] + "=" * (-len(found[1]) % 4)))
        if data["q"] != self.query:
            raise SCIMError.of("invalidCursor", "the cursor belongs to another query: "
                               "send the same filter, sortBy and sortOrder on every page")
        if data["n"] != count:
            raise SCIMError.of("invalidCount", f"the cursor's pages have {data['n']} "
                               f"results: send count={data['n']} on every page")
        if self.clock.now_datetime().timestamp() - data["t"] > CURSOR_TIMEOUT_SECONDS:
            raise SCIMError.of("expiredCursor", f"the cursor has expired (after "
                               f"{CURSOR_TIMEOUT_SECONDS} s): start again with an "
                               "empty cursor")
        return data["k"], bool(data["b"])

    def _sign(self, payload):
        return _b64(hmac.new(self.key, payload.encode("ascii"), hashlib.sha256).digest())


def cursor_page(scimlite, rt, node, sort_by, descending, params, render):
    """One ListResponse page by cursor (RFC 9865 §2): nextCursor unless it
    is the last page, previousCursor unless it is the first."""
    count = read_paging({"count": params.get("count")}, scimlite.settings)[1]
    cursors = Cursors(scimlite.secret, scimlite.clock, scimlite.scope.get(), [
        rt.name, show_filter(node) if node is not None else None,
        str(sort_by) if sort_by is not None else None, descending])
    text = params["cursor"]
    key, before = cursors.read(text, count) if text else (None, False)
    total, rows, more = scimlite.resources.page_after(rt, node, sort_by, descending,
                                                       key, count, before)
    keys = [sort_key(row, sort_by is not None) for row in rows]
    page = {"schemas": [LIST_URN], "totalResults": total, "itemsPerPage": len(rows)}
    if count and (rows if before else more):
        page["nextCursor"] = cursors.make(count, keys[-1])
    elif count and before:
        # Back onto a page whose rows were all deleted: on from the first.
        page["nextCursor"] = cursors.make(count, None)
    if count and (more if before else key is not None):
        # Back from an empty page (its rows were deleted): from where it began.
        page["previousCursor"] = cursors.make(count, keys[0] if keys else key, True)
    page["Resources"] = render(rows)
    return page


def search_all(scimlite, params):
    """A root query (RFC 7644 §3.4.2.1, via POST /.search): Users, then Groups.

    A filter naming attributes one type lacks selects nothing of that type.
    sortBy across types is refused: the types share no order.
    """
    if params.get("sortby"):
        raise invalid_value("sortBy is not supported on a search across resource types")
    read_sort_order(params)         # checked, though the order is the types' own
    parts, errors = [], []
    for rt in RESOURCE_TYPES.values():
        try:
            node = parse_filter(rt, params["filter"]) \
                if params.get("filter") is not None else None
        except SCIMError as error:
            errors.append(error)
            continue
        parts.append((rt, node))
    if not parts:
        raise errors[0]
    if uses_cursor(params):
        return search_all_by_cursor(scimlite, parts, params)
    start, count = read_paging(params, scimlite.settings)
    skip, total, resources = start - 1, 0, []
    for rt, node in parts:
        wanted = count - len(resources)
        matched, rows = scimlite.resources.search(rt, node, skip + 1, wanted)
        total += matched
        skip = max(0, skip - matched)
        if rows:
            attributes, excluded = read_projection(rt, params)
            resources += scimlite.resources.render(rt, rows, request_base_url(scimlite),
                                                   attributes,
                                                excluded)
    return list_response(resources, total, start)


def search_all_by_cursor(scimlite, parts, params):
    """A root query paged by cursor: Users, then Groups, each in pk order;
    the cursor holds which type and pk the page ended at.  Forward only:
    previousCursor is optional (RFC 9865 §2), and a page across types has
    no single key to go back from."""
    count = read_paging({"count": params.get("count")}, scimlite.settings)[1]
    cursors = Cursors(scimlite.secret, scimlite.clock, scimlite.scope.get(),
                      ["root", params.get("filter")])
    text = params["cursor"]
    position = cursors.read(text, count)[0] if text else [0, None]
    total, resources, end, more = 0, [], None, False
    for number, (rt, node) in enumerate(parts):
        # A type before the cursor's is walked: only counted.
        wanted = count - len(resources) if number >= position[0] else 0
        after = [position[1]] if number == position[0] and position[1] is not None else None
        matched, rows, beyond = scimlite.resources.page_after(rt, node, None, False,
                                                               after, wanted)
        total += matched
        if number < position[0]:
            continue
        more = more or beyond or (not wanted and matched > 0)
        if rows:
            end = [number, rows[-1].pk]
            attributes, excluded = read_projection(rt, params)
            resources += scimlite.resources.render(rt, rows, request_base_url(scimlite),
                                                   attributes, excluded)
    page = {"schemas": [LIST_URN], "totalResults": total, "itemsPerPage": len(resources)}
    if count and more:
        page["nextCursor"] = cursors.make(count, end)
    page["Resources"] = resources
    return page


def read_search_request(body):
    """A SearchRequest body (RFC 7644 §3.4.3) as query parameters."""
    params = {}
    for key, value in read_message(body, SEARCH_URN).items():
        if key in ("attributes", "excludedattributes") and isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise invalid_value(f"'{key}' must be a list of attribute names")
            value = ",".join(value)
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise invalid_value(f"'{key}' must be a string or an integer")
        params[key] = str(value)
    return params


###############################################################################
# Bulk: /Bulk with bulkId references (RFC 7644 §3.7) ##########################
###############################################################################

_BULK_REF = re.compile(r"bulkId:(.+)", re.S)     # the whole string (fullmatch)
_BULK_PATH_REF = re.compile(r"bulkId:([^/]+)")
BULK_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _bulk_refs(value):
    """The bulkIds a data value refers to ("bulkId:qwerty", RFC 7644 §3.7.2)."""
    if isinstance(value, str):
        match = _BULK_REF.fullmatch(value)
        return {match.group(1)} if match else set()
    items = value.values() if isinstance(value, dict) else value \
        if isinstance(value, list) else ()
    return set().union(set(), *map(_bulk_refs, items))


def _op_refs(op):
    """The bulkIds an operation needs: in its data, and in its path."""
    path = op.get("path")
    return _bulk_refs(op.get("data")) | set(
        _BULK_PATH_REF.findall(path) if isinstance(path, str) else ())


def _bulk_id(op):
    """An operation's bulkId if it is a usable one (a non-empty string)."""
    bulk_id = op.get("bulkid")
    return bulk_id if isinstance(bulk_id, str) and bulk_id else None


def _swap_refs(value, ids):
    if isinstance(value, str):
        match = _BULK_REF.fullmatch(value)
        return ids.get(match.group(1), value) if match else value
    if isinstance(value, dict):
        return {k: _swap_refs(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap_refs(v, ids) for v in value]
    return value


def read_bulk_request(body, settings):
    """(failOnErrors, operations) of a BulkRequest (RFC 7644 §3.7)."""
    fields = read_message(body, BULK_REQUEST_URN)
    operations = read_operations(fields)
    limit = settings["bulk_max_operations"]
    if len(operations) > limit:
        raise SCIMError(413, None, f"a bulk request may hold {limit} operations at most")
    fail_on = fields.get("failonerrors")
    if fail_on is not None and (isinstance(fail_on, bool) or not isinstance(fail_on, int)
                                or fail_on < 1):
        raise invalid_value("'failOnErrors' must be a positive integer")
    return fail_on, [{k.lower(): v for k, v in op.items()} if isinstance(op, dict) else op
                     for op in operations]


def resource_type_at(path):
    """(resource type, id or "") a bulk operation's path names, e.g.
    "/Users/2819c223"; (None, None) when it names no resource type."""
    if not isinstance(path, str):
        return None, None
    endpoint, _, resource_id = path.strip("/").partition("/")
    rt = next((r for r in RESOURCE_TYPES.values() if r.endpoint == "/" + endpoint), None)
    return (rt, resource_id) if rt is not None and "/" not in resource_id else (None, None)


class BulkRun:
    """One /Bulk request (RFC 7644 §3.7).

    The scheduler, in three passes (run()):
    1. in the order sent, each operation in its own transaction; one that
       names a bulkId not created yet waits, and runs as soon as it can;
    2. groups that name each other as members (§3.7.1's circular case) are
       created without those members, which are added once all exist;
    3. whatever still waits fails: 400 if it needs a bulkId that will never
       exist, 409 if it is a cycle scimlite cannot resolve.
    failOnErrors stops every pass.
    """

    def __init__(self, scimlite, actor, fail_on, operations):
        self.scimlite, self.actor, self.fail_on = scimlite, actor, fail_on
        self.operations = operations
        self.declared = collections.Counter(   # bulkId -> how many ops declare it
            op["bulkid"] for op in operations if isinstance(op, dict) and _bulk_id(op))
        self.ids, self.errors, self.results = {}, 0, {}
        self.failed = set()     # bulkIds whose creation failed

    @property
    def stopped(self):
        return self.fail_on is not None and self.errors >= self.fail_on

    def run(self):
        """The BulkResponse operations, in the order the client sent them."""
        waiting = self._run_in_order()
        if waiting and not self.stopped:
            self._break_group_cycles(waiting)
        self._fail_waiting(waiting)
        return [self.results[n] for n in sorted(self.results)]

    def _run_in_order(self):
        """Pass 1; what must still wait, as [(number, op)]."""
        waiting = []
        for number, op in enumerate(self.operations):
            if self.stopped:
                break
            if self._waits(op):
                waiting.append((number, op))
                continue
            self.results[number] = self.perform(op)
            self._run_ready(waiting)
        return waiting

    def _fail_waiting(self, waiting):
        """Pass 3.  What still waits either depends, maybe through others, on
        a bulkId that will never exist (400), or is a true cycle (409).
        Judged before any is recorded: recording one fails its bulkId."""
        doomed = self._doomed(waiting)
        judged = [(n, op, any(r not in self.declared or r in doomed for r in _op_refs(op)))
                  for n, op in waiting]
        for number, op, broken in judged:
            if self.stopped:
                break
            refs = ", ".join(sorted(_op_refs(op) - set(self.ids)))
            self.results[number] = self.failure(op, invalid_value(
                f"bulkId not created: {refs}") if broken else SCIMError(
                409, None, f"circular bulkId references scimlite cannot resolve: {refs}"))

    def _doomed(self, waiting):
        """bulkIds that cannot be created: failed, or needing one that is."""
        creators = {_bulk_id(op): op for _, op in waiting if _bulk_id(op)}
        doomed, grew = set(self.failed), True
        while grew:
            grew = False
            for bulk_id, op in creators.items():
                if bulk_id not in doomed and any(
                        r not in self.declared or r in doomed for r in _op_refs(op)):
                    doomed.add(bulk_id)
                    grew = True
        return doomed

    def _waits(self, op):
        if not isinstance(op, dict):
            return False
        return any(ref in self.declared and ref not in self.ids and ref not in self.failed
                   for ref in _op_refs(op))

    def _run_ready(self, waiting):
        ready = next(((n, op) for n, op in waiting if not self._waits(op)), None)
        while ready is not None and not self.stopped:
            waiting.remove(ready)
            self.results[ready[0]] = self.perform(ready[1])
            ready = next(((n, op) for n, op in waiting if not self._waits(op)), None)

    def _break_group_cycles(self, waiting):
        """Pass 2.  §3.7.1: "MUST try to resolve circular cross-references"."""
        deferred = []
        for number, op in list(waiting):
            rt, members_key = self._members_key(op)
            if members_key is None:
                continue
            members = op["data"][members_key]
            later = [m for m in members if _bulk_refs(m) - set(self.ids)]
            first = {**op, "data": {**op["data"], members_key:
                                    [m for m in members if m not in later]}}
            waiting.remove((number, op))
            self.results[number] = self.perform(first)
            if self.results[number]["status"] == "201":
                deferred.append((number, op, rt, later))
        for number, op, rt, later in deferred:
            if not self.stopped:
                self.results[number] = self._add_later_members(number, op, rt, later)
        self._run_ready(waiting)

    def _members_key(self, op):
        """(type, members key) of a POST of a type with members (a Group)
        whose only waits are members, on bulkIds that other operations of
        this request will create; (None, None) for any other operation."""
        if not (isinstance(op, dict) and str(op.get("method", "")).upper() == "POST"
                and isinstance(op.get("data"), dict) and _bulk_id(op)):
            return None, None
        rt, _ = resource_type_at(op.get("path"))
        if rt is None or rt.members_attr is None or any(
                ref not in self.declared or ref in self.failed for ref in _op_refs(op)):
            return None, None
        name = rt.members_attr.name.lower()
        key = next((k for k in op["data"] if k.lower() == name), None)
        if key is None or not isinstance(op["data"][key], list):
            return None, None
        rest = {k: v for k, v in op["data"].items() if k != key}
        return (rt, key) if not _bulk_refs(rest) - set(self.ids) else (None, None)

    def _add_later_members(self, number, op, rt, later):
        result = self.results[number]
        group_id = self.ids[op["bulkid"]]
        body = {"Operations": [{"op": "add", "path": rt.members_attr.name,
                                "value": _swap_refs(later, self.ids)}]}
        try:
            unresolved = _bulk_refs(body)
            if unresolved:
                raise invalid_value(f"bulkId not created: {', '.join(sorted(unresolved))}")
            row = self.scimlite.resources.patch(rt, group_id, body, self.actor)
            return {**result, "version": self.scimlite.resources.etag(rt, row)}
        except SCIMError as error:
            # The group was made only to break the cycle: without its members
            # it is not what the client asked for, so it goes again.
            self.scimlite.resources.delete(rt, group_id, self.actor)
            del self.ids[op["bulkid"]]
            return self.failure(op, error)

    def perform(self, op):
        try:
            return self._perform(op)
        except Exception as exc:
            return self.failure(op, as_scim_error(exc, "a /Bulk operation"))

    def _perform(self, op):
        if not isinstance(op, dict):
            raise SCIMError.of("invalidSyntax", "each operation must be an object")
        method = str(op.get("method", "")).upper()
        if method not in BULK_METHODS:
            raise SCIMError.of("invalidSyntax", "'method' must be POST, PUT, PATCH or DELETE")
        if op.get("bulkid") is not None and not _bulk_id(op):
            raise SCIMError.of("invalidSyntax", "'bulkId' must be a non-empty string")
        if self.declared.get(_bulk_id(op), 0) > 1:
            raise invalid_value(f"bulkId '{op['bulkid']}' is used more than once")
        unresolved = _op_refs(op) - set(self.ids)
        if unresolved:
            raise invalid_value(f"bulkId not created: {', '.join(sorted(unresolved))}")
        path = _BULK_PATH_REF.sub(lambda m: self.ids[m.group(1)], op.get("path")) \
            if isinstance(op.get("path"), str) else op.get("path")
        data = _swap_refs(op.get("data"), self.ids)
        rt, resource_id = self._target(method, path, op)
        service, version = self.scimlite.resources, op.get("version")
        if version is not None and not isinstance(version, str):
            raise SCIMError.of("invalidSyntax", "'version' must be an ETag string")
        if method == "POST":
            row = service.create(rt, data, self.actor)
            self.ids[op["bulkid"]] = row.id
            return self.success(op, row, rt, 201)
        if method == "DELETE":
            service.delete(rt, resource_id, self.actor, version)
            return {"method": method, "location": self._location(rt, resource_id),
                    "status": "204"}
        act = service.replace if method == "PUT" else service.patch
        return self.success(op, act(rt, resource_id, data, self.actor, version), rt, 200)

    def _target(self, method, path, op):
        if not isinstance(path, str):
            raise SCIMError.of("invalidSyntax", "'path' must be a string")
        rt, resource_id = resource_type_at(path)
        endpoint = path.strip("/").partition("/")[0]
        if rt is None:
            raise SCIMError.of("invalidPath", f"no such endpoint: '{path}'")
        if method == "POST":
            if resource_id:
                raise SCIMError.of("invalidPath", f"POST goes to {rt.endpoint}")
            if not _bulk_id(op):
                raise SCIMError.of("invalidSyntax", "a bulk POST needs a 'bulkId'")
        elif not resource_id:
            raise SCIMError.of("invalidPath", f"{method} needs /{endpoint}/{{id}}")
        return rt, resource_id

    def _location(self, rt, resource_id):
        return location_of(request_base_url(self.scimlite), rt, resource_id)

    def success(self, op, row, rt, status):
        result = {"method": op["method"].upper(), "location": self._location(rt, row.id),
                  "version": self.scimlite.resources.etag(rt, row), "status": str(status)}
        if _bulk_id(op):
            result["bulkId"] = op["bulkid"]
        return result

    def failure(self, op, error):
        """A failed operation: its status and Error, and its location when it
        names an existing resource (§3.7.3: all but a failed POST have one)."""
        self.errors += 1
        op = op if isinstance(op, dict) else {}
        method = str(op.get("method", "")).upper()
        result = {"method": method, "status": str(error.status), "response": error.to_json()}
        if _bulk_id(op):
            result["bulkId"] = op["bulkid"]
            if method == "POST":
                self.failed.add(op["bulkid"])
        path = op.get("path")
        if method != "POST" and isinstance(path, str) and not _op_refs(op) - set(self.ids):
            path = _BULK_PATH_REF.sub(lambda m: self.ids[m.group(1)], path)
            rt, resource_id = resource_type_at(path)
            if rt and resource_id:
                result["location"] = self._location(rt, resource_id)
        return result


###############################################################################
# Transfer: export and import as SCIM JSON, the seed file #####################
###############################################################################
# The file is a ListResponse (RFC 7644 §3.4.2) of every user, then every
# group, as GET returns them: `export` writes it, `import` and the `seed`
# setting read it (or a bare list of resources, or {"Users": [...],
# "Groups": [...]}).  Ids, meta.created and meta.lastModified are kept;
# passwords are never exported (writeOnly), so imported users have none.

def export_document(scimlite, base_url):
    resources = []
    for rt in RESOURCE_TYPES.values():
        model = scimlite.resources.model(rt)
        for part in chunks(list(model.select().order_by(model.pk))):
            resources += scimlite.resources.render(rt, part, base_url)
    return {"schemas": [LIST_URN], "totalResults": len(resources), "Resources": resources}


def read_import_document(document):
    """[(resource type, resource)]: users first, each one checked for a type."""
    if isinstance(document, dict) and "Resources" in document:
        document = document["Resources"]
    elif isinstance(document, dict):
        document = [*document.get("Users", []), *document.get("Groups", [])]
    if not isinstance(document, list):
        raise ValueError("an import file is a ListResponse, a list of resources, or "
                         '{"Users": [...], "Groups": [...]}')
    typed = []
    for number, resource in enumerate(document, 1):
        rt = next((t for t in RESOURCE_TYPES.values() if isinstance(resource, dict) and
                   t.schema.id in resource.get("schemas", ())), None)
        if rt is None:
            raise ValueError(f"resource {number}: no User or Group schema in 'schemas'")
        typed.append((rt, resource))
    return sorted(typed, key=lambda item: item[0] is GROUP_TYPE)


def import_document(scimlite, document, actor="import"):
    """Create every resource in one transaction (all or none), then add
    the groups' members: by id, or by a user's userName or a group's
    displayName (for files written by hand).  {"User": n, "Group": n}."""
    typed, counts, members = read_import_document(document), collections.Counter(), []
    service = scimlite.resources
    with scimlite.changes.unit(actor, whole=True):
        for number, (rt, resource) in enumerate(typed, 1):
            body = {k: v for k, v in resource.items() if k not in ("id", "meta")}
            if rt.members_attr:
                members.append((resource, body.pop(rt.members_attr.name, None) or []))
            meta = resource.get("meta") or {}
            kept = {"id": _kept_id(resource.get("id"), number, rt),
                    "created": _kept_time(meta.get("created")),
                    "last_modified": _kept_time(meta.get("lastModified"))}
            try:
                row = service.create(rt, body, actor, kept)
            except SCIMError as exc:
                raise ValueError(f"resource {number} ({rt.name}): {exc.detail}") from None
            resource["id"] = row.id
            counts[rt.name] += 1
        for group, wanted in members:
            _import_members(scimlite, group, wanted, actor)
    scimlite.models.dialect.after_bulk_load(scimlite.models.db, scimlite.models.all)
    return dict(counts)


def _kept_id(value, number, rt):
    """An id kept from the file: text with no control character (SQLite's
    JSON functions, which member lists go through, end a string at NUL)."""
    if value is not None and (not isinstance(value, str) or not value or
                              any(ord(c) < 32 for c in value)):
        raise ValueError(f"resource {number} ({rt.name}): 'id' must be text without "
                         "control characters")
    return value


def _kept_time(text):
    when = parse_datetime(text)
    return format_datetime(when) if when else None


def _import_members(scimlite, group, wanted, actor):
    """Add the members once every resource exists; the group then reads as
    exported (version 1, its lastModified kept), not as changed now."""
    ids = [_member_id(scimlite, m) for m in wanted if isinstance(m, dict)]
    if not ids:
        return
    model = scimlite.resources.model(GROUP_TYPE)
    row = model.get(model.id == group["id"])
    scimlite.resources.patch(GROUP_TYPE, group["id"], {"schemas": [PATCH_URN], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": i} for i in ids]}]}, actor)
    model.update(version=row.version, last_modified=row.last_modified).where(
        model.pk == row.pk).execute()


def _member_id(scimlite, member):
    value = str(member.get("value", ""))
    User, Group = scimlite.models.User, scimlite.models.Group
    for model, column in ((User, User.id), (Group, Group.id),
                          (User, User.user_name_key), (Group, Group.display_name_key)):
        key = value if column.name == "id" else fold(value, None)
        found = model.select(model.id).where(column == key).scalar()
        if found:
            return found
    raise ValueError(f"group {member!r}: no user or group has the id, userName or "
                     f"displayName {value!r}")


def seed_if_empty(scimlite):
    """The `seed` file, imported when the store has no users and no groups
    (so a restart never imports it twice)."""
    path = scimlite.settings["seed"]
    models = scimlite.models
    if not path or models.User.select().exists() or models.Group.select().exists():
        return None
    with open(path, encoding="utf-8") as handle:
        return import_document(scimlite, json.load(handle), actor="seed")


###############################################################################
# Admin: sessions, CSRF, the pages under /admin ###############################
###############################################################################

SESSION_COOKIE = "scimlite_session"
FORM_COOKIE = "scimlite_form"   # CSRF of the forms shown before login (double submit)
ADMIN_PASSWORD_OPTION = "admin_password"
MIN_ADMIN_PASSWORD = 10         # characters


def admin_password_set(scimlite):
    return get_option(scimlite.models, ADMIN_PASSWORD_OPTION, None) is not None


def set_admin_password(scimlite, password, client, action="password.changed"):
    """Store the admin password's scrypt hash (hashed before the write queue)."""
    if len(password) < MIN_ADMIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_ADMIN_PASSWORD} characters")
    hashed = hash_password(password)
    with scimlite.changes.unit():
        set_option(scimlite.models, ADMIN_PASSWORD_OPTION, hashed)
        if action == "password.changed":      # every other session ends with the old one
            scimlite.models.AdminSession.delete().execute()
    scimlite.audit(action, client)


def check_admin_password(scimlite, password):
    stored = get_option(scimlite.models, ADMIN_PASSWORD_OPTION, None)
    return verify_password(password, stored) if stored else False


def setup_url(scimlite, token):
    """The one-time URL where the first administrator chooses a password."""
    return f"{listening_url(scimlite.settings)}{ADMIN}/setup?token={token}"


# --- sessions: an opaque id in a cookie, the rest in the database ------------

def start_session(scimlite, client, account=None):
    """A new session (a new cookie: never one from before sign-in), the
    install password's (account None: the operator) or an account's, in
    its organization."""
    token, csrf = new_token(), new_token()
    stamp = now_text()
    with scimlite.changes.unit():
        scimlite.models.AdminSession.create(
            token_hash=hash_api_key(token), csrf=csrf, created=stamp, last_seen=stamp,
            client=client, account=account.pk if account else None,
            org=account.org if account else None)
    bottle.response.set_cookie(SESSION_COOKIE, token, path=ADMIN, httponly=True,
                               samesite="strict", secure=request_is_https(scimlite.settings))


def current_session(scimlite):
    """This request's admin session, or None (none, unknown or expired)."""
    token = bottle.request.get_cookie(SESSION_COOKIE)
    if not token:
        return None
    AdminSession = scimlite.models.AdminSession
    row = AdminSession.get_or_none(AdminSession.token_hash == hash_api_key(token))
    if row is None:
        return None
    Account = scimlite.models.AdminAccount
    if row.account is not None and not Account.select().where(
            Account.pk == row.account).exists():
        end_session(scimlite, row)      # removed (even mid-sign-in): never the operator's
        return None
    now = dt.datetime.now(dt.timezone.utc)
    idle = now - parse_datetime(row.last_seen) > dt.timedelta(
        minutes=scimlite.settings["session_idle_minutes"])
    old = now - parse_datetime(row.created) > dt.timedelta(
        hours=scimlite.settings["session_max_hours"])
    if idle or old:
        end_session(scimlite, row)
        return None
    if now - parse_datetime(row.last_seen) > dt.timedelta(minutes=1):   # written rarely
        with scimlite.changes.unit():
            AdminSession.update(last_seen=now_text()).where(
                AdminSession.token_hash == row.token_hash).execute()
    return row


def end_session(scimlite, row):
    with scimlite.changes.unit():
        scimlite.models.AdminSession.delete().where(
            scimlite.models.AdminSession.token_hash == row.token_hash).execute()
    bottle.response.delete_cookie(SESSION_COOKIE, path=ADMIN)


def form_token():
    """The CSRF token of a form shown before login: a random value both in a
    cookie and in the form, which another site can neither read nor set."""
    token = bottle.request.get_cookie(FORM_COOKIE) or new_token()
    bottle.response.set_cookie(FORM_COOKIE, token, path=ADMIN, httponly=True,
                               samesite="strict")
    return token


def csrf_ok(session, public):
    """The form's CSRF token is the session's, or on the forms shown before
    sign-in (login, setup) the form cookie's."""
    sent = bottle.request.forms.get("csrf") or ""
    expected = bottle.request.get_cookie(FORM_COOKIE) if public or session is None \
        else session.csrf
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


# --- administrators: accounts, invitations, sign-in codes --------------------------
# The install's password (setup, set-admin-password) signs in the operator,
# who sees every organization.  An organization's administrators have
# accounts: invited by mail (a one-time link), then signed in with a code
# mailed to them each time (as Bruno's portal does), or with a password
# they set.  They see their own organization only.

SIGN_IN_CODE_MINUTES = 10
SIGN_IN_CODE_TRIES = 5          # wrong codes before the code is spent
EMAIL_SHAPE = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+")


@functools.lru_cache(maxsize=1)
def dummy_password_hash():
    """A hash to check a password against when there is none: the same
    scrypt work, so that the answer's time says nothing."""
    return hash_password(secrets.token_urlsafe(16))


class AdminAccounts:
    """The administrators of one app: invite, sign in by code or
    password, remove.  `throttle` spaces requests for codes per address
    and per account (a LoginThrottle of its own)."""

    UPLOADS_KEPT = 100      # CSV uploads waiting for their import, at most

    def __init__(self, scimlite):
        self.scimlite, self.models = scimlite, scimlite.models
        self.throttle = LoginThrottle()
        # A checked CSV upload waits here for its import: {session: (org id,
        # [(name, email)])}; the import takes exactly what the preview showed.
        self.uploads = collections.OrderedDict()

    def named(self, email):
        """The account of `email` (any case), or None."""
        Account = self.models.AdminAccount
        return Account.get_or_none(Account.email == (email or "").strip().lower())

    def of(self, org):
        """An organization's administrators (None: the operators), oldest first."""
        Account = self.models.AdminAccount
        whose = Account.org == org.id if org else Account.org.is_null()
        return list(Account.select().where(whose).order_by(Account.pk))

    def invite(self, email, org, name=None, *, by, client, origin=""):
        """Invite `email` to administer `org` (its row; None: the whole
        install, an operator): the account made if new, and an invitation
        mailed that replaces any earlier one; (the account, the
        invitation's URL).  ValueError if the address is not one, or
        administers another organization."""
        email = (email or "").strip().lower()
        if not EMAIL_SHAPE.fullmatch(email) or len(email) > 254:
            raise ValueError(f"{email!r} is not an email address")
        name = one_line(name or "").strip()[:100] or email.split("@")[0]
        hours = self.scimlite.settings["invitation_hours"]
        Account, Link = self.models.AdminAccount, self.models.AdminLink
        with self.scimlite.changes.unit():
            now = now_text()
            account = Account.get_or_none(Account.email == email)
            if account is not None and account.org != (org.id if org else None):
                raise ValueError(f"{email} administers another organization already; an "
                                 "address administers one")
            if account is None:
                account = Account.create(email=email, name=name, created=now,
                                         org=org.id if org else None,
                                         invited_by=one_line(by)[:255])
            Link.update(used=now).where((Link.account == account.pk) & Link.used.is_null() &
                                        (Link.kind == "invitation")).execute()
            link = self._new_link(account, "invitation", dt.timedelta(hours=hours))
            self.scimlite.outbox.mail_admin("admin_invitation", account, link, {
                "origin": origin, "org_name": self._named(org), "invited_by": one_line(by),
                "hours": hours})
            with self.scimlite.scope.of(org) if org else contextlib.nullcontext():
                self.scimlite.audit("admin.invited", client, email=email, by=by)
        self.scimlite.workers.wake()
        token = admin_link_text(self.scimlite.secret, "invitation", link.nonce)
        return account, f"{origin}{ADMIN}/invitation?" + urllib.parse.urlencode({"token": token})

    def _named(self, org):
        """What mail calls the organization; an operator's is the install."""
        return org.name if org else self.scimlite.settings["product_name"]

    def _new_link(self, account, kind, lasts):
        nonce = secrets.token_urlsafe(16)
        text = admin_link_text(self.scimlite.secret, kind, nonce)
        now = dt.datetime.now(dt.timezone.utc)
        return self.models.AdminLink.create(
            account=account.pk, kind=kind, nonce=nonce, token_hash=hash_api_key(text),
            created=format_datetime(now), expires=format_datetime(now + lasts))

    def request_code(self, email, client, origin=""):
        """Mail a sign-in code to `email` if it has an account; the same
        work and answer either way (the page never says which).  False if
        `client` must wait first (the throttle), else True."""
        if self.throttle.attempt(f"address:{client}", time.monotonic()):
            return False
        account = self.named(email)
        quiet = account is None or self.throttle.attempt(f"account:{account.pk}",
                                                         time.monotonic())
        Link = self.models.AdminLink
        with self.scimlite.changes.unit():
            if not quiet:
                now = now_text()
                Link.update(used=now).where((Link.account == account.pk) &
                                            Link.used.is_null() & (Link.kind == "code")).execute()
                link = self._new_link(account, "code",
                                      dt.timedelta(minutes=SIGN_IN_CODE_MINUTES))
                org = self.models.Organization.get_or_none(
                    self.models.Organization.id == account.org)
                self.scimlite.outbox.mail_admin("admin_code", account, link, {
                    "origin": origin, "org_name": self._named(org),
                    "minutes": SIGN_IN_CODE_MINUTES})
            record_audit(self.scimlite.changes, "code.requested", client,
                         email=one_line(email or "")[:254])
        self.scimlite.workers.wake()
        return True

    def check_code(self, email, code):
        """The account whose newest code is `code` (typed as people type),
        not used, not expired, or None; a wrong code counts against it
        and the SIGN_IN_CODE_TRIES-th spends it."""
        account, Link = self.named(email), self.models.AdminLink
        now = now_text()
        link = account and Link.select().where(
            (Link.account == account.pk) & (Link.kind == "code") & Link.used.is_null() &
            (Link.expires > now)).order_by(Link.pk.desc()).first()
        expected = link.token_hash if link else hash_api_key("")
        good = hmac.compare_digest(expected, hash_api_key(typed_code(code))) and link
        with self.scimlite.changes.unit():
            if good:        # once: a second request with it finds it used
                good = Link.update(used=now).where((Link.pk == link.pk) &
                                                   Link.used.is_null()).execute()
            elif link:
                Link.update(tries=Link.tries + 1, used=peewee.Case(
                    None, ((Link.tries + 1 >= SIGN_IN_CODE_TRIES, now),), None)).where(
                    Link.pk == link.pk).execute()
        return account if good else None

    def check_password(self, email, password):
        """The account of `email` if `password` is the one it set, else None;
        the same scrypt work when there is none (the timing says nothing)."""
        account = self.named(email)
        stored = account.password_hash if account and account.password_hash else \
            dummy_password_hash()
        good = verify_password(password, stored)
        return account if good and account and account.password_hash else None

    def invitation(self, token):
        """The working invitation (AdminLink) whose token is `token`, or None."""
        Link = self.models.AdminLink
        link = Link.get_or_none((Link.token_hash == hash_api_key(token or "")) &
                                (Link.kind == "invitation"))
        return link if link and not link.used and link.expires > now_text() else None

    def accept(self, token, name):
        """Follow an invitation: used once, the name confirmed; its account,
        or None (unknown, used, replaced or expired)."""
        Link, Account = self.models.AdminLink, self.models.AdminAccount
        link = self.invitation(token)
        if link is None:
            return None
        with self.scimlite.changes.unit():
            now = now_text()
            if not Link.update(used=now).where((Link.pk == link.pk) &
                                               Link.used.is_null()).execute():
                return None
            name = one_line(name or "").strip()[:100]
            Account.update(joined=now, **({"name": name} if name else {})).where(
                Account.pk == link.account).execute()
        return Account.get_by_id(link.account)

    def set_password(self, account, password):
        if len(password) < MIN_ADMIN_PASSWORD:
            raise ValueError(f"the password needs at least {MIN_ADMIN_PASSWORD} characters")
        hashed = hash_password(password)
        Account = self.models.AdminAccount
        with self.scimlite.changes.unit():
            Account.update(password_hash=hashed).where(Account.pk == account.pk).execute()

    def signed_in(self, account):
        """Note when `account` last signed in (the Administrators page)."""
        Account = self.models.AdminAccount
        with self.scimlite.changes.unit():
            Account.update(last_login=now_text()).where(Account.pk == account.pk).execute()

    def remove(self, account, by, client):
        """Remove an administrator: their sessions end at once, their links
        die.  ValueError for an organization's last administrator."""
        Account, Link = self.models.AdminAccount, self.models.AdminLink
        Session = self.models.AdminSession
        with self.scimlite.changes.unit():
            # (An operator account may go: the install's password remains.)
            # The last who can sign in stays: one only invited cannot yet.
            others = Account.select().where((Account.org == account.org) &
                                            (Account.pk != account.pk) &
                                            Account.joined.is_null(False))
            if account.org is not None and account.joined and not others.exists():
                raise ValueError(f"{account.email} is the organization's last "
                                 "administrator: invite another, who joins, first")
            Session.delete().where(Session.account == account.pk).execute()
            Link.delete().where(Link.account == account.pk).execute()
            Account.delete().where(Account.pk == account.pk).execute()
            with self.scimlite.scope.of(account.org) if account.org is not None \
                    else contextlib.nullcontext():
                self.scimlite.audit("admin.removed", client, email=account.email, by=by)


# --- people by hand: added one by one, uploaded from CSV, removed ------------------
# For organizations without SCIM, or beside it (Bruno's portal's Add User
# and Upload Users).  Each person is a SCIM user like any other (their
# license issued and mailed), marked as added by hand (User.added_by): one an
# identity provider provisioned is left to it, since removed here it would
# come back on its next cycle.

PEOPLE_CSV_ROWS, PEOPLE_CSV_BYTES = 10_000, 2 * 1024 * 1024
PEOPLE_CSV_SAMPLE = "name,email\nAnn Example,ann@example.com\nBob Example,bob@example.com\n"


def person_resource(name, email):
    """The SCIM user of a person added by hand: their address is their
    userName and their work email."""
    return {"schemas": [USER_URN], "userName": email, "displayName": name or email,
            "name": {"formatted": name or email}, "active": True,
            "emails": [{"value": email, "type": "work", "primary": True}]}


def person_problem(name, email):
    """What is wrong with a person's name and address, in words, or None."""
    if not EMAIL_SHAPE.fullmatch(email) or len(email) > 254:
        return f"{email!r} is not an email address" if email else "no email address"
    if len(name) > 200 or any(ord(c) < 32 for c in name):
        return "the name is over 200 characters or holds control characters"
    return None


def free_seats(scimlite):
    """Seats of the current organization no active license holds (None:
    no limit)."""
    seats = scimlite.licenses.seats()
    if not seats:
        return None
    License = scimlite.models.License
    return max(0, seats - License.select().where(License.status == "active").count())


def people_present(scimlite, emails):
    """Which of `emails` the organization has, as a userName or an email
    address: their folded forms (fold), as the indexes hold them."""
    User, Email = scimlite.models.User, scimlite.models.UserEmail
    found = set()
    for part in chunks(sorted({fold(email) for email in emails}), 500):
        found |= {name for (name,) in User.select(User.user_name_key).where(
            User.user_name_key.in_(part)).tuples()}
        found |= {value for (value,) in Email.select(Email.value_key).where(
            Email.value_key.in_(part)).tuples()}
    return found


def read_people_csv(data):
    """[(line, name, email)] of an uploaded CSV: UTF-8 (a BOM or not), the
    header name,email, at most PEOPLE_CSV_ROWS rows and PEOPLE_CSV_BYTES.
    ValueError saying what is wrong with the file as a whole."""
    if len(data) > PEOPLE_CSV_BYTES:
        raise ValueError(f"the file is over {PEOPLE_CSV_BYTES // 1024 // 1024} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text: save it as CSV UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if [h.strip().lower() for h in header or []] != ["name", "email"]:
            raise ValueError("the first line must be the header name,email")
        rows = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != 2:
                raise ValueError(f"line {reader.line_num} has {len(row)} columns: "
                                 "name,email only")
            if len(rows) == PEOPLE_CSV_ROWS:
                raise ValueError(f"the file has over {PEOPLE_CSV_ROWS:,} people")
            rows.append((reader.line_num, one_line(row[0], 200).strip(),
                         row[1].strip().lower()))
    except csv.Error as exc:
        raise ValueError(f"the file is not CSV: {exc}") from None
    return rows


def check_people(scimlite, rows):
    """Each row with what keeps it out, or None: a bad address or name, an
    address already in the file or already here, or no seat left for it."""
    present = people_present(scimlite, [address for _, _, address in rows])
    first, checked = {}, []
    for line, name, address in rows:
        problem, key = person_problem(name, address), fold(address)
        if problem is None and key in first:
            problem = f"the same address as line {first[key]}"
        elif problem is None and key in present:
            problem = "already here"
        first.setdefault(key, line)
        checked.append([line, name, address, problem])
    seats = free_seats(scimlite)
    good = [row for row in checked if row[3] is None]
    for row in good[seats:] if seats is not None else ():
        row[3] = f"over the seats: {seats} free"
    return [tuple(row) for row in checked]


def add_people(scimlite, people, by):
    """Add [(name, email)] at once, all or none (one transaction): each
    licensed and mailed; their rows.  ValueError naming the first that
    cannot be."""
    actor, rows = f"admin {by}", []
    with scimlite.changes.unit(actor, whole=True):
        seats = free_seats(scimlite)
        if seats is not None and len(people) > seats:
            raise ValueError(f"only {seats} seats are free for {len(people)} people")
        for name, address in people:
            problem = person_problem(name, address)
            if problem:
                raise ValueError(f"{address}: {problem}")
            try:
                rows.append(scimlite.resources.create(
                    USER_TYPE, person_resource(name, address), actor, {"added_by": by}))
            except SCIMError as exc:
                raise ValueError(f"{address}: {exc.detail}") from None
    return rows


def remove_person(scimlite, user_id, by):
    """Deactivate a person added by hand: their license is suspended and
    they are mailed, as a SCIM deactivation does.  ValueError for one an
    identity provider provisioned."""
    row = scimlite.resources.get(USER_TYPE, user_id)
    if not row.added_by:
        raise ValueError("This person was provisioned by your identity provider: unassign "
                         "them there. Removed here, they would come back on its next cycle.")
    scimlite.resources.patch(USER_TYPE, user_id, {"schemas": [PATCH_URN], "Operations": [
        {"op": "replace", "path": "active", "value": False}]}, f"admin {by}")


# --- rendering pages ------------------------------------------------------------

def see_other(path):
    """POST-redirect-GET: 303 to `path` (raises; cookies and headers set on
    this response go with it)."""
    bottle.redirect(path, 303)


def login_url():
    """The login page, returning to this page after sign-in if it is one
    to return to (a GET: an authorization request, a deep link)."""
    request = bottle.request
    if request.method != "GET" or request.path in (ADMIN, ADMIN + "/"):
        return f"{ADMIN}/login"
    here = request.path + ("?" + request.query_string if request.query_string else "")
    return f"{ADMIN}/login?" + urllib.parse.urlencode({"next": here})


def local_next(text):
    """`text` if it is an admin page of this server to go to after sign-in,
    else the dashboard: never another site (an open redirect)."""
    text = text or ""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme or parts.netloc or "\\" in text or any(ord(c) < 32 for c in text) or \
            not (parts.path == ADMIN or parts.path.startswith(ADMIN + "/")) or \
            len(text) > 4000:
        return ADMIN
    return text


def operator_only(handler):
    """A page of the install's (organizations, the install's webhook
    secret and password): 404 for an organization's administrators."""
    handler.operator_only = True
    return handler


def admin_route(app, scimlite, pages, path, methods=("GET",), public=False):
    """Install an admin page: session required (else to the login page),
    CSRF checked on POST, security headers on every answer, one lock for
    in-memory databases.  A SCIM bearer key opens nothing here.  The
    handler gets a Page (a public page's has no session) and the route's
    arguments."""
    def decorate(handler):
        @functools.wraps(handler)
        def page(*args, **kwargs):
            set_security_headers()
            with scimlite.lock:
                session = current_session(scimlite)
                if session is None and not public:
                    see_other(login_url())
                if bottle.request.method == "POST" and not csrf_ok(session, public):
                    return pages.render("message.html", 403, title="Form expired",
                                        session=session, text="This form was too old or "
                                        "came from elsewhere. Go back, reload, and try again.")
                page = Page(scimlite, pages, None if public else session)
                if getattr(handler, "operator_only", False) and not page.operator:
                    # An organization's administrator: the install's pages
                    # are not there for them, as an unknown URL is not.
                    return page.message("Not found", "There is no such page.", 404)
                # The pages before sign-in act in no organization: what they
                # audit (a code asked for, a failed login) is the install's.
                with scimlite.scope.of(page.organization) if not public else \
                        contextlib.nullcontext():
                    return handler(page, *args, **kwargs)
        app.route(path, list(methods), page)
        return page
    return decorate


# --- what the pages show --------------------------------------------------------

KEY_EXPIRY_WARNING_DAYS = 14
ADMIN_PAGE_SIZE = 50


def count_users(scimlite):
    """(active, inactive) users, with the same filter SCIM clients use."""
    table = scimlite.resources.tables[USER_TYPE.name]
    inactive = table.model.select().where(
        filter_to_sql(parse_filter(USER_TYPE, f"{USER_TYPE.active} eq false"), table)).count()
    return table.model.select().count() - inactive, inactive


def last_request_seen(scimlite):
    """(when, method, path, key name, status) of the current organization's
    last SCIM request, or None."""
    entry = scimlite.log.last_request.get(scimlite.scope.get())
    if entry is not None:
        return entry
    ApiKey = scimlite.models.ApiKey
    row = ApiKey.select().where(ApiKey.last_used.is_null(False)).order_by(
        ApiKey.last_used.desc()).first()
    return None if row is None else {"at": row.last_used, "method": None, "path": None,
                                     "key_name": row.name, "status": None}


def attention(scimlite, keys, since):
    """What needs the administrator: a list of (level, text)."""
    notes = []
    if not scimlite.scim_enabled:
        notes.append(("warn", "SCIM is off: every SCIM request is answered 403."))
    if not [k for k in keys if k["state"] == "active"]:
        notes.append(("warn", "There is no active API key: no identity provider can connect."))
    soon = format_datetime(dt.datetime.now(dt.timezone.utc) +
                           dt.timedelta(days=KEY_EXPIRY_WARNING_DAYS))
    for key in keys:
        if key["state"] == "active" and key["expires"] and key["expires"] <= soon:
            notes.append(("warn", f"API key ‘{key['name']}’ works until the end of "
                                  f"{key['last_day']}: mint its successor now."))
    notes += license_attention(scimlite)
    RequestLog = scimlite.models.RequestLog
    failures = RequestLog.select().where((RequestLog.status >= 400) &
                                         (RequestLog.at >= since)).count()
    if failures:
        notes.append(("info", f"{failures} SCIM request(s) failed in the last 24 hours: "
                              "see the provisioning log."))
    return notes


def license_attention(scimlite):
    """Users waiting for a seat; mail that could not be sent."""
    notes, counts = [], scimlite.licenses.counts()
    if counts["waiting"]:
        notes.append(("warn", f"{counts['waiting']} user(s) wait for a license: every one "
                              f"of the {counts['seats']} seats is taken (license_seats)."))
    dead = scimlite.outbox.counts()["dead"]
    if dead:
        notes.append(("warn", f"{dead} message(s) could not be delivered: see the outbox."))
    return notes


def describe_keys(scimlite):
    """Every key as the pages show it, newest first."""
    now = now_text()
    out = []
    for row in reversed(scimlite.keys()):
        kind = key_state(row, now)
        last_day = None if not row.expires else (parse_datetime(row.expires) -
                                                 dt.timedelta(seconds=1)).date().isoformat()
        out.append({"id": row.id, "name": row.name, "prefix": key_prefix(row),
                    "created": row.created, "expires": row.expires, "last_day": last_day,
                    "last_used": row.last_used, "revoked": row.revoked, "state": kind})
    return out


def expiry_from_form(text):
    """A key's expiry from a date field (YYYY-MM-DD): it works through
    that day (UTC) and stops at the next midnight.  None when empty."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError("the expiry date must be a date like 2027-06-30") from None
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    return format_datetime(end)


def local_admin_path(path):
    """`path` if it is a page of this admin (never another site), else None."""
    if isinstance(path, str) and path.startswith(ADMIN + "/") and "//" not in path \
            and "\\" not in path:
        return path
    return None


def filters_query(params):
    """A page's filters as a query string, for its paging and export links."""
    return urllib.parse.urlencode({k: v for k, v in params.items() if k != "page" and v})


def paged(query, params):
    """(rows, pager): one page of `query`'s rows, newest first, the page's
    number taken from `params`."""
    page = page_of(params)
    rows = list(query.offset((page - 1) * ADMIN_PAGE_SIZE).limit(ADMIN_PAGE_SIZE + 1).dicts())
    return rows[:ADMIN_PAGE_SIZE], pager(page, len(rows) > ADMIN_PAGE_SIZE, params)


def pager(page, more, params, newer="← Newer", older="Older →"):
    """What templates/pager.html shows: the links to the pages either side,
    keeping the page's filters."""
    return {"page": page, "more": more, "filters": filters_query(params), "newer": newer,
            "older": older}


def page_of(params):
    try:
        return min(max(1, int(params.get("page") or 1)), 10 ** 6)
    except ValueError:
        return 1


def directory_filter(rt, params):
    """The SCIM filter text behind the Users and Groups pages' search."""
    parts = []
    query = (params.get("q") or "").strip()
    if query:
        text = json.dumps(query)
        names = [f"{rt.display[-1]} sw {text}"] + (
            [f"{a.name}.value sw {text}" for a in rt.schema.attributes if a.index])
        parts.append("(" + " or ".join(names) + ")")
    if rt.active and params.get("status") in ("active", "inactive"):
        parts.append(f"{rt.active} eq {'true' if params['status'] == 'active' else 'false'}")
    return " and ".join(parts) or None


def log_query(scimlite, params):
    """The provisioning log rows the filters select, newest first: the
    organization's, or with keyless=1 the requests no organization owns
    (no valid key on the shared URL, with several organizations: NO_ORG).
    Those may carry any organization's data, so they are the operator's
    (log_page refuses them to an organization's administrators)."""
    RequestLog = scimlite.models.RequestLog
    query = (RequestLog.everywhere().where(RequestLog.org == NO_ORG)
             if params.get("keyless") == "1" else RequestLog.select())
    query = query.order_by(RequestLog.pk.desc())
    status = params.get("status")
    if status in ("2xx", "3xx", "4xx", "5xx"):
        low = int(status[0]) * 100
        query = query.where((RequestLog.status >= low) & (RequestLog.status < low + 100))
    if params.get("resource"):
        query = query.where(RequestLog.resource_id == params["resource"].strip())
    if params.get("key"):
        query = query.where(RequestLog.key_name == params["key"])
    if params.get("since"):
        query = query.where(RequestLog.at >= params["since"].strip())
    return query


def directory_listing(scimlite, rt):
    """One page of the Users or Groups list, searched and filtered."""
    params = bottle.request.query.decode()
    page = page_of(params)
    text = directory_filter(rt, params)
    try:
        node = parse_filter(rt, text) if text else None
    except SCIMError:       # a search too long or holding NUL: nothing matches it
        node = parse_filter(rt, f"{SCHEMAS_ATTR.name} eq \"\"")
    total, rows = scimlite.resources.search(rt, node, (page - 1) * ADMIN_PAGE_SIZE + 1,
                                         ADMIN_PAGE_SIZE)
    items = scimlite.resources.render(rt, rows, request_base_url(scimlite))
    return dict(rt=rt, items=items, total=total, q=params.get("q") or "",
                status=params.get("status") or "all", filters=filters_query(params),
                pager=pager(page, page * ADMIN_PAGE_SIZE < total, params,
                            "← Newer page", "Next page →"))


def resource_detail(scimlite, rt, resource_id):
    """A user or group as SCIM returns it, with its history; None if gone."""
    try:
        row = scimlite.resources.get(rt, resource_id)
    except SCIMError:
        return None
    resource = scimlite.resources.render(rt, [row], request_base_url(scimlite))[0]
    Event, RequestLog = scimlite.models.Event, scimlite.models.RequestLog
    history = list(Event.select().where(Event.resource_id == resource_id)
                   .order_by(Event.pk.desc()).limit(200).dicts())
    requests = list(RequestLog.select().where(RequestLog.resource_id == resource_id)
                    .order_by(RequestLog.pk.desc()).limit(50).dicts())
    license = scimlite.licenses.of_user(resource_id) if rt is USER_TYPE else None
    return dict(rt=rt, resource=resource, history=history, requests=requests,
                license=license, pretty=json.dumps(resource, indent=2, ensure_ascii=False),
                added_by=getattr(row, "added_by", None))


def member_counts(scimlite, group_ids):
    """{group id: number of direct members}, in one query."""
    Group, Membership = scimlite.models.Group, scimlite.models.Membership
    return dict(Membership.select(Group.id, fn.COUNT(Membership.id)).join(Group).where(
        Group.id.in_(group_ids)).group_by(Group.id).tuples())


# --- the pages: one handler each, one table of routes -----------------------------
# A handler takes the Page (the app, the session, render) and the route's
# arguments; it returns the page, or redirects (POST-redirect-GET).

def viewed_organization(scimlite, session, account=None):
    """The organization an admin page acts in: an organization admin's own,
    always; the operator's, the one the session opened (the Organizations
    page), else the first."""
    if account is not None and account.org is not None:
        return scimlite.auth.organization(account.org)
    org = session and session.org and scimlite.auth.organization(session.org)
    return org or scimlite.auth.organization(min(scimlite.auth.organization_ids()))


class Page:
    """One request to an admin page, as its handler sees it: its session,
    whose it is (`account`: None for the install password) and whether
    that is the operator (`operator`), and the organization it acts in
    (`organization`, see viewed_organization)."""

    def __init__(self, scimlite, pages, session):
        self.scimlite, self.session, self._pages = scimlite, session, pages
        Account = scimlite.models.AdminAccount
        self.account = Account.get_or_none(Account.pk == session.account) \
            if session is not None and session.account is not None else None
        # The install's password (no account), or an operator's account; a
        # session whose account is gone never gets here (current_session).
        self.operator = session is not None and (session.account is None or (
            self.account is not None and self.account.org is None))
        self.organization = viewed_organization(scimlite, session, self.account)

    def render(self, name, code=200, **values):
        """Template `name`, with the session's one-time message, if any."""
        flash = self.scimlite.flash.pop(self.session.token_hash, None) \
            if self.session else None
        several = len(self.scimlite.auth.organization_ids()) > 1
        return self._pages.render(name, code, session=self.session, flash=flash,
                                  organization=self.organization, several=several,
                                  operator=self.operator, account=self.account, **values)

    def message(self, title, text, code=200):
        return self.render("message.html", code, title=title, text=text)

    def show_once(self, title, secret, text):
        """A secret shown on the next page only (a new key, a license key)."""
        self.scimlite.flash[self.session.token_hash] = {"title": title, "secret": secret,
                                                        "text": text}


def _too_many_attempts(page, template, wait, code, **values):
    """The throttled form again, saying how long to wait (LoginThrottle)."""
    bottle.response.set_header("Retry-After", retry_after_header(wait))
    return page.render(template, code, error="Too many failed attempts: wait "
                       f"{retry_after_header(wait)} seconds, then try again.", **values)


def setup_page(page):
    scimlite = page.scimlite
    token = bottle.request.params.get("token") or ""
    with scimlite.setup_lock:       # one setup, even from parallel requests
        if admin_password_set(scimlite) or not scimlite.check_setup_token(token):
            return page.message("No setup here", "This setup link was used already or is "
                                "not valid. Sign in, or run: python scimlite.py "
                                "set-admin-password", 404)
        error = None
        if bottle.request.method == "POST":
            password = bottle.request.forms.getunicode("password") or ""
            if password != (bottle.request.forms.getunicode("confirm") or ""):
                error = "The two passwords differ."
            else:
                try:
                    set_admin_password(scimlite, password, client_address(), "setup")
                    scimlite.setup_token_hash = None        # used: never again
                    with scimlite.changes.unit():           # no session from before
                        scimlite.models.AdminSession.delete().execute()
                    start_session(scimlite, client_address())
                    see_other(ADMIN)
                except ValueError as exc:
                    error = str(exc)
        return page.render("setup.html", token=token, error=error, csrf=form_token())


def login_page(page):
    """Sign in: an administrator by a code mailed to them (code_page) or
    with their password and address; the operator with the install's
    password alone."""
    scimlite, forms = page.scimlite, bottle.request.forms
    if not admin_password_set(scimlite) and not scimlite.models.AdminAccount.select().exists():
        return page.message("No administrator yet", "Open the setup link the server "
                            "printed when it started, or run: python scimlite.py "
                            "set-admin-password")
    error, client = None, client_address()
    going = local_next(bottle.request.params.getunicode("next"))
    if bottle.request.method == "POST":
        throttle = scimlite.login_throttle
        wait = throttle.attempt(client, time.monotonic())
        if wait:
            return _too_many_attempts(page, "login.html", wait, 429, csrf=form_token(),
                                      next=going if going != ADMIN else "")
        email, password = forms.getunicode("email") or "", forms.getunicode("password") or ""
        account = admin_accounts(scimlite).check_password(email, password) if email.strip() \
            else None
        if account is not None or (not email.strip() and
                                   check_admin_password(scimlite, password)):
            _signed_in(scimlite, client, account, "login.succeeded")
        scimlite.audit("login.failed", client)
        error = "That address and password do not match." if email.strip() else \
            "That password is not right."
    return page.render("login.html", 401 if error else 200, csrf=form_token(), error=error,
                       next=going if going != ADMIN else "",
                       install_password=admin_password_set(scimlite),
                       accounts=scimlite.models.AdminAccount.select().exists())


def _signed_in(scimlite, client, account, action):
    """A new session for `account` (None: the operator), then to the page
    the sign-in was for."""
    scimlite.login_throttle.succeeded(client)
    if account is not None:
        admin_accounts(scimlite).signed_in(account)
        with scimlite.scope.of(account.org):
            scimlite.audit(action, client, email=account.email)
    else:
        scimlite.audit(action, client)
    start_session(scimlite, client, account)
    see_other(local_next(bottle.request.forms.getunicode("next")))


def admin_accounts(scimlite):
    """The app's AdminAccounts (its code-request throttle lives with it)."""
    accounts = getattr(scimlite, "admin_accounts", None)
    if accounts is None:
        accounts = scimlite.admin_accounts = AdminAccounts(scimlite)
    return accounts


def code_page(page):
    """Sign-in by code: POST an address (a code is mailed if it has an
    account: the answer is the same either way), then POST the code."""
    scimlite, forms, client = page.scimlite, bottle.request.forms, client_address()
    accounts, email = admin_accounts(scimlite), (forms.getunicode("email") or "").strip()
    going = local_next(forms.getunicode("next"))
    values = {"csrf": form_token(), "email": email, "next": going if going != ADMIN else ""}
    if forms.get("code") is None:           # the address: mail a code
        if not accounts.request_code(email, client, request_origin(scimlite.settings)):
            wait = accounts.throttle.wait(f"address:{client}", time.monotonic())
            return _too_many_attempts(page, "code.html", wait, 429, **values)
        return page.render("code.html", **values)
    wait = scimlite.login_throttle.attempt(client, time.monotonic())
    if wait:
        return _too_many_attempts(page, "code.html", wait, 429, **values)
    account = accounts.check_code(email, forms.getunicode("code") or "")
    if account is not None:
        _signed_in(scimlite, client, account, "login.succeeded")
    scimlite.audit("login.failed", client, email=one_line(email)[:254])
    return page.render("code.html", 401, error="That code is not right, has expired or was "
                       "used. Ask for a new one.", **values)


def invitation_page(page):
    """An invitation's link: GET shows it (mail scanners that follow
    links use nothing up), POST confirms the name, signs in and spends it."""
    scimlite, client = page.scimlite, client_address()
    accounts = admin_accounts(scimlite)
    token = bottle.request.params.getunicode("token") or ""
    link = accounts.invitation(token)
    if link is None:
        scimlite.login_throttle.failed(client, time.monotonic())
        return page.message("This invitation does not work", "It was used, replaced by a "
                            "newer one, or has expired. Ask whoever invited you to send it "
                            "again.", 404)
    if bottle.request.method == "POST":
        account = accounts.accept(token, bottle.request.forms.getunicode("name"))
        if account is not None:
            _signed_in(scimlite, client, account, "admin.joined")
    account = scimlite.models.AdminAccount.get_by_id(link.account)
    org = scimlite.auth.organization(account.org) if account.org is not None else None
    return page.render("invitation.html", csrf=form_token(), token=token, invited=account,
                       org_name=org.name if org else scimlite.settings["product_name"])


def admins_page(page):
    """The organization's administrators; invite one (POST)."""
    scimlite, forms = page.scimlite, bottle.request.forms
    if bottle.request.method == "POST":
        by = page.account.email if page.account else "the operator"
        try:
            account, _ = admin_accounts(scimlite).invite(
                forms.getunicode("email"), page.organization, forms.getunicode("name"),
                by=by, client=client_address(), origin=request_origin(scimlite.settings))
        except ValueError as exc:
            return page.message("Nobody invited", str(exc), 400)
        see_other(f"{ADMIN}/admins")
    return page.render("admins.html", admins=admin_accounts(scimlite).of(page.organization),
                       hours=scimlite.settings["invitation_hours"])


def add_person_page(page):
    """Add one person by hand (POST name, email): licensed and mailed."""
    scimlite, forms = page.scimlite, bottle.request.forms
    name = one_line(forms.getunicode("name") or "", 200).strip()
    email = (forms.getunicode("email") or "").strip().lower()
    by = page.account.email if page.account else "the operator"
    try:
        (user,) = add_people(scimlite, [(name, email)], by)
    except ValueError as exc:
        return page.message("Nobody added", str(exc), 400)
    scimlite.audit("person.added", client_address(), email=email, by=by)
    see_other(f"{ADMIN}/users/{urllib.parse.quote(user.id)}")


def upload_people_page(page):
    """A CSV of people (POST, multipart): the preview, every bad row named
    by its line; with none, the import waits for its button."""
    scimlite = page.scimlite
    upload = bottle.request.files.get("file")
    accounts = admin_accounts(scimlite)
    try:
        if upload is None:
            raise ValueError("choose a CSV file to upload")
        rows = read_people_csv(upload.file.read(PEOPLE_CSV_BYTES + 1))
        if not rows:
            raise ValueError("the file names nobody: one person a line after the header")
    except ValueError as exc:
        return page.render("people_preview.html", 400, error=str(exc), rows=[], ready=0)
    checked = check_people(scimlite, rows)
    ready = [(name, email) for _, name, email, problem in checked if problem is None]
    accounts.uploads.pop(page.session.token_hash, None)
    if len(ready) == len(checked):
        accounts.uploads[page.session.token_hash] = (page.organization.id, ready)
        while len(accounts.uploads) > accounts.UPLOADS_KEPT:
            accounts.uploads.popitem(last=False)
    return page.render("people_preview.html", rows=checked, error=None,
                       ready=len(ready) if len(ready) == len(checked) else 0)


def import_people_page(page):
    """Import the upload the preview showed, all or none."""
    scimlite = page.scimlite
    waiting = admin_accounts(scimlite).uploads.pop(page.session.token_hash, None)
    if waiting is None or waiting[0] != page.organization.id:
        return page.message("Nothing to import", "Upload the CSV file again: its preview "
                            "is gone (imported, replaced, or the server restarted).", 400)
    by = page.account.email if page.account else "the operator"
    try:
        add_people(scimlite, waiting[1], by)
    except ValueError as exc:
        return page.message("Nobody imported", f"{exc}. Nothing was imported.", 400)
    scimlite.audit("people.imported", client_address(), count=len(waiting[1]), by=by)
    see_other(f"{ADMIN}/users")


def people_sample(page):
    bottle.response.content_type = "text/csv; charset=utf-8"
    bottle.response.set_header("Content-Disposition", 'attachment; filename="people.csv"')
    return PEOPLE_CSV_SAMPLE


def person_action(page, user_id, action):
    """Remove a person added by hand (their license suspended, they are
    mailed), or mail their license again."""
    scimlite = page.scimlite
    by = page.account.email if page.account else "the operator"
    try:
        scimlite.resources.get(USER_TYPE, user_id)      # another organization's: 404
        if action == "remove":
            remove_person(scimlite, user_id, by)
        else:
            license = scimlite.licenses.of_user(user_id)
            if license is None or license.status != "active" or not license.email:
                raise ValueError("Only an active license with an address is mailed again.")
            with scimlite.changes.unit():
                scimlite.outbox.mail_license_again(license)
            scimlite.workers.wake()
    except SCIMError:
        return page.message("No such user", "No user has that id.", 404)
    except ValueError as exc:
        return page.message("Not done", str(exc), 400)
    scimlite.audit(f"person.{'removed' if action == 'remove' else 'mailed'}",
                   client_address(), user=user_id, by=by)
    see_other(f"{ADMIN}/users/{urllib.parse.quote(user_id)}")


def admin_action(page, pk, action):
    """Send an administrator's invitation again (the old link dies), or
    remove them (their sessions end at once)."""
    scimlite, accounts = page.scimlite, admin_accounts(page.scimlite)
    Account = scimlite.models.AdminAccount
    account = Account.get_or_none((Account.pk == pk) & (Account.org == page.organization.id))
    if account is None:
        return page.message("No such administrator", "Nobody here has that id.", 404)
    by = page.account.email if page.account else "the operator"
    try:
        if action == "remove":
            accounts.remove(account, by, client_address())
        else:
            accounts.invite(account.email, page.organization, by=by, client=client_address(),
                            origin=request_origin(scimlite.settings))
    except ValueError as exc:
        return page.message("Not removed", str(exc), 400)
    see_other(f"{ADMIN}/admins")


def logout(page):
    end_session(page.scimlite, page.session)
    page.scimlite.audit("logout", client_address())
    see_other(f"{ADMIN}/login")


def password_page(page):
    """The install's password (the operator), or an administrator's own:
    optional, to sign in without a code (the current one asked if set)."""
    scimlite, error, account = page.scimlite, None, page.account
    if account is not None:
        return _account_password_page(page, account)
    if bottle.request.method == "POST":
        forms, client, throttle = bottle.request.forms, client_address(), scimlite.login_throttle
        new = forms.getunicode("new") or ""
        wait = throttle.attempt(client, time.monotonic())
        if wait:
            return _too_many_attempts(page, "password.html", wait, 200)
        if not check_admin_password(scimlite, forms.getunicode("current") or ""):
            scimlite.audit("password.failed", client)
            error = "The current password is not right."
        elif new != (forms.getunicode("confirm") or ""):
            error = "The two new passwords differ."
        else:
            throttle.succeeded(client)
            try:
                set_admin_password(scimlite, new, client)
                start_session(scimlite, client)
                see_other(ADMIN)
            except ValueError as exc:
                error = str(exc)
    return page.render("password.html", error=error)


def _account_password_page(page, account):
    scimlite, forms, error = page.scimlite, bottle.request.forms, None
    if bottle.request.method == "POST":
        client, throttle = client_address(), scimlite.login_throttle
        wait = throttle.attempt(client, time.monotonic())
        if wait:
            return _too_many_attempts(page, "password.html", wait, 200, has_password=True)
        new = forms.getunicode("new") or ""
        if account.password_hash and not verify_password(forms.getunicode("current") or "",
                                                         account.password_hash):
            error = "The current password is not right."
        elif new != (forms.getunicode("confirm") or ""):
            error = "The two new passwords differ."
        else:
            throttle.succeeded(client)
            try:
                admin_accounts(scimlite).set_password(account, new)
                scimlite.audit("password.changed", client, email=account.email)
                see_other(ADMIN)
            except ValueError as exc:
                error = str(exc)
    return page.render("password.html", error=error, has_password=bool(account.password_hash))


def dashboard_page(page):
    scimlite = page.scimlite
    keys = describe_keys(scimlite)
    since = format_datetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1))
    scimlite.log.flush()
    active, inactive = count_users(scimlite)
    return page.render("dashboard.html", tenant_url=request_base_url(scimlite),
                       enabled=scimlite.scim_enabled, active_users=active,
                       inactive_users=inactive, groups=scimlite.models.Group.select().count(),
                       active_keys=sum(1 for k in keys if k["state"] == "active"),
                       last=last_request_seen(scimlite), notes=attention(scimlite, keys, since),
                       licenses=scimlite.licenses.counts(), outbox=scimlite.outbox.counts())


def scim_switch(page):
    enable = bottle.request.forms.get("enabled") == "on"
    page.scimlite.scim_enabled = enable
    page.scimlite.audit("scim.enabled" if enable else "scim.disabled", client_address())
    see_other(ADMIN)


def connect_page(page):
    scimlite = page.scimlite
    idp = bottle.request.query.get("idp") or "entra"
    if idp not in ("entra", "okta", "generic"):
        idp = "entra"
    own = request_origin(scimlite.settings) + f"/o/{page.organization.slug}" + \
        scimlite.settings["base_path"]
    origin = request_origin(scimlite.settings)
    return page.render("connect.html", idp=idp, tenant_url=request_base_url(scimlite),
                       own_url=own, clients=describe_oauth_clients(scimlite),
                       grants=describe_grants(scimlite), token_url=origin + TOKEN_PATH,
                       authorize_url=origin + ADMIN + "/oauth/authorize",
                       keys=[k for k in describe_keys(scimlite) if k["state"] == "active"],
                       last=last_request_seen(scimlite))


def describe_oauth_clients(scimlite):
    """The organization's clients that are not revoked, as the page shows them."""
    Client = scimlite.models.OAuthClient
    clients = list(Client.select().where(Client.revoked.is_null()).order_by(Client.pk))
    proofs = client_credentials(scimlite.models, clients, scimlite.clock.now_text())
    return [{"client_id": c.client_id, "name": c.name, "scopes": c.scopes,
             "last_used": c.last_used, "secrets": proofs[c.pk],
             "redirect_uris": (c.redirect_uris or "").split("\n") if c.redirect_uris else []}
            for c in clients]


def connect_tab():
    """Where a Connect page form returns: the tab it was on, #oauth."""
    tab = bottle.request.forms.get("back")
    return f"{ADMIN}/connect" + (f"?idp={tab}" if tab in ("entra", "okta") else "") + "#oauth"


def describe_grants(scimlite):
    """The grants of the current organization (visible_grants) still
    working, newest first, as the Connect page and `oauth-client list`
    show them."""
    models = scimlite.models
    Grant, Client, Organization = models.OAuthGrant, models.OAuthClient, models.Organization
    rows = visible_grants(models).select_extend(
        Client.client_id.alias("client_text"), Client.name.alias("client_name"),
        Organization.slug.alias("org_slug")).join(
        Client, on=(Grant.client == Client.pk)).join(
        Organization, on=(Grant.org == Organization.id)).where(
        Grant.revoked.is_null() & Client.revoked.is_null() &
        (Grant.refresh_expires > scimlite.clock.now_text())).order_by(Grant.pk.desc())
    return [{"id": GRANT_PREFIX + g.public_id, "client": g.client_text,
             "client_name": g.client_name, "org": g.org_slug, "scopes": g.scopes,
             "created": g.created, "granted_by": g.granted_by, "last_used": g.last_used}
            for g in rows.objects()]


def oauth_clients_page(page):
    """Make a client (POST); its secret is shown once, on the Connect page."""
    scimlite, forms = page.scimlite, bottle.request.forms
    scopes = "scim.read" if forms.get("read_only") else None
    try:
        with scimlite.changes.unit():
            client, secret = create_oauth_client(scimlite.models, forms.getunicode("name"),
                                                 scopes, None, scimlite.clock.now_text())
    except ValueError as exc:
        return page.message("No client made", str(exc), 400)
    scimlite.audit("oauth.create", client_address(), what=client.client_id)
    page.show_once(f"Client Secret of {client.name} ({client.client_id})", secret,
                   "Copy it now: you will not see it again. scimlite keeps only its hash.")
    see_other(connect_tab())


def oauth_client_action(page, client_id, action):
    """Add a secret to a client (shown once), set its redirect URIs, or
    revoke the client."""
    scimlite, forms = page.scimlite, bottle.request.forms
    try:
        client = active_client(scimlite.models, client_id)
    except LookupError:
        return page.message("No such client", "No active client has that id.", 404)
    try:
        with scimlite.changes.unit():
            if action == "revoke":
                revoke_oauth(scimlite.models, client_id, scimlite.clock.now_text())
            elif action == "redirects":
                okta = (forms.getunicode("okta_app") or "").strip()
                set_redirect_uris(scimlite.models, client, [
                    *(forms.getunicode("redirect_uris") or "").splitlines(),
                    *(okta_redirect_uris(okta) if okta else ())])
            else:
                secret = add_oauth_secret(scimlite.models, client, None,
                                          scimlite.clock.now_text())
    except ValueError as exc:
        return page.message("Nothing changed", str(exc), 400)
    scimlite.audit(f"oauth.{action}", client_address(), what=client_id)
    if action == "secret":
        page.show_once(f"New Client Secret of {client.name} ({client.client_id})", secret,
                       "Copy it now: you will not see it again. Move the identity provider "
                       "to it, then revoke the old one.")
    see_other(connect_tab())


def revoke_grant_page(page, grant_id):
    """Revoke one grant an administrator gave: its tokens stop at once."""
    scimlite = page.scimlite
    try:
        with scimlite.changes.unit():
            revoke_oauth(scimlite.models, grant_id, scimlite.clock.now_text())
    except LookupError:
        return page.message("No such grant", "No working grant has that id here.", 404)
    scimlite.audit("oauth.revoke", client_address(), what=grant_id)
    see_other(connect_tab())


def status_json(page):
    bottle.response.content_type = "application/json"
    last = last_request_seen(page.scimlite)
    shown = None if last is None else {k: last.get(k) for k in (
        "at", "method", "path", "key_name", "status")}
    return json.dumps({"last": shown, "enabled": page.scimlite.scim_enabled})


def keys_page(page):
    scimlite, error = page.scimlite, None
    if bottle.request.method == "POST":
        forms = bottle.request.forms
        name = (forms.getunicode("name") or "").strip()
        try:
            expires = expiry_from_form(forms.get("expires"))
            with scimlite.changes.unit():
                token = mint_api_key(scimlite.models, name, expires)
            scimlite.audit("key.minted", client_address(), name=name, expires=expires)
            page.show_once(f"New API key ‘{name}’", token, "Copy it now: you will not see "
                           "it again. scimlite keeps only its hash.")
            see_other(local_admin_path(forms.get("back")) or f"{ADMIN}/keys")
        except ValueError as exc:
            error = str(exc)
    return page.render("keys.html", keys=describe_keys(scimlite), error=error,
                       tenant_url=request_base_url(scimlite))


@operator_only
def organizations_page(page):
    """Every organization: create, suspend, resume, open (act in it)."""
    scimlite, error = page.scimlite, None
    if bottle.request.method == "POST":
        forms = bottle.request.forms
        try:
            seats = (forms.get("seats") or "").strip()
            org = scimlite.create_organization(
                (forms.getunicode("slug") or "").strip(), forms.getunicode("name"),
                seats=int(seats) if seats.isdigit() else None if not seats else -1,
                plan=forms.getunicode("plan"), ends=forms.get("ends") or None)
            scimlite.audit("org.created", client_address(), slug=org.slug)
            see_other(f"{ADMIN}/organizations")
        except ValueError as exc:
            error = str(exc)
    return page.render("organizations.html", summaries=scimlite.organization_summaries(),
                       viewed=page.organization, error=error,
                       default_seats=scimlite.settings["license_seats"],
                       base_path=scimlite.settings["base_path"])


@operator_only
def organization_action(page, slug, action):
    """Open an organization (these pages then act in it), suspend or resume it."""
    scimlite = page.scimlite
    org = scimlite.auth.organization_named(slug)
    if org is None:
        return page.message("No such organization", "No organization has that slug.", 404)
    if action == "open":
        AdminSession = scimlite.models.AdminSession
        with scimlite.changes.unit():
            AdminSession.update(org=org.id).where(
                AdminSession.token_hash == page.session.token_hash).execute()
        see_other(ADMIN)
    scimlite.update_organization(slug, state="suspended" if action == "suspend" else "active")
    with scimlite.scope.of(org):
        scimlite.audit(f"org.{action}d", client_address(), slug=slug)
    see_other(f"{ADMIN}/organizations")


def revoke_page(page, key_id):
    scimlite, ApiKey = page.scimlite, page.scimlite.models.ApiKey
    row = ApiKey.get_or_none(ApiKey.id == key_id)
    if row is None:
        return page.message("No such key", "That key does not exist.", 404)
    if bottle.request.method == "POST" and not row.revoked:
        with scimlite.changes.unit():
            revoke_key_by_id(scimlite.models, key_id)
        scimlite.audit("key.revoked", client_address(), name=row.name)
        see_other(f"{ADMIN}/keys")
    return page.render("revoke.html", key={"id": row.id, "name": row.name,
                                           "prefix": key_prefix(row), "revoked": row.revoked})


def users_page(page):
    return page.render("directory.html", **directory_listing(page.scimlite, USER_TYPE))


def groups_page(page):
    values = directory_listing(page.scimlite, GROUP_TYPE)
    counts = member_counts(page.scimlite, [g["id"] for g in values["items"]])
    for item in values["items"]:
        item["_count"] = counts.get(item["id"], 0)
    return page.render("directory.html", **values)


def detail_page(rt):
    """/admin/users/{id}, /admin/groups/{id}: the handler for type `rt`."""
    kind = rt.name.lower()

    def detail(page, resource_id):
        values = resource_detail(page.scimlite, rt, resource_id)
        if values is None:
            return page.message(f"No such {kind}",
                                f"No {kind} has that id (it may have been deleted).", 404)
        return page.render("resource.html", **values)
    return detail


def show_license_key(page, user_id):
    """A user's key shown once on request (each time audited)."""
    scimlite = page.scimlite
    license = scimlite.licenses.of_user(user_id)
    if license is None or not license.generation:
        return page.message("No license key", "This user has no license key (yet).")
    scimlite.audit("license.key_shown", client_address(), user=license.user_name)
    page.show_once(f"License key of {license.user_name}", scimlite.licenses.key_of(license),
                   "It was mailed to the user. scimlite keeps only a keyed hash and "
                   "derives the key again each time it is shown (each time audited).")
    see_other(f"{ADMIN}/users/{urllib.parse.quote(user_id)}")


def new_license_key(page, user_id):
    scimlite = page.scimlite
    try:
        scimlite.licenses.reissue(user_id, "admin page")
    except ValueError as exc:
        return page.message("No new key", str(exc))
    license = scimlite.licenses.of_user(user_id)
    scimlite.audit("license.reissued", client_address(), user=license.user_name)
    see_other(f"{ADMIN}/users/{urllib.parse.quote(user_id)}")


OUTBOX_STATES = ("pending", "sending", "sent", "dead")


def outbox_page(page):
    scimlite, status = page.scimlite, bottle.request.query.get("status")
    status = status if status in OUTBOX_STATES else None
    return page.render("outbox.html", rows=scimlite.outbox.messages(status),
                       counts=scimlite.outbox.counts(), status=status,
                       webhook_url=scimlite.settings["webhook_url"],
                       mailer=describe_mailer(scimlite.settings))


def retry_message(page, pk):
    if page.scimlite.outbox.retry(pk):
        page.scimlite.audit("outbox.retried", client_address(), message=pk)
    see_other(f"{ADMIN}/outbox")


@operator_only
def rotate_webhook_secret(page):
    secret = page.scimlite.outbox.rotate_webhook_secret()
    page.scimlite.audit("webhook_secret.rotated", client_address())
    page.show_once("New webhook signing secret", secret, "Copy it now: you will not see "
                   "it again. Give it to your webhook receiver; the old one no longer signs.")
    see_other(f"{ADMIN}/outbox")


def log_page(page):
    scimlite = page.scimlite
    scimlite.log.flush()
    params = bottle.request.query.decode()
    if params.get("keyless") == "1" and not page.operator:
        return page.message("Not found", "There is no such page.", 404)
    rows, pager = paged(log_query(scimlite, params), params)
    ReadCount = scimlite.models.ReadCount
    reads = list(ReadCount.select().order_by(ReadCount.day.desc()).limit(14).dicts())
    keys = sorted({k["name"] for k in describe_keys(scimlite)})
    return page.render("log.html", rows=rows, pager=pager, params=params, reads=reads,
                       keys=keys, log_reads=scimlite.settings["log_reads"],
                       keyless=params.get("keyless") == "1")


def log_export(page):
    if bottle.request.query.get("keyless") == "1" and not page.operator:
        return page.message("Not found", "There is no such page.", 404)
    page.scimlite.log.flush()
    bottle.response.content_type = "application/x-ndjson; charset=utf-8"
    bottle.response.set_header("Content-Disposition",
                               'attachment; filename="scimlite-log.jsonl"')
    query = log_query(page.scimlite, bottle.request.query.decode())
    return "".join(json.dumps(row, ensure_ascii=False) + "\n"
                   for row in query.dicts().iterator())


def log_entry_page(page, pk):
    page.scimlite.log.flush()
    RequestLog = page.scimlite.models.RequestLog
    mine = RequestLog.org == page.organization.id
    if page.operator:       # requests no organization owns are the operator's
        mine |= RequestLog.org == NO_ORG
    row = RequestLog.everywhere().where((RequestLog.pk == pk) & mine).dicts().first()
    if row is None:
        return page.message("No such entry",
                            "That log entry does not exist (it may have expired).", 404)
    return page.render("log_entry.html", row=row, request_body=_pretty(row["request_body"]),
                       response_body=_pretty(row["response_body"]))


def audit_page(page):
    """The organization's audit trail, and the install's own (org None)."""
    Audit = page.scimlite.models.Audit
    mine = Audit.org == page.organization.id
    if page.operator:       # and the install's own (an organization made, the password)
        mine |= Audit.org.is_null()
    rows, pager = paged(Audit.select().where(mine).order_by(Audit.pk.desc()),
                        bottle.request.query.decode())
    return page.render("audit.html", rows=rows, pager=pager)


def _pretty(text):
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def authorize_page(page):
    """RFC 6749 §4.1.1-4.1.2: a signed-in administrator allows (or denies)
    a client's request for a code; Okta's Authenticate button lands here.
    A request naming no client or an unregistered redirect URI is shown as
    an error here; any other error goes back to the client."""
    scimlite, request = page.scimlite, bottle.request
    params = request.forms if request.method == "POST" else request.query
    try:
        asked = authorization_request(scimlite.models, params)
    except AuthorizeRefused as exc:
        return page.message("This authorization request is not valid", str(exc), 400)
    except OAuthError as exc:
        bottle.redirect(authorization_redirect(exc.request, error=exc.error,
                                               error_description=exc.description), 303)
    client, orgs = asked["client"], organizations(scimlite.models)
    choices = orgs if client.org == NO_ORG else [o for o in orgs if o.id == client.org]
    if not page.operator:       # an organization's administrator speaks for it alone
        choices = [o for o in choices if o.id == page.organization.id]
    if not choices:
        return page.message("Not yours to allow", "This client belongs to another "
                            "organization: its own administrators allow it.", 403)
    # The consent form's answer redirects to the client: CSP form-action
    # must name its origin too, or the browser stops there.
    target = urllib.parse.urlsplit(asked["redirect_uri"])
    bottle.response.set_header("Content-Security-Policy", SECURITY_HEADERS[
        "Content-Security-Policy"].replace("form-action 'self'", "form-action 'self' "
                                           f"{target.scheme}://{target.netloc}"))
    if request.method == "GET":
        return page.render("authorize.html", client=client, asked=asked, choices=choices,
                           chosen=page.organization.id, fields=[
                               (name, params.getunicode(name)) for name in AUTHORIZE_FIELDS
                               if params.getunicode(name) is not None],
                           back_to=target.netloc)
    if request.forms.get("decision") != "allow":
        scimlite.audit("oauth.denied", client_address(), what=client.client_id)
        bottle.redirect(authorization_redirect(asked, error="access_denied",
                                               error_description="the administrator "
                                               "denied the request"), 303)
    org = next((o for o in choices if str(o.id) == request.forms.get("org")), None)
    if org is None:
        return page.message("No organization chosen", "Choose the organization this "
                            "client is to provision.", 400)
    with scimlite.changes.unit():
        who = page.account.email if page.account else "the operator"
        code = grant_code(scimlite.models, asked, org.id, f"{who} at {client_address()}",
                          scimlite.clock.now_text())
    with scimlite.scope.of(org):
        scimlite.audit("oauth.authorized", client_address(), what=client.client_id,
                       scopes=asked["scopes"])
    bottle.redirect(authorization_redirect(asked, code=code), 303)


AUTHORIZE_FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state",
                    "code_challenge", "code_challenge_method")


# Every admin page: its path below /admin, methods, handler, and whether it
# is shown before sign-in.  install_admin() installs them, each behind
# admin_route (session, CSRF, security headers).
ADMIN_PAGES = (
    ("/setup", ("GET", "POST"), setup_page, True),
    ("/login", ("GET", "POST"), login_page, True),
    ("/login/code", ("POST",), code_page, True),
    ("/invitation", ("GET", "POST"), invitation_page, True),
    ("/admins", ("GET", "POST"), admins_page, False),
    ("/admins/<pk:int>/<action:re:resend|remove>", ("POST",), admin_action, False),
    ("/logout", ("POST",), logout, False),
    ("/password", ("GET", "POST"), password_page, False),
    ("", ("GET",), dashboard_page, False),
    ("/scim", ("POST",), scim_switch, False),
    ("/connect", ("GET",), connect_page, False),
    ("/status.json", ("GET",), status_json, False),
    ("/keys", ("GET", "POST"), keys_page, False),
    ("/keys/<key_id:int>/revoke", ("GET", "POST"), revoke_page, False),
    ("/oauth/authorize", ("GET", "POST"), authorize_page, False),
    ("/oauth-clients", ("POST",), oauth_clients_page, False),
    ("/oauth-clients/<client_id>/<action:re:secret|redirects|revoke>", ("POST",),
     oauth_client_action, False),
    ("/oauth-grants/<grant_id>/revoke", ("POST",), revoke_grant_page, False),
    ("/users", ("GET",), users_page, False),
    ("/groups", ("GET",), groups_page, False),
    *((f"{rt.endpoint.lower()}/<resource_id>", ("GET",), detail_page(rt), False)
      for rt in RESOURCE_TYPES.values()),
    ("/people", ("POST",), add_person_page, False),
    ("/people/upload", ("POST",), upload_people_page, False),
    ("/people/import", ("POST",), import_people_page, False),
    ("/people/sample.csv", ("GET",), people_sample, False),
    ("/users/<user_id>/<action:re:remove|resend>", ("POST",), person_action, False),
    ("/users/<user_id>/license-key", ("POST",), show_license_key, False),
    ("/users/<user_id>/new-license-key", ("POST",), new_license_key, False),
    ("/outbox", ("GET",), outbox_page, False),
    ("/outbox/<pk:int>/retry", ("POST",), retry_message, False),
    ("/outbox/webhook-secret", ("POST",), rotate_webhook_secret, False),
    ("/log", ("GET",), log_page, False),
    ("/log.jsonl", ("GET",), log_export, False),
    ("/log/<pk:int>", ("GET",), log_entry_page, False),
    ("/audit", ("GET",), audit_page, False),
    ("/organizations", ("GET", "POST"), organizations_page, False),
    ("/organizations/<slug>/<action:re:open|suspend|resume>", ("POST",),
     organization_action, False),
)


def install_admin(app, scimlite):
    pages = scimlite.pages
    for path, methods, handler, public in ADMIN_PAGES:
        admin_route(app, scimlite, pages, ADMIN + path, methods, public)(handler)

###############################################################################
# Other routes: the front page, /healthz, /metrics, license verification ######
###############################################################################

def _install_pages(app, scimlite):
    """The public front page (what this server is, where to go: no counts
    for anyone without a session) and the static files of the admin pages."""
    static = {name: (TEMPLATES_DIR / name).read_text("utf-8")
              for name in ("style.css", "admin.js")}
    types_ = {"style.css": "text/css", "admin.js": "text/javascript"}

    @app.get("/")
    def index():
        set_security_headers()
        return scimlite.pages.render("index.html", tenant_url=request_base_url(scimlite))

    @app.get("/<name:re:style\\.css|admin\\.js>")
    def static_file(name):
        bottle.response.content_type = f"{types_[name]}; charset=utf-8"
        bottle.response.set_header("Cache-Control", "max-age=300")
        return static[name]


def _install_health(app, scimlite):
    @app.get("/healthz")
    def healthz():
        """For load balancers and monitors: no key, no internals; 503 when
        the database does not answer."""
        bottle.response.content_type = "application/json"
        bottle.response.set_header("Cache-Control", "no-store")
        try:
            with scimlite.lock:
                scimlite.models.db.execute_sql("SELECT 1").fetchone()
        except peewee.DatabaseError:
            log.error("health check: the database does not answer", exc_info=True)
            bottle.response.status = 503
            return '{"status": "unavailable"}'
        return '{"status": "ok"}'


def _install_metrics(app, scimlite):
    @app.get("/metrics")
    def metrics():
        """Prometheus text format; 404 unless `metrics`; the bearer
        metrics_token when one is set (compared in constant time)."""
        bottle.response.content_type = "text/plain; charset=utf-8"
        if not scimlite.settings["metrics"]:
            bottle.response.status = 404
            return "not found: /metrics is off (the metrics setting)\n"
        expected = scimlite.settings["metrics_token"]
        if expected and not hmac.compare_digest(
                (request_header("Authorization") or "").encode(),
                f"Bearer {expected}".encode()):
            bottle.response.status = 401
            bottle.response.set_header("WWW-Authenticate", 'Bearer realm="metrics"')
            return "a bearer token is needed (metrics_token)\n"
        bottle.response.content_type = "text/plain; version=0.0.4; charset=utf-8"
        bottle.response.set_header("Cache-Control", "no-store")
        return metrics_text(scimlite)


def metrics_text(scimlite):
    """The Prometheus text exposition (format 0.0.4) of one app."""
    lines = list(scimlite.metrics.lines())

    def gauge(name, help_text, rows):
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} gauge"])
        for labels, value in rows:
            lines.append(f"{name}{{{prometheus_labels(**labels)}}} {value}" if labels
                         else f"{name} {value}")
    with scimlite.lock:
        totals = organization_totals(scimlite.models)
        outbox = dict(every_row(scimlite.models.OutboxMessage).select(
            scimlite.models.OutboxMessage.status, fn.COUNT(SQL("*"))).group_by(
            scimlite.models.OutboxMessage.status).tuples())
        keys = [(k.org, k.name, k.last_used)
                for k in active_keys(scimlite.models, everywhere=True)]
    label = totals["label"]
    gauge("scimlite_organizations", "Organizations, by state.",
          [({"state": k}, v) for k, v in sorted(totals["states"].items())])
    gauge("scimlite_users", "Users, by organization and state.",
          [({"org": org, "state": state}, n) for (org, state), n in totals["users"]])
    gauge("scimlite_groups", "Groups, by organization.",
          [({"org": org}, n) for (org,), n in totals["groups"]])
    gauge("scimlite_licenses", "Licenses, by organization and status.",
          [({"org": org, "status": status}, n) for (org, status), n in totals["licenses"]])
    gauge("scimlite_outbox_messages", "Mail and webhooks in the outbox, by status.",
          [({"status": k}, outbox.get(k, 0)) for k in ("pending", "sending", "sent", "dead")])
    gauge("scimlite_api_key_last_used_timestamp_seconds",
          "When each active API key was last used (Unix time; 0: never).",
          [({"org": label(org), "key_name": name},
            int(parse_datetime(at).timestamp()) if at else 0)
           for org, name, at in keys if label(org) != METRICS_OTHER_ORGS])
    return "\n".join(lines) + "\n"


# /metrics names at most this many organizations (the oldest) in its labels;
# the others are summed under "other": a Prometheus series per label set is
# memory in every scraper, so the set is bounded whatever the install holds.
METRICS_ORG_LABELS = 100
METRICS_OTHER_ORGS = "other"


def organization_totals(models):
    """Users, groups and licenses counted by organization (its slug as a
    label, see METRICS_ORG_LABELS), and organizations by state."""
    orgs = organizations(models)
    named = {org.id: org.slug for org in orgs[:METRICS_ORG_LABELS]}

    def label(org_id):
        return named.get(org_id, METRICS_OTHER_ORGS)

    def counted(model, *columns):
        sums = collections.Counter()
        for org_id, *keys, n in every_row(model, model.org, *columns, fn.COUNT(
                SQL("*"))).group_by(model.org, *columns).tuples():
            sums[(label(org_id), *keys)] += n
        return sorted(sums.items())
    User, License = models.User, models.License
    state = fn.COALESCE(User.active, True)
    users = [((org, "active" if active else "inactive"), n)
             for (org, active), n in counted(User, state)]
    return {"label": label, "states": collections.Counter(org.state for org in orgs),
            "users": users, "groups": counted(models.Group),
            "licenses": counted(License, License.status)}


VERIFY_PATH = "/api/licenses/verify"
VERIFY_BODY_BYTES = 4096


def json_answer(status, body, headers=()):
    """A JSON answer outside SCIM that no cache keeps (the license API,
    the token endpoint, the event poll)."""
    bottle.response.status = status
    bottle.response.content_type = "application/json"
    bottle.response.set_header("Cache-Control", "no-store")
    for name, value in headers:
        bottle.response.set_header(name, value)
    return json.dumps(body)


def _install_license_api(app, scimlite):
    """POST /api/licenses/verify: the licensed application asks about a key.
    No SCIM key is needed; each client address has verify_rate_per_minute."""
    limit = scimlite.verify_limit

    @app.post(VERIFY_PATH)
    def verify_license():
        wait = limit.wait(client_address(), time.monotonic())
        if wait:
            return json_answer(429, {"error": "too many verifications from this address"},
                               [("Retry-After", retry_after_header(wait))])
        try:
            too_long = declared_length() > VERIFY_BODY_BYTES
        except SCIMError as exc:
            return json_answer(400, {"error": exc.detail})
        if too_long:
            return json_answer(413, {"error": f"the body is over {VERIFY_BODY_BYTES} bytes"})
        try:
            body = json.loads(bottle.request.body.read(VERIFY_BODY_BYTES + 1))
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict) or "key" not in body:
            return json_answer(400, {"error": 'send a JSON object: {"key": "XXXXX-..."}'})
        with scimlite.lock:
            return json_answer(200, scimlite.licenses.verify(body["key"]))


TOKEN_BODY_BYTES = 4096
FORM_TYPE = "application/x-www-form-urlencoded"


def _install_token_endpoint(app, scimlite):
    """POST /oauth/token: RFC 6749 §4.4, client credentials.  The client
    proves itself with HTTP Basic or in the body (§2.3.1), never both; the
    answer and every error are JSON that no cache keeps (§5.1, §5.2).
    Failures are throttled per address as SCIM authentication's are."""

    def answer(status, body, headers=()):
        return json_answer(status, body, [("Pragma", "no-cache"), *headers])

    @app.post(TOKEN_PATH)
    def token():
        try:
            row, text, refresh = _grant(scimlite, read_token_request())
        except OAuthError as exc:
            headers = [("WWW-Authenticate", 'Basic realm="scimlite"')] \
                if exc.status == 401 else []
            if exc.error in ("invalid_client", "invalid_grant"):     # guesses, counted
                wait = scimlite.auth_failures.failed(client_address(), "", time.monotonic())
                if wait:
                    return answer(429, {"error": "invalid_client", "error_description":
                                        "too many failed attempts from this address; "
                                        "retry later"},
                                  [("Retry-After", retry_after_header(wait))])
            return answer(exc.status, {"error": exc.error, "error_description":
                                       exc.description}, headers)
        body = {"access_token": text, "token_type": "Bearer",
                "expires_in": scimlite.settings["oauth_token_minutes"] * 60,
                "scope": row.scopes}
        return answer(200, body | ({"refresh_token": refresh} if refresh else {}))


def read_token_request():
    """{parameter: value} of a token request, and the client's credentials
    (client_id, client_secret) however it sent them; OAuthError if malformed."""
    request = bottle.request
    if (request.content_type or "").split(";")[0].strip().lower() != FORM_TYPE:
        raise OAuthError("invalid_request", f"send the parameters as {FORM_TYPE}")
    try:
        if declared_length() > TOKEN_BODY_BYTES:
            raise OAuthError("invalid_request", f"the body is over {TOKEN_BODY_BYTES} bytes")
        raw = request.body.read(TOKEN_BODY_BYTES + 1).decode("utf-8")
    except (SCIMError, UnicodeDecodeError):
        raise OAuthError("invalid_request", "the body is not a form") from None
    pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True)
    names = [name for name, _ in pairs]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:     # RFC 6749 §3.2: parameters MUST NOT be included more than once
        raise OAuthError("invalid_request", f"'{doubled[0]}' is sent more than once")
    params = dict(pairs)
    basic = _basic_credentials(request_header("Authorization"))
    if basic and ("client_secret" in params or "client_id" in params):
        raise OAuthError("invalid_request", "authenticate one way: HTTP Basic or the "
                         "body's client_id and client_secret, not both")
    params["client_id"], params["client_secret"] = basic or (
        params.get("client_id", ""), params.get("client_secret", ""))
    return params


def _basic_credentials(header):
    """(client_id, client_secret) of an Authorization: Basic header, each
    form-urlencoded as RFC 6749 §2.3.1 says, or None."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "the Basic credentials are not base64", 401) \
            from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "the Basic credentials have no ':'", 401)
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)


GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")


def _grant(scimlite, params):
    """RFC 6749 §4.4.2, §4.1.3 and §6: (access token row, its text, a
    refresh token or None) for a valid request."""
    grant = params.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is missing")
    if grant not in GRANT_TYPES:
        raise OAuthError("unsupported_grant_type", "grant_type is one of " +
                         ", ".join(GRANT_TYPES))
    if grant == "client_credentials" and ("client_assertion" in params or
                                          "client_assertion_type" in params):
        return (*_federated_grant(scimlite, params), None)
    for needed in {"authorization_code": ("code",),
                   "refresh_token": ("refresh_token",)}.get(grant, ()):
        if not params.get(needed):
            raise OAuthError("invalid_request", f"{needed} is missing")
    if not params["client_id"] or not params["client_secret"]:
        raise OAuthError("invalid_client", "client authentication failed", 401)
    models, minutes = scimlite.models, scimlite.settings["oauth_token_minutes"]
    with scimlite.changes.unit():
        # A refusal still commits: a code or refresh token presented twice
        # revokes its grant, and that must hold.
        try:
            now = scimlite.clock.now_text()
            if grant == "authorization_code":
                return redeem_code(models, params, minutes, now)
            if grant == "refresh_token":
                return refresh_access(models, params, minutes, now)
            return (*issue_oauth_token(models, params["client_id"], params["client_secret"],
                                       params.get("scope"), minutes, now), None)
        except OAuthError as exc:
            refused = exc
    raise refused


def _federated_grant(scimlite, params):
    """RFC 7523 §2.2: the client proves itself with a signed JWT."""
    if params.get("client_assertion_type") != JWT_BEARER:
        raise OAuthError("invalid_request", f"client_assertion_type must be {JWT_BEARER}")
    if not params.get("client_assertion"):
        raise OAuthError("invalid_request", "client_assertion is missing")
    if params["client_secret"]:
        raise OAuthError("invalid_request", "authenticate one way: a client assertion or "
                         "a secret, not both")
    assertion = params["client_assertion"]
    client, claims = verify_assertion(scimlite.models, scimlite.key_sets, assertion,
                                      params["client_id"], scimlite.lock)
    with scimlite.changes.unit():
        return issue_federated_token(scimlite.models, client, claims, assertion,
                                     params.get("scope"),
                                     scimlite.settings["oauth_token_minutes"],
                                     scimlite.clock.now_text())


def _install_event_routes(app, scimlite):
    """Security events (RFC 9967): an organization's signing keys, public
    (GET /o/{slug}/events/jwks.json), and the poll endpoint of its
    receivers (POST /o/{slug}/events, RFC 8936), each with its own token.
    Errors are RFC 8935 §2.3's JSON; failed tokens are throttled per
    address as SCIM authentication is."""

    @app.get("/o/<slug>/events/jwks.json")
    def jwks(slug):
        org = scimlite.auth.organization_named(slug)
        if org is None:
            return json_answer(404, {"err": "invalid_request",
                                     "description": "no such organization"})
        try:
            _, public = event_signing_key(scimlite.secret, org.id)
        except ImportError:
            return json_answer(501, {"err": "invalid_request", "description": "security "
                                     "events need the JWT library: pip install "
                                     "'scimlite[oauth]'"})
        bottle.response.set_header("Cache-Control", "max-age=300")
        bottle.response.content_type = "application/jwk-set+json"
        return json.dumps({"keys": [public]})

    @app.post("/o/<slug>/events")
    def poll(slug):
        try:
            stream = _poll_stream(scimlite, slug)
            asked = poll_request(_poll_body())
            return json_answer(200, scimlite.security_events.poll(
                stream, asked, scimlite.lock, lambda: scimlite.closing))
        except PollError as exc:
            return json_answer(exc.status, {"err": exc.err, "description": exc.description},
                               exc.headers)


def _poll_stream(scimlite, slug):
    """The poll receiver this request's token names, of organization
    `slug`; PollError (401 access_denied, or 429) if not."""
    token = bearer_token()
    with scimlite.lock:
        stream = find_event_stream(scimlite.models, token) if token else None
    org = scimlite.auth.organization_named(slug)
    if stream is None or org is None or stream.org != org.id:
        wait = scimlite.auth_failures.failed(client_address(), token, time.monotonic())
        if wait:
            raise PollError("access_denied", "too many failed attempts from this address; "
                            "retry later", 429, [("Retry-After", retry_after_header(wait))])
        raise PollError("authentication_failed", "a valid stream token is required: "
                        "'Authorization: Bearer sst_...'", 401,
                        [("WWW-Authenticate", 'Bearer realm="scimlite"')])
    return stream


def _poll_body():
    """The JSON of a poll request; PollError if it is not JSON or too big."""
    request = bottle.request
    media = (request.content_type or "").split(";")[0].strip().lower()
    if media and not (media == "application/json" or media.endswith("+json")):
        raise PollError("invalid_request", "send the poll as application/json")
    try:
        if declared_length() > POLL_BODY_BYTES:
            raise PollError("invalid_request", f"the body is over {POLL_BODY_BYTES} bytes")
        raw = request.body.read(POLL_BODY_BYTES + 1)
        return json.loads(raw) if raw.strip() else {}
    except (SCIMError, ValueError, RecursionError):
        raise PollError("invalid_request", "the body is not JSON") from None


def install_other_routes(app, scimlite):
    """Every route that is neither SCIM nor an admin page."""
    _install_pages(app, scimlite)
    _install_health(app, scimlite)
    _install_metrics(app, scimlite)
    _install_license_api(app, scimlite)
    _install_token_endpoint(app, scimlite)
    _install_event_routes(app, scimlite)

###############################################################################
# SCIM routes: discovery and resource routes, the WSGI app, create_app() ######
###############################################################################
###############################################################################

def _install_discovery_routes(scimlite, route):
    settings = scimlite.settings

    def service_provider_config_(actor):
        told = bool(scimlite.security_events.streams())
        return scim_response(service_provider_config(settings, request_base_url(scimlite),
                                                     told))

    def resource_types(actor):
        docs = [resource_type_document(rt, request_base_url(scimlite))
                for rt in RESOURCE_TYPES.values()]
        return scim_response(list_response(docs, len(docs), 1))

    def resource_type(actor, name):
        rt = next((r for r in RESOURCE_TYPES.values() if r.name.lower() == name.lower()),
                  None)
        if rt is None:
            raise not_found(f"ResourceType '{echo(name)}'")
        return scim_response(resource_type_document(rt, request_base_url(scimlite)))

    def schemas(actor):
        docs = [schema_document(s, request_base_url(scimlite), settings["publish_password"])
                for s in ALL_SCHEMAS]
        return scim_response(list_response(docs, len(docs), 1))

    def schema(actor, urn):
        found = next((s for s in ALL_SCHEMAS if s.id.lower() == urn.lower()), None)
        if found is None:
            raise not_found(f"Schema '{echo(urn)}'")
        return scim_response(schema_document(found, request_base_url(scimlite),
                                             settings["publish_password"]))

    def not_implemented(actor, **_):
        # RFC 7644 §3.11: /Me needs an authenticated subject; an API key has none.
        raise SCIMError(501, None, "not implemented by scimlite")

    route("/ServiceProviderConfig", "GET", service_provider_config_)
    route("/ResourceTypes", "GET", resource_types)
    route("/ResourceTypes/<name>", "GET", resource_type)
    route("/Schemas", "GET", schemas)
    route("/Schemas/<urn:path>", "GET", schema)
    def bulk(actor):
        body = read_json_body(settings["bulk_max_payload_bytes"])
        fail_on, operations = read_bulk_request(body, settings)
        results = BulkRun(scimlite, actor, fail_on, operations).run()
        return scim_response({"schemas": [BULK_RESPONSE_URN], "Operations": results})

    def search_root(actor):
        body = read_search_request(read_json_body(settings["max_body_bytes"]))
        return scim_response(search_all(scimlite, body))

    route("/Me", ["GET", "POST", "PUT", "PATCH", "DELETE"], not_implemented)
    route("/Bulk", "POST", bulk)
    route("/.search", "POST", search_root)


def _install_resource_routes(scimlite, route, rt):
    settings, service = scimlite.settings, scimlite.resources

    def read_request():
        """Query and body, both read (and refused if bad) before any write."""
        projection = read_projection(rt, query_params())
        return projection, read_json_body(settings["max_body_bytes"])

    def respond(row, projection, status=200, extra_headers=None):
        base_url = request_base_url(scimlite)
        body, etag = service.render_with_etags(rt, [row], base_url, *projection)[0]
        return scim_response(body, status, {"ETag": etag, **(extra_headers or {})})

    def if_match():
        return request_header("If-Match")

    def list_(actor):
        return scim_response(list_resources(scimlite, rt, query_params()))

    def search(actor):
        body = read_search_request(read_json_body(settings["max_body_bytes"]))
        return scim_response(list_resources(scimlite, rt, body))

    def create(actor):
        projection, body = read_request()
        row = service.create(rt, body, actor)
        location = location_of(request_base_url(scimlite), rt, row.id)
        return respond(row, projection, 201, {"Location": location})

    def get(actor, resource_id):
        projection = read_projection(rt, query_params())
        row = service.get(rt, resource_id)
        unchanged = request_header("If-None-Match")
        if unchanged is not None:
            etag = service.etag(rt, row)
            if etag_matches(etag, unchanged):
                return scim_response(None, 304, {"ETag": etag})     # RFC 7644 §3.14
        return respond(row, projection)

    def replace(actor, resource_id):
        projection, body = read_request()
        return respond(service.replace(rt, resource_id, body, actor, if_match()), projection)

    def patch(actor, resource_id):
        projection, body = read_request()
        row = service.patch(rt, resource_id, body, actor, if_match())
        if rt.members_attr is not None and settings["group_patch_status"] == 204:
            return scim_response(None, 204, {"ETag": service.etag(rt, row)})
        return respond(row, projection)

    def delete(actor, resource_id):
        service.delete(rt, resource_id, actor, if_match())
        return scim_response(None, 204)

    route(rt.endpoint, "GET", list_)
    route(rt.endpoint, "POST", create)
    route(rt.endpoint + "/.search", "POST", search)
    route(rt.endpoint + "/<resource_id>", "GET", get)
    route(rt.endpoint + "/<resource_id>", "PUT", replace)
    route(rt.endpoint + "/<resource_id>", "PATCH", patch)
    route(rt.endpoint + "/<resource_id>", "DELETE", delete)


REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("scimlite.access")


class App(bottle.Bottle):
    """A Bottle app that gives every request an id (X-Request-Id on the
    answer) and one line in the access log: time, method, path, status,
    duration, key name, request id.  Never a key, a body or the query
    string (filters carry user names)."""

    def wsgi(self, environ, start_response):
        started = time.perf_counter()
        self._organization_url(environ)
        request_id = self._request_id(environ)
        environ["scimlite.request_id"] = request_id

        def start(status, headers, exc_info=None):
            environ["scimlite.status"] = int(status.split(" ", 1)[0])
            return start_response(status, [*headers, ("X-Request-Id", request_id)],
                                  *([exc_info] if exc_info else []))
        body = super().wsgi(environ, start)
        seconds = time.perf_counter() - started
        route = environ.get("bottle.route")
        self.scimlite.metrics.observe(route.rule if route else "(no route)",
                                      environ.get("REQUEST_METHOD"),
                                      environ.get("scimlite.status"), seconds)
        if access_log.isEnabledFor(logging.INFO):
            _log_access(environ, seconds)
        return body

    def _organization_url(self, environ):
        """/o/{slug}/scim/v2/... is /scim/v2/... for organization {slug}
        (its own Tenant URL): the routes see the path without /o/{slug},
        and authenticate() sees the slug."""
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/o/"):
            return
        slug, _, rest = path[3:].partition("/")
        base = self.scimlite.settings["base_path"]
        if ("/" + rest + "/").startswith(base + "/") and SLUG.fullmatch(slug):
            environ["scimlite.org_slug"] = slug
            environ["scimlite.org_prefix"] = "/o/" + slug
            environ["PATH_INFO"] = "/" + rest

    def _request_id(self, environ):
        offered = environ.get("HTTP_X_REQUEST_ID", "")
        trusted = environ.get("REMOTE_ADDR") in self.scimlite.settings["trusted_proxies"]
        return offered if trusted and REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def _log_access(environ, seconds):
    fields = {"method": environ.get("REQUEST_METHOD"),
              "path": environ.get("bottle.raw_path", environ.get("PATH_INFO", "")).encode(
                  "latin-1", "replace").decode("utf-8", "replace")[:300],
              "status": environ.get("scimlite.status"),
              "duration_ms": round(seconds * 1000, 2),
              "key": environ.get("scimlite.key_name"),
              "request_id": environ["scimlite.request_id"],
              "client": environ.get("REMOTE_ADDR")}
    access_log.info("%(method)s %(path)s %(status)s %(duration_ms).1fms key=%(key)s "
                    "id=%(request_id)s", fields, extra={"fields": fields})


def create_app(config=None):
    """The scimlite WSGI application (a Bottle app) with all its state.

    config: None (defaults), a dict of settings, or the path of a TOML file.
    Everything it owns is `app.scimlite` (see ScimLite, and its API).
    """
    scimlite = ScimLite(load_settings(config))
    app = App()
    app.scimlite = scimlite
    base = scimlite.settings["base_path"]

    def route(path, method, callback):
        app.route(base + path, method, scim_endpoint(scimlite, callback))

    _install_discovery_routes(scimlite, route)
    for rt in RESOURCE_TYPES.values():
        _install_resource_routes(scimlite, route, rt)
    install_other_routes(app, scimlite)
    install_admin(app, scimlite)
    install_error_pages(app, scimlite)
    with scimlite.scope.of(organizations(scimlite.models)[0]):     # the first
        seed_if_empty(scimlite)
    # Only a serving app acts on licenses and mail; a CLI command opening the
    # database (without the server's settings, perhaps) must not.
    scimlite.licenses.catch_up()
    scimlite.outbox.start()
    return app

###############################################################################
# Live server: scimlite.serve() for other projects' tests #####################
###############################################################################

class LiveServer:
    """scimlite served by Waitress on a free loopback port, in a background
    thread: what `serve()` yields.

    url       the root, e.g. http://127.0.0.1:50123
    base_url  the SCIM base URL (url + base_path)
    token     a freshly minted API key
    app       the WSGI app; app.scimlite is everything it owns
    """

    def __init__(self, app, threads=4):
        import waitress.server      # only serving needs it
        self.app = app
        self.token = app.scimlite.mint_key(f"live-server-{new_token()[:8]}")
        self._server = waitress.server.create_server(
            app, host="127.0.0.1", port=0, threads=threads, ident="scimlite",
            clear_untrusted_proxy_headers=False)      # scimlite decides (request_origin)
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self.base_url = self.url + app.scimlite.settings["base_path"]
        self._thread = threading.Thread(target=self._server.run, name="scimlite-live-server",
                                        daemon=True)
        self._thread.start()

    def inject(self, **fault):
        """Add a fault (see Fault), e.g. inject(route="/Users", method="POST",
        status=429, retry_after=2, times=2)."""
        self.app.scimlite.faults.add(**fault)

    def stop(self):
        """Close every connection and the listening socket, end Waitress's
        threads, close the app: nothing is left behind.  Idempotent."""
        if self._thread is None:
            return
        server = self._server
        # Channels belong to the server's loop thread: closed there, after
        # which its loop has nothing left to watch and returns.
        def close_all():
            for channel in list(server._map.values()):
                if channel is not server and channel is not server.trigger:
                    channel.handle_close()      # an HTTP connection
            server.close()                      # the listening socket and the trigger
        server.trigger.pull_trigger(close_all)
        self._thread.join(10)
        server.task_dispatcher.shutdown()
        self.app.scimlite.close()
        self._thread = None


@contextlib.contextmanager
def serve(config=None, threads=4):
    """`with scimlite.serve() as server:` a live scimlite for a test.

    config is what create_app() takes; with no `db` in a dict (or no config)
    the database is ":memory:", and with no `mailer`, mail is kept in memory
    (server.app.scimlite.outbox.sent).  Starts in milliseconds; on leaving
    the block it stops, leaving no thread, socket or open file behind.
    """
    if config is None or isinstance(config, dict):
        config = {"db": ":memory:", "mailer": "memory", **(config or {})}
    server = LiveServer(create_app(config), threads)
    try:
        yield server
    finally:
        server.stop()

###############################################################################
# pytest plugin: fixtures for other projects' tests (`-p scimlite`) ###########
###############################################################################
# `pytest_plugins = ["scimlite"]` in a conftest.py, or `pytest -p scimlite`.
# pytest calls pytest_configure() below, which registers the fixtures; they
# are built there, so that importing scimlite never imports pytest.

SHARED_MARKER = "scim_shared"


def pytest_configure(config):
    import pytest
    config.addinivalue_line("markers", f"{SHARED_MARKER}: the test uses its module's "
                            "one scimlite app instead of a fresh one")
    config.pluginmanager.register(_pytest_fixtures(pytest), "scimlite-fixtures")


def _pytest_fixtures(pytest):
    class ScimliteFixtures:
        """scim_config (override it), scim_app, scim_token, scim_client,
        scim_mail, scim_server.  Each test gets a fresh, empty in-memory store unless
        marked @pytest.mark.scim_shared, which shares one per module."""

        @pytest.fixture
        def scim_config(self):
            return {"db": ":memory:", "mailer": "memory"}

        @pytest.fixture(scope="module")
        def _scim_module_app(self):
            app = create_app({"db": ":memory:", "mailer": "memory"})
            yield app
            app.scimlite.close()

        @pytest.fixture
        def scim_app(self, request, scim_config):
            if request.node.get_closest_marker(SHARED_MARKER):
                yield request.getfixturevalue("_scim_module_app")
                return
            app = create_app(scim_config)
            yield app
            app.scimlite.close()

        @pytest.fixture
        def scim_token(self, scim_app):
            return scim_app.scimlite.mint_key(f"pytest-{new_token()[:8]}")

        @pytest.fixture
        def scim_client(self, scim_app, scim_token):
            """A WebTest client of scim_app sending the bearer key."""
            webtest = pytest.importorskip("webtest")
            return webtest.TestApp(scim_app, extra_environ={
                "HTTP_AUTHORIZATION": f"Bearer {scim_token}"})

        @pytest.fixture
        def scim_mail(self, scim_app):
            """The outbox of scim_app, its mail kept in memory: after a change,
            `scim_mail.wait()`, then `scim_mail.mail_to(address)` (SentMail:
            to, subject, text, html, key())."""
            return scim_app.scimlite.outbox

        @pytest.fixture
        def scim_server(self, scim_config):
            """A live server (see serve()): .base_url, .token, .app."""
            with serve(scim_config) as server:
                yield server

    return ScimliteFixtures()


###############################################################################
# CLI: the commands (COMMANDS), serve and its shutdown, main() ################
###############################################################################

CLI_CLIENT = "command line"     # who the audit trail says acted, for these commands
COMMANDS = ("serve", "org", "admin", "mint-key", "list-keys", "revoke-key", "oauth-client",
            "event-stream", "scim",
            "set-admin-password", "users", "export", "import", "check-config",
            "send-test-email", "webhook-secret", "backup", "migrate-db", "version")
# The commands that act in one organization: --org SLUG, which may be left
# out while there is only one.
ORG_COMMANDS = ("mint-key", "list-keys", "revoke-key", "oauth-client", "event-stream", "scim",
                "users", "export", "import")
SECRET_SETTINGS = ("smtp_password", "license_secret", "metrics_token")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="scimlite.py", description="A self-hosted SCIM 2.0 service provider. "
        "With no command, runs 'serve' (and takes its options).")
    parser.add_argument("--version", action="version", version=f"scimlite {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, help_text, under=commands):
        sub = under.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--config", metavar="FILE", help="TOML settings file "
                         "(see config.example.toml)")
        sub.add_argument("--db", metavar="PATH", help=SETTINGS_BY_KEY["db"].help +
                         f"; env {SETTINGS_BY_KEY['db'].env}")
        if name in ORG_COMMANDS:
            sub.add_argument("--org", metavar="SLUG", help="the organization (may be left "
                             "out while there is only one)")
        return sub

    serve = command("serve", "serve the SCIM API and the admin page with Waitress")
    for key in ("host", "port"):
        setting = SETTINGS_BY_KEY[key]
        serve.add_argument(f"--{key}", type=setting.type, metavar=key.upper(),
                           help=f"{setting.help} (default {setting.default}; "
                                f"env {setting.env})")
    _add_org_commands(commands, command)
    _add_oauth_commands(commands, command)
    _add_event_stream_commands(commands, command)
    _add_admin_commands(commands, command)
    mint = command("mint-key", "mint an API key and print it alone on stdout")
    mint.add_argument("name", help="a name to know the key by, e.g. 'entra'")
    command("list-keys", "list API keys (names and prefixes, never secrets)")
    revoke = command("revoke-key", "revoke an API key")
    revoke.add_argument("name_or_prefix", metavar="NAME_OR_PREFIX",
                        help="the key's name or its prefix as list-keys shows it")
    scim = command("scim", "switch SCIM provisioning on or off (while off, every "
                   "SCIM request is 403); a running server sees it at once")
    scim.add_argument("action", choices=("enable", "disable", "status"))
    command("set-admin-password", "set the admin page's password: asked for twice on "
            "a terminal, else read from the first line of stdin")
    command("users", "list users in a table: userName, state, license, name, email")
    export = command("export", "write every user and group as SCIM JSON (a "
                     "ListResponse), ids kept; passwords are never exported")
    export.add_argument("--out", metavar="FILE", help="the file to write (default: stdout)")
    import_ = command("import", "create the users and groups of a SCIM JSON file (as "
                      "export writes) in one transaction: all or none")
    import_.add_argument("file", metavar="FILE")
    check = command("check-config", "check a TOML settings file and say exactly what is "
                    "wrong; prints the settings that differ from the defaults")
    check.add_argument("file", metavar="FILE")
    test_mail = command("send-test-email", "send a test mail with the smtp_* settings "
                        "and say which step failed, if one did (DNS, connection, TLS, "
                        "login, sender, recipient)")
    test_mail.add_argument("address", metavar="ADDRESS", help="where the test mail goes")
    hook = command("webhook-secret", "make a new webhook signing secret (whsec_...) and "
                   "print it, once; the old one stops signing at once")
    hook.add_argument("--org", metavar="SLUG", help="the secret of this organization's own "
                      "receiver (org update --webhook-url), not the install's (webhook_url)")
    backup = command("backup", "copy the database to PATH with SQLite's online backup "
                     "(safe while serving), then check the copy's integrity")
    backup.add_argument("path", metavar="PATH", help="a new file for the copy")
    move = command("migrate-db", "copy the whole database (users, groups, keys, "
                   "licenses, outbox, log, settings) into another, empty one, e.g. "
                   "PostgreSQL, then compare every row; the source is left as it was")
    move.add_argument("--to", required=True, metavar="DB", dest="target",
                      help="the target: postgresql://user:password@host/name or a "
                      "new SQLite file")
    command("version", "print the versions of scimlite, Python, SQLite and the "
            "database's schema")
    return parser


def _add_org_commands(commands, command):
    org = commands.add_parser("org", help="the customer organizations: create, list, show, "
                              "update, suspend, resume, delete", description="The "
                              "customer organizations this install serves.")
    actions = org.add_subparsers(dest="org_action", metavar="ACTION", required=True)

    def fields(sub, creating):
        sub.add_argument("--name", help="its display name (default: the slug)")
        sub.add_argument("--seats", type=int, metavar="N", help="license seats; 0: no "
                         "limit (default: the license_seats setting)")
        sub.add_argument("--plan", metavar="NAME", help="the plan's name, shown to admins")
        sub.add_argument("--ends", metavar="DATE", help="the subscription's last day "
                         "(YYYY-MM-DD); after it licenses verify as EXPIRED; '' clears it")
        sub.add_argument("--webhook-url", metavar="URL", help="its own webhook receiver: its "
                         "events, signed with its own secret (webhook-secret --org SLUG); "
                         "'' removes it")
        if not creating:
            sub.add_argument("--slug", dest="new_slug", metavar="NEW", help="a new slug "
                             "(its Tenant URL /o/SLUG/scim/v2 changes with it)")
    create = command("create", "a new organization", actions)
    create.add_argument("slug", metavar="SLUG", help="URL-safe: lowercase letters, digits, "
                        "dashes (its Tenant URL is /o/SLUG/scim/v2)")
    fields(create, True)
    command("list", "every organization: slug, name, seats used / seats, last SCIM "
            "request, state", actions)
    for name, text in (("show", "one organization, in full"),
                       ("suspend", "refuse its SCIM requests (403) and verify its licenses "
                        "as SUSPENDED; nobody is mailed"),
                       ("resume", "undo suspend")):
        command(name, text, actions).add_argument("slug", metavar="SLUG")
    update = command("update", "change an organization", actions)
    update.add_argument("slug", metavar="SLUG")
    fields(update, False)
    delete = command("delete", "delete an organization and all its data, after writing "
                     "an export of its users and groups", actions)
    delete.add_argument("slug", metavar="SLUG")
    delete.add_argument("--yes", action="store_true", help="yes, delete it")
    delete.add_argument("--export", metavar="FILE", help="where the export goes (default: "
                        "scimlite-SLUG-TIME.json here)")


def _add_oauth_commands(commands, command):
    oauth = commands.add_parser("oauth-client", help="OAuth 2.0 clients (client "
                                "credentials): create, list, add-secret, revoke",
                                description="OAuth 2.0 clients, which get access tokens "
                                "from POST /oauth/token (docs/oauth.md).")
    actions = oauth.add_subparsers(dest="oauth_action", metavar="ACTION", required=True)

    def action(name, text):
        sub = command(name, text, actions)
        sub.add_argument("--org", metavar="SLUG", help="the organization (may be left "
                         "out while there is only one)")
        sub.add_argument("--install", action="store_true", help="the install's own clients, "
                         "whose tokens act in whichever organization the Tenant URL "
                         "/o/SLUG/scim/v2 names (Okta's one client for every tenant)")
        return sub

    def days(sub):
        sub.add_argument("--secret-days", type=int, metavar="N", help="how long the "
                         f"secret works (default {OAUTH_SECRET_DAYS}, at most "
                         f"{OAUTH_MAX_SECRET_DAYS})")
    create = action("create", "a new client; prints its client id and secret (once), or "
                    "with --entra-tenant or --issuer a federated one (no secret)")
    create.add_argument("name", metavar="NAME", help="a name to know it by, e.g. 'entra'")
    create.add_argument("--scope", action="append", choices=OAUTH_SCOPES,
                        help="what it may ask for (repeat; default both)")
    days(create)
    create.add_argument("--entra-tenant", metavar="TENANT_ID", help="federated with this "
                        "Entra tenant: its issuer and key set (workload identity federation)")
    for flag, text in (("--issuer", "the assertions' iss"), ("--subject", "their sub (for "
                       "Entra: the workload identity's object id)"),
                       ("--audience", "their aud (for Entra: the workload identity's "
                        "application id, as Entra shows it)"),
                       ("--jwks-url", "the issuer's key set")):
        create.add_argument(flag, metavar=flag[2:].upper().replace("-", "_"),
                            help="federated: " + text)
    def redirects(sub):
        sub.add_argument("--redirect-uri", action="append", metavar="URI", default=[],
                         help="where the authorization code grant may send codes (repeat)")
        sub.add_argument("--okta-app", metavar="APP_NAME", help="Okta's redirect URIs for "
                         "the integration APP_NAME (its name in the admin console's URL, "
                         "/admin/app/APP_NAME/instance/...)")
    redirects(create)
    uris = action("redirect-uris", "set a client's redirect URIs (the authorization code "
                  "grant: Okta's OAuth mode); none given clears them")
    uris.add_argument("client_id", metavar="CLIENT_ID")
    redirects(uris)
    action("list", "the clients: id, name, scopes, secrets with their expiry, redirect "
           "URIs, last use; and the grants administrators gave them")
    add = action("add-secret", f"a second secret for a client, to rotate to (at most "
                 f"{OAUTH_MAX_SECRETS} active)")
    add.add_argument("client_id", metavar="CLIENT_ID")
    days(add)
    revoke = action("revoke", "revoke a client, one secret or one grant: their tokens "
                    "stop at once")
    revoke.add_argument("target", metavar="CLIENT_ID|SECRET_PREFIX|GRANT")


def _add_admin_commands(commands, command):
    admins = commands.add_parser("admin", help="organizations' administrators: invite, "
                                 "list, remove", description="An organization's "
                                 "administrators, who sign in with a code mailed to them "
                                 "and see their organization only.")
    actions = admins.add_subparsers(dest="admin_action", metavar="ACTION", required=True)
    invite = command("invite", "invite EMAIL to administer an organization (mailed: the "
                     "link works once, for invitation_hours)", actions)
    invite.add_argument("email", metavar="EMAIL")
    invite.add_argument("--name", help="their name (they confirm it)")
    listing = command("list", "the administrators, of one organization or of all", actions)
    remove = command("remove", "remove an administrator: their sessions end at once",
                     actions)
    remove.add_argument("email", metavar="EMAIL")
    for sub in (invite, listing, remove):
        sub.add_argument("--org", metavar="SLUG", help="the organization (may be left "
                         "out while there is only one)")
        sub.add_argument("--operator", action="store_true", help="an operator, who sees "
                         "every organization, instead of one organization's administrator")


def _add_event_stream_commands(commands, command):
    streams = commands.add_parser("event-stream", help="receivers of security events "
                                  "(RFC 9967 SETs): create, list, revoke",
                                  description="Receivers of security events: each change "
                                  "of a user or group as a signed SET, polled (RFC 8936) or "
                                  "pushed (RFC 8935) (docs/events.md).")
    actions = streams.add_subparsers(dest="stream_action", metavar="ACTION", required=True)
    create = command("create", "a new receiver; a poll receiver's token is printed once",
                     actions)
    create.add_argument("name", metavar="NAME", help="a name to know it by")
    create.add_argument("--push", metavar="URL", help="push each SET to this URL (RFC "
                        "8935) instead of waiting for polls")
    create.add_argument("--audience", metavar="AUD", help="the SETs' aud (default: the "
                        "push URL, or the stream's own URI)")
    create.add_argument("--issuer", metavar="ISS", help="the SETs' iss (default: the "
                        "organization's Tenant URL, from public_url)")
    command("list", "the receivers: id, delivery, SETs waiting, last acknowledgement",
            actions)
    revoke = command("revoke", "stop a receiver: nothing more is written for it", actions)
    revoke.add_argument("stream", metavar="ID|NAME")
    for sub in (create, revoke, actions.choices["list"]):
        sub.add_argument("--org", metavar="SLUG", help="the organization (may be left "
                         "out while there is only one)")


def parse_args(argv):
    argv = list(argv)
    # `python scimlite.py --port 9000` means `serve --port 9000`.
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help",
                                                               "--version")):
        argv.insert(0, "serve")
    return build_parser().parse_args(argv)


def settings_from_args(args, environ):
    flags = {key: getattr(args, key, None) for key in ("db", "host", "port")}
    return load_settings(args.config, environ=environ, overrides=flags)


def tenant_url(settings):
    return listening_url(settings) + settings["base_path"]


def organization_tenant_url(settings, org):
    """An organization's own Tenant URL (the shared one works for it too)."""
    return (settings["public_url"] or listening_url(settings)) + \
        f"/o/{org.slug}" + settings["base_path"]


def open_listeners(settings):
    """The listening sockets of `host` and `port`, bound before anything
    else happens: a port that is taken, a port without permission or a
    host that does not resolve is a StartError, before a key is minted or
    a token printed.  Port 0 takes a free port (settings["port"] then says
    which)."""
    host, port = settings["host"], settings["port"]
    try:
        found = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM,
                                   socket.IPPROTO_TCP, socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartError(f"--host {host!r} does not resolve ({exc.strerror}): give an "
                         "address of this machine, e.g. --host 127.0.0.1 (or 0.0.0.0 "
                         "for every interface)") from None
    sockets = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):    # once each
            # Port 0: the second family takes the port the first was given.
            address = (address[0], settings["port"], *address[2:])
            sockets.append(_bound_socket(family, kind, proto, address, settings))
            settings["port"] = sockets[0].getsockname()[1]
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bound_socket(family, kind, proto, address, settings):
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)    # as Waitress does
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise StartError(_listen_problem(settings, exc)) from None
    return sock


def _listen_problem(settings, exc):
    """One line for a socket that does not bind: what, and what to do."""
    host, port = settings["host"], settings["port"]
    if exc.errno == errno.EADDRINUSE:
        return (f"port {port} on {host} is in use by another program: stop it, or "
                f"choose another port with --port {port + 1 if port < 65535 else 8080}")
    if exc.errno == errno.EACCES:
        return (f"no permission to listen on port {port} (ports below 1024 need root): "
                "choose one above 1023 with --port 8080, and put a reverse proxy on "
                "80 and 443")
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"{host} is not an address of this machine: choose one with --host, "
                "e.g. --host 127.0.0.1 (or 0.0.0.0 for every interface)")
    return f"cannot listen on {host} port {port} ({exc.strerror}): choose --host and --port"


def cmd_serve(settings, out):
    import waitress        # only serving needs it; embedding apps may bring their own
    sockets = open_listeners(settings)
    try:
        app = create_app(settings)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    scimlite = app.scimlite
    url = tenant_url(settings)
    print(f"scimlite {__version__}: database {database_label(settings['db'])}", file=out)
    orgs = organizations(scimlite.models)
    if len(orgs) > 1:
        print(f"  Tenant URL:   {url} (each key names its organization), or an "
              f"organization's own: {organization_tenant_url(settings, orgs[0])}\n"
              f"  Organizations: {len(orgs)} (python scimlite.py org list)", file=out)
    elif not scimlite.keys():
        token = scimlite.mint_key("default")
        print("First start: an API key was minted. Paste these into Microsoft Entra "
              "ID (Tenant URL / Secret Token) or Okta (SCIM connector base URL / "
              "API token):\n"
              f"  Tenant URL:   {url}\n"
              f"  Secret Token: {token}\n"
              "The token is shown only this once. Mint more with: "
              "python scimlite.py mint-key NAME", file=out)
    else:
        active = len([k for k in scimlite.keys() if key_state(k) == "active"])
        print(f"  Tenant URL:   {url}\n  API keys:     {active} "
              "active (python scimlite.py list-keys; mint-key NAME)", file=out)
    if not admin_password_set(scimlite):
        print("No admin password yet. Choose one at this one-time link (or run "
              "python scimlite.py set-admin-password):\n"
              f"  {setup_url(scimlite, scimlite.new_setup_token())}", file=out)
    print_mail_notes(scimlite, out)
    server = waitress.create_server(
        app, sockets=sockets, threads=settings["threads"],
        ident="scimlite", connection_limit=settings["connection_limit"],
        clear_untrusted_proxy_headers=False,        # scimlite decides (request_origin)
        # scimlite answers oversized bodies itself, as SCIM errors
        max_request_body_size=settings["max_body_bytes"] * 4 + 65536)
    # A full garbage collection walks every object the process holds and
    # stops every thread meanwhile: 14-15 ms, all 8 clients at once, which
    # was the write p99 under load.  What start-up built (modules, the app,
    # its statements) lives as long as the process: frozen, it is not walked.
    gc.collect()
    gc.freeze()
    print(f"Serving on http://{settings['host']}:{settings['port']}/ (Ctrl+C or SIGTERM "
          f"stops, after the requests in flight; admin page at {ADMIN})", file=out,
          flush=True)
    serve_until_stopped(server, settings["drain_seconds"], out, SlowClientGuard(
        server, settings["request_seconds"], settings["connections_per_address"],
        settings["trusted_proxies"]))
    scimlite.close()
    print("stopped", file=out, flush=True)


class SlowClientGuard:
    """What Waitress leaves open to a slow client: a byte now and then keeps
    a connection for ever (each restarts its 120 s timeout), and a few
    hundred such connections fill its connection limit, so that no IdP gets
    in.  Swept from Waitress's own loop, twice a second: a request not
    received whole within request_seconds of its first byte loses its
    connection, and an address holding more than connections_per_address
    loses its half-sent, then its idle ones (requests being served are
    never touched; trusted proxies are exempt)."""
    SWEEP_SECONDS = 0.5

    def __init__(self, server, request_seconds, per_address, trusted):
        self.server, self.request_seconds = server, request_seconds
        self.per_address, self.trusted = per_address, set(trusted)
        self._first_byte, self._next = {}, 0.0     # id(request) -> (request, when)

    def sweep(self, now):
        if now < self._next:
            return
        self._next = now + self.SWEEP_SECONDS
        arriving, by_address = {}, collections.defaultdict(list)
        for channel in list(self.server._map.values()):
            if not hasattr(channel, "requests") or not channel.connected:
                continue            # the listening socket, the trigger
            by_address[channel.addr[0] if channel.addr else ""].append(channel)
            request = channel.request
            if request is not None and not request.completed:
                first = self._first_byte.get(id(request), (request, now))[1]
                arriving[id(request)] = (request, first)
                if now - first > self.request_seconds:
                    channel.close()
        self._first_byte = arriving
        for address, channels in by_address.items():
            if address in self.trusted or len(channels) <= self.per_address:
                continue
            # Half-sent requests go first, then idle connections; oldest first.
            spare = sorted((c for c in channels if c.connected and not c.requests),
                           key=lambda c: (c.request is None, c.creation_time))
            for channel in spare[:len(channels) - self.per_address]:
                channel.close()


def serve_until_stopped(server, drain_seconds, out, guard=None):
    """Waitress's loop, until SIGTERM or Ctrl+C; then stop accepting, let
    the requests in flight finish and their answers go out (at most
    drain_seconds), and stop its threads.  (waitress.serve() would stop at
    once: every request in flight cut off.)"""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        try:
            server.asyncore.loop(timeout=0.2, map=server._map, count=1)
            if guard is not None:
                guard.sweep(time.monotonic())
        except KeyboardInterrupt:
            stop.set()
    server.accepting = False            # new connections are refused from here
    server.del_channel()
    server.socket.close()
    deadline = time.monotonic() + drain_seconds
    print(f"stopping: finishing the requests in flight (at most {drain_seconds} s)",
          file=out, flush=True)
    while _in_flight(server) and time.monotonic() < deadline:
        server.asyncore.loop(timeout=0.05, map=server._map, count=1)
    server.task_dispatcher.shutdown(timeout=1)
    for channel in list(server._map.values()):
        if channel is not server.trigger:
            channel.close()


def _in_flight(server):
    """Whether a request is running, queued, or has an answer not yet sent."""
    tasks = server.task_dispatcher
    return bool(tasks.active_count or tasks.queue or any(
        getattr(c, "requests", None) or getattr(c, "total_outbufs_len", 0)
        for c in server._map.values()))


def print_mail_notes(scimlite, out):
    """Where mail goes, said at start: printed mail is easy to mistake for
    sent mail.  The first webhook signing secret is shown here, once."""
    settings = scimlite.settings
    print(f"  Mail:         {describe_mailer(settings)}", file=out)
    if settings["webhook_url"] and get_option(scimlite.models, WEBHOOK_SECRET_OPTION,
                                              None) is None:
        print(f"  Webhooks:     to {settings['webhook_url']}, signed with\n"
              f"                {scimlite.outbox.rotate_webhook_secret()}\n"
              "                (shown only this once; a new one: python scimlite.py "
              "webhook-secret)", file=out)


def backup_database(scimlite, path):
    """Copy the live database to a new file with SQLite's online backup API
    (readers and writers go on meanwhile), then check the copy; the copy's
    integrity_check result ("ok" when sound)."""
    source = scimlite.settings["db"]
    if source == ":memory:":
        raise ValueError("an in-memory database has nothing to back up")
    if is_postgres(source):
        raise ValueError("back up PostgreSQL with pg_dump, or copy it into a new SQLite "
                         "file with migrate-db --to FILE")
    return copy_database(source, path)


def cmd_backup(scimlite, path, out):
    result = backup_database(scimlite, path)
    if result != "ok":
        raise ValueError(f"the copy at {path} failed its integrity check: {result}")
    print(f"backed up {scimlite.settings['db']} to {path} (integrity_check: ok)", file=out)
    secret = license_secret_path(scimlite.settings)
    if not scimlite.settings["license_secret"] and os.path.exists(secret):
        # The keys derive from it: a copy without it verifies no key.
        shutil.copy2(secret, license_secret_path({"db": path}))
        print(f"copied the license secret to {path}.secret: keep the two together, "
              "and the secret as safe as a password", file=out)


def cmd_migrate_db(scimlite, target, out):
    """Copy the store into `target` (copy_store), then read both back and
    compare every row (tables_that_differ)."""
    if target in (":memory:", scimlite.settings["db"]):
        raise ValueError("--to names another database: a PostgreSQL URL or a new file")
    models = open_store(target)
    try:
        counts = copy_store(scimlite.models, models)
        differ = tables_that_differ(scimlite.models, models)
    finally:
        models.db.close_all()
    if differ:
        raise ValueError(f"the copy in {database_label(target)} differs from the source "
                         f"in {', '.join(differ)}: do not use it (empty it and try again)")
    print(f"copied {sum(counts.values())} rows ({counts['user']} users, {counts['group']} "
          f"groups) to {database_label(target)}; every row compared equal", file=out)
    if scimlite.settings["license_secret"]:
        print("every instance on it needs the same license_secret as this one", file=out)
    else:
        print(f"every instance on it needs license_secret (SCIMLITE_LICENSE_SECRET) set to "
              f"the text in {license_secret_path(scimlite.settings)}: the license keys "
              "derive from it", file=out)


def smtp_steps(settings, message):
    """The steps of sending one mail that these settings take, each (what it
    is, how to do it), so that a failure names its step: the name looked
    up, the session opened (smtp_session_steps), the mail sent."""
    host, port = settings["smtp_host"], settings["smtp_port"]
    session, steps = smtp_session_steps(settings)
    return session, [(f"DNS: looking up {host}", lambda: socket.getaddrinfo(host, port)),
                     *steps, ("sending", lambda: smtp_send(session["smtp"], message))]


def cmd_send_test_email(settings, address, out):
    """Needs no database: only the settings, step by step."""
    if not is_address(address):
        raise ValueError(f"{address!r} is not an email address")
    subject, text, _ = render_mail("test", {"product": settings["product_name"],
                                           "host": settings["smtp_host"]})
    message = compose_mail(settings, uuid.uuid4().hex, address, "", subject, text, None)
    if mailer_kind(settings) != "smtp":
        ConsoleMailer(out).send(message)
        raise ValueError("smtp_host is empty (or mailer is not \"smtp\"): mail is printed "
                         "to the console, as above, and not sent")
    session, steps = smtp_steps(settings, message)
    try:
        for step, action in steps:
            try:
                reply = action()
            except (OSError, smtplib.SMTPException, UnicodeError) as exc:
                raise ValueError(f"{step} failed: {smtp_explained(exc)}") from None
            print(f"ok  {step}", file=out)
    finally:
        if "smtp" in session:
            session["smtp"].close()
    print(f"sent a test mail to {address} (the server said: {reply})", file=out)


def smtp_explained(exc):
    if isinstance(exc, socket.gaierror):
        return f"the name does not resolve ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused: is the host or port wrong, or the server down?"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "no answer in time (smtp_timeout): a firewall, or the wrong port?"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"the server does not offer it ({exc}); check smtp_security"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's certificate did not verify: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return (f"TLS failed ({exc.reason or exc}): port 465 wants smtp_security = "
                f"\"tls\", port 587 \"starttls\"")
    if isinstance(exc, UnicodeError):
        return "smtp_username and smtp_password must be ASCII"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the server refused the login: {smtp_reply(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return (f"the server refused the sender {exc.sender!r} (mail_from): "
                f"{smtp_reply(exc.smtp_code, exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"the server refused the recipient: {smtp_failure(exc)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return smtp_reply(exc.smtp_code, exc.smtp_error)
    return f"{type(exc).__name__}: {exc}"


def cmd_export(scimlite, path, out):
    text = json.dumps(export_document(scimlite, tenant_url(scimlite.settings)), indent=2,
                      ensure_ascii=False) + "\n"
    if path is None:
        out.write(text)
        return
    with open(path, "x", encoding="utf-8") as handle:     # never over a file
        handle.write(text)
    print(f"exported to {path}", file=out)


def cmd_users(scimlite, out):
    User, License = scimlite.models.User, scimlite.models.License
    licenses = {row.user_id: row.status for row in License.select(License.user_id,
                                                                   License.status)}
    rows = [("userName", "state", "license", "name", "email")]
    for user in User.select().order_by(User.user_name_key).iterator():
        contact = user_contact(json.loads(user.data))
        rows.append((contact["user_name"], "inactive" if user.active is False else "active",
                     licenses.get(user.id, "-"), contact["display_name"] or "",
                     contact["email"] or ""))
    print_table(rows, out)
    print(f"{len(rows) - 1} users", file=out)


def cmd_check_config(path, environ, out):
    """Needs no database: the file, read as serve would read it."""
    settings = load_settings(path, environ=environ)     # ValueError says what is wrong
    changed = {s.key: settings[s.key] for s in SETTINGS if settings[s.key] != s.default}
    problems = MailTemplates(overrides=settings["mail_templates"]).check()
    if problems:
        raise ValueError("; ".join(f"mail template {kind}: {problem}"
                                   for kind, problem in problems) +
                         " (the built-in templates would be sent instead)")
    print(f"{path}: ok", file=out)
    for key, value in changed.items():
        shown = "(set)" if key in SECRET_SETTINGS else json.dumps(
            database_label(value) if key == "db" else value)
        print(f"  {key} = {shown}", file=out)
    if settings["mail_templates"]:
        kinds = sorted(p.stem for p in Path(settings["mail_templates"]).glob("*.txt"))
        print(f"  mail templates overridden: {', '.join(kinds) or 'none'}", file=out)


def cmd_version(scimlite, out):
    print(f"scimlite {__version__}\nPython {sys.version.split()[0]}\n"
          f"{scimlite.models.dialect.describe(scimlite.models.db)}\ndatabase schema "
          f"{get_option(scimlite.models, 'schema_version', 0)} (this scimlite writes "
          f"{SCHEMA_VERSION})", file=out)


def cmd_list_keys(scimlite, out):
    rows = scimlite.keys()
    if not rows:
        print("no API keys; mint one with: python scimlite.py mint-key NAME", file=out)
    for row in rows:
        status = {"revoked": f"revoked {row.revoked}", "expired": f"expired {row.expires}",
                  "active": "active"}[key_state(row)]
        print(f"{key_prefix(row)}  {row.name:<20} created {row.created}  "
              f"last used {row.last_used or 'never'}  {status}", file=out)


def cmd_set_admin_password(scimlite, stdin, out):
    if stdin.isatty():
        import getpass
        password = getpass.getpass("New admin password: ")
        if password != getpass.getpass("Again: "):
            raise ValueError("the two passwords differ")
    else:
        password = stdin.readline().rstrip("\r\n")
    set_admin_password(scimlite, password, CLI_CLIENT)
    print(f"The admin password is set; sign in at {ADMIN}/login", file=out)


def cmd_scim(scimlite, action, out):
    if action != "status":
        scimlite.scim_enabled = action == "enable"
        scimlite.audit(f"scim.{action}d", CLI_CLIENT)
    print(f"SCIM provisioning is {'enabled' if scimlite.scim_enabled else 'disabled'}",
          file=out)


class JsonLogFormatter(logging.Formatter):
    """log_format = "json": one JSON object per line, with a request's
    fields as fields of their own."""

    def format(self, record):
        line = {"time": format_datetime(dt.datetime.fromtimestamp(record.created,
                                                                  dt.timezone.utc)),
                "level": record.levelname.lower(), "logger": record.name,
                "message": record.getMessage(), **getattr(record, "fields", {})}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(settings):
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter() if settings["log_format"] == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings["log_level"].upper(), handlers=[handler])
    # peewee logs each SQL statement with its values at debug (password
    # hashes, addresses, filter values): never, whatever log_level says.
    logging.getLogger("peewee").setLevel(logging.INFO)
    # Waitress warns "Task queue depth is N" whenever a burst waits for a
    # thread, a line per request in a sync: normal for an IdP, not news.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def run_command(scimlite, args, out):
    """The commands that work on the database (every one but serve,
    send-test-email and check-config)."""
    command = args.command
    if command == "org":
        cmd_org(scimlite, args, out)
        return
    if command == "admin":
        cmd_admin(scimlite, args, out)
        return
    if command == "oauth-client":
        if args.install and args.org:
            raise ValueError("--install or --org, not both")
        with scimlite.scope.of(NO_ORG) if args.install else scimlite.in_org(args.org):
            cmd_oauth_client(scimlite, args, out)
        return
    with scimlite.in_org(args.org) if command in ORG_COMMANDS else contextlib.nullcontext():
        _run_command(scimlite, args, out)


def _run_command(scimlite, args, out):
    command = args.command
    if command == "mint-key":
        print(scimlite.mint_key(args.name), file=out)
        scimlite.audit("key.minted", CLI_CLIENT, name=args.name)
    elif command == "list-keys":
        cmd_list_keys(scimlite, out)
    elif command == "revoke-key":
        name = scimlite.revoke_key(args.name_or_prefix)
        scimlite.audit("key.revoked", CLI_CLIENT, name=name)
        print(f"revoked {name!r}", file=out)
    elif command == "event-stream":
        cmd_event_stream(scimlite, args, out)
    elif command == "scim":
        cmd_scim(scimlite, args.action, out)
    elif command == "set-admin-password":
        cmd_set_admin_password(scimlite, sys.stdin, out)
    elif command == "users":
        cmd_users(scimlite, out)
    elif command == "export":
        cmd_export(scimlite, args.out, out)
    elif command == "import":
        cmd_import(scimlite, args.file, out)
    elif command == "webhook-secret":
        org = args.org and scimlite.organization(args.org)
        print(scimlite.outbox.rotate_webhook_secret(org or None), file=out)
        scimlite.audit("webhook_secret.rotated", CLI_CLIENT, org=args.org)
    elif command == "backup":
        cmd_backup(scimlite, args.path, out)
    elif command == "migrate-db":
        cmd_migrate_db(scimlite, args.target, out)
    elif command == "version":
        cmd_version(scimlite, out)


def cmd_oauth_client(scimlite, args, out):
    action, models, now = args.oauth_action, scimlite.models, scimlite.clock.now_text()
    if action == "list":
        cmd_oauth_list(scimlite, out)
        return
    with scimlite.changes.unit():
        if action == "create" and (args.entra_tenant or args.issuer):
            client, secret = _federated_client(models, args, now), None
            said = f"client {client.name!r}"
        elif action == "create":
            client, secret = create_oauth_client(models, args.name, " ".join(args.scope or ()),
                                                 args.secret_days, now, _redirect_uris(args))
            said = f"client {client.name!r}"
        elif action == "redirect-uris":
            client = active_client(models, args.client_id)
            uris = set_redirect_uris(models, client, _redirect_uris(args))
            secret, said = None, f"client {client.name!r}: {len(uris)} redirect URIs"
        elif action == "add-secret":
            client = active_client(models, args.client_id)
            secret, said = add_oauth_secret(models, client, args.secret_days, now), None
        else:
            said = revoke_oauth(models, args.target, now)
    scimlite.audit(f"oauth.{action}", CLI_CLIENT, what=said or client.client_id)
    if action == "revoke":
        print(f"revoked {said}", file=out)
        return
    if action == "redirect-uris":
        print(f"{said}\n" + "".join(f"  {uri}\n" for uri in uris), end="", file=out)
        return
    if secret is None:
        print(f"client id:     {client.client_id}\nfederated:     iss {client.issuer}, sub "
              f"{client.subject}, aud {client.audience}\nkey set:       {client.jwks_url}",
              file=out)
        return
    print(f"client id:     {client.client_id}\nclient secret: {secret}\n(the secret is "
          "shown only this once; the token endpoint is POST /oauth/token)", file=out)
    for uri in (client.redirect_uris or "").split("\n") if action == "create" else ():
        print(f"redirect URI:  {uri}", file=out)


def _redirect_uris(args):
    return [*args.redirect_uri, *(okta_redirect_uris(args.okta_app) if args.okta_app else ())]


def cmd_admin(scimlite, args, out):
    accounts, action = admin_accounts(scimlite), args.admin_action
    if args.operator and args.org:
        raise ValueError("--operator or --org, not both")
    if action == "list":
        orgs = [None] if args.operator else [scimlite.organization(args.org)] if args.org \
            else [None, *organizations(scimlite.models)]
        rows = [("organization", "email", "name", "state", "last sign-in")]
        for org in orgs:
            rows += [(org.slug if org else "(operator)", a.email, a.name,
                      "joined" if a.joined else "invited", a.last_login or "never")
                     for a in accounts.of(org)]
        print_table(rows, out)
        return
    org = None if args.operator else scimlite.organization(args.org)
    if action == "invite":
        origin = scimlite.settings["public_url"] or listening_url(scimlite.settings)
        account, link = accounts.invite(args.email, org, args.name, by="the operator",
                                        client=CLI_CLIENT, origin=origin)
        print(f"invited {account.email} to administer "
              f"{repr(org.slug) if org else 'the whole install'}: the invitation is "
              f"mailed (it works once, for {scimlite.settings['invitation_hours']} hours)",
              file=out)
        if mailer_kind(scimlite.settings) != "smtp":
            # No mail server: the server's console shows the mail when it
            # sends it; the operator may as well hand the link over.
            print(f"no mail server is set (smtp_host): give them this link yourself:\n"
                  f"{link}", file=out)
        return
    account = accounts.named(args.email)
    where = repr(org.slug) if org else "the operators"
    if account is None or account.org != (org.id if org else None):
        raise LookupError(f"{args.email} is not one of {where}")
    accounts.remove(account, "the operator", CLI_CLIENT)
    print(f"removed {account.email} from {where}", file=out)


def cmd_event_stream(scimlite, args, out):
    action, models = args.stream_action, scimlite.models
    if action == "list":
        rows = [("id", "name", "delivery", "waiting", "last acknowledged", "state")]
        for s in describe_event_streams(models):
            rows.append((s["id"], s["name"], s["url"] or "poll", s["waiting"],
                         s["last_acked"] or "never", s["state"]))
        print_table(rows, out)
        return
    if action == "revoke":
        with scimlite.changes.unit():
            name = revoke_event_stream(models, args.stream)
        scimlite.audit("events.revoked", CLI_CLIENT, name=name)
        print(f"revoked {name!r}", file=out)
        return
    event_signing_key(scimlite.secret, scimlite.scope.get())   # the library is there
    org = scimlite.scope.current
    issuer = args.issuer or organization_tenant_url(scimlite.settings, org)
    with scimlite.changes.unit():
        stream, token = create_event_stream(models, args.name, issuer, args.push,
                                            args.audience)
    scimlite.audit("events.created", CLI_CLIENT, name=stream.name)
    base = (scimlite.settings["public_url"] or listening_url(scimlite.settings)) + \
        f"/o/{org.slug}/events"
    print(f"stream:        {STREAM_PREFIX}{stream.public_id}\n"
          f"iss:           {stream.issuer}\naud:           {stream.audience}\n"
          f"signing keys:  {base}/jwks.json", file=out)
    if token:
        print(f"poll:          POST {base}\ntoken:         {token}\n(the token is shown "
              "only this once)", file=out)
    else:
        print(f"push to:       {stream.url}", file=out)


def _federated_client(models, args, now):
    """oauth-client create --entra-tenant T (Entra's issuer and key set
    filled in, from Microsoft's Workload-Identity-Federation-for-SCIM-
    Provisioning) or --issuer with --jwks-url."""
    issuer, jwks_url = args.issuer, args.jwks_url
    if args.entra_tenant:
        tenant = urllib.parse.quote(args.entra_tenant.strip(), safe="")
        issuer = issuer or f"https://login.microsoftonline.com/{tenant}/v2.0"
        jwks_url = jwks_url or f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
    return create_federated_client(models, args.name, issuer, args.subject, args.audience,
                                   jwks_url, " ".join(args.scope or ()), now)


def cmd_oauth_list(scimlite, out):
    Client = scimlite.models.OAuthClient
    clients = list(Client.select().order_by(Client.pk))
    proofs = client_credentials(scimlite.models, clients, scimlite.clock.now_text())
    rows = [("client id", "name", "scopes", "secrets", "last used", "state")]
    for client in clients:
        rows.append((client.client_id, client.name, client.scopes,
                     "; ".join(proofs[client.pk]) or "none",
                     client.last_used or "never",
                     f"revoked {client.revoked}" if client.revoked else "active"))
    print_table(rows, out)
    for client in clients:
        for uri in (client.redirect_uris or "").split("\n") if client.redirect_uris else ():
            print(f"{client.client_id} redirect URI: {uri}", file=out)
    grants = describe_grants(scimlite)
    if grants:
        print(file=out)
        print_table([("grant", "client", "organization", "scopes", "granted", "last used")] +
                    [(g["id"], g["client"], g["org"], g["scopes"], g["created"],
                      g["last_used"] or "never") for g in grants], out)


def cmd_org(scimlite, args, out):
    action = args.org_action
    if action == "list":
        cmd_org_list(scimlite, out)
        return
    if action == "create":
        org = scimlite.create_organization(args.slug, args.name, seats=args.seats,
                                           plan=args.plan, ends=args.ends,
                                           webhook_url=args.webhook_url)
        scimlite.audit("org.created", CLI_CLIENT, slug=org.slug)
        print(f"created {org.slug!r}; its Tenant URL: "
              f"{organization_tenant_url(scimlite.settings, org)}\n"
              f"mint its first key with: python scimlite.py mint-key NAME --org {org.slug}",
              file=out)
    elif action == "show":
        cmd_org_show(scimlite, args.slug, out)
    elif action == "update":
        given = {"name": args.name, "seats": args.seats, "plan": args.plan, "ends": args.ends,
                 "slug": args.new_slug, "webhook_url": args.webhook_url}
        org = scimlite.update_organization(args.slug, **{
            k: v for k, v in given.items() if v is not None})
        scimlite.audit("org.updated", CLI_CLIENT, slug=org.slug)
        cmd_org_show(scimlite, org.slug, out)
    elif action in ("suspend", "resume"):
        org = scimlite.update_organization(
            args.slug, state="suspended" if action == "suspend" else "active")
        scimlite.audit(f"org.{action}d", CLI_CLIENT, slug=org.slug)
        print(f"{org.slug!r} is {org.state}", file=out)
    elif action == "delete":
        cmd_org_delete(scimlite, args, out)


def cmd_org_list(scimlite, out):
    rows = [("slug", "name", "seats", "last SCIM request", "state")]
    for summary in scimlite.organization_summaries():
        org = summary["org"]
        seats = f"{summary['used']} / {summary['seats'] or 'no limit'}"
        rows.append((org.slug, org.name, seats, summary["last_used"] or "never", org.state))
    print_table(rows, out)


def cmd_org_show(scimlite, slug, out):
    org = scimlite.organization(slug)
    summary = next(s for s in scimlite.organization_summaries() if s["org"].id == org.id)
    for label, value in (
            ("slug", org.slug), ("name", org.name), ("state", org.state),
            ("seats", f"{summary['used']} used of {summary['seats'] or 'no limit'}"
             f"{', ' + str(summary['waiting']) + ' waiting' if summary['waiting'] else ''}"),
            ("plan", org.plan or "-"), ("ends", org.ends or "-"),
            ("SCIM", "enabled" if org.scim_enabled else "disabled"),
            ("webhooks to", org.webhook_url or "-"),
            ("Tenant URL", organization_tenant_url(scimlite.settings, org)),
            ("last SCIM request", summary["last_used"] or "never"), ("created", org.created)):
        print(f"{label + ':':<19}{value}", file=out)


def cmd_org_delete(scimlite, args, out):
    org = scimlite.organization(args.slug)
    if not args.yes:
        raise ValueError(f"deleting {org.slug!r} deletes all its users, groups, keys, "
                         "licenses and log: run again with --yes")
    if len(scimlite.auth.organization_ids()) == 1:     # before an export is written
        raise ValueError("this is the only organization: it cannot be deleted")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = args.export or f"scimlite-{org.slug}-{stamp}.json"
    with scimlite.in_org(org.slug):
        cmd_export(scimlite, path, out)
    counts = scimlite.delete_organization(org.slug)
    scimlite.audit("org.deleted", CLI_CLIENT, slug=org.slug)
    print(f"deleted {org.slug!r}: " + ", ".join(f"{n} {table}" for table, n in counts.items()
                                               if n), file=out)


def print_table(rows, out):
    """Rows as columns padded to their widest value (at most 40)."""
    widths = [min(40, max(len(str(r[i])) for r in rows)) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(v)[:w].ljust(w) for v, w in zip(row, widths)).rstrip(), file=out)


def cmd_import(scimlite, path, out):
    with open(path, encoding="utf-8") as handle:
        counts = import_document(scimlite, json.load(handle))
    print(f"imported {counts.get('User', 0)} users and {counts.get('Group', 0)} groups "
          f"from {path}", file=out)


def main(argv=None, environ=None, out=None):
    """The command line; returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    out = out or sys.stdout
    try:
        settings = settings_from_args(args, environ)
    except (ValueError, OSError, tomllib.TOMLDecodeError) as exc:
        print(f"scimlite: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        return _run(args, settings, environ, out)
    except StartError as exc:
        print(f"scimlite: {exc}", file=sys.stderr)
        return 2


def _run(args, settings, environ, out):
    if args.command == "serve":
        cmd_serve(settings, out)
        return 0
    if args.command in ("send-test-email", "check-config"):
        try:
            if args.command == "check-config":
                cmd_check_config(args.file, environ, out)
            else:
                cmd_send_test_email(settings, args.address, out)
        except (ValueError, OSError, tomllib.TOMLDecodeError) as exc:
            print(f"scimlite: {exc}", file=sys.stderr)
            return 1
        return 0
    scimlite = ScimLite(settings)
    try:
        run_command(scimlite, args, out)
    except (ValueError, LookupError, OSError) as exc:
        print(f"scimlite: {exc}", file=sys.stderr)
        return 1
    finally:
        scimlite.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
