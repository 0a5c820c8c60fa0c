"""The plugin contract: entry points, safe loading, env switches, registries, hooks, scaffolding."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

from core import App, hookimpl
from core.errors import AppsError, PluginError
from core.plugins import get_manager
from tests.conftest import pip_install_target, run_apps


def _plugin(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: hookimpl(function) for name, function in hooks.items()})


class EchoApp(App):
    name = "echo"
    description = "repeats its input"


def test_third_party_plugin_is_found_through_its_entry_point(example_plugins):
    listed = run_apps("list", "--json", env={**example_plugins, "APPS_LOAD_PLUGINS": "textstats"}, check=True)
    rows = {row["app"]: row for row in json.loads(listed.stdout)}
    assert rows["textstats"]["plugin"] == "textstats"
    result = run_apps("run", "textstats", "你好世界", env={**example_plugins, "APPS_LOAD_PLUGINS": "textstats"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"characters": 4, "words": 1, "lines": 1, "cjk_share": 1.0}


def test_on_result_reaches_other_plugins(example_plugins, tmp_path):
    log = tmp_path / "results.jsonl"
    env = {**example_plugins, "APPS_LOAD_PLUGINS": "textstats", "APPS_RESULT_LOG": str(log)}
    run_apps("run", "textstats", "hello world", env=env, check=True)
    record = json.loads(log.read_text().splitlines()[0])
    assert record["app"] == "textstats" and record["result"]["words"] == 2
    assert record["context"]["source"] == "argument" and record["context"]["time"] > 0


def test_broken_plugin_does_not_break_the_cli(example_plugins):
    listed = run_apps("list", env=example_plugins)
    assert listed.returncode == 0
    assert "textstats" in listed.stdout and "vit" in listed.stdout
    warnings = [line for line in listed.stderr.splitlines() if "broken" in line]
    assert len(warnings) == 1 and "a_dependency_that_is_not_installed" in warnings[0]
    plugins = {row["plugin"]: row for row in json.loads(run_apps("plugins", "--json", env=example_plugins).stdout)}
    assert "ModuleNotFoundError" in plugins["broken"]["error"]
    assert plugins["textstats"]["error"] is None and "register_apps" in plugins["textstats"]["hooks"]
    assert plugins["vit"]["builtin"] is True


def test_strict_mode_makes_a_broken_plugin_fatal(example_plugins):
    result = run_apps("list", env={**example_plugins, "APPS_STRICT_PLUGINS": "1"})
    assert result.returncode != 0
    assert "broken" in result.stderr and "a_dependency_that_is_not_installed" in result.stderr


@pytest.mark.parametrize(
    ("env", "present", "absent"),
    [
        ({"APPS_LOAD_PLUGINS": ""}, {"vit", "chat"}, {"textstats"}),
        ({"APPS_LOAD_PLUGINS": "textstats"}, {"textstats", "vit"}, set()),
        ({"APPS_DISABLE_PLUGINS": "vit,broken"}, {"textstats", "chat"}, {"vit"}),
    ],
)
def test_environment_chooses_plugins(example_plugins, env, present, absent):
    result = run_apps("list", "--json", env={**example_plugins, **env}, check=True)
    apps = {row["app"] for row in json.loads(result.stdout)}
    assert present <= apps and not (absent & apps)
    assert "broken" not in result.stderr


def test_two_plugins_with_the_same_app_name_is_an_error_naming_both(capsys):
    class OtherEchoApp(App):
        name = "echo"

    manager = get_manager()
    manager.add_plugin(_plugin(register_apps=lambda register: register(EchoApp)), name="first")
    manager.add_plugin(_plugin(register_apps=lambda register: register(OtherEchoApp)), name="second")
    apps = manager.apps()
    assert apps["echo"].plugin == "first"
    assert "'first'" in manager.plugins["second"].error and "'second'" in manager.plugins["second"].error
    assert "skipped" in capsys.readouterr().err


def test_invalid_registration_is_skipped_or_fatal_when_strict(monkeypatch):
    manager = get_manager()
    manager.add_plugin(_plugin(register_apps=lambda register: register(object)), name="bad")
    assert "vit" in manager.apps()
    assert "not a subclass of core.App" in manager.plugins["bad"].error
    monkeypatch.setenv("APPS_STRICT_PLUGINS", "1")
    manager = type(manager)()
    manager.add_plugin(_plugin(register_apps=lambda register: register(object)), name="bad")
    with pytest.raises(PluginError):
        manager.apps()


def test_registries_refuse_incomplete_registrations():
    manager = get_manager()
    manager.add_plugin(
        _plugin(register_recipes=lambda register: register(app="echo", name="fast")), name="incomplete"
    )
    manager.add_plugin(
        _plugin(register_datasets=lambda register: register(app="echo", name="words", loader=lambda: ["a"])),
        name="datasets",
    )
    assert manager.recipes("echo") == {}
    assert "lacks path" in manager.plugins["incomplete"].error
    assert manager.datasets("echo")["words"]["loader"]() == ["a"]


def test_unknown_recipe_suggests(tmp_path):
    manager = get_manager()
    recipe = tmp_path / "fast.yaml"
    recipe.write_text("learning_rate: 0.1\n")
    manager.add_plugin(
        _plugin(register_recipes=lambda register: register(app="echo", name="fast", path=recipe)), name="recipes"
    )
    assert manager.recipe_path("echo", "fast") == recipe
    with pytest.raises(AppsError, match="did you mean 'fast'"):
        manager.recipe_path("echo", "fats")


def test_on_result_observer_errors_do_not_stop_the_app(capsys):
    seen = []
    manager = get_manager()
    manager.add_plugin(_plugin(on_result=lambda result: seen.append(result)), name="observer")
    manager.add_plugin(_plugin(on_result=lambda app, result, context: 1 / 0), name="faulty")
    EchoApp().emit({"text": "hi"}, source="test")
    assert seen == [{"text": "hi"}]
    assert "on_result of plugin 'faulty' failed" in capsys.readouterr().err


def test_train_events_can_stop_training():
    manager = get_manager()
    manager.add_plugin(_plugin(on_train_event=lambda event, state: event == "log" and state["loss"] < 1), name="stopper")
    assert manager.train_event("log", {"loss": 0.5}) is True
    assert manager.train_event("log", {"loss": 2.0}) is False


def test_plugin_commands_are_added(example_plugins):
    import click

    @click.command("hello")
    def hello():
        click.echo("hello from a plugin")

    manager = get_manager()
    manager.add_plugin(_plugin(register_commands=lambda cli: cli.add_command(hello)), name="commands")
    from click.testing import CliRunner

    from core.cli import Root

    root = Root(name="apps")
    result = CliRunner().invoke(root, ["hello"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output


SCAFFOLD_LAYOUT = {"__init__.py", "app.py", "recipe.py", "model.py", "data.py", "training.py", "prepare.py"}


def _core_imports(path) -> list[tuple[str, set[str]]]:
    """``(module, names)`` of every import of ``core`` or ``core.*`` in a Python file."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "core":
            found.append((node.module, {alias.name for alias in node.names}))
        elif isinstance(node, ast.Import):
            found += [(alias.name, set()) for alias in node.names if alias.name.split(".")[0] == "core"]
    return found


