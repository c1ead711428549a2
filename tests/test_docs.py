"""Docs that cannot drift from the code: README.md, docs/ and
config.example.toml against the settings table and the CLI.

Where each check looks: every CLI command in README.md; every setting in
docs/configuration.md, which tools/docs.py generates from scimlite.SETTINGS
(and the committed page must be what it writes); links in README.md and
docs/*.md must reach a file, and a heading where they name one."""
import importlib.util
import re
import tomllib
import unicodedata

import scimlite
from conftest import ROOT

README = (ROOT / "README.md").read_text("utf-8")
DOCS = sorted((ROOT / "docs").glob("*.md"))
CONFIGURATION = ROOT / "docs" / "configuration.md"


def docs_tool():
    """tools/docs.py as a module (by path: ROOT/docs/ would shadow `import docs`)."""
    spec = importlib.util.spec_from_file_location("scimlite_docs_tool",
                                                  ROOT / "tools" / "docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_in_the_example_config_with_its_default():
    example = tomllib.loads((ROOT / "config.example.toml").read_text("utf-8"))
    assert example == {s.key: s.default for s in scimlite.SETTINGS}
    assert scimlite.load_settings(ROOT / "config.example.toml") == \
        scimlite.load_settings()


def test_the_configuration_page_is_what_tools_docs_writes():
    assert CONFIGURATION.read_text("utf-8") == docs_tool().configuration_page(), \
        "docs/configuration.md is stale: run python tools/docs.py"


def test_the_example_config_is_what_tools_docs_writes():
    """Every key with its help, what it may be and its default, from the table."""
    assert (ROOT / "config.example.toml").read_text("utf-8") == \
        docs_tool().example_config(), "config.example.toml is stale: run python tools/docs.py"


def test_what_the_table_allows_is_what_the_loader_refuses():
    """A setting's `allowed` words (docs/configuration.md) are the checks
    load_settings runs: a value just outside them is refused, naming the key."""
    import pytest
    for setting in scimlite.SETTINGS:
        outside = ([] if setting.minimum is None else [setting.minimum - 1]) + (
            [] if setting.maximum is None else [setting.maximum + 1]) + (
            ["no-such-choice"] if setting.choices and setting.type is str else [])
        for value in outside:
            with pytest.raises(ValueError, match=setting.key):
                scimlite.load_settings({setting.key: value})


def test_every_setting_is_in_the_configuration_page_with_its_help():
    page = CONFIGURATION.read_text("utf-8")
    for setting in scimlite.SETTINGS:
        row = next((line for line in page.splitlines()
                    if line.startswith(f"| `{setting.key}` |")), None)
        assert row, setting.key
        assert f"`{setting.env}`" in row and setting.help.replace("|", "\\|") in row


def test_the_db_setting_names_the_postgresql_url():
    row = next(line for line in CONFIGURATION.read_text("utf-8").splitlines()
               if line.startswith("| `db` |"))
    assert "postgresql://" in row


def test_every_cli_command_is_in_the_readme():
    for command in scimlite.COMMANDS:
        assert f"python scimlite.py {command}" in README, command


def test_readme_quick_start_is_the_two_commands():
    assert "pip install -r requirements.txt && python scimlite.py" in README
    assert "pip install -r requirements-test.txt && python -m pytest" in README
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "pip install -r requirements-test.txt && python -m pytest" in ci


def test_the_readme_is_short_enough_to_read_first():
    """The long parts live in docs/; the README stays a newcomer's page."""
    lines = len(README.splitlines())
    assert lines < 300, f"README.md has {lines} lines: move a long part to docs/"


def test_the_readme_lists_every_warning_the_dashboard_gives():
    """One bullet per note attention() (and license_attention()) can add:
    a new warning on the dashboard is a new line in the README."""
    import ast
    import inspect
    appends = sum(isinstance(node, ast.Call) and ast.unparse(node.func) == "notes.append"
                  for function in (scimlite.attention, scimlite.license_attention)
                  for node in ast.walk(ast.parse(inspect.getsource(function))))
    warnings = README.split("The dashboard warns when:\n\n", 1)[1].split("\n\n", 1)[0]
    assert appends == len([line for line in warnings.splitlines() if line.startswith("- ")])


# --- links ------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def prose(text):
    """Markdown without its code: fenced blocks, indented blocks, `spans`."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    text = re.sub(r"^(?: {4}|\t).*$", "", text, flags=re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path):
    """GitHub's heading ids of a markdown file: lower case, punctuation
    dropped, spaces to hyphens, repeats numbered."""
    seen, out = {}, set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", prose(path.read_text("utf-8")), re.M):
        slug = "".join(c for c in heading.lower().replace("`", "")
                       if c in " -_" or unicodedata.category(c)[0] in "LN")
        slug = slug.replace(" ", "-")
        number = seen.get(slug, 0)
        seen[slug] = number + 1
        out.add(slug if not number else f"{slug}-{number}")
    return out


def broken_links(path):
    broken = []
    for target in LINK.findall(prose(path.read_text("utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):      # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        where = (path.parent / file).resolve() if file else path
        if not where.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            broken.append(f"{target} (no such heading)")
    return broken


def test_every_relative_link_in_the_readme_and_docs_points_at_what_exists():
    assert DOCS, "docs/*.md"
    broken = {path.relative_to(ROOT).as_posix(): broken_links(path)
              for path in [ROOT / "README.md", *DOCS]}
    assert not {k: v for k, v in broken.items() if v}, broken


def test_the_link_check_sees_a_broken_link(tmp_path):
    (tmp_path / "there.md").write_text("# A heading\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](there.md#a-heading) [gone](missing.md) [no](there.md#nope)\n"
                    "`[in code](missing.md)`\n\n    [indented](missing.md)\n")
    assert broken_links(page) == ["missing.md (no such file)",
                                  "there.md#nope (no such heading)"]


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


def test_the_table_of_contents_is_the_banners_word_for_word():
    """Each section is named in one line, its banner's, and the module
    docstring's table of contents says exactly that line, in order."""
    banners = [tuple(title.split(": ", 1)) for title, _ in module_sections()]
    contents = [tuple(re.split(r"\s{2,}", line.strip(), maxsplit=1)) for line in
                scimlite.__doc__.split("each section uses only those above it.")[1]
                .strip().splitlines() if line.strip()]
    assert contents == banners


def attribute_owners(tree, sections):
    """{attribute name: {sections that define it}}: the methods and class
    attributes of every class (a model built inside a function too), what
    is assigned to an attribute (self.name = ..., event.subject = ...), and
    the fields of a types.SimpleNamespace (the models of an app)."""
    import ast
    owners = {}
    for node in tree.body:
        here = section_of(node.lineno, sections)
        for item in ast.walk(node):
            names = []
            if isinstance(item, ast.ClassDef):
                for member in item.body:
                    if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        names.append(member.name)
                    elif isinstance(member, (ast.Assign, ast.AnnAssign)):
                        targets = member.targets if isinstance(member, ast.Assign) \
                            else [member.target]
                        names += [t.id for t in targets if isinstance(t, ast.Name)]
            elif isinstance(item, ast.Attribute) and isinstance(item.ctx, ast.Store):
                names = [item.attr]
            elif isinstance(item, ast.Call) and getattr(item.func, "attr", "") == \
                    "SimpleNamespace":
                names = [k.arg for k in item.keywords if k.arg]
            for name in names:
                owners.setdefault(name, set()).add(here)
    return owners


def library_attributes():
    """Attribute names the standard library and the dependencies give the
    objects scimlite handles: `x.get`, `query.limit` reach into no section."""
    import pathlib
    import smtplib
    import socket
    import threading
    import types
    import bottle
    import peewee
    import waitress.channel
    import waitress.server
    kinds = (dict, list, set, str, bytes, tuple, int, float, object, re.compile(""),
             re.match("", ""), threading.Thread, threading.Event(), threading.Lock(),
             pathlib.Path, peewee.Model, peewee.ModelSelect, peewee.SqliteDatabase,
             peewee.Field, peewee.Expression, peewee.NodeList, bottle.Bottle,
             bottle.BaseRequest, bottle.BaseResponse, socket.socket, smtplib.SMTP,
             type("Any", (peewee.Model,), {})._meta, types.SimpleNamespace,
             waitress.server.TcpWSGIServer,
             waitress.channel.HTTPChannel, peewee.Context)
    return set().union(*(dir(kind) for kind in kinds))


def test_no_section_reaches_into_an_attribute_of_a_later_one():
    """The promise again, for attributes: `x.name` in a section, where every
    place that defines `name` (a method, a class attribute, an assignment
    to it) sits in a later section, is a reach into that later section (as
    Log, Licenses and the outbox once used the app's lock and
    start_worker).  Names of the libraries' own objects, and attributes of
    an imported module, are not counted."""
    import ast
    tree = ast.parse((ROOT / "scimlite.py").read_text("utf-8"))
    sections = module_sections()
    owners, library = attribute_owners(tree, sections), library_attributes()
    modules = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    reaches = set()
    for node in tree.body:
        here = section_of(node.lineno, sections)
        for used in ast.walk(node):
            if not isinstance(used, ast.Attribute) or used.attr.startswith("__") or \
                    used.attr in library or getattr(used.value, "id", None) in modules:
                continue
            where = owners.get(used.attr)
            if where and min(where) > here:
                reaches.add(f"{sections[here][0].split(':')[0]} reaches .{used.attr} of "
                            f"{sections[min(where)][0].split(':')[0]}")
    assert not reaches, sorted(reaches)


def test_the_docs_use_only_the_embedding_api():
    """What README.md and docs/ show embedders is the stable surface: names
    in __all__ and, on an app, ScimLite.API (so an internal stays free to
    change)."""
    text = README + "".join(path.read_text("utf-8") for path in DOCS)
    on_app = set(re.findall(r"\bapp\.scimlite\.(\w+)", text))
    assert on_app and on_app <= set(scimlite.ScimLite.API), on_app - set(scimlite.ScimLite.API)
    in_code = set(re.findall(r"(?<![.\w])scimlite\.([A-Za-z_]\w*)\(", text))
    assert in_code <= set(scimlite.__all__), in_code - set(scimlite.__all__)
    for name in scimlite.__all__:
        assert hasattr(scimlite, name), name
    app = scimlite.create_app({"db": ":memory:", "mailer": "memory"})
    try:
        for name in scimlite.ScimLite.API:
            assert hasattr(app.scimlite, name), name
    finally:
        app.scimlite.close()
