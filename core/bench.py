"""The benchmark harness behind ``apps bench APP`` and ``make bench`` (``apps bench all``).

An app's ``benchmark(**options)`` returns rows (dicts). The usual keys are::

    name         what was measured ("decode, phi-1.5 fp32")
    metric       "tokens/s", "latency", "peak memory", "samples/s" ...
    value, unit  our number
    peer, peer_value   the peer named in the app's issue, measured in the same run
    ratio        value / peer_value (filled in when missing); "better": "higher" | "lower"

Rows with other keys are shown as they are. ``apps bench all`` runs every app that offers ``bench`` in its
own subprocess (so peak memory is not shared between apps) and writes ``benchmarks/results.json`` and
``benchmarks/results.md``. :func:`timed` and :class:`PeakMemory` help apps measure consistently.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

from core.errors import AppsError

STANDARD = ["name", "metric", "value", "unit", "peer", "peer_value", "ratio"]


# ---- measuring ----------------------------------------------------------------------------------
def timed(fn, repeat: int = 10, warmup: int = 2, sync=None) -> dict:
    """Call ``fn`` ``warmup`` + ``repeat`` times; seconds per call (mean, p50, p90, min)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "mean": sum(times) / len(times),
        "p50": times[len(times) // 2],
        "p90": times[min(len(times) - 1, int(len(times) * 0.9))],
        "min": times[0],
    }


class PeakMemory:
    """Peak memory of a block: CUDA ``max_memory_allocated`` on a GPU, else the process RSS sampled every
    few milliseconds (``peak`` is absolute bytes, ``increase`` is over the level at entry)."""

    def __init__(self, device="cpu", interval: float = 0.005):
        self.device = str(device)
        self.interval = interval
        self.peak = self.start = 0
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            import psutil

            process = psutil.Process()
            self.start = self.peak = process.memory_info().rss

            def sample():
                while not self._stop.is_set():
                    self.peak = max(self.peak, process.memory_info().rss)
                    self._stop.wait(self.interval)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            import psutil

            self.peak = max(self.peak, psutil.Process().memory_info().rss)
        return False

    @property
    def increase(self) -> int:
        return max(self.peak - self.start, 0)


def machine() -> dict:
    """What the numbers were measured on."""
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["device"] = (
            torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
        )
        info["threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


# ---- rows and tables ----------------------------------------------------------------------------
def normalise(rows) -> list[dict]:
    """Rows as plain dicts with ``ratio`` filled in where value and peer value are numbers."""
    if rows is None:
        return []
    if isinstance(rows, dict):
        rows = [rows]
    out = []
    for row in rows:
        row = dict(row)
        value, peer = row.get("value"), row.get("peer_value")
        if row.get("ratio") is None and _number(value) and _number(peer) and peer:
            row["ratio"] = round(value / peer, 3)
        out.append(row)
    return out


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    return str(value)


def columns_of(rows: list[dict]) -> list[str]:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    if any("metric" in row or "value" in row for row in rows):
        return [c for c in STANDARD if c in keys] + [k for k in keys if k not in STANDARD]
    return keys


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = columns or columns_of(rows)
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def markdown(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = columns or columns_of(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)).replace("|", "/") for c in columns) + " |" for row in rows]
    return "\n".join(lines)


# ---- command line -------------------------------------------------------------------------------
def bench_params() -> list:
    import click

    return [click.Option(["--json", "as_json"], is_flag=True, help="Print the rows as JSON only.")]


def bench_from_cli(app, as_json: bool = False, **options) -> list[dict]:
    """``apps bench APP``: run the app's benchmark, print a table (and the JSON) of its rows."""
    rows = normalise(app.benchmark(**options))
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print(table(rows) if rows else f"{app.name}: no benchmark rows")
        print(json.dumps(rows, default=str))
    return rows


def bench_all(
    apps: list[str] | None = None, out_dir: str | Path = "benchmarks", timeout: float = 3600
) -> dict:
    """Run ``apps bench APP --json`` for every app offering it, each in its own process; write
    ``results.json`` and ``results.md`` into ``out_dir``; returns the results."""
    from tqdm.auto import tqdm

    from core.plugins import get_manager

    manager = get_manager()
    names = apps or [name for name, cls in manager.apps().items() if cls.offers("bench")]
    unknown = [n for n in names if n not in manager.apps()]
    if unknown:
        raise AppsError(f"unknown app(s): {', '.join(unknown)}")
    results = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "limits": limits(),
        "apps": {},
    }
    for name in (bar := tqdm(names, desc="benchmarks", unit="app")):
        bar.set_postfix_str(name)
        start = time.time()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "core.cli", "bench", name, "--json"],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            entry = {"seconds": round(time.time() - start, 1)}
            if done.returncode == 0:
                entry["rows"] = project_rows(normalise(_last_json(done.stdout)))
            else:
                entry["error"] = (done.stderr.strip().splitlines() or ["failed"])[-1]
        except subprocess.TimeoutExpired:
            entry = {"seconds": timeout, "error": f"timed out after {timeout:.0f} s"}
        results["apps"][name] = entry
    out = Path(out_dir)
    from core.rundir import atomic_write_json, atomic_write_text

    atomic_write_json(out / "results.json", results)
    atomic_write_text(out / "results.md", results_markdown(results))
    return results


