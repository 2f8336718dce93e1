"""The flow backend's likelihood is exact: normalised, marginalises nulls, agrees with sampling."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from synthkit.backends.flow import FlowBackend
from synthkit.encoding import ColumnGroup, EncodedTable, FeatureLayout

FAST = {"epochs": 25, "hidden_dims": (32,), "n_transforms": 2, "batch_size": 256, "lr": 3e-3}
CPU = torch.device("cpu")


def _fit(table: EncodedTable, layout: FeatureLayout) -> FlowBackend:
    gen = torch.Generator().manual_seed(0)
    return FlowBackend(**FAST).fit(table, layout, device=CPU, generator=gen)


def _bimodal(n: int, seed: int) -> EncodedTable:
    g = torch.Generator().manual_seed(seed)
    side = torch.where(torch.rand(n, generator=g) < 0.4, -2.0, 1.5)
    x = (side + 0.4 * torch.randn(n, generator=g))[:, None]
    return EncodedTable(x, torch.zeros(n, 0, dtype=torch.long), torch.ones_like(x, dtype=bool))


@pytest.fixture(scope="module")
def bimodal_flow() -> FlowBackend:
    return _fit(_bimodal(3000, 0), FeatureLayout(1, (), (ColumnGroup("x", (0,)),)))


def _grid_table(grid: torch.Tensor) -> EncodedTable:
    x = grid[:, None]
    return EncodedTable(x, torch.zeros(len(x), 0, dtype=torch.long), torch.ones_like(x, dtype=bool))


def test_density_integrates_to_one_and_beats_a_gaussian(bimodal_flow: FlowBackend) -> None:
    torch.set_num_threads(1)
    grid = torch.linspace(-12, 12, 24_001)
    density = bimodal_flow.log_prob(_grid_table(grid)).exp().numpy()
    assert np.trapezoid(density, grid.numpy()) == pytest.approx(1.0, abs=2e-3)
    # Held-out NLL: far better than the best single Gaussian (which cannot be bimodal).
    train, test = _bimodal(3000, 0).continuous[:, 0], _bimodal(2000, 1)
    mu, sd = train.mean(), train.std()
    gauss = -0.5 * ((test.continuous[:, 0] - mu) / sd) ** 2 - sd.log() - 0.5 * math.log(2 * math.pi)
    assert bimodal_flow.log_prob(test).mean() > gauss.mean() + 0.3


def test_sampling_agrees_with_the_density(bimodal_flow: FlowBackend) -> None:
    torch.set_num_threads(1)
    draws = bimodal_flow.sample(20_000, generator=torch.Generator().manual_seed(1)).continuous
    edges = torch.tensor([-12.0, -3.0, -2.0, -1.0, 0.0, 1.0, 1.5, 2.0, 3.0, 12.0])
    grid = torch.linspace(-12, 12, 24_001)
    density = bimodal_flow.log_prob(_grid_table(grid)).exp()
    for lo, hi in itertools.pairwise(edges.tolist()):
        inside = (grid >= lo) & (grid <= hi)
        mass = np.trapezoid(density[inside].numpy(), grid[inside].numpy())
        share = ((draws >= lo) & (draws < hi)).float().mean().item()
        assert share == pytest.approx(mass, abs=0.015), (lo, hi)


def test_null_is_marginalised_exactly() -> None:
    # Column b has a null state (code 1); where it is null its float is unobserved.
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    n = 3000
    a = torch.randn(n, generator=g)
    null = torch.rand(n, generator=g) < torch.where(a > 0, 0.35, 0.1)
    b = 0.8 * a + 0.6 * torch.randn(n, generator=g)
    placeholder = torch.randn(n, generator=g)  # what the encoder puts in unobserved cells
    table = EncodedTable(
        torch.stack([a, torch.where(null, placeholder, b)], 1),
        null.long()[:, None],
        torch.stack([torch.ones(n, dtype=bool), ~null], 1),
    )
    layout = FeatureLayout(2, (2,), (ColumnGroup("a", (0,)), ColumnGroup("b", (1,), (0,))))
    flow = _fit(table, layout)

    # The placeholder is never read: another value gives the same log-probability.
    shift = torch.tensor([0.0, 3.0])  # only b's (unobserved) float moves
    moved = EncodedTable(table.continuous + shift, table.discrete, table.observed)
    rows = null.nonzero().squeeze(1)
    torch.testing.assert_close(flow.log_prob(table.rows(rows)), flow.log_prob(moved.rows(rows)))

    # Integrating p(a, b = null) over a gives P(null); p(a, b, regular) over (a, b): P(regular).
    net = flow.net_
    codes = torch.tensor([[0], [1]])
    p_state = net.discrete_log_prob(codes, net._onehot(codes)).exp()
    assert p_state.sum().item() == pytest.approx(1.0, abs=1e-5)
    grid = torch.linspace(-9, 9, 1801)
    m = len(grid)
    nulls = EncodedTable(
        torch.stack([grid, torch.zeros(m)], 1),
        torch.ones(m, 1, dtype=torch.long),
        torch.stack([torch.ones(m, dtype=bool), torch.zeros(m, dtype=bool)], 1),
    )
    mass_null = np.trapezoid(flow.log_prob(nulls).exp().numpy(), grid.numpy())
    assert mass_null == pytest.approx(p_state[1].item(), rel=2e-3)
    assert 0.15 < mass_null < 0.30  # and it learnt the null rate (about 0.225)
    coarse = torch.linspace(-9, 9, 721)
    ga, gb = torch.meshgrid(coarse, coarse, indexing="ij")
    k = ga.numel()
    regular = EncodedTable(
        torch.stack([ga.reshape(-1), gb.reshape(-1)], 1),
        torch.zeros(k, 1, dtype=torch.long),
        torch.ones(k, 2, dtype=bool),
    )
    dens = flow.log_prob(regular).exp().reshape(ga.shape).numpy()
    mass_regular = np.trapezoid(np.trapezoid(dens, coarse.numpy(), axis=1), coarse.numpy())
    assert mass_regular == pytest.approx(p_state[0].item(), rel=5e-3)
