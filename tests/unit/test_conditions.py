"""Conditional sampling through the Synthesizer: API, exactness of the given cells, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthkit import Synthesizer
from synthkit.errors import BackendError, ConfigError, DataValidationError


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 2000
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    x = pd.Series(group).map({"a": 0.0, "b": 4.0, "c": -4.0}).to_numpy() + rng.normal(size=n)
    return pd.DataFrame(
        {
            "group": pd.Series(group, dtype="str"),
            "x": x,
            "k": rng.integers(0, 3, n),
            "amount": np.where(rng.random(n) < 0.3, 0.0, rng.gamma(2.0, 10.0, n)),
        }
    )


@pytest.fixture(scope="module", params=["gmm", "vae", "gan"])
def fitted(request, table) -> Synthesizer:
    params = {
        "gmm": {"n_components": 4},
        "vae": {"epochs": 60, "hidden_dims": (64, 64), "latent_dim": 8},
        "gan": {
            "epochs": 30,
            "generator_dims": (64, 64),
            "critic_dims": (64, 64),
            "batch_size": 100,
        },
    }[request.param]
    return Synthesizer(request.param, params, random_state=0, device="cpu").fit(table)


def test_mapping_conditions_fix_those_columns(fitted, table) -> None:
    out = fitted.sample(500, conditions={"group": "c"}, random_state=0)
    assert (out["group"] == "c").all() and out.dtypes.equals(table.dtypes)
    # The model is conditioned, not just overwritten: x moves towards group c's mean (-4)
    # from the overall mean (about 0.4). A small, briefly trained model: direction only here;
    # test_conditioning_is_accurate (slow) checks the size of the shift.
    free = fitted.sample(500, random_state=0)
    assert out["x"].mean() < free["x"].mean() - 0.5


def test_frame_conditions_are_per_row_and_nulls_are_free(fitted) -> None:
    cond = pd.DataFrame({"group": ["a", "b", None, "c"], "amount": [0.0, None, 5.0, None]})
    out = fitted.sample(conditions=cond, random_state=1)
    assert len(out) == 4
    assert out["group"].iloc[[0, 1, 3]].tolist() == ["a", "b", "c"]
    assert out["amount"].iloc[0] == 0.0 and out["amount"].iloc[2] == 5.0


def test_impossible_conditions_are_listed(fitted) -> None:
    with pytest.raises(DataValidationError) as err:
        fitted.sample(5, conditions={"group": "zz", "x": 1e6, "nope": 1})
    text = str(err.value)
    assert "never seen" in text and "outside the training range" in text and "nope" in text
    assert len(err.value.problems) == 3


def test_bad_condition_arguments(fitted) -> None:
    with pytest.raises(ConfigError, match="give n"):
        fitted.sample(conditions={"group": "a"})
    with pytest.raises(ConfigError, match="rows"):
        fitted.sample(3, conditions=pd.DataFrame({"group": ["a", "b"]}))
    with pytest.raises(ConfigError, match="null"):
        fitted.sample(3, conditions={"group": None})


def test_mixture_conditioning_is_exact(table) -> None:
    # Two correlated Gaussians in one component: x | y is known in closed form.
    rng = np.random.default_rng(1)
    xy = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.8], [0.8, 1.0]], size=4000)
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    syn = Synthesizer(
        "gmm", {"n_components": 1}, continuous_transform="standard", random_state=0
    ).fit(df)
    out = syn.sample(4000, conditions={"y": 1.5}, random_state=0)
    assert out["x"].mean() == pytest.approx(0.8 * 1.5, abs=0.06)
    assert out["x"].std() == pytest.approx(np.sqrt(1 - 0.64), abs=0.04)


def test_backend_without_conditioning_says_which_can(table) -> None:
    syn = Synthesizer("flow", {"epochs": 1}, random_state=0).fit(table)
    with pytest.raises(BackendError, match="vae"):
        syn.sample(3, conditions={"group": "a"})


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["vae", "gan"])
def test_conditioning_is_accurate(backend, table) -> None:
    big = pd.concat([table] * 3, ignore_index=True)
    params = {"vae": {"epochs": 100}, "gan": {"epochs": 100, "batch_size": 200}}[backend]
    syn = Synthesizer(backend, params, random_state=0, device="cpu").fit(big)
    for g, mean in (("b", 4.0), ("c", -4.0)):
        out = syn.sample(1000, conditions={"group": g}, random_state=0)
        assert abs(out["x"].mean() - mean) < 1.0, (g, out["x"].mean())


def test_impute_fills_nulls_and_keeps_the_rest(fitted, table) -> None:
    rows = table.head(40).copy()
    rows.index = rows.index + 100  # the caller's index is kept
    rows.loc[rows.index[:20], "x"] = np.nan
    rows.loc[rows.index[10:30], "group"] = None
    out = fitted.impute(rows, random_state=0)
    assert out.index.equals(rows.index) and list(out.columns) == list(rows.columns)
    assert out["x"].notna().all() and out["group"].notna().all()
    known = rows["x"].notna()
    np.testing.assert_array_equal(out.loc[known, "x"], rows.loc[known, "x"])
    assert (out["group"][rows["group"].notna()] == rows["group"].dropna()).all()
