"""Multi-process training under ``torchrun``: who am I, and the collectives the Trainer needs.

``torchrun --nproc_per_node=N -m synthkit fit data.parquet`` starts N processes with ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` set. Every rank fits the same encoder (same seed, same data),
trains on its own shard of the rows and averages gradients with the others; only rank 0
writes files (:func:`is_main_process`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["DistInfo", "dist_info", "init_distributed", "is_main_process"]


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and local rank of this process (0, 1, 0 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """More than one process takes part."""
        return self.world_size > 1


def dist_info() -> DistInfo:
    """Read the ``torchrun`` environment (single process when it is absent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(
        rank=int(os.environ.get("RANK", "0")),
        world_size=world,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def is_main_process() -> bool:
    """True on rank 0 (and when not distributed): the process that saves and logs."""
    return dist_info().rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group once (NCCL on CUDA, gloo otherwise); no-op when single-process."""
    info = dist_info()
    if not info.enabled:
        return info
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Average ``tensor`` over ranks in place (identity when not distributed)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor)
        tensor /= dist.get_world_size()
    return tensor


def broadcast_flag(flag: bool, device: Any) -> bool:
    """Rank 0's ``flag`` on every rank, so all ranks stop on the same epoch."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.broadcast(t, src=0)
    return bool(t.item() > 0.5)
