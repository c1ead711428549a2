"""scimlite.serve(): a live server for other projects' tests, started and
stopped in-process, leaving no thread, socket or open file behind."""
import http.client as httpclient
import os
import socket
import threading

import pytest

import scimlite
from conftest import http


def open_files():
    return sorted(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("db", [None, "file"])
def test_serve_gives_a_working_scim_endpoint_and_leaves_nothing(tmp_path, db):
    config = None if db is None else {"db": str(tmp_path / "live.db")}
    threads, files = set(threading.enumerate()), len(open_files())
    with scimlite.serve(config) as server:
        assert server.base_url == server.url + "/scim/v2"
        status, _, user = http("POST", server.base_url + "/Users", server.token,
                               {"userName": "live@example.com"})
        assert status == 201 and user["userName"] == "live@example.com"
        assert http("GET", server.base_url + "/Users", server.token)[2]["totalResults"] == 1
        assert server.app.scimlite.settings["db"] == (config or {}).get("db", ":memory:")
        port = int(server.url.rsplit(":", 1)[1])
    assert [t for t in threading.enumerate() if t not in threads] == []
    assert len(open_files()) == files
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_stop_closes_connections_still_open(tmp_path):
    threads, files = set(threading.enumerate()), len(open_files())
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
    assert len(open_files()) == files


def test_two_live_servers_share_nothing():
    with scimlite.serve() as one, scimlite.serve({"base_path": "/other"}) as two:
        assert one.url != two.url and two.base_url.endswith("/other")
        http("POST", one.base_url + "/Users", one.token, {"userName": "only-one"})
        assert http("GET", two.base_url + "/Users", two.token)[2]["totalResults"] == 0
        assert http("GET", two.base_url + "/Users", one.token)[0] == 401
