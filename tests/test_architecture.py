"""The structure itself: import rules, hook call order, registry schemas, the offline-default lifecycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from core import App, AppsError, Schema, get_manager, hookimpl, hookspec
from core.errors import PluginError
from tests.tiny_app import install

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import check_imports  # noqa: E402


def _plugin(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: function for name, function in hooks.items()})


class EchoApp(App):
    name = "echo"
    description = "repeats its input"


# ---- imports ----------------------------------------------------------------------------------------
def test_the_tree_has_no_import_cycle_and_no_private_name_import():
    edges, private = check_imports.graph(ROOT)
    assert check_imports.cycles(edges) == []
    assert private == []


def test_the_import_check_finds_a_deferred_cycle_and_a_private_name(tmp_path):
    package = tmp_path / "core"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from core.b import helper\n\ndef _secret():\n    pass\n")
    (package / "b.py").write_text("def helper():\n    from core.a import _secret\n    return _secret\n")
    (tmp_path / "plugins").mkdir()
    edges, private = check_imports.graph(tmp_path)
    assert check_imports.cycles(edges) == [["core.a", "core.b"]]
    assert private == ["core/b.py:2: imports private _secret from core.a"]
    assert check_imports.main(["check", str(tmp_path)]) == 1


def test_no_module_is_over_700_lines():
    long = {
        str(path.relative_to(ROOT)): count
        for folder in ("core", "plugins")
        for path in (ROOT / folder).rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 700
    }
    assert long == {}


def test_the_public_api_names_only_what_exists():
    import core

    missing = [name for name in core.__all__ if getattr(core, name, None) is None]
    assert missing == []
    with pytest.raises(AttributeError, match="public API"):
        core.not_a_name  # noqa: B018
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert [name for name in core.__all__ if f"`{name}`" not in guide] == [], "docs/plugins.md lists the API"


# ---- hooks --------------------------------------------------------------------------------------------
def test_hooks_run_tryfirst_then_load_order_then_trylast():
    calls = []
    manager = get_manager()
    for name, marks in (("late", {"trylast": True}), ("plain1", {}), ("early", {"tryfirst": True}), ("plain2", {})):
        manager.add_plugin(_plugin(on_result=hookimpl(**marks)(lambda result, _n=name: calls.append(_n))), name=name)
    EchoApp().emit({"text": "hi"}, source="test")
    assert calls == ["early", "plain1", "plain2", "late"]


def test_a_hook_wrapper_is_refused_with_a_clear_error():
    def wrapper(app, result, context):
        yield

    with pytest.raises(PluginError, match="(?s)hook wrapper.*tryfirst"):
        get_manager().add_plugin(_plugin(on_result=hookimpl(wrapper=True)(wrapper)), name="wrapping")
    assert get_manager().pm.get_plugin("wrapping") is None


def test_a_builtin_app_keeps_its_name_against_a_third_party_tryfirst(capsys):
    class FakeVit(App):
        name = "vit"

    manager = get_manager()
    manager.add_plugin(_plugin(register_apps=hookimpl(tryfirst=True)(lambda register: register(FakeVit))), name="usurper")
    assert manager.apps()["vit"].plugin == "vit"
    assert "'usurper'" in manager.plugins["usurper"].error
    assert "skipped" in capsys.readouterr().err


def test_registries_reject_unknown_fields_listing_the_valid_ones():
    manager = get_manager()
    manager.add_plugin(
        _plugin(register_recipes=hookimpl(lambda register: register(app="echo", name="r", path="r.yaml", speed=3))),
        name="typo",
    )
    assert manager.recipes("echo") == {}
    assert "unknown field(s) speed; valid fields: app, name, path, description" in manager.plugins["typo"].error


def test_a_plugin_adds_a_registry_hook_of_its_own():
    def register_widgets(register):
        """Contribute widgets: register(name=..., size=...)."""

    specs = types.SimpleNamespace(register_widgets=hookspec(register_widgets))
    manager = get_manager()
    manager.add_plugin(_plugin(register_hookspecs=hookimpl(lambda register: register(specs))), name="widgets")
    manager.add_plugin(_plugin(register_widgets=hookimpl(lambda register: register(name="w", size=2))), name="maker")
    schema = Schema(kind="widget", key=("name",), required=("size",))
    assert manager.registry("register_widgets", schema)["w"] == {"name": "w", "size": 2}
    with pytest.raises(AppsError, match="no registry hook 'register_gadgets'"):
        manager.registry("register_gadgets")
    manager.add_plugin(_plugin(), name="later")  # adding a plugin does not add the specs again
    assert manager.plugins["widgets"].error is None and manager.plugins["control"].error is None


def test_apps_are_listed_by_their_order_then_name():
    class First(App):
        name = "zzz-first"
        order = 1

    get_manager().add_plugin(_plugin(register_apps=hookimpl(lambda register: register(First))), name="ordered")
    apps = get_manager().apps()
    names = list(apps)
    assert names[0] == "zzz-first"
    assert names[1:] == sorted(names[1:], key=lambda name: (apps[name].order, name))


def test_profiles_hold_hardware_facts_and_apps_say_what_they_mean():
    from core.profiles import PROFILES

    assert App.profile_settings(PROFILES["orin-nano-8gb"]) == {}
    assert {p.accelerator for p in PROFILES.values()} == {"jetson", "cuda", "cpu"}


# ---- the offline-default lifecycle ---------------------------------------------------------------------
def _fake_run(folder: Path, status: str = "complete") -> Path:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"status": status}))
    return folder


def test_a_swap_interrupted_between_its_renames_is_finished_on_next_use(tmp_path):
    from core import default_is_built, require_default

    folder = tmp_path / "default"
    _fake_run(tmp_path / "default.building")  # the new default, complete; the old one already moved aside
    _fake_run(tmp_path / "default.previous")
    assert default_is_built("tiny", folder)
    assert not (tmp_path / "default.building").exists()
    with pytest.raises(AppsError, match="apps prepare tiny"):
        require_default("tiny", tmp_path / "elsewhere")


def test_a_killed_prepare_leaves_the_previous_default_usable(tmp_path, monkeypatch):
    from transformers import PhiForCausalLM

    from core import build_default, load_run, load_trained_model, require_default

    install(tmp_path, monkeypatch)
    quick = ["max_steps=2", "samples=16", "save_steps=1", "eval_steps=1", "logging_steps=1"]
    first = build_default(get_manager().app("tiny"), "tiny-lm", overrides=quick)
    (first / "marker").write_text("the previous default")
    assert [p.name for p in first.glob("checkpoint-*")] == []

    build = (
        "from core import build_default, get_manager\n"
        "build_default(get_manager().app('tiny'), 'tiny-lm', force=True,\n"
        "              overrides=['max_steps=200', 'save_steps=1', 'logging_steps=1', 'step_delay=0.2'])\n"
    )
    process = subprocess.Popen([sys.executable, "-c", build], env=os.environ.copy(), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = first.with_name("default.building")
    deadline = time.time() + 300
    while not list(staging.glob("checkpoint-*")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.kill()
    process.wait()
    assert list(staging.glob("checkpoint-*")), "the build was to be killed mid-training"

    assert require_default("tiny") == first
    assert (first / "marker").read_text() == "the previous default"
    assert load_run(first)["status"] == "complete"
    assert isinstance(load_trained_model(first, PhiForCausalLM.from_pretrained), PhiForCausalLM)

    again = build_default(get_manager().app("tiny"), "tiny-lm", overrides=quick, force=True)
    assert again == first and not (first / "marker").exists() and not staging.exists()
    assert load_run(again)["status"] == "complete"
