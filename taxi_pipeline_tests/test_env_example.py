""".env.example against the code: it names exactly the variables the settings read, each with a
comment, and the defaults it writes are the settings' own."""

import ast
import dataclasses
import re
from pathlib import Path

import taxi_pipeline
from taxi_pipeline import settings as settings_module
from taxi_pipeline.settings import Settings

ENV_EXAMPLE = Path(taxi_pipeline.__file__).resolve().parents[1] / ".env.example"
ENTRY = re.compile(r"# ([A-Z][A-Z0-9_]*)=(.*)")
VARIABLE_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def example_entries() -> dict[str, str]:
    """{name: default} of the file's `# NAME=default` lines, in order, each checked to follow a comment."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    entries = {}
    for number, line in enumerate(lines):
        assert line == "" or line.startswith("#"), f".env.example:{number + 1} sets a value: {line!r}"
        if match := ENTRY.fullmatch(line):
            name, default = match.groups()
            assert name not in entries, f".env.example:{number + 1} names {name} twice"
            comment = lines[number - 1]
            assert comment.startswith("# ") and not ENTRY.fullmatch(comment), f"{name} has no comment above it"
            entries[name] = default
    return entries


def names_in_settings() -> set[str]:
    """Every variable name taxi_pipeline/settings.py spells out whole (the names `from_environment` reads)."""
    tree = ast.parse(Path(settings_module.__file__).read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and VARIABLE_NAME.fullmatch(node.value)
    }


def names_read_in_the_package() -> set[str]:
    """The names the package reads elsewhere: `EnvVar("X")`, `shown("X")`, `os.getenv("X")`,
    `os.environ.get("X")` and `os.environ["X"]` with a literal name."""
    names = set()
    for path in Path(taxi_pipeline.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                called = ast.unparse(node.func)
                if called in ("dg.EnvVar", "EnvVar", "os.getenv", "os.environ.get") or called.endswith(".shown"):
                    names.add(node.args[0].value)
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                if isinstance(node.slice, ast.Constant):
                    names.add(node.slice.value)
    return names


def test_the_example_names_exactly_the_variables_the_settings_read():
    read = names_in_settings() | names_read_in_the_package()

    assert set(example_entries()) == read


def test_the_example_with_every_line_uncommented_is_the_default_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the relative lake and DuckDB paths resolve here, not in the project
    entries = example_entries()

    written = Settings.from_environment(entries)
    unset = Settings.from_environment({})

    assert written.given == {name for name, default in entries.items() if default}
    assert dataclasses.replace(written, given=frozenset()) == dataclasses.replace(unset, given=frozenset())
