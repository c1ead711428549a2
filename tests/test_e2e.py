"""End to end: `python scimlite.py` as a real process on a free port, spoken
to over HTTP with a plain client (urllib)."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT

SCRIPT = str(ROOT / "scimlite.py")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method, url, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            raw = resp.read()
            return resp.status, resp.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


@pytest.fixture
def server(tmp_path):
    """A running server with a key from `mint-key`: (base URL, key, process)."""
    db, port = str(tmp_path / "e2e.db"), free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SCIMLITE_DB", None)
    process = subprocess.Popen([sys.executable, SCRIPT, "--db", db, "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, cwd=tmp_path)
    banner = []
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail("server exited: " + process.stdout.read())
            time.sleep(0.1)
    minted = subprocess.run([sys.executable, SCRIPT, "mint-key", "e2e", "--db", db],
                            capture_output=True, text=True, check=True, env=env)
    yield f"http://127.0.0.1:{port}/scim/v2", minted.stdout.strip(), process, banner
    process.terminate()
    process.wait(timeout=10)


def test_first_start_prints_tenant_url_and_token(server):
    base, key, process, _ = server
    process.terminate()
    output = process.communicate(timeout=10)[0]
    assert f"Tenant URL:   {base}" in output
    token = output.split("Secret Token: ")[1].split()[0]
    assert token.startswith("scim_") and token != key
    assert "mint-key NAME" in output


def test_provision_read_filter_delete_over_http(server):
    base, key, _, _ = server
    status, _, body = http("GET", f"{base}/Users?filter=userName%20eq%20%22nobody%22", key)
    assert status == 200 and body["totalResults"] == 0 and body["Resources"] == []

    status, headers, user = http("POST", f"{base}/Users", key, {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "e2e@example.com", "active": "True",
        "emails": [{"value": "e2e@example.com", "type": "work", "primary": True}]})
    assert status == 201 and headers["Location"] == f"{base}/Users/{user['id']}"
    assert headers["Content-Type"] == "application/scim+json; charset=utf-8"

    status, _, fetched = http("GET", f"{base}/Users/{user['id']}", key)
    assert status == 200 and fetched == user

    query = "filter=emails.value%20eq%20%22E2E%40example.com%22"
    status, _, found = http("GET", f"{base}/Users?{query}", key)
    assert [r["id"] for r in found["Resources"]] == [user["id"]]

    status, _, body = http("DELETE", f"{base}/Users/{user['id']}", key)
    assert status == 204 and body is None
    status, _, error = http("GET", f"{base}/Users/{user['id']}", key)
    assert status == 404 and error["status"] == "404"


def test_bad_key_over_http_is_401_json(server):
    base, _, _, _ = server
    status, headers, body = http("GET", f"{base}/Users", "scim_wrong")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
