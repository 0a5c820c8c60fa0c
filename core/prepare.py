"""``apps prepare all``: make every app usable offline, one app after the other, each in its own process
(a failing app is reported and the others still run)."""

from __future__ import annotations

import subprocess
import sys
import time

from core.errors import AppsError


def prepare_all(apps: list[str] | None = None) -> dict[str, dict]:
    from tqdm.auto import tqdm

    from core.plugins import get_manager

    manager = get_manager()
    names = apps or [name for name, cls in manager.apps().items() if cls.offers("prepare")]
    unknown = [n for n in names if n not in manager.apps()]
    if unknown:
        raise AppsError(f"unknown app(s): {', '.join(unknown)}")
    results = {}
    for name in (bar := tqdm(names, desc="prepare", unit="app")):
        bar.set_postfix_str(name)
        start = time.time()
        done = subprocess.run(
            [sys.executable, "-m", "core.cli", "prepare", name], text=True, stderr=subprocess.PIPE
        )
        results[name] = {
            "ok": done.returncode == 0,
            "seconds": round(time.time() - start, 1),
            "error": None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["failed"])[-1],
        }
    return results


def all_command():
    """``apps prepare all`` as a click command."""
    import click

    @click.command("all", help="Prepare every app (download online, build the offline defaults otherwise).")
    @click.option("--apps", "only", default=None, help="Comma-separated subset of apps.")
    def command(only):
        results = prepare_all([a for a in only.split(",") if a] if only else None)
        for name, result in results.items():
            click.echo(
                f"{name:<12} {'ok' if result['ok'] else 'FAILED'} {result['seconds']:>7.1f} s"
                f"{'  ' + result['error'] if result['error'] else ''}"
            )
        if not all(r["ok"] for r in results.values()):
            raise AppsError("some apps could not be prepared (see above)")

    return command