def test_new_plugin_writes_the_plugin_layout_with_public_imports_only(tmp_path):
    import ast

    import core
    from core.scaffold import write_plugin

    folder = write_plugin("weather-station", tmp_path)
    package = folder / "apps_weather_station"
    assert {path.name for path in package.glob("*.py")} == SCAFFOLD_LAYOUT
    assert (package / "recipes" / "weather-station.yaml").is_file()
    pyproject = (folder / "pyproject.toml").read_text()
    assert "[project.entry-points.transformer_apps]" in pyproject
    assert 'weather-station = "apps_weather_station"' in pyproject
    for path in folder.rglob("*.py"):
        for module, names in _core_imports(path):
            assert module == "core" and names <= set(core.__all__), f"{path.name} imports {module}: {names}"
    for path in package.glob("*.py"):
        if path.name not in ("__init__.py", "app.py"):  # helper modules never import the App
            assert "apps_weather_station.app" not in path.read_text(), path.name
    init = ast.parse((package / "__init__.py").read_text())
    functions = [node for node in init.body if isinstance(node, ast.FunctionDef)]
    assert {f.name for f in functions} == {"register_apps", "register_recipes"}
    assert all(isinstance(n, (ast.Import, ast.ImportFrom, ast.Expr, ast.FunctionDef)) for n in init.body)
    assert all(any(getattr(d, "id", None) == "hookimpl" for d in f.decorator_list) for f in functions)
    assert {"build_default", "require_default"} <= {
        name for _, names in _core_imports(package / "prepare.py") for name in names
    }
    assert "def training_parts(recipe)" in (package / "training.py").read_text()
    with pytest.raises(AppsError, match="invalid plugin name"):
        write_plugin("Weather Station", tmp_path)


def test_new_plugin_scaffold_installs_and_its_test_passes(tmp_path):
    created = run_apps("new-plugin", "weather-station", "--dir", tmp_path, check=True)
    folder = tmp_path / "apps-weather-station"
    assert str(folder) in created.stdout
    site = tmp_path / "site"
    pip_install_target(site, folder)
    assert (site / "apps_weather_station" / "recipes" / "weather-station.yaml").is_file()
    env = {"PYTHONPATH": str(site), "APPS_LOAD_PLUGINS": "weather-station"}
    listed = run_apps("list", env=env, check=True)
    assert "weather-station" in listed.stdout
    import os

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "tests")],
        capture_output=True, text=True, cwd=folder, env={**os.environ, **env}, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    again = run_apps("new-plugin", "weather-station", "--dir", tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
