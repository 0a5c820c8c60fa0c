"""The fine-tuning engine (``transformers.Trainer`` + ``peft``) shared by every app.

An app supplies :class:`TrainingParts` from ``App.training_parts(recipe)``; the engine does the rest:
precision, LoRA / freezing, schedules, evaluation, early stopping, checkpoints that survive a kill, the run
directory (see ``core.rundir``) and ``on_train_event`` hooks. ``apps train APP --recipe R key=value ...``
lands in :func:`train_from_cli`; Python callers use :func:`run_training`.

Works unchanged under ``torchrun --nproc_per_node N`` / ``accelerate launch``: the Trainer runs DDP, and
only rank 0 writes the run directory.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import rundir
from core.errors import AppsError
from core.rundir import is_run_dir, load_run
from core.training.parts import TrainingParts

# Last module-name parts that mean "output head": LoRA 'all' leaves them alone (as LLaMA-Factory does).
HEAD_NAMES = ("lm_head", "embed_out", "output_layer", "classifier", "score", "head")


# ================================================================================================
# Model preparation: full, freeze, LoRA
# ================================================================================================
def _linear_types():
    import torch

    types: list[type] = [torch.nn.Linear]
    try:
        from transformers.pytorch_utils import Conv1D  # GPT-2 style "linear" layers

        types.append(Conv1D)
    except ImportError:
        pass
    return tuple(types)


def linear_module_names(model) -> list[str]:
    """Full names of every linear layer (``nn.Linear`` and transformers' ``Conv1D``)."""
    kinds = _linear_types()
    return [name for name, module in model.named_modules() if name and isinstance(module, kinds)]


def _module_matches(name: str, pattern: str) -> bool:
    """peft's rule (the name, or its dotted suffix) plus shell wildcards."""
    return name == pattern or name.endswith("." + pattern) or fnmatch.fnmatchcase(name, pattern)


def _head_names(model) -> set[str]:
    heads = set()
    try:
        output = model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        output = None
    for name, module in model.named_modules():
        if (output is not None and module is output) or name.rsplit(".", 1)[-1] in HEAD_NAMES:
            heads.add(name)
    return heads


def _describe_linears(names: list[str]) -> str:
    leaves: dict[str, int] = {}
    for name in names:
        leaf = name.rsplit(".", 1)[-1]
        leaves[leaf] = leaves.get(leaf, 0) + 1
    return ", ".join(f"{leaf} (x{count})" if count > 1 else leaf for leaf, count in leaves.items())


def lora_targets(model, targets, keep: list[str]) -> list[str]:
    """Resolve ``lora.target_modules`` into the list handed to peft.

    ``all`` = every linear layer except the output head and the modules kept whole (``keep``); given as
    leaf names (``q_proj``, ``fc1`` ...) when those are unambiguous, else as full names. Any target that
    matches no linear layer is an error listing the model's linear layers."""
    if isinstance(targets, str):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    linears = linear_module_names(model)
    if not linears:
        raise AppsError(
            f"LoRA needs linear layers, and {type(model).__name__} has none", hint="use finetune: full"
        )
    if [t.lower() for t in targets] == ["all"]:
        heads = _head_names(model)
        chosen = [n for n in linears if n not in heads and not any(_module_matches(n, k) for k in keep)]
        if not chosen:
            raise AppsError("LoRA target_modules 'all' found no linear layer besides the output head")
        by_leaf: dict[str, list[str]] = {}
        for name in linears:
            by_leaf.setdefault(name.rsplit(".", 1)[-1], []).append(name)
        leaves = {n.rsplit(".", 1)[-1] for n in chosen}
        if all(set(by_leaf[leaf]) <= set(chosen) for leaf in leaves):
            return sorted(leaves)
        return chosen
    missing = [t for t in targets if not any(_module_matches(n, t) for n in linears)]
    if missing:
        raise AppsError(
            f"LoRA target_modules {', '.join(missing)} match no linear layer of {type(model).__name__}",
            hint=f"its linear layers are: {_describe_linears(linears)}; or use target_modules: all",
        )
    return list(targets)


def apply_lora(model, recipe, keep: list[str]):
    from peft import LoraConfig, get_peft_model

    settings = recipe.lora
    keep = list(dict.fromkeys([*settings.modules_to_save, *keep]))
    missing = [k for k in keep if not any(_module_matches(n, k) for n, _ in model.named_modules())]
    if missing:
        raise AppsError(f"modules to keep trainable beside LoRA not found: {', '.join(missing)}")
    task = "CAUSAL_LM" if type(model).__name__.endswith("ForCausalLM") else None
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=lora_targets(model, settings.target_modules, keep),
        modules_to_save=keep or None,
        task_type=task,
    )
    return get_peft_model(model, config)


