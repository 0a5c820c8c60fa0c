"""Run directories: what ``apps train`` leaves behind, written so that a kill at any moment never
leaves a half-written file, and read back by apps (``--model RUN_DIR``) and by ``--resume``.

Layout of a run directory::

    recipe.yaml            the resolved recipe (YAML file + overrides), enough to rerun it
    run.json               {"app", "finetune", "base_model", "status", "created", "versions", ...metadata}
    trainer_log.jsonl      one JSON line per logging step (and per evaluation)
    metrics.json           final train and eval metrics
    loss.png               loss curve
    model.safetensors + config.json          (full / freeze fine-tune, ``save_pretrained`` form)
    adapter_config.json + adapter_model.safetensors   (LoRA, peft form; base model named in run.json)
    checkpoint-N/          Trainer checkpoints; ``.complete`` marks one that was fully written
    ...                    whatever the app's ``TrainingParts.save`` writes (labels, tokenizer, template)

The engine picks the folder with :func:`default_run_dir`, writes ``recipe.yaml`` and a ``running``
``run.json`` with :func:`start_run`, and marks the run ``complete`` with :func:`finish_run`.
Nothing here imports torch at module level.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from core.errors import AppsError

RUN_FILE = "run.json"
LOG_FILE = "trainer_log.jsonl"
METRICS_FILE = "metrics.json"
RECIPE_FILE = "recipe.yaml"
PLOT_FILE = "loss.png"
COMPLETE_MARK = ".complete"
CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")


# ---- atomic writes ------------------------------------------------------------------------------
def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; keep the mode a plain open() would give
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def atomic_save(path: str | Path, writer) -> None:
    """``writer(tmp_path)`` writes a file (matplotlib, safetensors ...); it is then renamed to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")
    try:
        writer(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def move_into(staging: Path, target: Path) -> list[str]:
    """Move every file of ``staging`` into ``target`` (each by an atomic rename); returns the names."""
    names = []
    for item in sorted(staging.iterdir()):
        destination = target / item.name
        if item.is_dir():
            if destination.exists():
                shutil.rmtree(destination)
            os.replace(item, destination)
        else:
            with open(item, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(item, destination)
        names.append(item.name)
    fsync_dir(target)
    return names


# ---- reading runs -------------------------------------------------------------------------------
def is_run_dir(path: str | Path | None) -> bool:
    """Whether ``path`` is a run directory written by ``apps train`` (it holds ``run.json``)."""
    return bool(path) and (Path(path) / RUN_FILE).is_file()


def load_run(path: str | Path) -> dict:
    """``run.json`` of a run directory, with ``run_dir`` added; a clear error when it is not one."""
    folder = Path(path)
    file = folder / RUN_FILE
    if not file.is_file():
        raise AppsError(
            f"{folder} is not a run directory (no {RUN_FILE})",
            hint="pass a folder written by 'apps train', or a model id / folder.",
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AppsError(f"cannot read {file}: {exc}") from None
    data["run_dir"] = str(folder)
    return data


def read_log(run_dir: str | Path) -> list[dict]:
    """The lines of ``trainer_log.jsonl`` (a torn last line, from a kill, is skipped)."""
    file = Path(run_dir) / LOG_FILE
    rows = []
    if file.is_file():
        for line in file.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def truncate_log(run_dir: str | Path, step: int) -> None:
    """Keep the log lines up to ``step`` (a resumed run repeats the steps after its checkpoint)."""
    rows = [row for row in read_log(run_dir) if row.get("step", 0) <= step]
    atomic_write_text(Path(run_dir) / LOG_FILE, "".join(json.dumps(row) + "\n" for row in rows))


def append_log(run_dir: str | Path, row: dict) -> None:
    """One line per call, written with a single ``write`` so a kill leaves whole lines (at worst one torn
    last line, which :func:`read_log` skips)."""
    with open(Path(run_dir) / LOG_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, default=float) + "\n")
        handle.flush()


def plot_loss(run_dir: str | Path) -> Path | None:
    """Draw ``loss.png`` from ``trainer_log.jsonl`` (train loss, and eval loss when there is one)."""
    rows = read_log(run_dir)
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    evals = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r]
    if not train and not evals:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    if train:
        axis.plot(*zip(*train, strict=False), label="train loss")
    if evals:
        axis.plot(*zip(*evals, strict=False), "o-", label="eval loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.set_title(Path(run_dir).name)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path = Path(run_dir) / PLOT_FILE
    atomic_save(path, lambda tmp: figure.savefig(tmp, format="png"))
    plt.close(figure)
    return path


# ---- the run's folder and record ----------------------------------------------------------------
def default_run_dir(app_name: str, recipe_name: str | None, resume: bool = False) -> Path:
    """``runs/<app>-<recipe>``; a new run beside an existing one gets a time suffix; ``resume`` picks
    the newest existing one."""
    from core.paths import runs_dir

    base = runs_dir() / f"{app_name}-{recipe_name or time.strftime('%Y%m%d-%H%M%S')}"
    if resume:
        candidates = [p for p in base.parent.glob(base.name + "*") if is_run_dir(p)]
        return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else base
    if not base.exists() or not any(base.iterdir()):
        return base
    return base.with_name(f"{base.name}-{time.strftime('%Y%m%d-%H%M%S')}")


def refuse_existing_run(run_dir: Path, resume: bool) -> None:
    """A new run never writes over an earlier run or its checkpoints; ``resume`` continues it instead."""
    if resume or not run_dir.exists():
        return
    if is_run_dir(run_dir) or checkpoints(run_dir):
        raise AppsError(
            f"{run_dir} already holds a training run",
            hint="add --resume to continue it, or choose another --output.",
        )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _versions() -> dict:
    """Versions of this project, Python and the training libraries, recorded to reproduce a run."""
    from importlib import metadata

    from core import __version__

    found = {"transformer-apps": __version__, "python": platform.python_version()}
    for package in ("torch", "transformers", "peft", "accelerate"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def start_run(run_dir: Path, recipe, about: dict, setup: dict, metadata: dict, resume: bool = False) -> dict:
    """Write ``recipe.yaml`` and a ``run.json`` whose status is ``running``; returns that record, which
    :func:`finish_run` completes.

    ``about``: what is trained (app, recipe, finetune, base_model, model_class); ``setup``: how (precision,
    device, world_size, parameters); ``metadata``: the app's own facts, written last. A resumed run keeps
    the ``created`` time of its first start."""
    from core.recipes import save_recipe

    info = {**about, "status": "running", "created": _now(), **setup, "versions": _versions(), **metadata}
    if resume and is_run_dir(run_dir):
        info["created"] = load_run(run_dir).get("created", info["created"])
    atomic_save(run_dir / RECIPE_FILE, lambda tmp: save_recipe(recipe, tmp))
    atomic_write_json(run_dir / RUN_FILE, info)
    return info


def finish_run(run_dir: Path, info: dict, global_step: int, model_files: list[str], metrics: dict) -> None:
    """Write ``metrics.json`` and ``loss.png``, then mark ``run.json`` complete (with the final step, the
    model's files and the numeric metrics): written last, so ``complete`` means every file is there."""
    atomic_write_json(run_dir / METRICS_FILE, metrics)
    plot_loss(run_dir)
    info.update(
        status="complete",
        finished=_now(),
        global_step=global_step,
        model_files=model_files,
        metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float))},
    )
    atomic_write_json(run_dir / RUN_FILE, info)


