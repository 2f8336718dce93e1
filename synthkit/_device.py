"""Device choice and random generators, in one place so no module hard-codes a device."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from synthkit.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["cpu_threads", "make_generator", "resolve_device", "resolve_seed"]


def resolve_device(device: Any = "auto") -> torch.device:
    """Turn ``"auto"``, a name (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) or a device.

    ``"auto"`` picks CUDA, then MPS, then the CPU. Under ``torchrun`` a CUDA device without an
    index becomes ``cuda:LOCAL_RANK``, one GPU per process.

    Raises:
        ConfigError: the name is not a device, or the device is not available here.
    """
    import torch

    if isinstance(device, torch.device):
        dev = device
    elif device is None or device == "auto":
        if torch.cuda.is_available():
            return _local_cuda(torch.device("cuda"))
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ConfigError(
                f"device {device!r} is not a device name; use 'auto', 'cpu', 'cuda' or 'mps'"
            ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use 'auto'")
    return _local_cuda(dev) if dev.type == "cuda" else dev


def _local_cuda(dev: torch.device) -> torch.device:
    from synthkit.training.distributed import dist_info

    info = dist_info()
    if dev.index is None and info.enabled:
        import torch

        torch.cuda.set_device(info.local_rank)
        return torch.device("cuda", info.local_rank)
    return dev


def resolve_seed(random_state: Any) -> int:
    """A 63-bit seed from ``None`` (fresh entropy), an int, or a numpy Generator."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ConfigError(f"random_state must be >= 0, got {random_state}")
        return int(random_state)
    raise ConfigError(
        f"random_state must be None, an int or a numpy Generator, got {type(random_state).__name__}"
    )


def make_generator(seed: int, device: Any = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded with ``seed``."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (``None``: leave as is), then restore.

    Loops of small tensor operations (EM on a few thousand rows) are fastest on one thread:
    intra-op threads only add synchronisation, and on a busy machine spinning threads make
    them several times slower. The setting is process-wide while the block runs.
    """
    import torch

    if n is None or n == torch.get_num_threads():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