def apply_freeze(model, patterns: list[str]):
    """Train only the parameters under modules matching ``patterns``; everything else is frozen."""
    if not patterns:
        raise AppsError(
            "finetune: freeze needs the modules to keep trainable, and this app names none",
            hint="use finetune: full or lora.",
        )
    used = set()
    for name, parameter in model.named_parameters():
        parts = name.split(".")
        prefixes = [".".join(parts[:i]) for i in range(1, len(parts))]
        hit = [p for p in patterns if any(_module_matches(prefix, p) for prefix in prefixes)]
        parameter.requires_grad = bool(hit)
        used.update(hit)
    unused = [p for p in patterns if p not in used]
    if unused:
        children = ", ".join(name for name, _ in model.named_children())
        raise AppsError(
            f"trainable modules {', '.join(unused)} match no module", hint=f"top-level modules: {children}"
        )
    return model


def prepare_model(parts: TrainingParts, recipe, dtype=None):
    """Apply the recipe's fine-tuning mode to the app's model; returns the model to train."""
    import torch

    model = parts.model
    if not isinstance(model, torch.nn.Module):
        raise AppsError(
            f"training_parts returned {type(model).__name__} as the model; expected a torch module"
        )
    if recipe.finetune == "lora":
        model = apply_lora(model, recipe, list(parts.trainable_modules))
        if dtype in (torch.float16, torch.bfloat16):
            # as LLaMA-Factory does: the frozen base in the compute dtype (half the memory), adapters in fp32
            for parameter in model.parameters():
                if not parameter.requires_grad and parameter.is_floating_point():
                    parameter.data = parameter.data.to(dtype)
    elif recipe.finetune == "freeze":
        model = apply_freeze(model, list(parts.trainable_modules))
    # Mixed precision keeps fp32 master weights: a model loaded in half precision trains its trainable
    # parameters in fp32 (fp16 gradients cannot be unscaled).
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype in (torch.float16, torch.bfloat16):
            parameter.data = parameter.data.float()
    if not any(p.requires_grad for p in model.parameters()):
        raise AppsError("the model has no trainable parameter", hint="check finetune and trainable modules")
    return model


def count_parameters(model) -> tuple[int, int]:
    seen, total, trainable = set(), 0, 0
    for parameter in model.parameters():
        if parameter.data_ptr() in seen:
            continue
        seen.add(parameter.data_ptr())
        total += parameter.numel()
        trainable += parameter.numel() if parameter.requires_grad else 0
    return total, trainable


# ================================================================================================
# Memory estimate
# ================================================================================================
def _size(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.2f} {unit}"
    return f"{count} B"


