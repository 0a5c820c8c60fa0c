"""Shared fixtures: an isolated $APPS_HOME, a fresh plugin manager per test, the example plugins."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Tests are offline by design. huggingface_hub reads this once, at import, so it must be set before any test
# module imports transformers (otherwise an unreachable hub costs ~50 s of retries per lookup).
os.environ["HF_HUB_OFFLINE"] = "1"

from core.plugins import reset_manager  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# tests/ is a package (so `tests` is this suite, not a site-packages `tests`); its helper modules (tiny_app,
# the plugin tests install) are also imported by their own names, as the plugin entry point names them.
sys.path.insert(0, str(ROOT / "tests"))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own $APPS_HOME and no third-party plugins it did not ask for."""
    home = tmp_path_factory.mktemp("apps_home")
    monkeypatch.setenv("APPS_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("APPS_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("APPS_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("APPS_DISABLE_PLUGINS", raising=False)
    reset_manager()
    yield home
    reset_manager()


def apps_command() -> list[str]:
    """The installed 'apps' console script of this interpreter."""
    script = Path(sys.executable).parent / "apps"
    return [str(script)] if script.exists() else [sys.executable, "-m", "core.cli"]


def run_apps(*args, env: dict | None = None, timeout: float = 300, check: bool = False):
    """Run the real 'apps' CLI in a subprocess; returns CompletedProcess with text output."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [*apps_command(), *map(str, args)], capture_output=True, text=True, env=full_env, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"apps {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def pip_install_target(target: Path, *packages: Path) -> None:
    """Install packages (no deps, no network) into a folder that PYTHONPATH can add."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), *map(str, packages)],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def example_plugins(tmp_path_factory) -> dict:
    """The example plugin packages installed into a private folder; returns env for subprocesses."""
    target = tmp_path_factory.mktemp("plugin_site")
    sources = tmp_path_factory.mktemp("plugin_src")
    packages = []
    for name in ("apps-textstats", "apps-broken-plugin"):
        copy = sources / name  # build in a copy so no build/ or egg-info lands in the repository
        shutil.copytree(EXAMPLES / name, copy)
        packages.append(copy)
    pip_install_target(target, *packages)
    return {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
