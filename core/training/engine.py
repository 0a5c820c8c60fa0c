"""The fine-tuning engine's entry points: :func:`run_training` trains an app with a recipe into a run
directory, :func:`train_recipe` trains a registered recipe by name, :func:`load_trained_model` loads a run.

An app supplies :class:`TrainingParts` from ``App.training_parts(recipe)``; the engine does the rest, one
job per module of ``core.training``: fine-tuning mode (``finetune``), memory estimate and check (``memory``),
precision and schedules (``arguments``), run log, checkpoints and ``on_train_event`` hooks (``callbacks``),
the run directory (``core.rundir``). ``apps train APP --recipe R key=value ...`` lands in
``core.training.cli``.

Works unchanged under ``torchrun --nproc_per_node N`` / ``accelerate launch``: the Trainer runs DDP, and
only rank 0 writes the run directory (``distributed``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core import rundir
from core.errors import AppsError
from core.rundir import is_run_dir, load_run
from core.training.arguments import label_names, training_arguments, training_dtype
from core.training.callbacks import callback_class, training_callbacks
from core.training.distributed import agree, barrier, rank, training_device
from core.training.finetune import prepare_model
from core.training.memory import MemoryEstimate, TrainingMemory, check_fits, estimate_memory
from core.training.parts import TrainingParts


def run_training(
    app,
    recipe,
    run_dir: str | Path | None = None,
    resume: bool = False,
    dry_run: bool = False,
    options: dict | None = None,
    recipe_name: str | None = None,
    check_memory: bool = True,
) -> Path:
    """Train ``app`` with ``recipe`` and return the run directory.

    ``options``: the app's own ``apps train`` options (from ``cli_options("train")``), passed to
    ``app.training_parts(recipe, **options)``. ``resume`` continues from the newest whole checkpoint of
    ``run_dir``. ``dry_run`` builds the model, prints parameters and the memory estimate, trains nothing.
    """
    from transformers import set_seed

    set_seed(recipe.seed)
    parts = _build_parts(app, recipe, options)
    device = training_device()
    dtype = training_dtype(recipe, device)
    labels = label_names(parts)
    model = prepare_model(parts, recipe, dtype)
    estimate = estimate_memory(model, parts, recipe, device, dtype)
    planned = Path(run_dir) if run_dir else rundir.default_run_dir(app.name, recipe_name, resume)
    if dry_run:
        _print_dry_run(app, recipe, parts, estimate, planned)
        return planned
    if check_memory:
        check_fits(estimate)

    args = training_arguments(recipe, parts, planned, device, dtype, labels)
    run_dir, checkpoint, complete = _open_run_dir(args, planned, resume)
    if complete:
        return run_dir
    is_main = rank() == 0
    if is_main:
        about, setup = _run_about(app, recipe, recipe_name, parts), _run_setup(estimate, args.world_size)
        info = rundir.start_run(run_dir, recipe, about, setup, parts.metadata, resume)
    memory = callback_class(TrainingMemory)(device)
    callbacks = training_callbacks(app, run_dir, recipe, parts, args.world_size, memory)
    trainer = _trainer(model, args, parts, callbacks)
    metrics = _train(trainer, parts, checkpoint)
    peaks = memory.metrics()
    metrics.update(peaks, memory_estimate_gib=estimate.total / 2**30)
    if is_main:
        files = _save_final(trainer, parts, run_dir)
        rundir.finish_run(run_dir, info, trainer.state.global_step, files, metrics)
        print(TrainingMemory.report(peaks, estimate))
        print(f"run directory: {run_dir}")
    barrier()  # nobody leaves before rank 0 has written the run
    return run_dir


def _build_parts(app, recipe, options: dict | None) -> TrainingParts:
    """The app's TrainingParts for ``recipe`` (given the app's own ``apps train`` options), checked."""
    parts = app.training_parts(recipe, **options) if options else app.training_parts(recipe)
    if not isinstance(parts, TrainingParts):
        raise AppsError(f"{type(app).__name__}.training_parts must return core.training.TrainingParts")
    if parts.train_dataset is None or len(parts.train_dataset) == 0:
        raise AppsError("the training set is empty", hint="check the recipe's dataset")
    return parts


def _print_dry_run(app, recipe, parts: TrainingParts, estimate: MemoryEstimate, planned: Path) -> None:
    """What ``--dry-run`` shows (rank 0 only): the model, the memory estimate, where the run would go."""
    if rank() == 0:
        print(f"dry run: {app.name}, {recipe.finetune} fine-tune of {type(parts.model).__name__}")
        print(estimate.report())
        print(f"would write the run to {planned}")


def _open_run_dir(args, planned: Path, resume: bool) -> tuple[Path, str | None, bool]:
    """Settle the run directory on every rank (rank 0's choice), create it and find where to resume.

    Returns (run directory, checkpoint to resume from or None, whether the run is already complete). A
    resumed run's log is cut back to its checkpoint's step, since the steps after it run again."""
    _ = args.device  # sets up the process group under torchrun, so ranks can agree below
    run_dir = Path(agree(str(planned)))
    args.output_dir = str(run_dir)
    is_main = rank() == 0
    checkpoint = None
    if is_main:
        rundir.refuse_existing_run(run_dir, resume)
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            checkpoint = rundir.last_good_checkpoint(run_dir)
    checkpoint = agree(str(checkpoint) if checkpoint else None)
    finished = resume and is_run_dir(run_dir) and load_run(run_dir).get("status") == "complete"
    if agree(finished):
        if is_main:
            print(f"{run_dir} is already complete; nothing to resume")
        return run_dir, checkpoint, True
    if resume and is_main:
        print(
            f"resuming from {checkpoint}"
            if checkpoint
            else f"no whole checkpoint in {run_dir}: starting over"
        )
        rundir.truncate_log(run_dir, int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0)
    return run_dir, checkpoint, False


def _run_about(app, recipe, recipe_name: str | None, parts: TrainingParts) -> dict:
    """What ``run.json`` says is trained: app, recipe, fine-tuning mode, base model, model class."""
    return {
        "app": app.name,
        "recipe": recipe_name,
        "finetune": recipe.finetune,
        "base_model": _base_model_name(parts, recipe, app, parts.model),
        "model_class": type(parts.model).__name__,
    }


def _run_setup(estimate: MemoryEstimate, world_size: int) -> dict:
    """How ``run.json`` says it trains: precision and device (as the estimate records them), processes and
    parameter counts."""
    return {
        "precision": estimate.precision,
        "device": estimate.device,
        "world_size": world_size,
        "parameters": {"total": estimate.total_params, "trainable": estimate.trainable_params},
    }


def _trainer(model, args, parts: TrainingParts, callbacks: list):
    """The transformers Trainer for the prepared model (the evaluation set only where evaluation is
    scheduled)."""
    return _trainer_class()(
        model=model,
        args=args,
        data_collator=parts.data_collator,
        train_dataset=parts.train_dataset,
        eval_dataset=parts.eval_dataset if args.eval_strategy != "no" else None,
        compute_metrics=parts.compute_metrics,
        callbacks=callbacks,
    )


def _trainer_class():
    """transformers' Trainer, batching by a dataset's own ``lengths`` where ``group_by_length`` is set
    (the Trainer alone measures ``input_ids`` of every item: loading, and augmenting, each sample once)."""
    import torch
    from transformers import Trainer
    from transformers.trainer_pt_utils import LengthGroupedSampler

    class AppsTrainer(Trainer):
        def _by_length(self, dataset, batch_size: int, generator=None):
            grouped = getattr(self.args, "train_sampling_strategy", None) == "group_by_length" or getattr(
                self.args, "group_by_length", False
            )
            if grouped and getattr(dataset, "lengths", None) is not None:
                return LengthGroupedSampler(batch_size, lengths=list(dataset.lengths), generator=generator)
            return None

        def _get_train_sampler(self, train_dataset=None):
            dataset = self.train_dataset if train_dataset is None else train_dataset
            batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
            sampler = self._by_length(dataset, batch)
            return sampler if sampler is not None else super()._get_train_sampler(train_dataset)

        def _get_eval_sampler(self, eval_dataset):
            seeded = torch.Generator().manual_seed(self.args.seed)
            sampler = self._by_length(eval_dataset, self.args.eval_batch_size, seeded)
            return sampler if sampler is not None else super()._get_eval_sampler(eval_dataset)

    return AppsTrainer


def _train(trainer, parts: TrainingParts, checkpoint: str | None) -> dict:
    """Train (from ``checkpoint`` when resuming), evaluate once more at the end; the final metrics."""
    try:
        result = trainer.train(resume_from_checkpoint=checkpoint)
    except ValueError as exc:
        if "gradient checkpointing" in str(exc).lower():
            raise AppsError(f"{type(parts.model).__name__} does not support gradient checkpointing") from None
        raise
    metrics = dict(result.metrics)
    if parts.eval_dataset is not None and len(parts.eval_dataset) > 0:
        metrics.update(trainer.evaluate())
    metrics["global_step"] = trainer.state.global_step
    return metrics


def _base_model_name(parts, recipe, app, model) -> str | None:
    """The base model a LoRA run is loaded onto again: the app's metadata, the recipe's model, the app's
    default or the model's own config; a local path is made absolute."""
    base = parts.metadata.get("base_model") or recipe.model or getattr(app, "default_model", None)
    if not base:
        base = getattr(getattr(model, "config", None), "_name_or_path", None) or None
    if base and Path(str(base)).exists():
        base = str(Path(str(base)).resolve())  # a local base must be found again from anywhere
    return base


def _save_final(trainer, parts: TrainingParts, run_dir: Path) -> list[str]:
    """Model (or adapter) and the app's files, written into a staging folder and renamed into place."""
    import shutil

    staging = run_dir / ".final.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model = trainer.model
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(str(staging))
    else:
        from safetensors.torch import save_file

        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(staging / "model.safetensors"))
    if parts.save is not None:
        parts.save(staging)
    names = rundir.move_into(staging, run_dir)
    shutil.rmtree(staging, ignore_errors=True)
    return names