@dataclass
class MemoryEstimate:
    total_params: int
    trainable_params: int
    weights: int
    gradients: int
    optimizer: int
    activations_per_sample: int
    batch_size: int
    sequence_length: int | None
    precision: str
    device: str
    free: int | None

    @property
    def activations(self) -> int:
        return self.activations_per_sample * self.batch_size

    @property
    def total(self) -> int:
        # 10% on top for allocator slack, temporary buffers and the framework itself.
        return int((self.weights + self.gradients + self.optimizer + self.activations) * 1.1)

    def report(self) -> str:
        share = 100.0 * self.trainable_params / max(self.total_params, 1)
        seq = f", sequence length {self.sequence_length}" if self.sequence_length else ""
        lines = [
            f"parameters: {self.total_params:,} total, {self.trainable_params:,} trainable ({share:.2f}%)",
            f"precision {self.precision} on {self.device}, batch {self.batch_size} per device{seq}",
            f"peak memory estimate: {_size(self.total)} = weights {_size(self.weights)}"
            f" + gradients {_size(self.gradients)} + Adam states {_size(self.optimizer)}"
            f" + activations {_size(self.activations)} ({_size(self.activations_per_sample)}/sample) + 10% slack",
        ]
        if self.free is not None:
            verdict = "fits" if self.total <= self.free else "DOES NOT FIT"
            lines.append(f"free memory on {self.device}: {_size(self.free)} -> {verdict}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {**self.__dict__, "activations": self.activations, "total": self.total}


def _to_device(batch, device):
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _batch_size_of(batch) -> tuple[int, int | None]:
    """(numel of all tensors, sequence length) of a collated one-item batch."""
    import torch

    tensors = [v for v in (batch.values() if isinstance(batch, dict) else []) if isinstance(v, torch.Tensor)]
    seq = None
    for key in ("input_ids", "attention_mask", "labels", "input_values", "past_values"):
        value = batch.get(key) if isinstance(batch, dict) else None
        if isinstance(value, torch.Tensor) and value.dim() >= 2:
            seq = int(value.shape[1])
            break
    return sum(t.numel() for t in tensors), seq


def _largest_sample(parts: TrainingParts, limit: int = 64):
    """The collated single-item batch with the most input elements among the first ``limit`` items."""
    from transformers import default_data_collator

    collate = parts.data_collator or default_data_collator
    best, best_size, seq = None, -1, None
    for index in range(min(len(parts.train_dataset), limit)):
        batch = collate([parts.train_dataset[index]])
        size, length = _batch_size_of(batch)
        if size > best_size:
            best, best_size, seq = batch, size, length
    return best, seq


def _measure_activations(model, batch, device, dtype) -> int:
    """Bytes autograd saves for backward in one forward pass (activations), parameters excluded."""
    import torch

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, Any] = {}  # address -> storage, held until the end so that no address is reused

    def pack(tensor):
        try:
            storage = tensor.untyped_storage()
            if storage.data_ptr() not in params:
                saved[storage.data_ptr()] = storage
        except (RuntimeError, NotImplementedError):
            pass
        # The graph keeps nothing: the probe never runs backward. (Returning the tensor here left every
        # saved activation alive after the probe: 2.3 GiB for a whole Phi-1.5 training run on a GPU.)

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda _: None):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            output = model(**batch)
    del output
    total = sum(storage.nbytes() for storage in saved.values())
    saved.clear()
    return total


def _checkpointing_switches(model):
    """(enable(kwargs), disable()) for activation checkpointing under either transformers naming."""
    for prefix in ("activation", "gradient"):
        enable = getattr(model, f"{prefix}_checkpointing_enable", None)
        if enable is not None:
            key = f"{prefix}_checkpointing_kwargs"

            def switch_on(kwargs, enable=enable, key=key):
                enable(**{key: kwargs})

            return switch_on, getattr(model, f"{prefix}_checkpointing_disable")
    return None, None


