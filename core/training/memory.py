"""Training memory: the peak estimate made before training (parameters, gradients, Adam states and measured
activations), the check that it fits, and the peaks measured while training."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from core.errors import AppsError
from core.training.arguments import CHECKPOINTING
from core.training.finetune import count_parameters
from core.training.parts import TrainingParts


def _size(count: int) -> str:
    """A byte count in the largest binary unit that keeps it at least 1 (``1.50 GiB``)."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.2f} {unit}"
    return f"{count} B"


@dataclass
class MemoryEstimate:
    """Peak training memory in bytes, by part, for one device and batch size; ``free`` is what that device
    has for training (None when unknown)."""

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
    """``batch`` (tensors, possibly nested in dicts, lists and tuples) moved to ``device``."""
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
    """Bytes autograd saves for backward in one forward pass (activations), parameters excluded.

    Each saved storage is counted once, and none is kept: a weak reference per address tells a storage
    still alive (counted already) from a new one at the address of a freed one (counted again, since
    backward would keep both). The probe so holds about what a forward pass without autograd holds, not
    every activation at once (with gradient checkpointing that was more than training holds; issue 23)."""
    import torch
    from torch.multiprocessing.reductions import StorageWeakRef

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, StorageWeakRef] = {}  # address -> the storage counted there, while it lives
    total = 0

    def pack(tensor):
        nonlocal total
        try:
            storage = tensor.untyped_storage()
            address = storage.data_ptr()
            if address not in params and (address not in seen or seen[address].expired()):
                seen[address] = StorageWeakRef(storage)
                total += storage.nbytes()
        except (RuntimeError, NotImplementedError):
            pass
        # The graph keeps nothing: the probe never runs backward, and returning the tensor here would keep
        # every saved activation alive after the probe, for the whole run.

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda _: None):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            output = model(**batch)
    del output
    seen.clear()
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
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), probe_heap():
                activations = _measure_activations(model, batch, device, dtype)
                enable, disable = _checkpointing_switches(model)
                if recipe.gradient_checkpointing and enable is not None:
                    layers = getattr(getattr(model, "config", None), "num_hidden_layers", None) or 1
                    enable(dict(CHECKPOINTING))
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


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
PROBE_MMAP_THRESHOLD = 128 * 2**10  # glibc's initial threshold
TRAIN_MMAP_THRESHOLD = 32 * 2**20  # the most glibc's dynamic threshold grows to (64-bit)
# what the dynamic rule pairs with it (twice the mmap threshold): a fixed mmap threshold leaves the trim
# threshold at 128 KiB, and the heap would then be handed back and faulted in again at every step
TRAIN_TRIM_THRESHOLD = 2 * TRAIN_MMAP_THRESHOLD


def _glibc():
    """glibc through ctypes, or None (not Linux, musl, or the user tunes malloc with MALLOC_* variables)."""
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


@contextlib.contextmanager
def probe_heap():
    """While the memory probe runs, large blocks are mapped and unmapped one by one instead of coming from
    the C heap, and afterwards the heap's free pages go back to the system.

    glibc raises its mmap threshold as large blocks are freed, and from then on serves them from the heap,
    whose freed pages stay resident: a probe forward pass that holds ~100 MB at a time left ~1.2 GB
    resident at Phi-1.5 width (issue 23), more than training itself holds with gradient checkpointing.
    Afterwards the threshold is set to the ceiling the dynamic rule grows to, so training allocates as
    it did before (a fixed threshold has no dynamic rule any more)."""
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(M_MMAP_THRESHOLD, PROBE_MMAP_THRESHOLD)
    try:
        yield
    finally:
        libc.mallopt(M_MMAP_THRESHOLD, TRAIN_MMAP_THRESHOLD)
        libc.mallopt(M_TRIM_THRESHOLD, TRAIN_TRIM_THRESHOLD)
        libc.malloc_trim(0)


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


def check_fits(estimate: MemoryEstimate) -> None:
    """Refuse to train, with advice, when the estimate exceeds the free memory (unknown free memory passes)."""
    if estimate.free is not None and estimate.total > estimate.free:
        raise AppsError(
            f"training needs about {_size(estimate.total)} but only {_size(estimate.free)} is free on "
            f"{estimate.device}",
            hint="lower batch_size (raise gradient_accumulation_steps to keep the effective batch), set "
            "gradient_checkpointing=true, use finetune=lora, shorten the sequences or use precision=bf16/fp16; "
            "'--dry-run' shows the estimate, '--ignore-memory-check' tries anyway.",
        )


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
