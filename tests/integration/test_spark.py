"""The Spark engine gives the local engine's results: same rows, scores, flags and rejects."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")
if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
    pytest.skip("Spark needs Java (java on PATH or JAVA_HOME)", allow_module_level=True)

from synthkit import AnomalyDetector, Synthesizer
from synthkit.errors import ConfigError
from synthkit.jobs import score_job, score_job_spark

pytestmark = [pytest.mark.spark]

N_ROWS = 4000
BAD = {  # row -> what is planted there (text, infinity, null in a column with no nulls)
    7: ("hours-per-week", "n/a"),
    123: ("hours-per-week", "inf"),
    2500: ("age", None),
    3999: ("age", None),
}


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    with warnings.catch_warnings():  # pyspark < 5 warns about pandas >= 3
        warnings.simplefilter("ignore", FutureWarning)
        session = (
            SparkSession.builder.master("local[2]")
            .appName("synthkit-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def table(adult) -> pd.DataFrame:
    df = adult.iloc[:N_ROWS].reset_index(drop=True)
    df.insert(0, "rid", np.arange(len(df)))
    return df


@pytest.fixture(scope="module")
def planted(table) -> pd.DataFrame:
    """The table with bad cells planted, and one unseen category (scored, not rejected)."""
    df = table.copy()
    df["hours-per-week"] = df["hours-per-week"].astype(str)
    df["age"] = df["age"].astype("float64")
    for row, (col, value) in BAD.items():
        df.loc[row, col] = value if value is not None else np.nan
    df.loc[11, "workclass"] = "Never-seen-class"
    return df


@pytest.fixture(scope="module")
def model_dir(table, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "det"
    AnomalyDetector(
        "naive_bayes",
        {"n_classes": 2},
        contamination=0.02,
        device="cpu",
        random_state=0,
        schema={"rid": "drop"},
    ).fit(table.iloc[:3000]).save(path)
    return path


@pytest.fixture(scope="module")
def both(planted, model_dir, spark, tmp_path_factory):
    """The same job on both engines: an input directory of two Parquet files."""
    root = tmp_path_factory.mktemp("jobs")
    (root / "in").mkdir()
    planted.iloc[:2200].to_parquet(root / "in" / "a.parquet", row_group_size=500)
    planted.iloc[2200:].to_parquet(root / "in" / "b.parquet", row_group_size=500)
    opts = {"keep": ["rid"], "explain": 2}
    local = score_job(model_dir, root / "in", root / "local", unit_rows=1000, **opts)
    remote = score_job_spark(model_dir, root / "in", root / "spark", spark=spark, **opts)
    return root, local, remote


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("rid").reset_index(drop=True)


def test_same_rows_scores_flags_and_explanations(both):
    root, local, remote = both
    a, b = _read(root / "local"), _read(root / "spark")
    assert list(b.columns) == list(a.columns)
    assert a["rid"].tolist() == b["rid"].tolist()
    assert len(a) == N_ROWS - len(BAD) and 11 in set(b["rid"])
    np.testing.assert_allclose(b["score"], a["score"], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(b["is_anomaly"], a["is_anomaly"])
    for col in a.columns:
        if a[col].dtype.kind == "f":
            np.testing.assert_allclose(b[col], a[col], rtol=0, atol=1e-9, err_msg=col)
        else:
            assert b[col].tolist() == a[col].tolist(), col
    for field in ("rows_in", "rows_scored", "rows_rejected", "anomalies", "reject_reasons"):
        assert getattr(remote, field) == getattr(local, field), field
    assert remote.rows_in == N_ROWS and remote.anomalies == int(b["is_anomaly"].sum())


def test_same_rejects_and_reasons(both):
    root, _, remote = both
    a = pd.read_parquet(root / "local" / "_rejects").sort_values("rid").reset_index(drop=True)
    b = pd.read_parquet(root / "spark" / "_rejects").sort_values("rid").reset_index(drop=True)
    assert sorted(b.columns) == sorted(a.columns)
    assert b["rid"].tolist() == sorted(BAD)
    for col in ("source_file", "source_row", "reason", "hours-per-week", "workclass"):
        assert b[col].tolist() == a[col].tolist(), col
    assert b["source_row"].tolist() == [7, 123, 300, 1799]  # row numbers within each file
    assert b["source_file"].str.endswith(("a.parquet", "b.parquet")).all()
    assert remote.rejects == str(root / "spark" / "_rejects")


def test_markers_and_completed_rerun(both, model_dir, spark):
    root, _, remote = both
    out = root / "spark"
    assert (out / "_SUCCESS").exists() and (out / "_job.json").exists()
    saved = json.loads((out / "_summary.json").read_text())
    assert saved["rows_scored"] == remote.rows_scored and saved["units"] >= 2
    assert json.loads((out / "_job.json").read_text())["options"]["engine"] == "spark"
    again = score_job_spark(  # complete: the saved summary, nothing recomputed
        model_dir, root / "in", out, keep=["rid"], explain=2, spark=spark
    )
    assert again == remote
    with pytest.raises(ConfigError, match="different job"):
        score_job_spark(model_dir, root / "in", out, keep=[], spark=spark)
    with pytest.raises(ConfigError, match="different job"):  # not the local engine's job
        score_job_spark(model_dir, root / "in", root / "local", keep=["rid"], explain=2)


def test_csv_input_single_file_output_plain_synthesizer(table, spark, tmp_path):
    df = table.iloc[:1500]
    syn = Synthesizer(
        "naive_bayes",
        {"n_classes": 2},
        device="cpu",
        random_state=0,
        schema={"rid": "drop"},
    ).fit(df)
    df.to_csv(tmp_path / "in.csv", index=False)  # the string columns' nulls: empty fields
    opts = {"keep": ["rid"], "explain": 1}
    local = score_job(syn, tmp_path / "in.csv", tmp_path / "local.parquet", **opts)
    remote = score_job_spark(
        syn, tmp_path / "in.csv", tmp_path / "spark.parquet", spark=spark, **opts
    )
    a, b = _read(tmp_path / "local.parquet"), _read(tmp_path / "spark.parquet")
    assert list(b.columns) == list(a.columns) == ["rid", "score", "top1_column", "top1_log_prob"]
    assert remote.output == str(tmp_path / "spark.parquet")
    assert a["rid"].tolist() == b["rid"].tolist() == list(range(1500))
    np.testing.assert_allclose(b["score"], a["score"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(b["top1_log_prob"], a["top1_log_prob"], rtol=0, atol=1e-9)
    assert b["top1_column"].tolist() == a["top1_column"].tolist()
    assert remote.rows_scored == local.rows_scored == 1500
    assert not (tmp_path / ".spark.parquet.parts").exists()


def test_mixed_types_nanosecond_timestamps_and_dictionaries(small_mixed, spark, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = small_mixed.copy()
    df.insert(0, "rid", np.arange(len(df)))
    df["signup"] = df["signup"].astype("datetime64[ns]")
    df["segment"] = df["segment"].astype("category")
    det = AnomalyDetector(
        "gmm",
        {"n_components": 2, "max_iter": 10},
        device="cpu",
        random_state=0,
        schema={"rid": "drop"},
    ).fit(df)
    table = pa.Table.from_pandas(df, preserve_index=False)
    assert table.schema.field("signup").type == pa.timestamp("ns")
    pq.write_table(table, tmp_path / "in.parquet", coerce_timestamps=None)
    score_job(det, tmp_path / "in.parquet", tmp_path / "local", keep=["rid"], explain=1)
    score_job_spark(
        det, tmp_path / "in.parquet", tmp_path / "spark", keep=["rid"], explain=1, spark=spark
    )
    a, b = _read(tmp_path / "local"), _read(tmp_path / "spark")
    assert a["rid"].tolist() == b["rid"].tolist() == list(range(len(df)))
    np.testing.assert_allclose(b["score"], a["score"], rtol=0, atol=1e-9)
    assert b["is_anomaly"].tolist() == a["is_anomaly"].tolist()
    assert b["top1_column"].tolist() == a["top1_column"].tolist()


def test_clear_errors_without_pyspark_or_java(model_dir, tmp_path, monkeypatch):
    from synthkit.errors import BackendError
    from synthkit.jobs import spark as engine

    (tmp_path / "in.parquet").write_bytes(b"")
    monkeypatch.setitem(__import__("sys").modules, "pyspark", None)  # import fails
    with pytest.raises(BackendError, match=r"synthkit\[spark\]"):
        score_job_spark(model_dir, tmp_path / "in.parquet", tmp_path / "out")
    monkeypatch.undo()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(BackendError, match="JAVA_HOME"):
        engine._check_java()
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendError, match="no java was found"):
        engine._check_java()


def test_worker_failures_become_one_line_backend_errors():
    from synthkit.jobs.spark import _spark_failure

    trace = (
        "\n  An exception was thrown from the Python worker. Please see the stack trace below.\n"
        'Traceback (most recent call last):\n  File "x.py", line 1, in f\n'
        "ModuleNotFoundError: No module named 'synthkit'\n"
    )
    assert str(_spark_failure(RuntimeError(trace))) == (
        "the Spark scoring job failed: ModuleNotFoundError: No module named 'synthkit'"
    )
    wrapped = trace + "synthkit.errors.DataValidationError: column 'x' is missing\n"
    assert "DataValidationError: column 'x' is missing" in str(_spark_failure(ValueError(wrapped)))