def estimate_memory(model, parts: TrainingParts, recipe, device, dtype) -> MemoryEstimate:
    """Weights + gradients + Adam states from the parameters; activations measured by one forward pass
    of the largest of the first samples (with saved-tensor hooks), times the batch size."""

    from core.device import dtype_name

    total, trainable = count_parameters(model)
    seen, weights, trainable_bytes = set(), 0, 0
    for parameter in model.parameters():
        if parameter.data_ptr() in seen:
            continue
        seen.add(parameter.data_ptr())
        weights += parameter.numel() * parameter.element_size()
        trainable_bytes += parameter.numel() * parameter.element_size() if parameter.requires_grad else 0
    activations, seq = 0, None
    if len(parts.train_dataset):
        import torch

        batch, seq = _largest_sample(parts)
        batch = _to_device(batch, device)
        model.to(device)
        was_training = model.training
        buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
        model.train()
        try:
            # the probe must not change the run: RNG (dropout) and buffers (batch-norm statistics) are restored
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                activations = _measure_activations(model, batch, device, dtype)
                enable, disable = _checkpointing_switches(model)
                if recipe.gradient_checkpointing and enable is not None:
                    layers = getattr(getattr(model, "config", None), "num_hidden_layers", None) or 1
                    enable({"use_reentrant": False})
                    try:
                        # layer inputs kept + one layer recomputed at a time during backward
                        activations = (
                            _measure_activations(model, batch, device, dtype) + activations // layers
                        )
                    finally:
                        disable()
        except Exception as exc:  # noqa: BLE001 - e.g. batch-norm refusing one sample: estimate without
            print(f"note: activation memory not measured ({type(exc).__name__}: {exc})", file=sys.stderr)
            activations = 0
        finally:
            with torch.no_grad():
                for name, buffer in model.named_buffers():
                    if name in buffers:
                        buffer.copy_(buffers[name])
            model.train(was_training)
    return MemoryEstimate(
        total_params=total,
        trainable_params=trainable,
        weights=weights,
        gradients=trainable_bytes,
        optimizer=2 * trainable_bytes,
        activations_per_sample=activations,
        batch_size=recipe.batch_size,
        sequence_length=seq,
        precision=dtype_name(dtype),
        device=str(device),
        free=_free_memory(device, weights),
    )


def _free_memory(device, resident: int) -> int | None:
    """Memory training may use: free device memory plus what our model already holds there."""
    try:
        if device.type == "cuda":
            import torch

            free, _ = torch.cuda.mem_get_info(device)
            return int(free + torch.cuda.memory_allocated(device))
        import psutil

        local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))  # torchrun: each process needs its share
        return int((psutil.virtual_memory().available + resident * local) / local)
    except Exception:  # noqa: BLE001 - unknown free memory just skips the check
        return None


