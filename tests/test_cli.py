"""The apps CLI: listing, info, verbs, errors, and the fast-start rule (no torch at start-up)."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from core import __version__
from core.cli import cli
from tests.conftest import run_apps

BUILTIN_APPS = {"chat", "vit", "asr", "tts", "timeseries", "control"}


def test_list_shows_the_six_builtin_apps():
    result = CliRunner().invoke(cli, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["app"]: row for row in json.loads(result.output)}
    assert BUILTIN_APPS <= set(rows)
    assert rows["asr"]["plugin"] == rows["tts"]["plugin"] == "asr_tts"
    assert all(rows[name]["description"] for name in BUILTIN_APPS)


def test_list_table_and_version():
    runner = CliRunner()
    table = runner.invoke(cli, ["list"])
    assert table.exit_code == 0 and table.output.startswith("APP")
    assert "vit" in table.output
    version = runner.invoke(cli, ["--version"])
    assert version.exit_code == 0 and __version__ in version.output


def test_help_teaches_the_verbs():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for verb in ("run", "train", "eval", "prepare", "export", "bench", "demo", "doctor", "list", "plugins", "info"):
        assert f"  {verb}" in result.output, verb


def test_run_help_lists_apps():
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert result.exit_code == 0
    for name in BUILTIN_APPS:
        assert name in result.output


def test_unknown_app_suggests_the_closest():
    result = run_apps("run", "vitt")
    assert result.returncode == 2
    assert "did you mean 'vit'" in result.stderr
    info = run_apps("info", "chatt")
    assert info.returncode == 1 and "did you mean 'chat'" in info.stderr


def test_info_describes_an_app():
    result = CliRunner().invoke(cli, ["info", "timeseries", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["app"] == "timeseries" and data["plugin"] == "timeseries"
    assert isinstance(data["verbs"], list) and isinstance(data["recipes"], dict)


def _imports_after(code: str) -> set[str]:
    probe = (
        "import sys\n"
        "from core.cli import cli\n"
        f"try:\n    cli.main({code}, prog_name='apps')\nexcept SystemExit:\n    pass\n"
        "print(','.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return set(result.stdout.strip().splitlines()[-1].split(","))


def test_help_and_list_import_no_torch():
    for args in (["--help"], ["list"], ["run", "--help"], ["info", "vit"], ["plugins"]):
        modules = _imports_after(repr(args))
        heavy = modules & {"torch", "transformers", "timm", "torchaudio", "gradio", "pandas", "cv2"}
        assert not heavy, f"apps {' '.join(args)} imported {heavy}"