def _last_json(text: str):
    """The JSON document printed last (apps may print progress before it)."""
    start = text.rfind("\n[")
    for candidate in (text, text[start + 1 :] if start >= 0 else ""):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    raise AppsError("the benchmark printed no JSON rows")


def project_rows(rows: list[dict]) -> list[dict]:
    """For rows that say what one item costs (``gflops_per_item``: compute-bound work such as a ViT frame;
    ``gbytes_per_item``: bandwidth-bound work such as a decoded token) and give items/s as ``value``: the
    fraction of this machine's measured limit reached, and items/s on each Orin board at that fraction."""
    from core.roofline import bandwidth_fraction, compute_fraction, project

    out = []
    for row in rows:
        gflops, gbytes, value = row.get("gflops_per_item"), row.get("gbytes_per_item"), row.get("value")
        if _number(value) and (gflops or gbytes):
            fraction = (compute_fraction(value, gflops, row.get("precision", "fp32")) if gflops
                        else bandwidth_fraction(value, gbytes))
            row = {**row, "limit_fraction": round(fraction, 3),
                   **{f"{board} (proj.)": round(v, 1) for board, v in project(gflops, gbytes, fraction).items()}}
        out.append(row)
    return out


def limits() -> dict:
    """This machine's own limits, measured in the same run as the apps."""
    from core.roofline import matmul_peak_gflops, memory_bandwidth_gbs

    found = {"matmul_fp32_gflops": round(matmul_peak_gflops("fp32"), 1),
             "matmul_bf16_gflops": round(matmul_peak_gflops("bf16", size=1024), 1)}
    if importlib.util.find_spec("onnxruntime"):  # the int8 kernel of exported models (the vit extra)
        found["matmul_int8_gops"] = round(matmul_peak_gflops("int8"), 1)
    return {**found, "memory_bandwidth_gbs": round(memory_bandwidth_gbs(), 1)}


PROJECTION_NOTE = """
### How the Jetson columns are projected

`limit_fraction` is the share of this machine's own limit that a figure reaches: model FLOPs x items/s
against the measured matrix-multiply peak for compute-bound work (ViT frames), weight bytes read per token x
tokens/s against the measured memory bandwidth for decoding. The `(proj.)` columns apply the same fraction
to each Orin board's published limit: dense FP16 tensor throughput (Orin Nano 8GB 10, Orin NX 16GB 15,
AGX Orin 64GB 42.5 TFLOPS) and LPDDR5 bandwidth (68, 102.4, 204.8 GB/s). They are first-principles
estimates, not measurements on a board.
"""


def results_markdown(results: dict) -> str:
    parts = [f"# Benchmarks\n\nMeasured {results['created']} on {json.dumps(results['machine'])}.\n"]
    if results.get("limits"):
        parts.append("Limits measured in the same run: " + ", ".join(f"{k} {v}" for k, v in results["limits"].items())
                     + ".\n" + PROJECTION_NOTE)
    for name, entry in results["apps"].items():
        parts.append(f"## {name}\n")
        if entry.get("limits"):  # an entry merged from a later run carries that run's time and limits
            limits = ", ".join(f"{k} {v}" for k, v in entry["limits"].items())
            parts.append(f"Measured {entry.get('created', '')} in a separate run; its limits: {limits}.\n")
        if entry.get("error"):
            parts.append(f"Failed: {entry['error']}\n")
        elif entry.get("rows"):
            parts.append(markdown(entry["rows"]) + "\n")
        else:
            parts.append("No rows.\n")
    return "\n".join(parts)


def all_command():
    """``apps bench all`` as a click command (the CLI offers it beside the per-app commands)."""
    import click

    @click.command("all", help="Benchmark every app; write benchmarks/results.json and results.md.")
    @click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
    @click.option("--out", default="benchmarks", show_default=True, help="Folder for results.json/.md.")
    @click.option("--apps", "only", default=None, help="Comma-separated subset of apps.")
    def command(as_json, out, only):
        results = bench_all([a for a in only.split(",") if a] if only else None, out)
        if as_json:
            click.echo(json.dumps(results, indent=2, default=str))
        else:
            click.echo(results_markdown(results))
            click.echo(f"written: {Path(out) / 'results.json'}, {Path(out) / 'results.md'}")

    return command


if __name__ == "__main__":  # python -m core.bench [--apps a,b] [--out DIR]
    all_command()(prog_name="python -m core.bench")
