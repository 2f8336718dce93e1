"""The shared Trainer: stopping rules, determinism, callbacks."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from synthkit.encoding import EncodedTable
from synthkit.training import Objective, Trainer, seeded


class _Regression(Objective):
    """Fit y = 2x with a linear model; rows are (x, y) in the continuous block."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(1, 1)
        self.drop = nn.Dropout(0.1)

    def loss(self, batch: EncodedTable) -> torch.Tensor:
        x, y = batch.continuous[:, :1], batch.continuous[:, 1:]
        return ((self.lin(self.drop(x)) - y) ** 2).mean()


def _table(n: int = 400, noise: float = 0.01) -> EncodedTable:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, generator=g)
    y = 2 * x + noise * torch.randn(n, 1, generator=g)
    cont = torch.cat([x, y], 1)
    return EncodedTable(cont, torch.zeros(n, 0, dtype=torch.long), torch.ones_like(cont).bool())


def _fit(seed: int = 0, **kwargs) -> tuple[_Regression, object]:
    gen = torch.Generator().manual_seed(seed)
    with seeded(gen):
        obj = _Regression()
        res = Trainer(**{"max_epochs": 30, "batch_size": 32, "lr": 0.05, **kwargs}).fit(
            obj, _table(), generator=gen, device=torch.device("cpu")
        )
    return obj, res


def test_learns_and_reports() -> None:
    obj, res = _fit()
    assert obj.lin.weight.item() == pytest.approx(2.0, abs=0.2)  # dropout shrinks it a little
    assert res.epochs == len(res.history) and res.best_val < 0.1
    assert res.stopped in ("max_epochs", "early_stopping")


def test_deterministic_for_a_seed() -> None:
    a, _ = _fit(seed=3)
    b, _ = _fit(seed=3)
    c, _ = _fit(seed=4)
    assert torch.equal(a.lin.weight, b.lin.weight)
    assert not torch.equal(a.lin.weight, c.lin.weight)


def test_early_stopping_restores_best_weights() -> None:
    _, res = _fit(max_epochs=500, patience=3, lr=0.05)
    assert res.stopped == "early_stopping" and res.epochs < 500
    assert res.best_epoch <= res.epochs - 3
    best = min(h["val_loss"] for h in res.history)
    assert res.best_val == pytest.approx(best)


def test_time_budget_stops_training() -> None:
    start = time.perf_counter()
    _, res = _fit(max_epochs=100_000, patience=None, time_budget=0.5)
    assert res.stopped == "time_budget"
    assert time.perf_counter() - start < 5


def test_callbacks_see_every_epoch() -> None:
    seen: dict[str, list] = {"start": [], "step": [], "end": []}

    class Spy:
        def on_fit_start(self, total, desc):
            seen["start"].append((total, desc))

        def on_step(self, step, metrics):
            seen["step"].append((step, dict(metrics)))

        def on_fit_end(self, metrics):
            seen["end"].append(dict(metrics))

    _fit(max_epochs=5, patience=None, callbacks=[Spy()], desc="unit")
    assert seen["start"] == [(5, "unit")]
    assert [s for s, _ in seen["step"]] == [1, 2, 3, 4, 5]
    assert {"loss", "val_loss"} <= set(seen["step"][0][1])
    assert seen["end"][0]["epochs"] == 5


def test_non_finite_validation_loss_is_a_clear_error() -> None:
    class Exploding(_Regression):
        def validation_loss(self, batch):
            return torch.tensor(float("nan"))

    gen = torch.Generator().manual_seed(0)
    with pytest.raises(FloatingPointError, match="lower lr"):
        Trainer(max_epochs=3).fit(Exploding(), _table(), generator=gen, device=torch.device("cpu"))
