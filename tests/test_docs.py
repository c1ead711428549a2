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


# --- the file reads top to bottom ---------------------------------------------

def module_sections():
    """[(title, first line)] of scimlite.py's banners, in file order."""
    lines = (ROOT / "scimlite.py").read_text("utf-8").splitlines()
    return [(lines[i].strip("# ").strip(), i + 1) for i in range(1, len(lines) - 1)
            if lines[i - 1].startswith("#####") and lines[i + 1].startswith("#####")
            and lines[i].startswith("# ")]


def section_of(line, sections):
    return max((i for i, (_, start) in enumerate(sections) if start <= line), default=0)


def test_each_section_uses_only_those_above_it():
    """The module docstring's promise: no top-level name is used by a section
    above the one that defines it, and a private name (_x) stays in its own
    section.  Inside a section, names may come in any order."""
    import ast
    tree = ast.parse((ROOT / "scimlite.py").read_text("utf-8"))
    sections = module_sections()
    defined = {}
    for node in tree.body:
        names = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else [
            t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        for name in names:
            defined.setdefault(name, section_of(node.lineno, sections))
    forward = set()
    for node in tree.body:
        here = section_of(node.lineno, sections)
        for used in ast.walk(node):
            if not isinstance(used, ast.Name) or used.id not in defined or \
                    used.id.startswith("__"):
                continue
            there = defined[used.id]
            if there > here or (there != here and used.id.startswith("_")):
                forward.add(f"{sections[here][0].split(':')[0]} uses {used.id} "
                            f"from {sections[there][0].split(':')[0]}")
    assert not forward, sorted(forward)


def test_the_table_of_contents_lists_the_sections_in_order():
    titles = [title.split(":")[0].split()[0] for title, _ in module_sections()]
    contents = [line.split()[0] for line in scimlite.__doc__.split("each section uses "
                "only those above it.")[1].strip().splitlines() if line.strip()]
    assert contents == titles