# ---- checkpoints --------------------------------------------------------------------------------
def checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of every ``checkpoint-N`` folder, oldest first."""
    found = []
    folder = Path(run_dir)
    if folder.is_dir():
        for item in folder.iterdir():
            match = CHECKPOINT_PATTERN.match(item.name)
            if match and item.is_dir():
                found.append((int(match.group(1)), item))
    return sorted(found)


def mark_complete(checkpoint: Path) -> None:
    """Record, after the Trainer finished writing ``checkpoint``, each file's size: a later resume trusts a
    checkpoint only when the mark exists and every file still has that size. Files are fsynced first so
    the mark never describes data still in flight (power loss on a Jetson)."""
    manifest = {}
    for file in sorted(checkpoint.rglob("*")):
        if file.is_file() and file.name != COMPLETE_MARK:
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
            manifest[str(file.relative_to(checkpoint))] = file.stat().st_size
    atomic_write_json(checkpoint / COMPLETE_MARK, manifest)


def checkpoint_problem(checkpoint: Path) -> str | None:
    """Why ``checkpoint`` cannot be resumed from, or None when it is whole."""
    mark = checkpoint / COMPLETE_MARK
    if mark.is_file():
        try:
            manifest = json.loads(mark.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return "unreadable completion mark"
        for name, size in manifest.items():
            file = checkpoint / name
            if not file.is_file():
                return f"{name} is missing"
            if file.stat().st_size != size:
                return f"{name} has {file.stat().st_size} bytes, expected {size}"
        return None
    return _structural_problem(checkpoint)


def _structural_problem(checkpoint: Path) -> str | None:
    """A checkpoint without a mark (killed between the Trainer's last write and our callback): accept it
    only when every file the Trainer writes is there and parses."""
    state = checkpoint / "trainer_state.json"
    if not state.is_file():
        return "trainer_state.json is missing (interrupted while saving)"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return "trainer_state.json is corrupt"
    weights = list(checkpoint.glob("*.safetensors"))
    if not weights:
        return "no weights (*.safetensors)"
    for file in weights:
        problem = _safetensors_problem(file)
        if problem:
            return problem
    for name in ("optimizer.pt", "scheduler.pt"):
        if not (checkpoint / name).is_file():
            return f"{name} is missing"
    import zipfile

    # torch.save writes zip archives: reading every member checks the CRCs without unpickling anything.
    for file in [
        checkpoint / "optimizer.pt",
        checkpoint / "scheduler.pt",
        *checkpoint.glob("rng_state*.pth"),
    ]:
        try:
            with zipfile.ZipFile(file) as archive:
                bad = archive.testzip()
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            return f"{file.name} cannot be read ({type(exc).__name__})"
        if bad is not None:
            return f"{file.name} is corrupt ({bad})"
    return None


def _safetensors_problem(file: Path) -> str | None:
    """Check a safetensors file's header and that its size matches the tensors it declares."""
    import struct

    try:
        with open(file, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
    except (OSError, struct.error, json.JSONDecodeError, UnicodeDecodeError, MemoryError, OverflowError):
        return f"{file.name} has a corrupt header"
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if file.stat().st_size != 8 + length + end:
        return f"{file.name} is truncated"
    return None


def last_good_checkpoint(run_dir: str | Path, remove_bad: bool = True) -> Path | None:
    """The newest checkpoint that is whole. Newer broken ones (a kill while saving) are removed, with a
    message, so the Trainer's own rotation never picks them up."""
    for _step, folder in reversed(checkpoints(run_dir)):
        problem = checkpoint_problem(folder)
        if problem is None:
            return folder
        print(f"skipping {folder.name}: {problem}", file=sys.stderr)
        if remove_bad:
            shutil.rmtree(folder, ignore_errors=True)
    return None
