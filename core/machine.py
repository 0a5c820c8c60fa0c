"""Facts read off the machine's files. Every read goes through ``root`` so that tests can replay recorded
Jetson and PC files (``tests/fixtures/doctor/<board>/``); a missing file reads as empty."""

from __future__ import annotations

import re
from pathlib import Path


def read_file(root: Path, path: str) -> str:
    try:
        return (root / path.lstrip("/")).read_text(errors="replace")
    except OSError:
        return ""


def device_tree_model(root: Path) -> str:
    return read_file(root, "/proc/device-tree/model").strip("\x00\n ")


def meminfo(root: Path) -> dict[str, int]:
    """/proc/meminfo in KiB."""
    values = {}
    for line in read_file(root, "/proc/meminfo").splitlines():
        match = re.match(r"(\w+):\s+(\d+)", line)
        if match:
            values[match.group(1)] = int(match.group(2))
    return values
