"""The web demo's training tab, the way LLaMA-Factory's WebUI works: the page only writes a recipe and
starts the same ``apps train`` command a user would type, then follows its ``trainer_log.jsonl``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import AppsError


@dataclass
class TrainingJob:
    """One ``apps train`` subprocess started from the page."""

    app: str
    run_dir: Path
    process: subprocess.Popen
    started: float = field(default_factory=time.time)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> list[dict]:
        path = self.run_dir / "trainer_log.jsonl"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # the line being written right now
                break
        return rows

    def stop(self) -> None:
        if self.running:
            self.process.send_signal(signal.SIGINT)  # the engine saves a checkpoint and exits
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_training(app: str, recipe: str, overrides: str, runs: Path) -> TrainingJob:
    """Write the recipe with the page's settings applied and start ``apps train`` on it."""
    import yaml

    from core.plugins import get_manager
    from core.recipes import load_recipe, parse_override, save_recipe

    app_class = get_manager().app_class(app)
    path = get_manager().recipe_path(app, recipe)
    pairs = [line.strip() for line in overrides.replace(",", "\n").splitlines() if line.strip()]
    for pair in pairs:
        parse_override(pair)  # a malformed line fails here, on the page, not in the subprocess
    resolved = load_recipe(app_class.recipe_class, path, pairs)
    run_dir = runs / f"{app}-{Path(recipe).stem}-web-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=False)
    recipe_file = run_dir.parent / f"{run_dir.name}.recipe.yaml"
    save_recipe(resolved, recipe_file)
    yaml.safe_load(recipe_file.read_text(encoding="utf-8"))  # written, readable
    command = [sys.executable, "-m", "core.cli", "train", app, "--recipe", str(recipe_file), "--output", str(run_dir)]
    log = open(run_dir.parent / f"{run_dir.name}.out.txt", "w")  # noqa: SIM115 (owned by the subprocess)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    return TrainingJob(app=app, run_dir=run_dir, process=process)


def progress_text(job: TrainingJob | None) -> str:
    if job is None:
        return "No training started."
    rows = [row for row in job.log() if "loss" in row]
    state = "running" if job.running else f"finished (exit code {job.process.returncode})"
    if not rows:
        return f"{job.app}: {state}, waiting for the first log line ... ({job.run_dir})"
    last = rows[-1]
    step = f"{last.get('step', '?')}" + (f"/{last['max_steps']}" if last.get("max_steps") else "")
    remaining = last.get("remaining")
    eta = f", about {remaining:.0f} s left" if isinstance(remaining, (int, float)) and job.running else ""
    return f"{job.app}: {state}; step {step}, loss {last['loss']:.4f}{eta} ({job.run_dir})"


def training_tab() -> None:
    """Build the tab (inside a gr.Blocks context)."""
    import gradio as gr
    import pandas as pd

    from core.paths import runs_dir
    from core.plugins import get_manager

    manager = get_manager()
    trainable = [name for name, cls in manager.apps().items() if cls.offers("train") and manager.recipes(name)]
    jobs: dict[str, TrainingJob] = {}

    def recipes_of(app):
        names = sorted(manager.recipes(app)) if app else []
        return gr.Dropdown(choices=names, value=names[0] if names else None)

    def start(app, recipe, overrides):
        if not app or not recipe:
            raise gr.Error("Choose an app and a recipe first.")
        if "job" in jobs and jobs["job"].running:
            raise gr.Error("A training run is already going; stop it first.")
        try:
            jobs["job"] = start_training(app, recipe, overrides or "", runs_dir())
        except AppsError as exc:
            raise gr.Error(str(exc)) from None
        return progress_text(jobs["job"])

    def refresh():
        job = jobs.get("job")
        rows = [row for row in job.log() if "loss" in row] if job else []
        frame = pd.DataFrame({"step": [r.get("step", i) for i, r in enumerate(rows)], "loss": [r["loss"] for r in rows]})
        return progress_text(job), frame

    def stop():
        if "job" in jobs:
            jobs["job"].stop()
        return progress_text(jobs.get("job"))

    if not trainable:
        gr.Markdown("No installed app offers training recipes.")
        return
    gr.Markdown("Choose an app and a recipe, change settings as `key=value` lines, start. "
                "The page runs the same `apps train` command you would type.")
    with gr.Row():
        app = gr.Dropdown(trainable, value=trainable[0], label="app", elem_id="train-app")
        recipe = gr.Dropdown(sorted(manager.recipes(trainable[0])), label="recipe", elem_id="train-recipe")
    overrides = gr.Textbox(label="settings (key=value, one per line)", lines=3, elem_id="train-settings",
                           placeholder="max_steps=50\nlearning_rate=1e-4")
    with gr.Row():
        start_button = gr.Button("Start training", variant="primary", elem_id="train-start")
        stop_button = gr.Button("Stop", elem_id="train-stop")
    status = gr.Textbox(label="progress", interactive=False, elem_id="train-status")
    plot = gr.LinePlot(x="step", y="loss", label="training loss", height=300, elem_id="train-loss")
    app.change(recipes_of, app, recipe)
    start_button.click(start, [app, recipe, overrides], status)
    stop_button.click(stop, None, status)
    gr.Timer(2.0).tick(refresh, None, [status, plot])
