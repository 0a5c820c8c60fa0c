"""What the engine needs to run unchanged under ``torchrun`` / ``accelerate launch``: this process's rank
and device, and rank 0's choices shared with every rank. In a single process each is a no-op."""

from __future__ import annotations

import os
import sys


def process_group():
    """torch.distributed when a process group of more than one process is up, else None."""
    try:
        import torch.distributed as dist
    except ImportError:
        return None
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


def agree(value):
    """Rank 0's ``value`` on every rank (run directory names, checkpoint choice)."""
    dist = process_group()
    if dist is None:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def rank() -> int:
    """This process's rank: from the process group when it is up, else from torchrun's ``RANK``."""
    dist = process_group()
    return dist.get_rank() if dist else int(os.environ.get("RANK", "0"))


def barrier() -> None:
    """Wait until every rank gets here."""
    dist = process_group()
    if dist is not None:
        dist.barrier()


def shutdown() -> None:
    """Take down the process group that the Trainer started under torchrun (nothing else ends it): left to
    the interpreter's exit, gloo's threads can abort a rank that has finished its work ("terminate called
    without an active exception", exit code -6). Imports nothing: a command that never loaded torch has no
    group."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def training_device():
    """The device this process trains on: its own GPU (``LOCAL_RANK``) under torchrun, else CUDA when
    there is one, else the CPU."""
    import torch

    from core.device import resolve_device

    device = resolve_device("cuda" if torch.cuda.is_available() else "cpu")
    if "LOCAL_RANK" in os.environ and device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device
