"""`pip install .` (pyproject.toml): a `scimlite` command that finds its
templates anywhere, and the pytest plugin loaded by its entry point."""
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap

from conftest import ROOT


def test_an_installed_scimlite_runs_from_anywhere_with_its_templates_and_plugin(tmp_path):
    prefix, source = tmp_path / "prefix", tmp_path / "source"
    source.mkdir()
    # From a copy: a build leaves build/ and *.egg-info beside what it builds.
    for name in ("scimlite.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "templates", source / "templates")
    # pip builds it in isolation, with setuptools from PyPI (the machine's
    # own may be too old for pyproject.toml); the dependencies are this
    # interpreter's own.
    build = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                            "--prefix", str(prefix), str(source)],
                           capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stdout + build.stderr
    site = prefix / os.path.relpath(sysconfig.get_path("purelib"), sys.prefix)
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    command = prefix / "bin" / "scimlite"
    done = subprocess.run([str(command), "version", "--db", "v.db"], capture_output=True,
                          text=True, cwd=elsewhere, env=env)
    assert done.returncode == 0 and "scimlite 0." in done.stdout, done.stderr
    where = subprocess.run([sys.executable, "-c", "import scimlite; print(scimlite.__file__);"
                            "print(scimlite.TEMPLATES_DIR)"], capture_output=True, text=True,
                           cwd=elsewhere, env=env).stdout.split()
    assert where[0].startswith(str(site)), where
    assert where[1] == str(prefix / "share" / "scimlite" / "templates")

    # The plugin comes with the install: no -p, no conftest.
    (elsewhere / "test_target.py").write_text(textwrap.dedent('''
        def test_a_user_gets_a_key(scim_client, scim_mail):
            scim_client.post_json("/scim/v2/Users", {"userName": "z@example.com"})
            assert scim_mail.wait() and scim_mail.mail_to("z@example.com")[0].key()
    '''))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                          "-p", "no:cacheprovider", "test_target.py"],
                         capture_output=True, text=True, cwd=elsewhere, env=env)
    assert "1 passed" in run.stdout, run.stdout + run.stderr
