"""One Trainer for every neural backend.

The training table stays on the device and batches are drawn there by index (no DataLoader
round trips for in-memory tables). AdamW, gradient clipping, AMP on CUDA, early stopping on a
validation split (best weights restored), ``max_epochs`` and a wall-clock ``time_budget``.
Under ``torchrun`` each rank trains on its shard and gradients are averaged across ranks:
single-optimiser objectives are wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`;
objectives with several optimisers (a GAN's generator and critic) average their gradients with
one coalesced all-reduce per step, which is what DDP does without the hooks that a
double-backward gradient penalty would trip.

Randomness comes only from the ``generator`` passed to :meth:`Trainer.fit`: batch order, the
validation split, and (through :func:`seeded`) dropout and weight initialisation, so a CPU fit
is bit-for-bit reproducible.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from synthkit.callbacks import notify
from synthkit.training.distributed import all_reduce_mean, broadcast_flag, init_distributed

if TYPE_CHECKING:
    from synthkit.encoding import EncodedTable

__all__ = ["Objective", "TrainResult", "Trainer", "seeded"]

_SINGLE_THREAD_ROWS = 5_000


@contextlib.contextmanager
def seeded(generator: torch.Generator) -> Iterator[int]:
    """Seed torch's global RNG from ``generator`` for the block, then restore it.

    Weight initialisation and dropout use the global RNG; seeding it from the fit's generator
    makes them reproducible without touching the caller's random state.
    """
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    devices = [torch.cuda.current_device()] if generator.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield seed


class Objective(nn.Module):
    """What the :class:`Trainer` optimises: a module whose ``forward(batch)`` is the loss.

    Contract:
        * ``loss(batch)``: scalar training loss of a batch (an :class:`EncodedTable`).
        * ``validation_loss(batch)``: scalar held-out loss used for early stopping (default:
          ``loss``); set ``has_validation = False`` when no such loss exists (GANs).
        * ``param_groups()``: one entry per optimiser (default: everything in ``"main"``).
        * ``train_step(batch, trainer)``: one optimisation step; the default computes the
          loss through ``trainer.model`` (DDP-aware) and calls ``trainer.backward_step``.
          Several optimisers (GANs) override it and call ``backward_step(loss, group)``.
    """

    has_validation: ClassVar[bool] = True

    def forward(self, batch: EncodedTable) -> torch.Tensor:
        """The training loss (what DDP wraps)."""
        return self.loss(batch)

    def loss(self, batch: EncodedTable) -> torch.Tensor:
        """Scalar training loss of ``batch``."""
        raise NotImplementedError

    def validation_loss(self, batch: EncodedTable) -> torch.Tensor:
        """Held-out loss of a batch (lower is better)."""
        return self.loss(batch)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per optimiser."""
        return {"main": [p for p in self.parameters() if p.requires_grad]}

    def train_step(self, batch: EncodedTable, trainer: Trainer) -> dict[str, torch.Tensor]:
        """One step; returns detached metrics to average over the epoch."""
        with trainer.autocast():
            loss = trainer.model(batch)
        trainer.backward_step(loss)
        return {"loss": loss.detach()}