def load_trained_model(run_dir: str | Path, load_base: Callable[[str], Any], merge: bool = False):
    """Load the model of a run directory.

    ``load_base(name_or_path)`` loads a plain model (e.g. ``AutoModelForCausalLM.from_pretrained``). A
    full / freeze run is loaded with ``load_base(run_dir)``; a LoRA run loads its base model
    (``run.json``'s ``base_model``) and puts the adapter on it (``merge=True`` folds it into the weights).
    """
    run_dir = Path(run_dir)
    info = load_run(run_dir)
    if (run_dir / "adapter_config.json").is_file():
        from peft import PeftModel

        base_name = info.get("base_model")
        if not base_name:
            raise AppsError(f"{run_dir} holds a LoRA adapter but run.json names no base_model")
        model = PeftModel.from_pretrained(load_base(base_name), str(run_dir))
        return model.merge_and_unload() if merge else model
    return load_base(str(run_dir))


def train_recipe(app, recipe_name: str, run_dir: str | Path, overrides=(), **options) -> Path:
    """Train one of ``app``'s registered recipes, by name, into ``run_dir`` (as ``apps prepare`` does)."""
    from core.plugins import get_manager
    from core.recipes import load_recipe

    recipe = load_recipe(app.recipe_class, get_manager().recipe_path(app.name, recipe_name), overrides)
    return run_training(app, recipe, run_dir=run_dir, recipe_name=recipe_name, **options)
