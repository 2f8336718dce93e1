"""Benchmark suite and report metrics on tiny inputs (fast; bench extras optional)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from synthkit.reports import (  # noqa: E402
    c2st_auc,
    dcr_share,
    distance_encoding,
    efficacy_summary,
    exact_copy_rate,
    fidelity_summary,
    nearest_distance,
    privacy_summary,
    tstr_score,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # scikit-learn's OpenMP trees are ~10x slower with 2 threads on a busy 2-core CI box.
    import sklearn.ensemble  # noqa: F401  (load its OpenMP runtime so the limit applies to it)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    c = rng.choice(["a", "b", "c"], n)
    y = np.where(x + (c == "a") + rng.normal(scale=0.5, size=n) > 0.5, ">50K", "<=50K")
    df = pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 50, n),
            "c": pd.Series(c, dtype=object),
            "income": y,
            "price": 3 * x + rng.normal(size=n),
        }
    )
    df.loc[::17, "c"] = None
    df.loc[::23, "x"] = np.nan
    return df


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _table(400, 0)


# ------------------------------------------------------------------ metric functions
def test_identical_tables_have_zero_shape_and_trend_error(table):
    fid = fidelity_summary(table, table.copy())
    assert fid["shape_error_pct"] == 0.0
    assert fid["trend_error_pct"] == pytest.approx(0.0, abs=1e-9)


def test_dcr_share_of_a_copy_of_train_is_one(table):
    train, holdout = table.iloc[:300], table.iloc[300:]
    assert dcr_share(train.copy(), train, holdout, subsample_train=False) == pytest.approx(1.0)
    assert dcr_share(train.iloc[:100], train.iloc[:100], holdout) == pytest.approx(1.0)
    summary = privacy_summary(train, holdout, train.copy())
    assert summary["dcr_share_full_train"] == pytest.approx(1.0)
    # vs a holdout-size training subsample (METRICS.md): the 1/3 of the copies that are in the
    # subsample are at distance 0, the rest behave like fresh rows: 1/3 + 2/3 * 1/2 = 2/3.
    assert 0.6 < summary["dcr_share"] < 0.75
    assert summary["exact_copy_rate"] == 1.0
    assert summary["dcr_median_synthetic"] == 0.0


def test_dcr_share_of_fresh_sample_is_near_half():
    train, holdout, fresh = _table(600, 1), _table(600, 2), _table(600, 3)
    share = dcr_share(fresh, train, holdout)
    assert 0.35 < share < 0.65


def test_exact_copy_rate(table):
    assert exact_copy_rate(table, table) == 1.0
    other = table.copy()
    other["x"] = other["x"] + 1e-3
    assert exact_copy_rate(other, table) < 0.1  # only rows with a null x still match
    # ints and floats compare by value
    a = pd.DataFrame({"v": [1, 2, 3], "s": ["a", "b", None]})
    b = pd.DataFrame({"v": [1.0, 2.0, 4.0], "s": ["a", "x", None]})
    assert exact_copy_rate(b, a) == pytest.approx(1 / 3)


def test_distance_encoding_scales_with_train_and_one_hots_nulls():
    train = pd.DataFrame({"x": [0.0, 10.0, np.nan, 4.0], "c": ["a", None, "b", "a"]})
    other = pd.DataFrame({"x": [20.0, np.nan], "c": ["z", None]})
    e_train, e_other = distance_encoding(train, other)
    # x: min 0, max 10; null -> median 4 -> 0.4; categories a, b, z + null column
    assert e_train.shape == (4, 1 + 4)
    np.testing.assert_allclose(e_train[:, 0], [0.0, 1.0, 0.4, 0.4])
    np.testing.assert_allclose(e_other[:, 0], [2.0, 0.4])
    assert e_train[1, -1] == 1.0 and e_other[1, -1] == 1.0  # null category
    assert e_other[0, 3] == 1.0  # unseen category 'z' gets its own column


def test_nearest_distance_matches_brute_force():
    rng = np.random.default_rng(0)
    q, r = rng.normal(size=(37, 5)), rng.normal(size=(53, 5))
    brute = np.abs(q[:, None, :] - r[None, :, :]).sum(-1).min(1)
    got = nearest_distance(q, r, chunk_elements=100)  # many small chunks
    np.testing.assert_allclose(got, brute, rtol=1e-5)


def test_c2st_identical_distributions_is_near_half():
    a, b = _table(400, 4), _table(500, 5)
    res = c2st_auc(a, b, n_splits=3, random_state=0)
    assert 0.4 < res["auc"] < 0.6
    assert res["n_per_class"] == 400


def test_c2st_detects_a_shifted_table(table):
    shifted = table.copy()
    shifted["x"] = shifted["x"] + 3
    assert c2st_auc(table.iloc[:200], shifted.iloc[:200], n_splits=3)["auc"] > 0.95


def test_tstr_on_real_equals_trtr(table):
    train, test = table.iloc[:300], table.iloc[300:]
    binary = efficacy_summary(train, train.copy(), test, "income")
    assert binary["task"] == "binary" and binary["metric"] == "roc_auc"
    assert binary["tstr"] == binary["trtr"] > 0.7
    reg = efficacy_summary(train, train.copy(), test, "price")
    assert reg["task"] == "regression" and reg["metric"] == "rmse"
    assert reg["tstr"] == reg["trtr"]
    assert reg["tstr_rmse_over_std"] < 0.6


def test_tstr_drops_null_targets_and_handles_one_class(table):
    train, test = table.iloc[:300].copy(), table.iloc[300:]
    train.loc[::5, "price"] = np.nan
    assert tstr_score(train, test, "price")["n_train"] == 240
    one_class = train.assign(income="<=50K")
    assert tstr_score(one_class, test, "income", task="binary")["score"] == 0.5


# ------------------------------------------------------------------ benchmark code
@pytest.fixture()
def data_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    _table(300, 6).to_parquet(d / "tiny.parquet")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 4))
    y = np.zeros(240, dtype=int)
    y[:24] = 1
    x[:24] += 4.0  # anomalies far away
    np.savez(d / "1_tiny.npz", X=x, y=y)
    cat = pd.DataFrame(
        {
            "a": rng.choice(["p", "q", "r"], 240),
            "b": rng.choice(["u", "v"], 240),
            "is_anomaly": y.astype("int8"),
        }
    )
    cat.loc[:23, "a"] = "zz"
    cat.to_parquet(d / "tiny_cat_ad.parquet")
    return d


def test_synthesis_split_is_fixed_and_disjoint(data_dir):
    from benchmarks._data import synthesis_split

    a_train, a_hold = synthesis_split("tiny.parquet", max_rows=200, data_dir=data_dir)
    b_train, _ = synthesis_split("tiny.parquet", max_rows=200, data_dir=data_dir)
    assert (len(a_train), len(a_hold)) == (160, 40)
    pd.testing.assert_frame_equal(a_train, b_train)
    assert exact_copy_rate(a_hold, a_train) == 0.0


def test_adbench_splits_subsample_and_stratify():
    from benchmarks._data import adbench_splits

    y = np.r_[np.ones(300, dtype=int), np.zeros(2700, dtype=int)]
    keep, splits = adbench_splits(y, seeds=[0, 1], max_rows=1000)
    assert len(keep) == 1000 and y[keep].sum() == 100
    _, te = splits[0]
    assert len(te) == 300 and y[keep][te].sum() == 30
    assert not np.array_equal(splits[0][1], splits[1][1])


def test_anomaly_job_synthkit_detectors(data_dir):
    from benchmarks._jobs import anomaly_job

    for dataset in ("1_tiny", "tiny_cat_ad"):
        spec = {
            "dataset": dataset,
            "seed": 0,
            "device": "cpu",
            "detectors": [
                {
                    "name": "gmm",
                    "kind": "synthkit",
                    "backend": "gmm",
                    "params": {"n_components": 2},
                },
                {
                    "name": "naive_bayes",
                    "kind": "synthkit",
                    "backend": "naive_bayes",
                    "params": {"n_classes": 2},
                },
            ],
            "max_rows": 10_000,
            "test_fraction": 0.3,
            "needs_scaling": [],
            "data_dir": str(data_dir),
        }
        rows = anomaly_job(spec)
        assert [r["status"] for r in rows] == ["ok", "ok"], rows
        assert all(r["auroc"] > 0.8 for r in rows), rows
        assert rows[0]["n_test"] == 72


def test_anomaly_job_pyod_detectors(data_dir):
    pytest.importorskip("pyod")
    from benchmarks._config import NEEDS_SCALING, PYOD_DETECTORS
    from benchmarks._jobs import anomaly_job

    spec = {
        "dataset": "1_tiny",
        "seed": 0,
        "device": "cpu",
        "detectors": [{"name": d, "kind": "pyod", "params": {}} for d in PYOD_DETECTORS],
        "max_rows": 10_000,
        "test_fraction": 0.3,
        "needs_scaling": sorted(NEEDS_SCALING),
        "data_dir": str(data_dir),
    }
    rows = anomaly_job(spec)
    assert all(r["status"] == "ok" for r in rows), rows
    assert np.mean([r["auroc"] for r in rows]) > 0.8


def _synthesis_spec(data_dir: Path, **kw) -> dict:
    spec = {
        "method": "gmm",
        "kind": "synthkit",
        "backend": "gmm",
        "params": {"n_components": 2},
        "dataset": "tiny",
        "file": "tiny.parquet",
        "target": "income",
        "seed": 0,
        "device": "cpu",
        "max_rows": None,
        "split_seed": 0,
        "holdout_fraction": 0.2,
        "data_dir": str(data_dir),
    }
    spec.update(kw)
    return spec


def test_synthesis_job_synthkit_and_noise_floor(data_dir):
    from benchmarks._jobs import synthesis_job

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row = synthesis_job(_synthesis_spec(data_dir))
    assert row["n_train"] == 240 and row["n_synthetic"] == 240
    for key in ("fit_s", "shape_error_pct", "trend_error_pct", "c2st_auc", "tstr", "trtr",
                "dcr_share", "exact_copy_rate", "peak_rss_mb"):  # fmt: skip
        assert np.isfinite(row[key]), key
    floor = synthesis_job(_synthesis_spec(data_dir, method="real_holdout", kind="holdout"))
    assert floor["fit_s"] == 0.0 and "tstr" not in floor
    assert floor["c2st_auc"] < 0.75


def test_synthesis_job_sdv_gaussian_copula(data_dir):
    pytest.importorskip("sdv")
    from benchmarks._jobs import synthesis_job

    spec = _synthesis_spec(
        data_dir, method="sdv_gaussian_copula", kind="sdv", sdv_kind="gaussian_copula", params={}
    )
    row = synthesis_job(spec)
    assert row["n_synthetic"] == 240 and np.isfinite(row["c2st_auc"])


def _boom(spec: dict) -> None:
    raise RuntimeError("boom")


def test_run_in_subprocess_reports_results_and_errors():
    from benchmarks._jobs import run_in_subprocess

    status, result = run_in_subprocess(_boom, {}, timeout_s=60)
    assert status == "error" and "boom" in result


def test_results_append_resume_and_report(tmp_path, data_dir, monkeypatch):
    from benchmarks import report
    from benchmarks._results import ANOMALY_KEY, SYNTHESIS_KEY, append_rows, done_keys

    syn = tmp_path / "quick_synthesis.csv"
    base = {"suite": "quick", "seed": 0, "split_seed": 0, "n_train": 240, "n_holdout": 60}
    append_rows(syn, [{**base, "method": "gmm", "dataset": "tiny", "status": "ok",
                       "fit_s": 1.0, "c2st_auc": 0.7, "trend_error_pct": 3.0,
                       "efficacy_task": "binary", "tstr": 0.8, "trtr": 0.9}])  # fmt: skip
    append_rows(syn, [{**base, "method": "real_holdout", "dataset": "tiny", "status": "ok",
                       "fit_s": 0.0, "c2st_auc": 0.5, "trend_error_pct": 1.0,
                       "shape_error_pct": 2.0}])  # fmt: skip
    append_rows(syn, [{**base, "method": "sdv_ctgan", "dataset": "tiny", "status": "error",
                       "error": "x"}])  # fmt: skip
    assert done_keys(syn, SYNTHESIS_KEY) == {("gmm", "tiny", "0"), ("real_holdout", "tiny", "0")}
    ad = tmp_path / "quick_anomaly.csv"
    append_rows(ad, [{"suite": "quick", "dataset": d, "seed": 0, "detector": det,
                      "status": "ok", "auroc": a, "auprc": a / 2, "fit_score_s": 0.1}
                     for d, det, a in [("x", "gmm", 0.9), ("x", "KNN", 0.8),
                                       ("y", "gmm", 0.6), ("y", "KNN", 0.7)]])  # fmt: skip
    assert len(done_keys(ad, ANOMALY_KEY)) == 4
    monkeypatch.setattr(report, "IMG", tmp_path / "img")
    out = report.write_report(tmp_path / "bench.md", results_dir=tmp_path)
    text = out.read_text()
    assert "| gmm |" in text and "avg rank" in text and "Failed synthesis runs" in text
    assert "**1.50**" in text  # both detectors rank 1.5 on average


def test_tracker_logs_to_sqlite(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from benchmarks._results import Tracker

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    tracker = Tracker(True, "bench-test", results_dir=tmp_path)
    tracker.log("gmm/tiny", {"method": "gmm"}, {"auroc": 0.9, "note": "x", "bad": float("nan")})
    runs = tracker.mlflow.search_runs(experiment_names=["bench-test"])
    assert len(runs) == 1 and runs["metrics.auroc"].iloc[0] == 0.9


def test_tracker_disabled_is_a_no_op(tmp_path):
    from benchmarks._results import Tracker

    Tracker(False, "x", results_dir=tmp_path).log("r", {}, {"a": 1.0})


def test_cli_parses(monkeypatch):
    import benchmarks.__main__ as cli
    import benchmarks.suite as suite

    called = {}
    monkeypatch.setattr(suite, "run", lambda name, **kw: called.update(name=name, **kw))
    assert cli.main(["run", "--suite", "quick", "--no-track", "--part", "anomaly"]) == 0
    assert called["name"] == "quick" and called["track"] is False
    assert called["parts"] == ("anomaly",)
