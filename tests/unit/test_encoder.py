"""TableEncoder: reversible encoding, layout, log-Jacobians, spikes, rare and unseen values."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from synthkit import Synthesizer
from synthkit.encoding import EncodedTable, FeatureLayout, TableEncoder
from synthkit.encoding.transforms import CategoricalTransform, ContinuousTransform
from synthkit.schema import infer_schema

TABLES = ["adult", "california", "diamonds", "small_mixed"]


@pytest.fixture(params=TABLES)
def table(request: pytest.FixtureRequest) -> pd.DataFrame:
    """A few thousand rows of each real table (and the small mixed one, with datetimes)."""
    df = request.getfixturevalue(request.param)
    return df.sample(min(len(df), 3000), random_state=0).reset_index(drop=True)


def _encoder(df: pd.DataFrame, **kwargs) -> tuple[TableEncoder, EncodedTable]:
    enc = TableEncoder(**kwargs)
    train = enc.fit_transform(df, infer_schema(df), np.random.default_rng(0))
    return enc, train


def _assert_same_frame(back: pd.DataFrame, df: pd.DataFrame, enc: TableEncoder) -> None:
    assert list(back.columns) == list(df.columns)
    assert back.dtypes.to_dict() == df.dtypes.to_dict()
    for col in enc.schema_.columns:
        a, b = df[col.name], back[col.name]
        np.testing.assert_array_equal(b.isna().to_numpy(), a.isna().to_numpy(), err_msg=col.name)
        a, b = a[a.notna()], b[a.notna()]
        if col.kind in ("numeric", "integer"):
            x, y = a.to_numpy(np.float64), b.to_numpy(np.float64)
            # The continuous block is float32: exact up to ~1e-7 of the column's range.
            tol = 1e-5 * (x.max() - x.min()) if col.kind == "numeric" else 0.0
            assert np.max(np.abs(x - y)) <= tol, col.name
        else:
            assert (a == b).all(), col.name


# ------------------------------------------------------------------- round trips
def test_round_trip_reproduces_the_frame(table: pd.DataFrame) -> None:
    # min_category_count=1: no collapse, so every category comes back as it was.
    enc, _ = _encoder(table, min_category_count=1)
    encoded, logj = enc.transform(table)
    back = enc.inverse_transform(encoded, np.random.default_rng(0))
    _assert_same_frame(back, table, enc)
    assert np.isfinite(logj).all()


def test_standard_transform_round_trip(small_mixed: pd.DataFrame) -> None:
    enc, _ = _encoder(small_mixed, continuous="standard")
    encoded, logj = enc.transform(small_mixed)
    _assert_same_frame(enc.inverse_transform(encoded, np.random.default_rng(0)), small_mixed, enc)
    assert np.isfinite(logj).all()


def test_layout_matches_tensors(table: pd.DataFrame) -> None:
    enc, train = _encoder(table)
    layout = enc.layout_
    schema = enc.schema_
    for t in (train, enc.transform(table)[0]):
        assert len(t) == len(table)
        assert t.continuous.dtype == torch.float32 and t.discrete.dtype == torch.int64
        assert t.observed.dtype == torch.bool
        assert t.continuous.shape == (len(table), layout.n_continuous)
        assert t.observed.shape == t.continuous.shape
        assert t.discrete.shape == (len(table), layout.n_discrete)
        assert torch.isfinite(t.continuous).all()
        cards = torch.tensor(layout.cardinalities)
        assert ((t.discrete >= 0) & (t.discrete < cards)).all()
    # Groups follow the modelled columns and cover every feature exactly once.
    assert [g.name for g in layout.groups] == [c.name for c in schema.modeled]
    cont = sorted(i for g in layout.groups for i in g.continuous)
    disc = sorted(i for g in layout.groups for i in g.discrete)
    assert cont == list(range(layout.n_continuous)) and disc == list(range(layout.n_discrete))
    assert FeatureLayout.from_dict(json.loads(json.dumps(layout.to_dict()))) == layout
    _, logj = enc.transform(table)
    assert logj.shape == (len(table), len(schema.modeled)) and np.isfinite(logj).all()


def test_adult_layout(adult: pd.DataFrame) -> None:
    enc, _ = _encoder(adult.head(3000))
    t = enc.transforms_
    # Few-level integers are categories; wide ones continuous.
    assert isinstance(t["education-num"], CategoricalTransform)
    assert isinstance(t["age"], ContinuousTransform) and t["age"].integer
    # Nullable categoricals have a null code before the other code.
    wc = t["workclass"]
    assert wc.nullable and wc.null_code == len(wc.kept) and wc.other_code == wc.null_code + 1
    assert enc.layout_.cardinalities[enc.layout_.group("sex").discrete[0]] == 3  # F, M, other


# ------------------------------------------------------------------------ spikes
def test_spike_is_a_state_and_decoded_exactly(adult: pd.DataFrame) -> None:
    df = adult.head(3000)
    enc, train = _encoder(df)
    t = enc.transforms_["capital-gain"]
    assert isinstance(t, ContinuousTransform) and 0.0 in t.spikes
    g = enc.layout_.group("capital-gain")
    zero = (df["capital-gain"] == 0).to_numpy(copy=True)  # writable, for torch indexing
    assert zero.mean() > 0.8
    encoded, logj = enc.transform(df)
    state = encoded.discrete[:, g.discrete[0]].numpy()
    spike_state = 1 + int(t.nullable) + t.spikes.index(0.0)
    np.testing.assert_array_equal(state == spike_state, zero)
    assert not encoded.observed[zero, g.continuous[0]].any()
    assert encoded.observed[~zero, g.continuous[0]].all()
    # Spike rows contribute a pmf (no Jacobian term); regular rows a density.
    col = [c.name for c in enc.schema_.modeled].index("capital-gain")
    assert (logj[zero, col] == 0).all() and np.isfinite(logj[~zero, col]).all()
    back = enc.inverse_transform(encoded, np.random.default_rng(0))
    np.testing.assert_array_equal(back["capital-gain"] == 0, zero)
    # In training, spike rows get placeholders drawn from the regular values, not one value.
    placeholders = train.continuous[zero, g.continuous[0]]
    assert placeholders.unique().numel() > 10


def test_decoded_samples_reproduce_the_spike(adult: pd.DataFrame) -> None:
    df = adult.head(3000)
    syn = Synthesizer("gmm", {"n_components": 4, "max_iter": 30}, device="cpu", random_state=0)
    fake = syn.fit(df).sample(4000, random_state=0)
    share, fake_share = (df["capital-gain"] == 0).mean(), (fake["capital-gain"] == 0).mean()
    assert abs(share - fake_share) < 0.03
    assert fake["capital-gain"].between(df["capital-gain"].min(), df["capital-gain"].max()).all()


# --------------------------------------------------------------- rare / unseen
def _rare_frame(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    city = np.array(["Oslo"] * (n // 2) + ["Rome"] * (n // 2 - 3) + ["Lima", "Lima", "Kyiv"])
    return pd.DataFrame(
        {"city": pd.Series(rng.permutation(city), dtype="str"), "x": rng.normal(size=n)}
    )


def test_rare_categories_are_collapsed_and_decoded_by_frequency() -> None:
    df = _rare_frame()
    enc, train = _encoder(df, min_category_count=5)
    t = enc.transforms_["city"]
    assert t.kept == ["Oslo", "Rome"] and t.rare == ["Kyiv", "Lima"] and t.rare_counts == [1, 2]
    assert enc.layout_.cardinalities == (3,)
    rare = df["city"].isin(["Lima", "Kyiv"]).to_numpy(copy=True)
    assert (train.discrete[rare, 0] == t.other_code).all()
    assert (train.discrete[~rare, 0] < t.other_code).all()
    _, logj = enc.transform(df)
    assert np.isfinite(logj).all()
    # The pmf within the other bucket is the (smoothed) training frequency.
    lima = (df["city"] == "Lima").to_numpy()
    kyiv = (df["city"] == "Kyiv").to_numpy()
    assert (logj[lima, 0] > logj[kyiv, 0]).all() and (logj[rare, 0] < 0).all()
    assert (logj[~rare, 0] == 0).all()
    # Decoding the other code draws the rare values by their training frequency.
    other = EncodedTable(
        torch.zeros(6000, 1), torch.full((6000, 1), t.other_code), torch.ones(6000, 1, dtype=bool)
    )
    back = enc.inverse_transform(other, np.random.default_rng(0))["city"]
    assert set(back) == {"Lima", "Kyiv"}
    assert abs((back == "Lima").mean() - 2 / 3) < 0.03


def test_rare_categories_are_sampled_and_scored() -> None:
    df = _rare_frame()
    syn = Synthesizer(
        "gmm", {"n_components": 2}, min_category_count=5, device="cpu", random_state=0
    )
    syn.fit(df)
    fake = syn.sample(20_000, random_state=0)
    assert set(fake["city"]) == {"Oslo", "Rome", "Lima", "Kyiv"}
    scores = syn.score_samples(df)
    assert np.isfinite(scores).all()
    rare = df["city"].isin(["Lima", "Kyiv"]).to_numpy(copy=True)
    assert scores[rare].max() < np.median(scores[~rare])


def test_unseen_category_maps_to_other_code() -> None:
    df = _rare_frame()
    enc, _ = _encoder(df)
    t = enc.transforms_["city"]
    probe = df.head(4).assign(city=pd.Series(["Oslo", "Paris", None, "Lima"], dtype="str"))
    encoded, logj = enc.transform(probe)
    # A null in a column that had none is scored like an unseen value, not rejected.
    assert encoded.discrete[:, 0].tolist() == [0, t.other_code, t.other_code, t.other_code]
    assert np.isfinite(logj).all()
    assert logj[1, 0] == logj[2, 0] < logj[3, 0]  # unseen < rare seen (Lima, 2 rows)


def test_unseen_category_without_rare_bucket() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"c": pd.Series(rng.choice(["a", "b"], 200), dtype="str"), "x": rng.random(200)}
    )
    enc, _ = _encoder(df)
    t = enc.transforms_["c"]
    assert t.rare == []
    encoded, logj = enc.transform(df.head(2).assign(c="z"))
    assert (encoded.discrete[:, 0] == t.other_code).all() and np.isfinite(logj).all()
    # Decoding the (empty) other bucket gives the mode, a valid category.
    back = enc.inverse_transform(encoded, np.random.default_rng(0))
    assert set(back["c"]) <= {"a", "b"}


# ------------------------------------------------------------------ out of range
@pytest.mark.parametrize("method", ["quantile", "standard"])
def test_out_of_range_values_encode_finite_and_decode_clipped(method: str) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.uniform(0, 10, 500), "k": rng.integers(100, 1000, 500)})
    enc, _ = _encoder(df, continuous=method)
    lo, hi = df["x"].min(), df["x"].max()
    probe = pd.DataFrame(
        {"x": [-1e6, -20.0, lo, 5.0, hi, 50.0, 1e6], "k": [-5, 0, 100, 500, 999, 5000, 10**7]}
    )
    encoded, logj = enc.transform(probe)
    assert torch.isfinite(encoded.continuous).all() and np.isfinite(logj).all()
    # Monotone: further out encodes further out.
    z = encoded.continuous[:, 0].numpy()
    assert (np.diff(z) > 0).all()
    back = enc.inverse_transform(encoded, np.random.default_rng(0))
    np.testing.assert_allclose(back["x"], np.clip(probe["x"], lo, hi), atol=1e-5 * (hi - lo))
    expected_k = np.clip(probe["k"], df["k"].min(), df["k"].max())
    np.testing.assert_array_equal(back["k"], expected_k)
    assert back["k"].dtype == np.int64


# ------------------------------------------------------------------ serialisation
def test_to_dict_from_dict_gives_identical_encodings(table: pd.DataFrame) -> None:
    enc, _ = _encoder(table)
    data = json.loads(json.dumps(enc.to_dict()))  # must be plain JSON
    again = TableEncoder.from_dict(data, enc.schema_)
    assert again.layout_ == enc.layout_
    a, logj_a = enc.transform(table)
    b, logj_b = again.transform(table)
    for name in ("continuous", "discrete", "observed"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    np.testing.assert_array_equal(logj_a, logj_b)
    pd.testing.assert_frame_equal(
        enc.inverse_transform(a, np.random.default_rng(1)),
        again.inverse_transform(b, np.random.default_rng(1)),
    )


def test_datetime_resolution(small_mixed: pd.DataFrame) -> None:
    enc, _ = _encoder(small_mixed)
    t = enc.transforms_["signup"]
    assert t.scale == 86_400e9 and t.integer  # date-only: modelled as whole days
    assert enc.transforms_["income"].scale == 1.0
