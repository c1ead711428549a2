"""End to end: `python scimlite.py` as a real process on a free port, spoken
to over HTTP with a plain client (urllib)."""
from conftest import ROOT, http


def test_first_start_prints_tenant_url_and_token(server):
    base, key, process = server
    process.terminate()
    process.wait(timeout=30)
    process.reader.join(10)
    output = "".join(process.lines)
    assert f"Tenant URL:   {base}" in output
    token = output.split("Secret Token: ")[1].split()[0]
    assert token.startswith("scim_") and token != key
    assert "mint-key NAME" in output


def test_provision_read_filter_delete_over_http(server):
    base, key, _ = server
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
    base, _, _ = server
    status, headers, body = http("GET", f"{base}/Users", "scim_wrong")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_a_revoked_key_is_refused_on_an_open_keep_alive_connection(server):
    """Revocation takes effect on the very next request, even one sent on a
    connection that was authenticated before (every request is checked)."""
    import http.client
    import subprocess
    import sys
    from urllib.parse import urlsplit
    base, _, process = server
    db = process.args[process.args.index("--db") + 1]
    key = subprocess.run([sys.executable, process.args[1], "mint-key", "rotating", "--db", db],
                         capture_output=True, text=True, check=True).stdout.strip()
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    headers = {"Authorization": f"Bearer {key}"}
    connection.request("GET", url.path + "/Users", headers=headers)
    first = connection.getresponse()
    first.read()
    assert first.status == 200 and first.getheader("Connection", "").lower() != "close"
    socket_used = connection.sock
    subprocess.run([sys.executable, process.args[1], "revoke-key", "rotating", "--db", db],
                   check=True, capture_output=True)
    connection.request("GET", url.path + "/Users", headers=headers)     # same socket
    second = connection.getresponse()
    assert second.status == 401 and b"revoked" in second.read()
    assert connection.sock is socket_used       # it was the same connection
    connection.close()


def test_sigterm_lets_the_requests_in_flight_finish_then_stops(tmp_path):
    """Eight slow requests in flight when SIGTERM comes: all eight are
    answered, new connections are refused, the process exits cleanly."""
    import json as json_
    import signal
    import socket as socket_
    import subprocess
    import sys
    import threading
    import time as time_
    from conftest import SCRIPT, free_port, http
    port = free_port()
    faults = json_.dumps([{"route": "/Users", "method": "GET", "delay": 1.5}])
    process = subprocess.Popen(
        [sys.executable, SCRIPT, "--db", str(tmp_path / "t.db"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1", "SCIMLITE_FAULTS": faults})
    lines = []
    while not any(line.startswith("Serving on") for line in lines):
        lines.append(process.stdout.readline())
        assert lines[-1], "".join(lines)
    token = "".join(lines).split("Secret Token:")[1].split()[0]
    base = f"http://127.0.0.1:{port}/scim/v2"
    deadline = time_.monotonic() + 10
    while time_.monotonic() < deadline:
        try:
            socket_.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time_.sleep(0.05)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(
        http("GET", base + "/Users", token)[0])) for _ in range(8)]
    for thread in threads:
        thread.start()
    time_.sleep(0.5)                        # all eight are in flight, waiting 1.5 s
    process.send_signal(signal.SIGTERM)
    time_.sleep(0.3)
    try:
        socket_.create_connection(("127.0.0.1", port), timeout=0.5).close()
        refused = False
    except OSError:
        refused = True
    for thread in threads:
        thread.join(10)
    out, _ = process.communicate(timeout=15)
    assert answers == [200] * 8
    assert refused
    assert process.returncode == 0 and "stopped" in out, out


def test_slow_clients_dripping_bytes_do_not_stop_the_service(server):
    """200 connections sending a request head a byte at a time (from their
    own address) while ordinary requests come: every one is answered."""
    sys_path = str(ROOT / "tools")
    import sys
    sys.path.insert(0, sys_path)
    try:
        import slowloris
    finally:
        sys.path.remove(sys_path)
    base, _, _ = server
    root = base.rsplit("/scim/v2", 1)[0]
    answered, counts = slowloris.attack(root, slow=200, seconds=8, probes=6)
    assert len(answered) == 6, counts
    assert max(answered) < 3.0, answered
    assert counts["opened"] > 200           # the server closed some: they came back
