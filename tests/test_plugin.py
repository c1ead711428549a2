"""The pytest plugin other projects use (`-p scimlite`): its fixtures run in
a separate pytest of their own, as in a project that embeds scimlite."""
import os
import re
import subprocess
import sys
import textwrap

from conftest import ROOT

USES_THE_FIXTURES = '''
    import json
    import urllib.request

    import pytest

    def test_client_and_app(scim_client, scim_app):
        created = scim_client.post_json("/scim/v2/Users", {"userName": "ada"}).json
        assert scim_app.scimlite.events()[0]["resource_id"] == created["id"]

    def test_each_test_gets_a_fresh_store(scim_client):
        assert scim_client.get("/scim/v2/Users").json["totalResults"] == 0

    @pytest.mark.scim_shared
    def test_shared_one(scim_client):
        scim_client.post_json("/scim/v2/Users", {"userName": "shared"})

    @pytest.mark.scim_shared
    def test_shared_two_sees_it(scim_client):
        assert scim_client.get("/scim/v2/Users").json["totalResults"] == 1

    def test_token_is_a_working_key(scim_app, scim_token):
        assert scim_app.scimlite.keys()[0].name.startswith("pytest-")
        assert scim_token.startswith("scim_")

    def test_live_server(scim_server):
        request = urllib.request.Request(scim_server.base_url + "/Users", headers={
            "Authorization": f"Bearer {scim_server.token}"})
        assert json.load(urllib.request.urlopen(request))["totalResults"] == 0

    class TestAnOverriddenConfig:
        @pytest.fixture
        def scim_config(self):
            return {"db": ":memory:", "base_path": "/custom"}

        def test_config_can_be_overridden(self, scim_client):
            assert scim_client.get("/custom/Users").status_int == 200
'''


def readme_blocks():
    """The python blocks of the README's "Use scimlite in your tests"."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("## Use scimlite in your tests", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def readme_tests():
    """The README's example tests (blocks that define a test_...), run here
    through the plugin, as a reader's project would run them."""
    return [b for b in readme_blocks() if re.match(r"def test_", b)]


def test_the_readme_examples_run_as_written(tmp_path):
    scripts = [b for b in readme_blocks() if not re.match(r"def test_", b)]
    assert len(scripts) == 3
    for number, script in enumerate(scripts, 1):
        done = subprocess.run([sys.executable, "-c", "import scimlite\n" + script],
                              capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
        assert done.returncode == 0, f"README example {number}:\n{done.stderr}"


def run_pytest(tmp_path, *args):
    source = textwrap.dedent(USES_THE_FIXTURES) + "\n\n" + "\n\n".join(readme_tests())
    (tmp_path / "test_uses_scimlite.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                           "-p", "no:cacheprovider", *args, str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env)


def test_fixtures_work_with_dash_p_scimlite(tmp_path):
    assert readme_tests()
    done = run_pytest(tmp_path, "-p", "scimlite")
    assert f"{7 + len(readme_tests())} passed" in done.stdout, done.stdout + done.stderr


def test_fixtures_work_through_pytest_plugins_in_a_conftest(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["scimlite"]\n')
    done = run_pytest(tmp_path)
    assert f"{7 + len(readme_tests())} passed" in done.stdout, done.stdout + done.stderr


def test_importing_scimlite_does_not_import_pytest():
    done = subprocess.run([sys.executable, "-c", "import sys, scimlite; "
                           "print('pytest' in sys.modules, '_pytest' in sys.modules)"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False False"