# ================================================================================================
# The run
# ================================================================================================
def _versions() -> dict:
    from importlib import metadata

    from core import __version__

    found = {"transformer-apps": __version__, "python": platform.python_version()}
    for package in ("torch", "transformers", "peft", "accelerate"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def _dist():
    """torch.distributed when a process group of more than one process is up, else None."""
    try:
        import torch.distributed as dist
    except ImportError:
        return None
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


def _agree(value):
    """Rank 0's ``value`` on every rank (run directory names, checkpoint choice)."""
    dist = _dist()
    if dist is None:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _rank() -> int:
    dist = _dist()
    return dist.get_rank() if dist else int(os.environ.get("RANK", "0"))


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


def _check_target(run_dir: Path, resume: bool) -> None:
    if resume or not run_dir.exists():
        return
    if is_run_dir(run_dir) or rundir.checkpoints(run_dir):
        raise AppsError(
            f"{run_dir} already holds a training run",
            hint="add --resume to continue it, or choose another --output.",
        )


def _training_steps(recipe, dataset_size: int, world: int) -> int:
    if recipe.max_steps > 0:
        return recipe.max_steps
    per_step = recipe.batch_size * world
    batches = math.ceil(dataset_size / per_step)
    return max(1, math.ceil(recipe.num_epochs * max(1, batches // recipe.gradient_accumulation_steps)))


def _check_precision(dtype, device) -> None:
    import torch

    if device.type == "cpu" and dtype == torch.float16:
        raise AppsError(
            "precision fp16 needs a CUDA device", hint="use precision=bf16 or precision=fp32 on a CPU"
        )
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise AppsError("this GPU has no bf16", hint="use precision=fp16")


def _training_arguments(recipe, parts, run_dir: Path, device, dtype, label_names):
    import torch
    from transformers import TrainingArguments

    world = int(os.environ.get("WORLD_SIZE", "1"))
    steps = _training_steps(recipe, len(parts.train_dataset), world)
    has_eval = parts.eval_dataset is not None and len(parts.eval_dataset) > 0
    if recipe.early_stopping_patience and not has_eval:
        raise AppsError("early_stopping_patience needs an evaluation set, and this app gave none")
    eval_strategy = ("steps" if recipe.eval_steps else "epoch") if has_eval else "no"
    early = bool(recipe.early_stopping_patience)
    save_steps = recipe.save_steps
    if early and eval_strategy == "steps":
        save_steps = recipe.eval_steps  # load_best_model_at_end needs saves at the evaluations
    kwargs: dict[str, Any] = dict(
        output_dir=str(run_dir),
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=recipe.eval_batch_size or recipe.batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        learning_rate=recipe.learning_rate,
        weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm,
        num_train_epochs=recipe.num_epochs,
        max_steps=recipe.max_steps,
        lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=math.ceil(recipe.warmup_ratio * steps) if recipe.warmup_ratio > 0 else 0,
        logging_strategy="steps",
        logging_steps=recipe.logging_steps,
        save_strategy="epoch" if early and eval_strategy == "epoch" else "steps",
        save_steps=save_steps,
        save_total_limit=recipe.save_total_limit,
        eval_strategy=eval_strategy,
        eval_steps=recipe.eval_steps,
        load_best_model_at_end=early,
        metric_for_best_model=(recipe.metric_for_best_model or "eval_loss")
        if early
        else recipe.metric_for_best_model,
        seed=recipe.seed,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        dataloader_num_workers=recipe.dataloader_workers,
        report_to="none",
        remove_unused_columns=parts.remove_unused_columns,
        label_names=label_names,
        use_cpu=device.type == "cpu",
        ddp_backend="gloo" if device.type == "cpu" and world > 1 else None,
        disable_tqdm=False,
    )
    # transformers 5 renamed gradient_checkpointing* to activation_checkpointing* (old names warn)
    prefix = (
        "activation" if "activation_checkpointing" in TrainingArguments.__dataclass_fields__ else "gradient"
    )
    if recipe.gradient_checkpointing:
        kwargs[f"{prefix}_checkpointing"] = True
        kwargs[f"{prefix}_checkpointing_kwargs"] = {"use_reentrant": False}
    return TrainingArguments(**kwargs)


class RunCallback:
    """Writes the run log, marks whole checkpoints and calls ``on_train_event`` hooks (rank 0 only;
    a stop request is shared with every rank so DDP processes stop together)."""

    def __init__(self, app, run_dir: Path, samples_per_step: int):
        self.app = app
        self.run_dir = run_dir
        self.samples_per_step = samples_per_step
        self.start = self.last_time = time.time()
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
            stop = _agree(stop)
        if stop and event != "train_end":
            print(f"training stopped by a plugin at step {state.global_step}", file=sys.stderr)
            control.should_training_stop = True
            control.should_save = True
        return control

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = self.last_time = time.time()
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
        return self._event("log", args, state, control, logs)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        return self._event("evaluate", args, state, control, metrics or {})

    def on_save(self, args, state, control, **kwargs):
        dist = _dist()
        if dist is not None:
            dist.barrier()  # every rank has written its rng state
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                rundir.mark_complete(folder)
        return self._event("save", args, state, control)

    def on_train_end(self, args, state, control, **kwargs):
        return self._event("train_end", args, state, control)


def _host_memory() -> int:
    """Resident anonymous memory of this process in bytes. File-backed pages (a memory-mapped checkpoint)
    are left out, since the kernel can drop them; the whole RSS where /proc has no RssAnon."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import psutil

    return psutil.Process().memory_info().rss


class TrainingMemory:
    """Peak memory of the training loop (the memory probe and model loading before it excluded): the CUDA
    allocator's peak, and host memory sampled at every step end (``core.bench.PeakMemory`` measures a block
    of code instead). A Jetson takes both from the same DRAM, so their sum is what the board must hold."""

    def __init__(self, device):
        self.device, self.host = device, 0

    def on_train_begin(self, args, state, control, **kwargs):
        import torch

        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.host = _host_memory()

    def on_step_end(self, args, state, control, **kwargs):
        self.host = max(self.host, _host_memory())

    def metrics(self) -> dict:
        import torch

        peaks = {"peak_host_gib": self.host / 2**30}
        if self.device.type == "cuda":
            peaks["peak_cuda_allocated_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
            peaks["peak_cuda_reserved_gib"] = torch.cuda.max_memory_reserved(self.device) / 2**30
        peaks["peak_total_gib"] = peaks["peak_host_gib"] + peaks.get("peak_cuda_reserved_gib", 0.0)
        return peaks

    @staticmethod
    def report(peaks: dict, estimate: MemoryEstimate) -> str:
        """One line: ``peaks`` (from ``metrics()``) beside the estimate."""
        cuda = peaks.get("peak_cuda_reserved_gib")
        cuda = f" + CUDA {cuda:.2f} GiB reserved" if cuda is not None else ""
        return (
            f"measured peak memory while training: host {peaks['peak_host_gib']:.2f} GiB{cuda}"
            f" = {peaks['peak_total_gib']:.2f} GiB (the estimate for {estimate.device}: {_size(estimate.total)})"
        )


def _callback_class(base=None):
    """``base`` (RunCallback by default) as a real TrainerCallback (transformers is imported only when
    training)."""
    from transformers import TrainerCallback

    base = base or RunCallback
    return type(f"Apps{base.__name__}", (base, TrainerCallback), {})


def _base_model_name(parts, recipe, app, model) -> str | None:
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
    import torch
    from transformers import EarlyStoppingCallback, Trainer, set_seed

    from core.device import dtype_name, resolve_device, resolve_dtype

    set_seed(recipe.seed)
    parts = app.training_parts(recipe, **options) if options else app.training_parts(recipe)
    if not isinstance(parts, TrainingParts):
        raise AppsError(f"{type(app).__name__}.training_parts must return core.training.TrainingParts")
    if parts.train_dataset is None or len(parts.train_dataset) == 0:
        raise AppsError("the training set is empty", hint="check the recipe's dataset")
    device = resolve_device("cuda" if torch.cuda.is_available() else "cpu")
    if "LOCAL_RANK" in os.environ and device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    dtype = resolve_dtype(recipe.precision, device)
    _check_precision(dtype, device)

    try:
        from transformers.utils.generic import find_labels

        label_names = parts.label_names or find_labels(type(parts.model)) or None
    except ImportError:
        label_names = parts.label_names
    model = prepare_model(parts, recipe, dtype)
    estimate = estimate_memory(model, parts, recipe, device, dtype)
    planned = Path(run_dir) if run_dir else default_run_dir(app.name, recipe_name, resume)
    if dry_run:
        if _rank() == 0:
            print(f"dry run: {app.name}, {recipe.finetune} fine-tune of {type(parts.model).__name__}")
            print(estimate.report())
            print(f"would write the run to {planned}")
        return planned
    if check_memory and estimate.free is not None and estimate.total > estimate.free:
        raise AppsError(
            f"training needs about {_size(estimate.total)} but only {_size(estimate.free)} is free on {device}",
            hint="lower batch_size (raise gradient_accumulation_steps to keep the effective batch), set "
            "gradient_checkpointing=true, use finetune=lora, shorten the sequences or use precision=bf16/fp16; "
            "'--dry-run' shows the estimate, '--ignore-memory-check' tries anyway.",
        )

    args = _training_arguments(recipe, parts, planned, device, dtype, label_names)
    _ = args.device  # sets up the process group under torchrun, so ranks can agree below
    run_dir = Path(_agree(str(planned)))
    args.output_dir = str(run_dir)
    is_main = _rank() == 0
    checkpoint = None
    if is_main:
        _check_target(run_dir, resume)
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            checkpoint = rundir.last_good_checkpoint(run_dir)
    checkpoint = _agree(str(checkpoint) if checkpoint else None)
    finished = resume and is_run_dir(run_dir) and load_run(run_dir).get("status") == "complete"
    if _agree(finished):
        if is_main:
            print(f"{run_dir} is already complete; nothing to resume")
        return run_dir
    if resume and is_main:
        print(
            f"resuming from {checkpoint}"
            if checkpoint
            else f"no whole checkpoint in {run_dir}: starting over"
        )
        rundir.truncate_log(run_dir, int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0)
    if is_main:
        info = {
            "app": app.name,
            "recipe": recipe_name,
            "finetune": recipe.finetune,
            "base_model": _base_model_name(parts, recipe, app, parts.model),
            "model_class": type(parts.model).__name__,
            "status": "running",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "precision": dtype_name(dtype),
            "device": str(device),
            "world_size": args.world_size,
            "parameters": {"total": estimate.total_params, "trainable": estimate.trainable_params},
            "versions": _versions(),
            **parts.metadata,
        }
        if resume and is_run_dir(run_dir):
            info["created"] = load_run(run_dir).get("created", info["created"])
        from core.recipes import save_recipe

        rundir.atomic_save(run_dir / rundir.RECIPE_FILE, lambda tmp: save_recipe(recipe, tmp))
        rundir.atomic_write_json(run_dir / rundir.RUN_FILE, info)

    samples_per_step = recipe.batch_size * recipe.gradient_accumulation_steps * args.world_size
    memory = _callback_class(TrainingMemory)(device)
    callbacks = [_callback_class()(app, run_dir, samples_per_step), memory, *parts.callbacks]
    if recipe.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=recipe.early_stopping_patience))
    trainer = Trainer(
        model=model,
        args=args,
        data_collator=parts.data_collator,
        train_dataset=parts.train_dataset,
        eval_dataset=parts.eval_dataset if args.eval_strategy != "no" else None,
        compute_metrics=parts.compute_metrics,
        callbacks=callbacks,
    )
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
    peaks = memory.metrics()
    metrics.update(peaks, memory_estimate_gib=estimate.total / 2**30)
    if is_main:
        files = _save_final(trainer, parts, run_dir)
        rundir.atomic_write_json(run_dir / rundir.METRICS_FILE, metrics)
        rundir.plot_loss(run_dir)
        info.update(
            status="complete",
            finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            global_step=trainer.state.global_step,
            model_files=files,
            metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float))},
        )
        rundir.atomic_write_json(run_dir / rundir.RUN_FILE, info)
        print(TrainingMemory.report(peaks, estimate))
        print(f"run directory: {run_dir}")
    dist = _dist()
    if dist is not None:
        dist.barrier()  # nobody leaves before rank 0 has written the run
    return run_dir


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


# ================================================================================================
# Command line
# ================================================================================================
def train_params() -> list:
    """The core options of ``apps train APP`` (apps add their own with ``cli_options("train")``)."""
    import click

    return [
        click.Option(
            ["--recipe", "-r"],
            default=None,
            help="Recipe: a name from 'apps info APP' or a YAML file. Default: the app's default_recipe.",
        ),
        click.Argument(["overrides"], nargs=-1, metavar="[KEY=VALUE]..."),
        click.Option(["--output", "-o"], default=None, help="Run directory (default: runs/APP-RECIPE)."),
        click.Option(
            ["--resume"], is_flag=True, help="Continue from the newest whole checkpoint in the run directory."
        ),
        click.Option(
            ["--dry-run"],
            is_flag=True,
            help="Build the model, print parameters and the peak memory estimate, stop.",
        ),
        click.Option(
            ["--ignore-memory-check"], is_flag=True, help="Train even when the estimate exceeds free memory."
        ),
    ]


def resolve_recipe(app, recipe: str | None, overrides=(), output: str | None = None, resume: bool = False):
    """``(recipe object, recipe name)`` from a registered name or a YAML path plus ``key=value`` overrides."""
    from core.plugins import get_manager, suggest
    from core.recipes import load_recipe

    if app.recipe_class is None:
        raise AppsError(f"the app '{app.name}' declares no recipe_class, so it cannot be trained")
    manager = get_manager()
    if recipe is None and resume and output and (Path(output) / rundir.RECIPE_FILE).is_file():
        path, name = (
            Path(output) / rundir.RECIPE_FILE,
            load_run(output).get("recipe") if is_run_dir(output) else None,
        )
        return load_recipe(app.recipe_class, path, list(overrides)), name
    recipe = recipe or getattr(app, "default_recipe", None)
    if recipe is None:
        known = manager.recipes(app.name)
        raise AppsError(
            f"'apps train {app.name}' needs --recipe",
            hint=f"recipes of {app.name}: {', '.join(sorted(known)) or '(none)'}"
            if known
            else suggest("", known),
        )
    path = manager.recipe_path(app.name, recipe)
    name = recipe if recipe in manager.recipes(app.name) else Path(recipe).stem
    return load_recipe(app.recipe_class, path, profile_overrides(app) + list(overrides)), name


def profile_overrides(app) -> list[str]:
    """The device profile's settings for this app as ``key=value`` (only keys its recipe has), applied
    after the recipe file and before the command line's overrides."""
    import dataclasses

    from core.profiles import get_profile

    profile = get_profile()
    fields = {f.name for f in dataclasses.fields(app.recipe_class)}
    chosen = {key: value for key, value in app.profile_settings(profile).items() if key in fields}
    if chosen:
        print(f"device profile {profile.name}: " + ", ".join(f"{k}={v}" for k, v in chosen.items()), file=sys.stderr)
    return [f"{key}={json.dumps(value)}" for key, value in chosen.items()]


def train_from_cli(
    app,
    recipe=None,
    overrides=(),
    output=None,
    resume=False,
    dry_run=False,
    ignore_memory_check=False,
    **options,
):
    """``apps train APP``: the app's own options (``cli_options("train")``) go to ``training_parts``."""
    loaded, name = resolve_recipe(app, recipe, overrides, output, resume)
    return run_training(
        app,
        loaded,
        run_dir=output,
        resume=resume,
        dry_run=dry_run,
        options=options,
        recipe_name=name,
        check_memory=not ignore_memory_check,
    )


def summary(run_dir: str | Path) -> str:
    """One line about a finished run (for apps that print it)."""
    info = load_run(run_dir)
    return json.dumps({k: info.get(k) for k in ("app", "recipe", "finetune", "global_step", "metrics")})


def train_recipe(app, recipe_name: str, run_dir: str | Path, overrides=(), **options) -> Path:
    """Train one of ``app``'s registered recipes, by name, into ``run_dir`` (as ``apps prepare`` does)."""
    from core.plugins import get_manager
    from core.recipes import load_recipe

    recipe = load_recipe(app.recipe_class, get_manager().recipe_path(app.name, recipe_name), overrides)
    return run_training(app, recipe, run_dir=run_dir, recipe_name=recipe_name, **options)
