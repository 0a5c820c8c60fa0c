"""The engine's Trainer callbacks: :class:`RunCallback` writes ``trainer_log.jsonl``, marks whole
checkpoints and calls the ``on_train_event`` hooks; :func:`training_callbacks` assembles a run's list."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from core import rundir
from core.training.distributed import agree, barrier
from core.training.parts import TrainingParts


class RunCallback:
    """Writes the run log, marks whole checkpoints, checkpoints every ``save_minutes`` and calls
    ``on_train_event`` hooks (rank 0 only; a stop or save request is shared with every rank so DDP
    processes stop and save together)."""

    def __init__(self, app, run_dir: Path, samples_per_step: int, save_minutes: float = 0.0):
        self.app = app
        self.run_dir = run_dir
        self.samples_per_step = samples_per_step
        self.save_seconds = 60.0 * save_minutes
        self.start = self.last_time = self.last_save = time.time()
        self.start_step = self.last_step = 0

    def _event(self, event: str, args, state, control, metrics: dict | None = None):
        stop = False
        if state.is_world_process_zero:
            from core.plugins import get_manager

            info = {
                "app": self.app.name,
                "run_dir": str(self.run_dir),
                "step": state.global_step,
                "max_steps": state.max_steps,
                "epoch": state.epoch,
            }
            if metrics is not None:
                info["metrics"] = dict(metrics)
            stop = get_manager().train_event(event, info)
        if event in ("log", "evaluate", "save"):  # every rank reaches these at the same step
            stop = agree(stop)
        if stop and event != "train_end":
            print(f"training stopped by a plugin at step {state.global_step}", file=sys.stderr)
            control.should_training_stop = True
            control.should_save = True
        return control

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = self.last_time = self.last_save = time.time()
        self.start_step = self.last_step = state.global_step
        return self._event("train_begin", args, state, control)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        if state.is_world_process_zero and "train_runtime" not in logs:
            now = time.time()
            row: dict[str, Any] = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
            if any(key.startswith("eval_") for key in logs):
                row.update(logs)
            else:
                row["loss"] = logs.pop("loss", None)
                row["lr"] = logs.pop("learning_rate", None)
                done = state.global_step - self.last_step
                row["samples_per_second"] = (
                    round(done * self.samples_per_step / (now - self.last_time), 3)
                    if now > self.last_time
                    else None
                )
                row.update(logs)
                self.last_time, self.last_step = now, state.global_step
            elapsed = now - self.start
            progressed = max(state.global_step - self.start_step, 1)
            row["elapsed"] = round(elapsed, 3)
            row["remaining"] = round(elapsed / progressed * max(state.max_steps - state.global_step, 0), 3)
            rundir.append_log(self.run_dir, row)
        if self.save_seconds > 0 and agree(time.time() - self.last_save >= self.save_seconds):
            control.should_save = True  # the Trainer saves right after logging
        return self._event("log", args, state, control, logs)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        return self._event("evaluate", args, state, control, metrics or {})

    def on_save(self, args, state, control, **kwargs):
        self.last_save = time.time()
        barrier()  # every rank has written its rng state
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                rundir.mark_complete(folder)
        return self._event("save", args, state, control)

    def on_train_end(self, args, state, control, **kwargs):
        return self._event("train_end", args, state, control)


def callback_class(base=None):
    """``base`` (RunCallback by default) as a real TrainerCallback (transformers is imported only when
    training)."""
    from transformers import TrainerCallback

    base = base or RunCallback
    return type(f"Apps{base.__name__}", (base, TrainerCallback), {})


def training_callbacks(app, run_dir: Path, recipe, parts: TrainingParts, world_size: int, memory) -> list:
    """The run's callbacks: the run log and hooks, ``memory`` (a TrainingMemory callback), the app's own,
    and early stopping when the recipe asks for it."""
    from transformers import EarlyStoppingCallback

    samples_per_step = recipe.batch_size * recipe.gradient_accumulation_steps * world_size
    run_callback = callback_class()(app, run_dir, samples_per_step, recipe.save_minutes)
    callbacks = [run_callback, memory, *parts.callbacks]
    if recipe.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=recipe.early_stopping_patience))
    return callbacks
