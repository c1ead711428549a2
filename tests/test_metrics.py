"""GET /metrics: the Prometheus text format, off unless asked for."""
import re

import pytest
import webtest

import scimlite
from conftest import SCIMClient

# Metrics are counted in memory: one backend is enough.
pytestmark = pytest.mark.sqlite_only


def parse(text):
    """{(name, labels text): value} from the text format; checks each line."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"# (HELP|TYPE) scimlite_\w+ ", line), line
            continue
        match = re.fullmatch(r'(scimlite_\w+)(?:\{(.*)\})? (-?[0-9.e+]+)', line)
        assert match, line
        samples[(match.group(1), match.group(2) or "")] = float(match.group(3))
    return samples


@pytest.fixture
def metered():
    app = scimlite.create_app({"db": ":memory:", "mailer": "memory", "metrics": True})
    yield app
    app.scimlite.close()


def test_metrics_are_off_unless_asked_for(app):
    answer = webtest.TestApp(app).get("/metrics", status=404)
    assert answer.content_type == "text/plain" and "metrics setting" in answer.text


def test_metrics_count_requests_by_route_pattern_and_show_the_store(metered):
    scim = SCIMClient(metered, metered.scimlite.mint_key("entra"))
    user = scim.create_user("m@example.com")
    scim.get(f"/Users/{user['id']}")
    scim.get("/Users/no-such-id", status=404)
    scim.create_user("off@example.com", active=False)
    assert metered.scimlite.outbox.wait()
    answer = webtest.TestApp(metered).get("/metrics")
    assert answer.content_type == "text/plain"
    samples = parse(answer.text)
    by_id = 'route="/scim/v2/Users/<resource_id>",method="GET"'
    assert samples[("scimlite_requests_total", by_id + ',status="200"')] == 1
    assert samples[("scimlite_requests_total", by_id + ',status="404"')] == 1
    assert user["id"] not in answer.text                   # ids never become labels
    assert samples[("scimlite_users", 'org="default",state="active"')] == 1
    assert samples[("scimlite_users", 'org="default",state="inactive"')] == 1
    assert samples[("scimlite_licenses", 'org="default",status="active"')] == 1
    assert samples[("scimlite_outbox_messages", 'status="sent"')] == 1
    assert samples[("scimlite_api_key_last_used_timestamp_seconds",
                    'org="default",key_name="entra"')] > 0
    count = samples[("scimlite_request_duration_seconds_count", "")]
    assert samples[("scimlite_request_duration_seconds_bucket", 'le="+Inf"')] == count == 4
    buckets = [v for (name, labels), v in samples.items() if name.endswith("_bucket")]
    assert buckets == sorted(buckets)                      # cumulative


def test_metrics_can_ask_for_their_own_bearer_token():
    app = scimlite.create_app({"db": ":memory:", "mailer": "memory", "metrics": True,
                               "metrics_token": "m-token-1"})
    web = webtest.TestApp(app)
    web.get("/metrics", status=401)
    web.get("/metrics", headers={"Authorization": "Bearer wrong"}, status=401)
    scim_key = app.scimlite.mint_key("entra")
    web.get("/metrics", headers={"Authorization": f"Bearer {scim_key}"}, status=401)
    web.get("/metrics", headers={"Authorization": "Bearer m-token-1"}, status=200)
    app.scimlite.close()


def test_label_values_are_escaped():
    assert scimlite.prometheus_labels(a='x"y\\z\nw') == 'a="x\\"y\\\\z\\nw"'


def test_organizations_are_labels_up_to_a_bound_and_the_rest_are_summed(monkeypatch):
    """Issue 22: totals by organization, but never an unbounded label set:
    past METRICS_ORG_LABELS organizations, the newer ones count as "other"."""
    monkeypatch.setattr(scimlite, "METRICS_ORG_LABELS", 2)
    app = scimlite.create_app({"db": ":memory:", "mailer": "memory", "metrics": True})
    state = app.scimlite
    for slug in ("acme", "beta", "gamma"):
        state.create_organization(slug)
    state.update_organization("gamma", state="suspended")
    for slug, users in (("default", 1), ("acme", 2), ("beta", 3), ("gamma", 4)):
        state.update_organization(slug, state="active")
        scim = SCIMClient(app, state.mint_key("k", org=slug))
        for i in range(users):
            scim.create_user(f"u{i}@{slug}.example")
    state.update_organization("gamma", state="suspended")
    samples = parse(webtest.TestApp(app).get("/metrics").text)
    users = {labels: n for (name, labels), n in samples.items() if name == "scimlite_users"}
    assert users == {'org="default",state="active"': 1, 'org="acme",state="active"': 2,
                     'org="other",state="active"': 7}
    assert samples[("scimlite_organizations", 'state="suspended"')] == 1
    assert samples[("scimlite_organizations", 'state="active"')] == 3
    keys = [labels for (name, labels) in samples if "api_key" in name]
    assert sorted(keys) == ['org="acme",key_name="k"', 'org="default",key_name="k"']
    app.scimlite.close()
