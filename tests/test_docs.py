"""Docs that cannot drift from the code: README and config.example.toml
against the settings table and the CLI."""
import tomllib

import scimlite
from conftest import ROOT

README = (ROOT / "README.md").read_text("utf-8")


def test_every_setting_is_in_the_example_config_with_its_default():
    example = tomllib.loads((ROOT / "config.example.toml").read_text("utf-8"))
    assert example == {s.key: s.default for s in scimlite.SETTINGS}
    assert scimlite.load_settings(ROOT / "config.example.toml") == \
        scimlite.load_settings()


def test_every_setting_is_in_the_readme():
    for setting in scimlite.SETTINGS:
        assert f"`{setting.key}`" in README, setting.key
        assert f"`{setting.env}`" in README, setting.env


def test_every_cli_command_is_in_the_readme():
    for command in scimlite.COMMANDS:
        assert f"python scimlite.py {command}" in README, command


def test_readme_quick_start_is_the_two_commands():
    assert "pip install -r requirements.txt && python scimlite.py" in README
    assert "pip install -r requirements-test.txt && python -m pytest" in README
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "pip install -r requirements-test.txt && python -m pytest" in ci
