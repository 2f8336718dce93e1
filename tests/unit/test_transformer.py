"""The transformer backend: exact chain-rule scores, KV-cache decoding, densities, conditioning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from synthkit import Synthesizer
from synthkit.backends.transformer import TransformerBackend
from synthkit.encoding import EncodedTable
from synthkit.nn.binned import binned_edges, binned_log_prob, binned_sample

TINY = {"d_model": 16, "n_layers": 2, "n_heads": 2, "n_bins": 16, "dropout": 0.0}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mixed_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.choice(["p", "q"], size=n)
    noise = rng.random(n) < 0.02
    b = np.where((a == "p") ^ noise, "P", "Q")
    x = np.where(a == "p", 5.0, -5.0) + rng.normal(size=n)
    y = np.where(rng.random(n) < 0.2, np.nan, x + rng.normal(size=n))
    return pd.DataFrame({"a": a, "b": b, "x": x, "y": y})


def _fitted(epochs: int, df: pd.DataFrame | None = None) -> Synthesizer:
    df = _mixed_frame() if df is None else df
    params = {**TINY, "epochs": epochs, "batch_size": 64, "lr": 3e-3}
    return Synthesizer("transformer", params, device="cpu", random_state=0).fit(df)


def test_score_is_the_chain_of_one_by_one_conditionals() -> None:
    syn = _fitted(epochs=2)
    backend: TransformerBackend = syn.backend_
    net = backend.net_
    x, _ = syn._encode(_mixed_frame(40, seed=1))
    with torch.no_grad():
        joint = backend.log_prob(x)
        terms = net(x)  # (n, G) in the columns' own order, one pass
        # One column at a time with the KV cache, as sampling decodes.
        cache, steps = net.body.new_cache(), []
        for g in range(net.n_groups):
            steps.append(net.body.query_step(net.query(len(x))[:, g : g + 1], cache))
            net.body.content_step(net.content(x)[:, g : g + 1], cache)
        one_by_one = net.group_log_prob(torch.cat(steps, 1), x)
        # A column's conditional ignores the later columns: scramble them.
        for g in range(net.n_groups - 1):
            perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(g))
            mixed = EncodedTable(x.continuous.clone(), x.discrete.clone(), x.observed.clone())
            for later in syn.encoder_.layout_.groups[g + 1 :]:
                for c in later.continuous:
                    mixed.continuous[:, c] = x.continuous[perm, c]
                    mixed.observed[:, c] = x.observed[perm, c]
                for d in later.discrete:
                    mixed.discrete[:, d] = x.discrete[perm, d]
            torch.testing.assert_close(net(mixed)[:, g], terms[:, g])
        last = backend.column_log_prob(x)[:, -1]  # the last column's order is the own order
    torch.testing.assert_close(joint, terms.sum(1))
    torch.testing.assert_close(one_by_one, terms, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(last, terms[:, -1], rtol=1e-4, atol=1e-4)


def test_binned_density_integrates_to_one_and_matches_its_samples() -> None:
    edges = binned_edges(16)
    gen = torch.Generator().manual_seed(0)
    params = torch.randn(3, 36, generator=gen) * 2.0
    z = torch.linspace(-40.0, 40.0, 400_001)
    dens = torch.exp(
        binned_log_prob(params.unsqueeze(1).expand(3, len(z), 36), z.expand(3, -1), edges)
    )
    totals = torch.trapezoid(dens.double(), z.double(), dim=1)
    np.testing.assert_allclose(totals.numpy(), 1.0, atol=2e-3)
    # Sampled values fall in the bins with the model's probabilities.
    draws = binned_sample(params[0].expand(200_000, 36), edges, gen)
    inner = (draws > edges[3]) & (draws < edges[9])
    mass = torch.trapezoid(
        dens[0][(z > edges[3]) & (z < edges[9])], z[(z > edges[3]) & (z < edges[9])]
    )
    assert abs(float(inner.float().mean()) - float(mass)) < 0.01


def test_one_column_density_integrates_to_one() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.0, 1.0, 200), rng.normal(8.0, 0.5, 200)])
    df = pd.DataFrame({"x": x})
    params = {**TINY, "epochs": 30, "batch_size": 64, "lr": 3e-3}
    for transform in ("quantile", "standard"):
        syn = Synthesizer(
            "transformer", params, continuous_transform=transform, random_state=0
        ).fit(df)
        # The quantile transform's density jumps at its knots: grid points on both sides.
        grid = [np.linspace(-30.0, 40.0, 100_001)]
        knots = getattr(syn.encoder_.transforms_["x"], "knots", None)
        if knots is not None:
            grid += [knots - 1e-9, knots + 1e-9]
        grid = np.unique(np.concatenate(grid))
        total = np.trapezoid(np.exp(syn.score_samples(pd.DataFrame({"x": grid}))), grid)
        assert 0.99 < total < 1.001, (transform, total)
        # It learned the two modes: more density at the modes than between them.
        at = np.exp(syn.score_samples(pd.DataFrame({"x": [0.0, 4.0, 8.0]})))
        assert at[0] > 3 * at[1] and at[2] > 3 * at[1], transform


def test_conditional_sampling_follows_a_strong_dependency() -> None:
    syn = _fitted(epochs=40)
    for given, a, sign in (("P", "p", 1.0), ("Q", "q", -1.0)):
        fake = syn.sample(400, conditions={"b": given}, random_state=0)
        assert (fake["b"] == given).all()
        assert (fake["a"] == a).mean() > 0.9
        assert (np.sign(fake["x"]) == sign).mean() > 0.9
    # Conditioning on a later column works too (any subset, any position).
    fake = syn.sample(400, conditions={"x": 5.0}, random_state=0)
    assert (fake["a"] == "p").mean() > 0.9


def test_state_dict_round_trip_gives_identical_scores_and_samples() -> None:
    syn = _fitted(epochs=2)
    backend = syn.backend_
    twin = TransformerBackend(**backend.get_params())
    twin.load_state_dict(backend.state_dict(), backend.layout_, "cpu")
    x, _ = syn._encode(_mixed_frame(50, seed=2))
    torch.testing.assert_close(twin.log_prob(x), backend.log_prob(x), rtol=0, atol=0)
    a = backend.sample(30, generator=torch.Generator().manual_seed(3))
    b = twin.sample(30, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a.continuous, b.continuous, rtol=0, atol=0)
    torch.testing.assert_close(a.discrete, b.discrete, rtol=0, atol=0)
