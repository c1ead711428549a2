"""Replayed IdP traffic: whole provisioning cycles as data (tests/replays/*.json),
walked by one table-driven runner, in process and over real HTTP.

A step: method, path, optional query and body, the expected status, and
  expect  a subset the response body must contain (dicts by key, lists
          element by element, same length);
  absent  key paths the response body must not have;
  save    names for response values, used later as {name} in paths/bodies;
  echo    a path to GET first; the body sent is that response with `body`'s
          keys laid over it (Okta's AIW read-modify-write PUT).
"""
import json
import urllib.parse
from pathlib import Path

import pytest

from conftest import http

REPLAYS = Path(__file__).parent / "replays"


def substitute(value, saved):
    text = json.dumps(value)
    for name, real in saved.items():
        text = text.replace("{" + name + "}", real)
    return json.loads(text)


def contains(actual, expected, where="body"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: no '{key}' in {actual!r}"
            contains(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), \
            f"{where}: expected {len(expected)} items, got {actual!r}"
        for number, (got, want) in enumerate(zip(actual, expected)):
            contains(got, want, f"{where}[{number}]")
    else:
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"


def lacks(actual, keys):
    for key in keys[:-1]:
        actual = actual.get(key) or {}
    assert keys[-1] not in actual, f"'{'.'.join(keys)}' should be absent: {actual!r}"


def run_cycle(name, send):
    """Walk one replay; send(method, path, query, body) -> (status, json)."""
    saved = {}
    for step in json.loads((REPLAYS / name).read_text("utf-8"))["steps"]:
        step = substitute(step, saved)
        body = step.get("body")
        if "echo" in step:
            status, current = send("GET", step["echo"], {}, None)
            assert status == 200, step["name"]
            body = {**current, **body}
        status, answer = send(step["method"], step["path"], step.get("query", {}), body)
        assert status == step["status"], f"{step['name']}: {status} {answer}"
        if step["status"] == 204:
            assert answer is None, f"{step['name']}: 204 with a body"
        contains(answer, step.get("expect", {}), step["name"]) if "expect" in step else None
        for keys in step.get("absent", []):
            lacks(answer, keys)
        for label, key in step.get("save", {}).items():
            saved[label] = answer[key]
    return saved


def in_process(scim):
    def send(method, path, query, body):
        url = "/scim/v2" + path + ("?" + urllib.parse.urlencode(query) if query else "")
        resp = scim.send(method, url, body if body is not None else b"", status="*")
        return resp.status_int, (resp.json if resp.body else None)
    return send


@pytest.mark.parametrize("name", ["entra-cycle.json", "okta-cycle.json"])
def test_replay_in_process(scim, name):
    saved = run_cycle(name, in_process(scim))
    assert "user" in saved and "group" in saved


def test_entra_cycle_over_http(server):
    """The Entra cycle against `python scimlite.py`, as Entra would send it."""
    base, key, _ = server

    def send(method, path, query, body):
        url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        status, _, answer = http(method, url, key, body)
        return status, answer
    run_cycle("entra-cycle.json", send)


def test_replayed_cycles_record_the_lifecycle_events(app, scim):
    run_cycle("entra-cycle.json", in_process(scim))
    kinds = [e["type"] for e in app.scimlite.events()]
    for kind in ("user.created", "user.updated", "user.deactivated", "user.reactivated",
                 "user.deleted", "group.created", "group.updated",
                 "group.members_changed", "group.deleted"):
        assert kind in kinds, kind
    assert kinds.index("user.deactivated") < kinds.index("user.reactivated")
