"""Check that every dependency of transformer-apps installs as binary wheels on a Jetson (aarch64, Py 3.10).

Resolves the runtime dependencies and all extras from pyproject.toml with pip's resolver for
``--platform manylinux2014_aarch64 --python-version 3.10 --only-binary=:all:`` (nothing is installed).
torch, torchvision and torchaudio are left out: JetPack provides CUDA builds of them. Needs PyPI.

    python scripts/check_wheels.py [--python-version 3.10] [--platform manylinux2014_aarch64]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JETPACK_PROVIDES = {"torch", "torchvision", "torchaudio"}
# Pure-Python projects published only as source (no wheel for any platform); checked without --platform.
PURE_PYTHON_SDISTS = {"jieba"}
# Newer manylinux tags are accepted too: many aarch64 wheels are built for glibc 2.28 (JetPack 6 has 2.35).
PLATFORMS = ["manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_31_aarch64", "manylinux_2_34_aarch64",
             "manylinux_2_35_aarch64"]


def requirements() -> list[str]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        if extra not in ("all", "dev"):
            found += items
    names = {_name(item): item for item in found if _name(item) not in JETPACK_PROVIDES}
    return sorted(names.values())


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def _dry_run(options: list[str], wanted: list[str], python_version: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as target:
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                   "--python-version", python_version, "--implementation", "cp", "--target", target,
                   *options, *wanted]
        return subprocess.run(command, capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python-version", default="3.10")
    args = parser.parse_args()
    wanted = requirements()
    binary = [item for item in wanted if _name(item) not in PURE_PYTHON_SDISTS]
    source = [item for item in wanted if _name(item) in PURE_PYTHON_SDISTS]
    results = [_dry_run(["--only-binary=:all:", *[f"--platform={p}" for p in PLATFORMS]], binary, args.python_version)]
    if source:
        results.append(_dry_run(["--no-deps"], source, args.python_version))
    failed = [result for result in results if result.returncode != 0]
    for result in failed:
        print(result.stdout + result.stderr)
    if failed:
        print(f"FAILED: the dependencies do not resolve as aarch64 wheels for Python {args.python_version}")
        return 1
    print(f"ok: {len(wanted)} requirements resolve as aarch64 wheels for Python {args.python_version}: "
          + ", ".join(wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
