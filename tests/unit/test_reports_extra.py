"""Known-answer tests of the report metrics added for issue 7 (small tables, seconds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthkit.reports import (
    alpha_precision,
    anomaly_summary,
    binary_labels,
    build_report,
    distance_encoding,
    knn_distances,
    membership_inference_auc,
    nndr,
    privacy_summary,
)
from synthkit.reports.likelihood import heldout_nll, nll_summary
from synthkit.reports.report import Report


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "y": 2 * x + rng.normal(size=n),
            "c": rng.choice(list("abcd"), n),
            "k": pd.Series(rng.choice(["u", "v", None], n, p=[0.5, 0.4, 0.1]), dtype=object),
        }
    )


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return _table(400, 0)


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    return _table(400, 1)


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    return _table(400, 2)


# ------------------------------------------------------------------ nearest neighbours


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_knn_matches_brute_force(p: float) -> None:
    rng = np.random.default_rng(0)
    q = np.hstack([rng.random((37, 3)), rng.integers(0, 2, (37, 5))]).astype(np.float32)
    r = np.hstack([rng.random((53, 3)), rng.integers(0, 2, (53, 5))]).astype(np.float32)
    full = (
        np.abs(q[:, None] - r[None]).sum(-1)
        if p == 1
        else np.linalg.norm(q[:, None] - r[None], axis=-1)
    )
    want = np.sort(full, axis=1)[:, :3]
    got, idx = knn_distances(q, r, k=3, p=p, chunk_elements=200, return_indices=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(full, idx, 1), want, rtol=1e-5, atol=1e-5)


def test_knn_rejects_bad_k() -> None:
    with pytest.raises(ValueError, match="k must be"):
        knn_distances(np.zeros((2, 1)), np.zeros((1, 1)), k=2)


def test_nndr_values() -> None:
    d = np.array([[0.0, 2.0], [1.0, 1.0], [0.0, 0.0], [1.0, 4.0]])
    np.testing.assert_allclose(nndr(d), [0.0, 1.0, 0.0, 0.25])


# ------------------------------------------------------------------ alpha / beta


def test_alpha_precision_identical_data_is_perfect(train: pd.DataFrame) -> None:
    out = alpha_precision(train, train.copy())
    assert out["alpha_precision"] > 0.95
    assert out["beta_recall"] > 0.95
    assert out["authenticity"] == 0.0  # every synthetic row is a real row
    assert len(out["alphas"]) == len(out["alpha_precision_curve"]) == 30


def test_alpha_precision_fresh_sample_vs_shifted(train: pd.DataFrame, fresh: pd.DataFrame) -> None:
    good = alpha_precision(train, fresh)
    assert good["alpha_precision"] > 0.85
    assert 0.3 < good["authenticity"] < 0.8
    shifted = fresh.assign(x=fresh["x"] + 4.0, y=fresh["y"] - 8.0)
    bad = alpha_precision(train, shifted)
    assert bad["alpha_precision"] < good["alpha_precision"] - 0.3
    assert bad["beta_recall"] < good["beta_recall"]


# ------------------------------------------------------------------ privacy


def test_membership_inference_auc_known_answers(
    train: pd.DataFrame, holdout: pd.DataFrame, fresh: pd.DataFrame
) -> None:
    assert membership_inference_auc(train, holdout, train.copy()) == pytest.approx(1.0)
    independent = membership_inference_auc(train, holdout, fresh)
    assert abs(independent - 0.5) < 0.08


def test_privacy_summary_copy_vs_fresh(
    train: pd.DataFrame, holdout: pd.DataFrame, fresh: pd.DataFrame
) -> None:
    copy = privacy_summary(train, holdout, train.copy())
    assert copy["exact_copy_rate"] == 1.0
    assert copy["nndr_median_synthetic"] == 0.0
    assert copy["membership_inference_auc"] == pytest.approx(1.0)
    assert copy["dcr_share"] > 0.9
    honest = privacy_summary(train, holdout, fresh)
    assert honest["exact_copy_rate"] == 0.0
    assert abs(honest["dcr_share"] - 0.5) < 0.1
    assert abs(honest["nndr_median_synthetic"] - honest["nndr_median_holdout"]) < 0.1
    no_holdout = privacy_summary(train, None, fresh)
    assert "dcr_share" not in no_holdout and "membership_inference_auc" not in no_holdout
    assert no_holdout["nndr_median_synthetic"] == pytest.approx(honest["nndr_median_synthetic"])


def test_distance_encoding_one_hot_is_binary(train: pd.DataFrame) -> None:
    (enc,) = distance_encoding(train)
    assert enc.shape == (400, 2 + 5 + 3)  # x, y; c: 4 + null; k: u, v + null
    assert set(np.unique(enc[:, 2:])) <= {0.0, 1.0}


# ------------------------------------------------------------------ anomaly, likelihood


def test_anomaly_summary_known_answers() -> None:
    y = np.array([False] * 8 + [True] * 2)
    perfect = anomaly_summary(np.r_[np.zeros(8), np.ones(2)], y)
    assert perfect["auroc"] == perfect["auprc"] == perfect["precision_at_k"] == 1.0
    assert perfect["k"] == 2 and perfect["anomaly_rate"] == 0.2
    inverted = anomaly_summary(np.r_[np.ones(8), np.zeros(2)], y)
    assert inverted["auroc"] == 0.0 and inverted["precision_at_k"] == 0.0
    assert np.isnan(anomaly_summary(np.ones(3), np.zeros(3, bool))["auroc"])


def test_binary_labels_conventions() -> None:
    from synthkit.errors import DataValidationError

    np.testing.assert_array_equal(binary_labels([0, 1, 1]), [False, True, True])
    np.testing.assert_array_equal(binary_labels([1, -1]), [False, True])
    np.testing.assert_array_equal(binary_labels([True, False]), [True, False])
    np.testing.assert_array_equal(binary_labels(["ok", "bad"], "bad"), [False, True])
    with pytest.raises(DataValidationError, match="which value"):
        binary_labels(["ok", "bad"])


def test_nll_summary_bits() -> None:
    out = nll_summary(np.array([-2.0, -4.0, np.nan]), n_columns=3)
    assert out["nll"] == 3.0 and out["n_unscored"] == 1
    assert out["bits_per_column"] == pytest.approx(3.0 / (3 * np.log(2)))


# ------------------------------------------------------------------ build_report


@pytest.fixture(scope="module")
def model(small_mixed: pd.DataFrame):
    from synthkit import AnomalyDetector

    return AnomalyDetector(backend_params={"n_components": 2, "max_iter": 10}, random_state=0).fit(
        small_mixed.head(300)
    )


@pytest.mark.filterwarnings("ignore::synthkit.errors.SynthkitWarning")
def test_build_report_sections(model, small_mixed: pd.DataFrame, tmp_path) -> None:
    real, hold = small_mixed.head(300), small_mixed.iloc[300:].copy()
    hold["flag"] = (hold["income"].fillna(0) > hold["income"].median()).astype(int)
    rep = build_report(model, real, holdout=hold, target="segment", labels="flag")
    m = rep.metrics
    assert m["meta"]["n_synthetic"] == 300 and m["meta"]["n_holdout"] == 300
    for section in ("fidelity", "alpha_precision", "detection", "efficacy", "likelihood",
                    "privacy", "anomaly"):  # fmt: skip
        assert section in m, section
    assert m["skipped"] == {}
    nll = heldout_nll(model, hold.drop(columns="flag"))["nll"]
    assert m["likelihood"]["holdout_nll"] == pytest.approx(nll)
    assert m["anomaly"]["evaluated_on"] == "held-out rows"
    assert 0.0 <= m["anomaly"]["auroc"] <= 1.0
    assert set(rep.plots["marginals"]) == set(real.columns)
    flat = rep.flat_metrics()
    assert flat["privacy.membership_inference_auc"] == m["privacy"]["membership_inference_auc"]
    assert all(np.isfinite(v) for v in flat.values())
    html = rep.to_html(tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") >= len(real.columns) + 4
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert '"alpha_precision"' in rep.to_json(tmp_path / "r.json").read_text()


def test_build_report_without_model_or_holdout(small_mixed: pd.DataFrame) -> None:
    real, syn = small_mixed.head(200), small_mixed.iloc[200:400]
    rep = build_report(None, real, synthetic=syn)
    assert {"likelihood", "efficacy", "anomaly"} <= set(rep.metrics["skipped"])
    assert "dcr_share" not in rep.metrics["privacy"]
    assert isinstance(rep, Report) and rep.metrics["meta"]["n_synthetic"] == 200


def test_build_report_errors(model, small_mixed: pd.DataFrame) -> None:
    from synthkit.errors import ConfigError, DataValidationError

    with pytest.raises(ConfigError, match="needs a model"):
        build_report(None, small_mixed)
    with pytest.raises(DataValidationError, match="'age'"):
        build_report(model, small_mixed.drop(columns="age"))
    with pytest.raises(ConfigError, match="target column 'nope'"):
        build_report(model, small_mixed, target="nope")
