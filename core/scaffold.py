"""``apps new-plugin NAME``: writes a complete third-party plugin package that installs and tests green."""

from __future__ import annotations

import re
from pathlib import Path

from core.errors import AppsError

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "apps-{dist}"
version = "0.1.0"
description = "A transformer-apps plugin: the '{app}' app"
requires-python = ">=3.10"
dependencies = ["transformer-apps"]

[project.entry-points.transformer_apps]
{app} = "{module}"

[tool.setuptools]
packages = ["{module}"]
"""

MODULE = '''\
"""The '{app}' app for transformer-apps.

Registered through the entry point group ``transformer_apps`` (see pyproject.toml). Keep this module
light: ``apps list`` imports it, so import torch and models inside methods only.
"""

import json

import click

from core import App, hookimpl


class {cls}(App):
    name = "{app}"
    description = "Count words and characters of a text (replace with your own app)"

    @classmethod
    def cli_options(cls, verb):
        if verb == "run":
            return [click.Argument(["text"], nargs=-1)]
        return []

    def predict(self, inputs):
        return [{{"words": len(text.split()), "characters": len(text)}} for text in inputs]

    def run(self, text=(), **options):
        result = self.predict([" ".join(text)])[0]
        self.emit(result, source="command line")
        click.echo(json.dumps(result))


@hookimpl
def register_apps(register):
    register({cls})
'''

TEST = '''\
import json

from click.testing import CliRunner

from core.cli import cli


def test_app_is_listed_and_runs():
    runner = CliRunner()
    listed = runner.invoke(cli, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "{app}" in [row["app"] for row in json.loads(listed.output)]
    result = runner.invoke(cli, ["run", "{app}", "hello", "plugin", "world"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {{"words": 3, "characters": 18}}
'''

README = """\
# apps-{dist}

A [transformer-apps](https://github.com/transformer-apps/transformer-apps) plugin.

    pip install -e .
    apps list
    apps run {app} hello world
    pytest
"""


def write_plugin(name: str, directory: str | Path = ".") -> Path:
    """Create ``DIRECTORY/apps-NAME`` and return its path."""
    if not re.fullmatch(r"[a-z][a-z0-9_\-]*", name):
        raise AppsError(f"invalid plugin name '{name}'", hint="use lowercase letters, digits, '-' and '_'.")
    dist = name.replace("_", "-")
    module = "apps_" + name.replace("-", "_")
    cls = "".join(part.capitalize() for part in re.split(r"[-_]", name)) + "App"
    folder = Path(directory) / f"apps-{dist}"
    if folder.exists():
        raise AppsError(f"{folder} already exists", hint="choose another name or --dir.")
    values = {"dist": dist, "module": module, "app": dist, "cls": cls}
    files = {
        "pyproject.toml": PYPROJECT,
        f"{module}/__init__.py": MODULE,
        "tests/test_plugin.py": TEST,
        "README.md": README,
    }
    for relative, template in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values))
    return folder
