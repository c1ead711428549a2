"""scimlite.serve(): a live server for other projects' tests, started and
stopped in-process, leaving no thread, socket or open file behind."""
import contextlib
import gc
import http.client as httpclient
import os
import socket
import threading

import pytest

import scimlite
from conftest import http


def open_files():
    """{(descriptor, what it is open on)}: compared as sets, so a file some
    earlier test's garbage closes meanwhile is no difference, and only a
    descriptor this test opened and left open is."""
    gc.collect()
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
    return found


def left_open(before, where):
    """What this test opened and left open: sockets, and files under
    `where` (an earlier test's app may open its own database meanwhile)."""
    return {target for _, target in open_files() - before
            if target.startswith("socket:") or target.startswith(str(where))}


@pytest.mark.parametrize("db", [None, "file"])
def test_serve_gives_a_working_scim_endpoint_and_leaves_nothing(tmp_path, db):
    config = None if db is None else {"db": str(tmp_path / "live.db")}
    files, threads = open_files(), set(threading.enumerate())
    with scimlite.serve(config) as server:
        assert server.base_url == server.url + "/scim/v2"
        status, _, user = http("POST", server.base_url + "/Users", server.token,
                               {"userName": "live@example.com"})
        assert status == 201 and user["userName"] == "live@example.com"
        assert http("GET", server.base_url + "/Users", server.token)[2]["totalResults"] == 1
        assert server.app.scimlite.settings["db"] == (config or {}).get("db", ":memory:")
        port = int(server.url.rsplit(":", 1)[1])
    assert [t for t in threading.enumerate() if t not in threads] == []
    assert left_open(files, tmp_path) == set()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_stop_closes_connections_still_open(tmp_path):
    files, threads = open_files(), set(threading.enumerate())
    server = scimlite.LiveServer(scimlite.create_app({"db": ":memory:"}))
    host, port = server.url[len("http://"):].split(":")
    idle = httpclient.HTTPConnection(host, int(port), timeout=5)
    idle.request("GET", "/scim/v2/ServiceProviderConfig",
                 headers={"Authorization": f"Bearer {server.token}"})
    assert idle.getresponse().read()            # a keep-alive connection, left open
    server.stop()
    server.stop()                                # idempotent
    idle.close()
    assert [t for t in threading.enumerate() if t not in threads] == []
    assert left_open(files, tmp_path) == set()


def test_two_live_servers_share_nothing():
    with scimlite.serve() as one, scimlite.serve({"base_path": "/other"}) as two:
        assert one.url != two.url and two.base_url.endswith("/other")
        http("POST", one.base_url + "/Users", one.token, {"userName": "only-one"})
        assert http("GET", two.base_url + "/Users", two.token)[2]["totalResults"] == 0
        assert http("GET", two.base_url + "/Users", one.token)[0] == 401


# --- fault injection, for testing clients' retries --------------------------------

def get_with_backoff(url, token, attempts=5):
    """What a well-behaved SCIM client does: on 429 or 503, wait Retry-After
    and try again (README's example)."""
    import time
    statuses = []
    for _ in range(attempts):
        status, headers, body = http("GET", url, token)
        statuses.append(status)
        if status not in (429, 503):
            return statuses, body
        time.sleep(float(headers["Retry-After"]) / 100)     # a test need not wait long
    return statuses, None


def test_a_client_that_backs_off_on_429_gets_through():
    with scimlite.serve() as server:
        server.inject(route="/Users", method="GET", status=429, retry_after=2, times=2)
        statuses, body = get_with_backoff(server.base_url + "/Users", server.token)
        assert statuses == [429, 429, 200] and body["totalResults"] == 0
        status, headers, error = http("GET", server.base_url + "/Groups", server.token)
        assert status == 200        # other routes untouched


def test_faults_from_config_by_method_and_fraction():
    faults = [{"route": "/Users*", "method": "POST", "status": 503, "fraction": 1.0}]
    with scimlite.serve({"faults": faults}) as server:
        status, headers, body = http("POST", server.base_url + "/Users", server.token,
                                     {"userName": "never"})
        assert status == 503 and headers["Retry-After"] == "1"
        assert body["schemas"] == [scimlite.ERROR_URN] and "injected" in body["detail"]
        assert http("GET", server.base_url + "/Users", server.token)[0] == 200
        assert server.app.scimlite.models.User.select().count() == 0
        server.app.scimlite.faults.clear()
        assert http("POST", server.base_url + "/Users", server.token,
                    {"userName": "now"})[0] == 201


def test_a_dropped_connection_and_a_delay():
    import time
    with scimlite.serve() as server:
        server.inject(route="/ServiceProviderConfig", drop=True, times=1)
        with pytest.raises((httpclient.HTTPException, OSError)):
            http("GET", server.base_url + "/ServiceProviderConfig", server.token)
        server.inject(route="/Users", delay=0.3, times=1)
        began = time.monotonic()
        assert http("GET", server.base_url + "/Users", server.token)[0] == 200
        assert time.monotonic() - began >= 0.3


@pytest.mark.parametrize("fault", [{"status": 404}, {"route": "/Users"}, {"status": 429,
                                   "fraction": 0}, {"color": "red", "status": 500}, "429"])
def test_malformed_faults_are_refused_at_start(fault):
    with pytest.raises(ValueError):
        scimlite.create_app({"db": ":memory:", "faults": [fault]})
