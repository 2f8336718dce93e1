"""The backend contract: every registered backend must pass every check here.

Each check is a plain ``check_*(name, device)`` function (scikit-learn's ``check_estimator``
style); ``test_contract`` parametrises them over the registry, so a new backend is covered
by registering it. Statistical checks use fixed seeds and margins wide enough to stay stable
across platforms; they test direction and normalisation, not exact values.

Default hyper-parameters are shrunk (``FAST_PARAMS``) so the suite stays fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from synthkit import AnomalyDetector, Synthesizer, load
from synthkit.backends import available, get_backend_class
from synthkit.errors import BackendError, NotFittedError

# Small settings per backend so the contract runs in seconds; new backends add theirs here.
FAST_PARAMS: dict[str, dict] = {
    "diffusion": {"epochs": 60, "width": 64, "depth": 2, "batch_size": 128, "lr": 3e-3},
    "flow": {"epochs": 30, "hidden_dims": (32,), "n_transforms": 1, "batch_size": 128, "lr": 3e-3},
    "gmm": {"n_components": 3, "max_iter": 30},
    "naive_bayes": {"n_classes": 3, "max_iter": 30},
    "transformer": {
        "epochs": 30,
        "d_model": 32,
        "n_layers": 2,
        "n_bins": 32,
        "dropout": 0.0,
        "batch_size": 128,
        "lr": 3e-3,
        "patience": 5,
    },
    "vae": {
        "epochs": 40,
        "hidden_dims": (64, 64),
        "latent_dim": 8,
        "batch_size": 128,
        "n_importance": 8,
    },
    "gan": {"epochs": 30, "generator_dims": (64, 64), "critic_dims": (64, 64), "batch_size": 100},
}


def contract_table(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Mixed table with dependencies, nulls, a spike, an integer and an ordered category."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    shift = pd.Series(group).map({"a": 0.0, "b": 3.0, "c": -3.0}).to_numpy()
    x = shift + rng.normal(size=n)
    y = 2.0 * x + rng.normal(scale=0.5, size=n)
    y[rng.random(n) < 0.1] = np.nan
    amount = np.where(rng.random(n) < 0.3, 0.0, np.exp(rng.normal(3 + 0.3 * x, 0.5)))
    count = rng.poisson(np.exp(1 + 0.2 * np.abs(x))).astype(np.int64) + 40
    flag = (x + rng.normal(size=n)) > 0
    size = pd.Categorical(
        rng.choice(["S", "M", "L"], size=n), categories=["S", "M", "L"], ordered=True
    )
    city = pd.Series(np.where(rng.random(n) < 0.05, None, rng.choice(["x1", "x2"], size=n)))
    return pd.DataFrame(
        {
            "group": pd.Series(group, dtype="str"),
            "x": x,
            "y": y,
            "amount": amount,
            "count": count,
            "flag": flag,
            "size": size,
            "city": city.astype("str").where(city.notna()),
        }
    )


def _fit(name: str, device: str, seed: int = 0, df: pd.DataFrame | None = None) -> Synthesizer:
    df = contract_table() if df is None else df
    return Synthesizer(name, FAST_PARAMS.get(name), device=device, random_state=seed).fit(df)


def check_fit_returns_self(name: str, device: str) -> None:
    syn = Synthesizer(name, FAST_PARAMS.get(name), device=device, random_state=0)
    assert syn.fit(contract_table()) is syn
    check_is_fitted(syn)
    assert syn.n_features_in_ == 8
    assert syn.backend_.layout_ is not None


def check_unfitted_raises(name: str, device: str) -> None:
    syn = Synthesizer(name, device=device)
    with pytest.raises(NotFittedError):
        syn.sample(3)
    with pytest.raises(NotFittedError):
        syn.score_samples(contract_table(10))


def check_clone_and_params(name: str, device: str) -> None:
    syn = Synthesizer(
        name, {"alpha": 0.7} if "alpha" in get_backend_class(name)().get_params() else None
    )
    twin = clone(syn)
    assert twin.get_params() == syn.get_params()
    twin.set_params(random_state=3)
    assert twin.random_state == 3 and syn.random_state is None
    backend = get_backend_class(name)(**FAST_PARAMS.get(name, {}))
    by_instance = Synthesizer(backend, device=device, random_state=0).fit(contract_table())
    assert by_instance.backend_ is not backend  # cloned, the given instance stays unfitted
    assert not hasattr(backend, "layout_")


def check_sample_keeps_schema(name: str, device: str) -> None:
    df = contract_table(800)
    syn = _fit(name, device, df=df)
    fake = syn.sample(4000, random_state=1)
    assert list(fake.columns) == list(df.columns)
    assert fake.dtypes.to_dict() == df.dtypes.to_dict()
    assert list(fake["size"].cat.categories) == ["S", "M", "L"] and fake["size"].cat.ordered
    assert set(fake["group"].dropna()) <= set(df["group"])
    assert fake["count"].min() >= df["count"].min() and fake["count"].max() <= df["count"].max()
    for col in ("y", "city"):
        assert abs(fake[col].isna().mean() - df[col].isna().mean()) < 0.03, col
    # The spike at 0 is reproduced as an exact value with about the right share.
    assert abs((fake["amount"] == 0).mean() - (df["amount"] == 0).mean()) < 0.05


def check_log_prob_finite_and_informative(name: str, device: str) -> None:
    df = contract_table(800)
    syn = _fit(name, device, df=df)
    if not get_backend_class(name).has_log_prob:
        # No likelihood: a clear error naming the backends that have one; the backend's own
        # normality score (what AnomalyDetector uses) must still be informative.
        with pytest.raises(BackendError, match="gmm"):
            syn.score_samples(df)
        ll = syn.normality_scores(df)
    else:
        ll = syn.score_samples(df)
    assert ll.shape == (len(df),) and ll.dtype == np.float64
    assert np.isfinite(ll).all()
    # Shuffling each column independently keeps the marginals but breaks the dependencies.
    rng = np.random.default_rng(0)
    shuffled = df.apply(lambda s: s.sample(frac=1.0, random_state=rng).to_numpy())
    shuffled["size"] = pd.Categorical(shuffled["size"], categories=["S", "M", "L"], ordered=True)
    if get_backend_class(name).has_log_prob:
        assert ll.mean() > syn.score_samples(shuffled).mean() + 0.5
    else:
        assert ll.mean() > syn.normality_scores(shuffled).mean()


def _integration_grid(syn: Synthesizer, col: str, lo: float, hi: float) -> np.ndarray:
    # The quantile transform's density jumps at its knots: put grid points on both sides of
    # each knot so the trapezoid rule integrates every piece accurately.
    grid = [np.linspace(lo, hi, 40_001)]
    knots = getattr(syn.encoder_.transforms_[col], "knots", None)
    if knots is not None:
        grid += [knots - 1e-9, knots + 1e-9, (knots[1:] + knots[:-1]) / 2]
    return np.unique(np.concatenate(grid))


def check_density_normalised(name: str, device: str) -> None:
    # exp(score_samples) must integrate to 1 over the ORIGINAL space: the Jacobian check.
    if not get_backend_class(name).has_log_prob:
        pytest.skip("no likelihood")
    rng = np.random.default_rng(0)
    c = rng.choice(["u", "v"], size=600)
    x = np.where(c == "u", rng.lognormal(1.0, 0.5, 600), 20 + rng.gamma(2.0, 2.0, 600))
    df = pd.DataFrame({"x": x, "c": pd.Series(c, dtype="str")})
    for transform in ("quantile", "standard"):
        syn = Synthesizer(
            name,
            FAST_PARAMS.get(name),
            continuous_transform=transform,
            device=device,
            random_state=0,
        ).fit(df)
        grid = _integration_grid(syn, "x", -60, 140)
        total = 0.0
        for cat in ("u", "v"):
            probe = pd.DataFrame({"x": grid, "c": pd.Series([cat] * len(grid), dtype="str")})
            total += np.trapezoid(np.exp(syn.score_samples(probe)), grid)
        if get_backend_class(name).exact_log_prob:
            # Slightly below 1: the smoothing leaves a little mass for categories never seen.
            assert 0.98 < total <= 1.001, (transform, total)
        else:
            # An estimate (IWAE) or a bound (an ELBO): exp of it integrates to about 1 (an
            # unbiased estimate of the density) or less (a bound), never clearly more. A bound
            # may be loose on this toy's sharp clusters (diffusion's ELBO gives ~0.55 with
            # the standard transform); a missing Jacobian factor would be off by far more.
            assert 0.4 < total < 1.05, (transform, total)


def check_unseen_category_scored_low(name: str, device: str) -> None:
    df = contract_table(400)
    syn = _fit(name, device, df=df)
    probe = df.head(20).copy()
    base = syn.normality_scores(probe)
    probe["group"] = "never-seen"
    ll = syn.normality_scores(probe)
    assert np.isfinite(ll).all() and (ll < base).all()


def check_save_load_roundtrip(name: str, device: str, tmp_path) -> None:
    df = contract_table(300)
    syn = _fit(name, device, df=df)
    syn.save(tmp_path / "m")
    loaded = load(tmp_path / "m", device=device)
    pd.testing.assert_frame_equal(
        syn.sample(500, random_state=7), loaded.sample(500, random_state=7)
    )
    # The default sample sequence continues where the saved model was.
    pd.testing.assert_frame_equal(syn.sample(200), loaded.sample(200))
    np.testing.assert_allclose(
        syn.normality_scores(df), loaded.normality_scores(df), rtol=1e-6
    )


def check_deterministic(name: str, device: str) -> None:
    if device != "cpu":
        pytest.skip("bitwise determinism is only promised on CPU")
    a, b = _fit(name, device, seed=5), _fit(name, device, seed=5)
    pd.testing.assert_frame_equal(a.sample(300), b.sample(300))
    np.testing.assert_array_equal(
        a.normality_scores(contract_table(50)), b.normality_scores(contract_table(50))
    )
    # Consecutive calls continue the sequence; they do not reseed (scikit-learn #10539).
    assert not a.sample(50).equals(a.sample(50))


def check_explain(name: str, device: str) -> None:
    cls = get_backend_class(name)
    det = AnomalyDetector(
        name, FAST_PARAMS.get(name), contamination=0.05, device=device, random_state=0
    )
    df = contract_table(500)
    det.fit(df)
    np.testing.assert_array_equal(det.labels_, det.predict(df))
    assert set(np.unique(det.labels_)) <= {-1, 1}
    assert abs((det.labels_ == -1).mean() - 0.05) < 0.02
    probe = df.head(30).copy()
    probe.loc[probe.index[:10], "x"] = 40.0  # far outside the training range
    if not cls.supports_explain:
        with pytest.raises(BackendError):
            det.explain(probe)
        return
    ex = det.explain(probe, top_k=2)
    assert list(ex.columns) == [
        "score",
        "top1_column",
        "top1_log_prob",
        "top1_tail",
        "top2_column",
        "top2_log_prob",
        "top2_tail",
    ]
    assert (ex["top1_column"].iloc[:10] == "x").mean() >= 0.8
    assert (det.predict(probe)[:10] == -1).all()


CHECKS = [
    check_fit_returns_self,
    check_unfitted_raises,
    check_clone_and_params,
    check_sample_keeps_schema,
    check_log_prob_finite_and_informative,
    check_density_normalised,
    check_unseen_category_scored_low,
    check_save_load_roundtrip,
    check_deterministic,
    check_explain,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", available())
def test_contract(name: str, check, device: str, tmp_path) -> None:
    if check is check_save_load_roundtrip:
        check(name, device, tmp_path)
    else:
        check(name, device)
