"""Synthesizer and AnomalyDetector as scikit-learn estimators: parameters, seeds, thresholds.

The backend contract (tests/backends/test_contract.py) checks every backend through the
Synthesizer; this file checks the estimators themselves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted

from synthkit import AnomalyDetector, Synthesizer
from synthkit.errors import BackendError, ConfigError, NotFittedError

FAST = {"n_components": 2, "max_iter": 30}
ESTIMATORS = [Synthesizer, AnomalyDetector]


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b"], n)
    x = np.where(g == "a", 0.0, 4.0) + rng.normal(size=n)
    return pd.DataFrame(
        {"g": pd.Series(g, dtype="str"), "x": x, "y": x + rng.normal(scale=0.3, size=n)}
    )


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _table()


# ------------------------------------------------------------------ sklearn API
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_get_set_params(cls: type) -> None:
    est = cls("gmm", FAST, schema={"g": "categorical"}, device="cpu", random_state=4)
    params = est.get_params()
    assert params["backend"] == "gmm" and params["backend_params"] == FAST
    assert params["random_state"] == 4 and params["device"] == "cpu"
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    assert twin.set_params(random_state=7, min_category_count=2) is twin
    assert twin.random_state == 7 and est.random_state == 4
    # Stored as given: nothing validated or rewritten in __init__ or set_params.
    odd = cls(backend="nope", min_category_count=0, device="tpu", random_state="abc")
    assert odd.get_params()["min_category_count"] == 0 and odd.device == "tpu"
    assert clone(odd).get_params() == odd.get_params()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fitted_state(cls: type, table: pd.DataFrame) -> None:
    est = cls("gmm", FAST, device="cpu", random_state=0)
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(est)
    assert est.fit(table) is est
    check_is_fitted(est)
    # A clone of a fitted estimator is a fresh, unfitted one with the same parameters.
    twin = clone(est)
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(twin)
    assert twin.get_params() == est.get_params()
    if cls is Synthesizer:
        assert est.n_features_in_ == 3 and list(est.feature_names_in_) == ["g", "x", "y"]
        assert est.device_.type == "cpu"
    else:
        assert est.synthesizer_.n_features_in_ == 3


def test_unfitted_anomaly_detector_raises(table: pd.DataFrame, tmp_path) -> None:
    det = AnomalyDetector(device="cpu")
    calls = [
        lambda: det.predict(table),
        lambda: det.decision_function(table),
        lambda: det.score_samples(table),
        lambda: det.explain(table),
        lambda: det.sample(3),
        lambda: det.threshold_,
        lambda: det.save(tmp_path / "m"),
    ]
    for call in calls:
        with pytest.raises(NotFittedError, match="not fitted"):
            call()
    assert not (tmp_path / "m").exists()


# --------------------------------------------------------------- invalid params
@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "name"),
    [
        (Synthesizer, {"backend": "nope"}, BackendError, "nope"),
        (Synthesizer, {"backend": 3}, ConfigError, "backend"),
        (Synthesizer, {"backend_params": {"n_components": 0}}, ConfigError, "n_components"),
        (
            Synthesizer,
            {"backend_params": {"covariance_type": "bad"}},
            ConfigError,
            "covariance_type",
        ),
        (Synthesizer, {"backend_params": {"n_compnents": 2}}, BackendError, "n_compnents"),
        (Synthesizer, {"backend_params": [1]}, ConfigError, "backend_params"),
        (Synthesizer, {"min_category_count": 0}, ConfigError, "min_category_count"),
        (Synthesizer, {"min_category_count": 2.5}, ConfigError, "min_category_count"),
        (Synthesizer, {"max_discrete_levels": -1}, ConfigError, "max_discrete_levels"),
        (Synthesizer, {"continuous_transform": "log"}, ConfigError, "continuous_transform"),
        (Synthesizer, {"schema": ["g"]}, ConfigError, "schema"),
        (Synthesizer, {"device": "tpu"}, ConfigError, "device"),
        (Synthesizer, {"random_state": -1}, ConfigError, "random_state"),
        (Synthesizer, {"random_state": "abc"}, ConfigError, "random_state"),
        (Synthesizer, {"random_state": 1.5}, ConfigError, "random_state"),
        (AnomalyDetector, {"contamination": 0.9}, ConfigError, "contamination"),
        (AnomalyDetector, {"contamination": 0.0}, ConfigError, "contamination"),
        (AnomalyDetector, {"contamination": "auto"}, ConfigError, "contamination"),
        (AnomalyDetector, {"backend": "nope"}, BackendError, "nope"),
        (AnomalyDetector, {"backend_params": {"n_components": 0}}, ConfigError, "n_components"),
        (AnomalyDetector, {"min_category_count": 0}, ConfigError, "min_category_count"),
        (AnomalyDetector, {"device": "tpu"}, ConfigError, "device"),
        (AnomalyDetector, {"random_state": -1}, ConfigError, "random_state"),
        (
            Synthesizer,
            {"backend": "naive_bayes", "backend_params": {"n_classes": 0}},
            ConfigError,
            "n_classes",
        ),
    ],
)
def test_invalid_params_raise_at_fit(
    cls: type, kwargs: dict, error: type, name: str, table: pd.DataFrame
) -> None:
    kwargs = {"device": "cpu", **kwargs}
    est = cls(**kwargs)  # accepted as given
    with pytest.raises(error, match=name):
        est.fit(table)
    assert not hasattr(est, "backend_") and not hasattr(est, "offset_")


@pytest.mark.parametrize("n", [0, -5, 2.5, "10", True, None, np.float64(3.0)])
def test_sample_rejects_bad_n(n: object, table: pd.DataFrame) -> None:
    syn = Synthesizer("gmm", FAST, device="cpu", random_state=0).fit(table)
    with pytest.raises(ConfigError, match="n must be"):
        syn.sample(n)
    assert len(syn.sample(np.int64(3))) == 3


# -------------------------------------------------------------------- seeding
def test_random_state_makes_fit_and_sample_deterministic(small_mixed: pd.DataFrame) -> None:
    def fit(seed: object) -> Synthesizer:
        return Synthesizer("gmm", {"n_components": 3}, device="cpu", random_state=seed).fit(
            small_mixed
        )

    a, b, c = fit(11), fit(11), fit(12)
    pd.testing.assert_frame_equal(a.sample(300), b.sample(300))
    np.testing.assert_array_equal(a.score_samples(small_mixed), b.score_samples(small_mixed))
    assert not a.sample(300, random_state=0).equals(c.sample(300, random_state=0))
    # A numpy Generator is accepted; the same generator state gives the same model.
    g1, g2 = fit(np.random.default_rng(5)), fit(np.random.default_rng(5))
    pd.testing.assert_frame_equal(g1.sample(100), g2.sample(100))


def test_sample_random_state_is_reproducible_and_leaves_the_sequence(
    small_mixed: pd.DataFrame,
) -> None:
    def fit() -> Synthesizer:
        return Synthesizer("gmm", {"n_components": 2}, device="cpu", random_state=3).fit(
            small_mixed
        )

    a, b = fit(), fit()
    first = a.sample(200, random_state=9)
    pd.testing.assert_frame_equal(first, a.sample(200, random_state=9))
    assert not first.equals(a.sample(200, random_state=10))
    # Seeded calls do not consume the model's own sequence.
    pd.testing.assert_frame_equal(a.sample(150), b.sample(150))
    # Chunked sampling: larger than one chunk is still one consistent table.
    many = a.sample(300_000, random_state=1)
    assert len(many) == 300_000 and many.index.equals(pd.RangeIndex(300_000))


# ------------------------------------------------------------------- detector
def test_anomaly_detector_threshold_and_labels(california: pd.DataFrame) -> None:
    df = california.sample(3000, random_state=0).reset_index(drop=True)
    det = AnomalyDetector(
        "gmm", {"n_components": 4}, contamination=0.05, device="cpu", random_state=0
    ).fit(df)
    scores = det.score_samples(df)
    np.testing.assert_array_equal(det.labels_, det.predict(df))
    np.testing.assert_array_equal(det.decision_function(df), scores - det.offset_)
    np.testing.assert_allclose(det.decision_scores_, det.decision_function(df))
    np.testing.assert_array_equal(det.anomaly_score(df), -scores)
    assert det.threshold_ == det.offset_
    assert set(np.unique(det.labels_)) == {-1, 1}
    assert abs((det.labels_ == -1).mean() - 0.05) < 0.005
    np.testing.assert_array_equal(det.fit_predict(df), det.labels_)
    # The detector's synthesizer samples like any other.
    assert list(det.sample(5, random_state=0).columns) == list(df.columns)


def test_explain_points_at_planted_anomaly(california: pd.DataFrame) -> None:
    df = california.sample(3000, random_state=1).reset_index(drop=True)
    det = AnomalyDetector(
        "naive_bayes", {"n_classes": 4}, contamination=0.02, device="cpu", random_state=0
    ).fit(df)
    probe = df.head(30).copy()
    probe.loc[:9, "median_income"] = 250.0  # far above any training value
    probe.loc[10:19, "ocean_proximity"] = "ON THE MOON"  # never seen
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
    assert ex.index.equals(probe.index)
    assert (ex["top1_column"].iloc[:10] == "median_income").all()
    # Terms are in each column's units (a density per dollar is small everywhere); ranking by
    # the tail share is unit-free, so an unseen category ranks first too.
    before = det.synthesizer_.explain(df.head(30))["ocean_proximity"].iloc[10:20]
    after = det.synthesizer_.explain(probe)["ocean_proximity"].iloc[10:20]
    assert (after < before - 3).all() and np.isfinite(after).all()
    assert (ex["top1_column"].iloc[10:20] == "ocean_proximity").all()
    assert (ex["top1_tail"].iloc[:20] == 0.0).all()
    assert (ex["top1_tail"] <= ex["top2_tail"]).all()
    assert (det.predict(probe.iloc[:10]) == -1).all()
    np.testing.assert_allclose(ex["score"], det.score_samples(probe))


def test_explain_normal_rows_spread_over_columns(california: pd.DataFrame) -> None:
    # On ordinary rows no column should dominate the ranking just because of its units.
    df = california.sample(3000, random_state=1).reset_index(drop=True)
    det = AnomalyDetector("gmm", {"n_components": 4}, device="cpu", random_state=0).fit(df)
    top = det.explain(df.head(500), top_k=1)["top1_column"].value_counts(normalize=True)
    assert top.iloc[0] < 0.5, top.to_dict()


# ------------------------------------------------------------------ backends
def test_naive_bayes_with_class_column(adult: pd.DataFrame) -> None:
    df = adult.sample(3000, random_state=0).reset_index(drop=True)
    syn = Synthesizer("naive_bayes", {"class_column": "income"}, device="cpu", random_state=0)
    syn.fit(df)
    assert syn.backend_.fit_info_["n_iter"] == 1  # closed form, no EM
    k = syn.encoder_.layout_.cardinalities[syn.encoder_.layout_.group("income").discrete[0]]
    assert syn.backend_.n_components_ == k
    fake = syn.sample(6000, random_state=0)
    assert abs((fake["income"] == ">50K").mean() - (df["income"] == ">50K").mean()) < 0.02
    # Closed form: the class weights are the training class shares (codes: kept, other).
    weights = syn.backend_.params_.log_weights.exp().cpu().numpy()
    share = df["income"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(weights[:2], share, atol=1e-5)
    assert np.isfinite(syn.score_samples(df.head(200))).all()


@pytest.mark.parametrize("column", ["age", "fnlwgt", "nope"])
def test_naive_bayes_rejects_bad_class_column(column: str, adult: pd.DataFrame) -> None:
    syn = Synthesizer("naive_bayes", {"class_column": column}, device="cpu", random_state=0)
    with pytest.raises(ConfigError, match=f"class_column '{column}'"):
        syn.fit(adult.head(500))


def test_gmm_auto_picks_by_bic() -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    label = rng.integers(0, 3, 900)
    xy = centers[label] + rng.normal(scale=[[0.3, 1.0]], size=(900, 2))
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    params = {"n_components": "auto", "candidates": (1, 2, 3, 5)}
    syn = Synthesizer("gmm", params, device="cpu", random_state=0).fit(df)
    bic = syn.backend_.fit_info_["bic"]
    assert sorted(bic) == [1, 2, 3, 5] and all(np.isfinite(list(bic.values())))
    assert syn.backend_.n_components_ == min(bic, key=bic.get)
    assert syn.backend_.n_components_ > 1  # three blobs are not one Gaussian
    # Candidates above the number of rows are skipped, not fitted.
    few = Synthesizer(
        "gmm", {"n_components": "auto", "candidates": (1, 2, 500)}, device="cpu", random_state=0
    ).fit(df.head(40))
    assert sorted(few.backend_.fit_info_["bic"]) == [1, 2]


def test_accepts_a_pyarrow_table(table: pd.DataFrame) -> None:
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    syn = Synthesizer("gmm", FAST, device="cpu", random_state=0).fit(arrow)
    ref = Synthesizer("gmm", FAST, device="cpu", random_state=0).fit(table)
    np.testing.assert_allclose(syn.score_samples(arrow), ref.score_samples(table))
    pd.testing.assert_frame_equal(syn.sample(50, random_state=0), ref.sample(50, random_state=0))
    det = AnomalyDetector("gmm", FAST, device="cpu", random_state=0).fit(arrow)
    np.testing.assert_array_equal(det.predict(arrow), det.labels_)
    assert len(det.explain(arrow)) == len(table)


def test_predict_proba_is_calibrated_and_saved(tmp_path) -> None:
    from synthkit import load

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=800), "c": rng.choice(["a", "b"], 800)})
    det = AnomalyDetector("gmm", {"n_components": 2}, device="cpu", random_state=0).fit(df)
    probe = pd.DataFrame({"x": [0.0, 2.5, 12.0], "c": ["a", "a", "a"]})
    for method in ("unify", "linear", "rank"):
        proba = det.predict_proba(probe, method=method)
        assert proba.shape == (3, 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert ((proba >= 0) & (proba <= 1)).all()
        assert proba[0, 1] < proba[1, 1] <= proba[2, 1]  # monotone in the anomaly score
        assert proba[2, 1] > 0.99  # far outside the training data
    # "rank" on the training rows is their empirical tail: about uniform.
    assert abs(det.predict_proba(df, method="rank")[:, 1].mean() - 0.5) < 0.05
    det.save(tmp_path / "m")
    np.testing.assert_allclose(load(tmp_path / "m").predict_proba(probe), det.predict_proba(probe))
    with pytest.raises(ConfigError, match="method"):
        det.predict_proba(probe, method="magic")


def test_max_spikes_controls_discrete_states() -> None:
    rng = np.random.default_rng(0)
    x = np.where(rng.random(600) < 0.5, 0.0, rng.lognormal(size=600))
    df = pd.DataFrame({"x": x, "c": rng.choice(["a", "b"], 600)})
    syn = Synthesizer("gmm", {"n_components": 2}, device="cpu", random_state=0).fit(df)
    assert syn.encoder_.transforms_["x"].spikes == [0.0]  # the zeros are an exact state
    assert abs((syn.sample(2000)["x"] == 0).mean() - 0.5) < 0.05
    flat = Synthesizer("gmm", {"n_components": 2}, max_spikes=0, device="cpu").fit(df)
    assert flat.encoder_.transforms_["x"].spikes == []
    # Detection compares rows on one scale: no spike states by default.
    assert AnomalyDetector().max_spikes == 0
    det = AnomalyDetector("gmm", {"n_components": 2}, device="cpu", random_state=0).fit(df)
    assert det.synthesizer_.encoder_.transforms_["x"].spikes == []


def test_ids_stay_unique_across_sample_chunks(monkeypatch) -> None:
    import synthkit.synthesizer as synthesizer_module

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"uid": [f"u{i}" for i in range(300)], "n": np.arange(300), "x": rng.normal(size=300)}
    )
    syn = Synthesizer("gmm", {"n_components": 2}, device="cpu", random_state=0).fit(df)
    monkeypatch.setattr(synthesizer_module, "_SAMPLE_CHUNK", 64)  # several decoded chunks
    fake = syn.sample(200)
    assert fake["uid"].is_unique and fake["n"].is_unique
    assert fake["n"].tolist() == list(range(200))
    assert fake["uid"].iloc[150] == "synthetic-150"