@dataclass
class TrainResult:
    """What happened during training.

    Attributes:
        epochs: epochs run.
        best_epoch: epoch whose weights were kept (the last one without validation).
        best_val: its validation loss (``nan`` without validation).
        stopped: ``"max_epochs"``, ``"early_stopping"`` or ``"time_budget"``.
        seconds: wall-clock training time.
        history: per-epoch metrics.
    """

    epochs: int = 0
    best_epoch: int = 0
    best_val: float = float("nan")
    stopped: str = "max_epochs"
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (without the per-epoch history)."""
        return {
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "best_val": None if math.isnan(self.best_val) else self.best_val,
            "stopped": self.stopped,
            "seconds": self.seconds,
        }


class Trainer:
    """Minimise an :class:`Objective` on an in-memory encoded table.

    Args:
        max_epochs: upper bound on passes over the training rows.
        batch_size: rows per step (per rank under ``torchrun``).
        lr: AdamW learning rate (a float, or ``{group: lr}`` for several optimisers).
        weight_decay: AdamW weight decay.
        betas: AdamW betas.
        grad_clip: maximum gradient norm (``None``: no clipping).
        time_budget: wall-clock seconds after which training stops (``None``: no limit).
        patience: epochs without validation improvement before stopping (``None``: never).
        validation_fraction: share of rows held out for early stopping (0: none).
        amp: mixed precision on CUDA (bfloat16 where supported, else float16 with scaling).
        callbacks: progress callbacks (``on_fit_start``, ``on_step``, ``on_fit_end``).
        desc: label of the progress bar.
    """

    def __init__(
        self,
        *,
        max_epochs: int = 300,
        batch_size: int = 512,
        lr: float | Mapping[str, float] = 1e-3,
        weight_decay: float = 1e-5,
        betas: tuple[float, float] = (0.9, 0.999),
        grad_clip: float | None = 1.0,
        time_budget: float | None = None,
        patience: int | None = 20,
        validation_fraction: float = 0.1,
        amp: bool = True,
        callbacks: Sequence[Any] | None = None,
        desc: str = "train",
    ) -> None:
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.betas = betas
        self.grad_clip = grad_clip
        self.time_budget = time_budget
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.amp = amp
        self.callbacks = callbacks
        self.desc = desc
        self.epoch = 0
        self.progress = 0.0

    # -------------------------------------------------------------- helpers
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed precision on CUDA when ``amp``; a no-op elsewhere."""
        if self._amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self._amp_dtype)

    def backward_step(self, loss: torch.Tensor, group: str = "main") -> None:
        """Backpropagate ``loss`` and step the optimiser of ``group``."""
        opt = self.optimizers[group]
        params = self._groups[group]
        opt.zero_grad(set_to_none=True)
        if self._scaler is not None:
            self._scaler.scale(loss).backward()
        else:
            loss.backward()
        if self._manual_sync:
            _all_reduce_grads(params)
        if self.grad_clip is not None:
            if self._scaler is not None:
                self._scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        if self._scaler is not None:
            self._scaler.step(opt)
            self._scaler.update()
        else:
            opt.step()

    def _lr(self, group: str) -> float:
        return float(self.lr[group] if isinstance(self.lr, Mapping) else self.lr)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        objective: Objective,
        data: EncodedTable,
        *,
        generator: torch.Generator,
        device: torch.device,
    ) -> TrainResult:
        """Train ``objective`` (already on ``device``) on ``data``.

        Returns:
            A :class:`TrainResult`; the objective holds the best weights afterwards.
        """
        from synthkit._device import cpu_threads

        # Steps on a few thousand rows are too small for intra-op threads to pay off; on a
        # busy machine their spinning makes them several times slower (as in the mixtures).
        small = device.type == "cpu" and len(data) < _SINGLE_THREAD_ROWS
        with cpu_threads(1 if small else None):
            return self._fit(objective, data, generator=generator, device=device)

    def _fit(
        self,
        objective: Objective,
        data: EncodedTable,
        *,
        generator: torch.Generator,
        device: torch.device,
    ) -> TrainResult:
        start = time.perf_counter()
        info = init_distributed(device)
        data = data.to(device)
        n = len(data)
        perm = torch.randperm(n, generator=generator, device=device)
        n_val = int(n * self.validation_fraction) if objective.has_validation else 0
        if n - n_val < 2 or n_val < 16:
            n_val = 0
        val_idx, train_idx = perm[:n_val], perm[n_val:]
        if info.enabled:  # equal shards so every rank runs the same number of steps
            per_rank = len(train_idx) // info.world_size
            train_idx = train_idx[info.rank :: info.world_size][:per_rank]
            val_idx = val_idx[info.rank :: info.world_size][: len(val_idx) // info.world_size]
        train = data.rows(train_idx)
        val = data.rows(val_idx) if n_val else None

        self._groups = objective.param_groups()
        self.optimizers = {
            g: torch.optim.AdamW(
                ps, lr=self._lr(g), weight_decay=self.weight_decay, betas=self.betas
            )
            for g, ps in self._groups.items()
        }
        self._amp_dtype = None
        self._scaler = None
        if self.amp and device.type == "cuda":
            if torch.cuda.is_bf16_supported():
                self._amp_dtype = torch.bfloat16
            else:
                self._amp_dtype = torch.float16
                self._scaler = torch.amp.GradScaler("cuda")
        self._manual_sync = False
        self.model: nn.Module = objective
        if info.enabled:
            _broadcast_params(objective)
            # Same weights everywhere, but each rank its own noise stream (dropout, latent
            # draws, a GAN's row draws), or the replicas would repeat each other's samples.
            torch.manual_seed((torch.initial_seed() + 1_000_003 * info.rank) % 2**63)
            if len(self._groups) == 1:
                from torch.nn.parallel import DistributedDataParallel

                self.model = DistributedDataParallel(
                    objective, device_ids=[device.index] if device.type == "cuda" else None
                )
            else:
                self._manual_sync = True

        result = TrainResult()
        best_state: dict[str, torch.Tensor] | None = None
        bad_epochs = 0
        main = info.rank == 0
        if main:
            notify(self.callbacks, "on_fit_start", self.max_epochs, self.desc)
        bs = max(1, min(self.batch_size, len(train)))
        n_batches = max(1, len(train) // bs)  # drop the ragged last batch (BatchNorm, PacGAN)
        out_of_time = False
        try:
            for epoch in range(1, self.max_epochs + 1):
                self.epoch = epoch
                objective.train()
                order = torch.randperm(len(train), generator=generator, device=device)
                sums: dict[str, torch.Tensor] = {}
                for b in range(n_batches):
                    self.progress = self._progress(epoch - 1 + b / n_batches, start)
                    metrics = objective.train_step(train.rows(order[b * bs : (b + 1) * bs]), self)
                    for k, v in metrics.items():
                        sums[k] = sums.get(k, 0.0) + v.float()
                    if not info.enabled and self._out_of_time(start):
                        out_of_time = True
                        break
                row = {k: float(all_reduce_mean(v / (b + 1))) for k, v in sums.items()}
                if val is not None:
                    row["val_loss"] = self._validate(objective, val)
                    if not math.isfinite(row["val_loss"]):
                        raise FloatingPointError(
                            f"validation loss became {row['val_loss']} at epoch {epoch}; "
                            "lower lr or raise grad clipping"
                        )
                    improved = row["val_loss"] < result.best_val - 1e-4 or math.isnan(
                        result.best_val
                    )
                    if improved:
                        result.best_val, result.best_epoch, bad_epochs = row["val_loss"], epoch, 0
                        best_state = _copy_state(objective)
                    else:
                        bad_epochs += 1
                else:
                    result.best_epoch = epoch
                result.epochs = epoch
                result.history.append({"epoch": float(epoch), **row})
                if main:
                    notify(self.callbacks, "on_step", epoch, row)
                out_of_time = broadcast_flag(out_of_time or self._out_of_time(start), device)
                if out_of_time:
                    result.stopped = "time_budget"
                    break
                if self.patience is not None and val is not None and bad_epochs >= self.patience:
                    result.stopped = "early_stopping"
                    break
        finally:
            self.model = objective  # drop the DDP wrapper (and its hooks) after training
        if best_state is not None:
            objective.load_state_dict(best_state)
        objective.eval()
        result.seconds = time.perf_counter() - start
        if main:
            notify(self.callbacks, "on_fit_end", {**result.to_dict(), "best_val": result.best_val})
        return result

    def _progress(self, epochs_done: float, start: float) -> float:
        frac = epochs_done / self.max_epochs
        if self.time_budget:
            frac = max(frac, (time.perf_counter() - start) / self.time_budget)
        return min(1.0, frac)

    def _out_of_time(self, start: float) -> bool:
        return self.time_budget is not None and time.perf_counter() - start > self.time_budget

    @torch.no_grad()
    def _validate(self, objective: Objective, val: EncodedTable) -> float:
        objective.eval()
        total = torch.zeros((), device=val.device)
        chunk = max(self.batch_size * 4, 4096)
        for s in range(0, len(val), chunk):
            part = val.rows(slice(s, s + chunk))
            with self.autocast():
                total += objective.validation_loss(part).float() * len(part)
        objective.train()
        return float(all_reduce_mean(total / len(val)))


def _copy_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _broadcast_params(module: nn.Module) -> None:
    import torch.distributed as dist

    for t in module.state_dict().values():
        dist.broadcast(t, src=0)


def _all_reduce_grads(params: list[nn.Parameter]) -> None:
    """Average gradients across ranks with one flattened all-reduce (DDP's buckets, simplified)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    all_reduce_mean(flat)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
