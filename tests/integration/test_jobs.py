"""Batch scoring jobs: streamed parts, rejects, resume, exactly-once after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthkit import AnomalyDetector, Synthesizer
from synthkit.errors import ConfigError, DataValidationError, InputFileError
from synthkit.jobs import score_job


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b", "c"], n)
    x = rng.normal(size=n) + (g == "b") * 3
    return pd.DataFrame(
        {
            "rid": np.arange(n),
            "g": pd.Series(g, dtype="str"),
            "x": x,
            "k": rng.integers(0, 200, n),
        }
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "det"
    df = _table(2000)
    det = AnomalyDetector(
        "gmm",
        {"n_components": 3, "max_iter": 20},
        contamination=0.02,
        device="cpu",
        random_state=0,
        schema={"rid": "drop"},
    ).fit(df)
    det.save(path)
    return path


def _write_parts(df: pd.DataFrame, path: Path, row_group_size: int) -> Path:
    df.to_parquet(path, row_group_size=row_group_size)
    return path


def test_directory_output_matches_in_memory_scoring(model_dir, tmp_path):
    from synthkit import load

    df = _table(5000, seed=1)
    src = _write_parts(df, tmp_path / "in.parquet", 700)
    summary = score_job(model_dir, src, tmp_path / "out", keep=["rid"], unit_rows=1500)
    out_dir = tmp_path / "out"
    assert (out_dir / "_SUCCESS").exists() and (out_dir / "_job.json").exists()
    assert summary.rows_in == summary.rows_scored == 5000 and summary.rows_rejected == 0
    assert summary.units == len(list(out_dir.glob("part-*.parquet"))) > 1
    out = pd.read_parquet(out_dir).sort_values("rid").reset_index(drop=True)
    assert list(out.columns) == ["rid", "score", "is_anomaly"]
    det = load(model_dir)
    np.testing.assert_allclose(out["score"], det.score_samples(df), rtol=1e-9)
    np.testing.assert_array_equal(out["is_anomaly"], det.predict(df) == -1)
    assert summary.anomalies == int(out["is_anomaly"].sum())
    saved = json.loads((out_dir / "_summary.json").read_text())
    assert saved["rows_scored"] == 5000


def test_bad_rows_are_rejected_with_reasons(model_dir, tmp_path):
    df = _table(1000, seed=2)
    df["x"] = df["x"].astype(object)
    df.loc[5, "x"] = "not a number"
    df.loc[9, "x"] = np.inf
    df["x"] = df["x"].astype(str)
    df.loc[11, "g"] = "never seen"  # unseen category: scored, not rejected
    src = _write_parts(df, tmp_path / "in.parquet", 400)
    summary = score_job(model_dir, src, tmp_path / "out", keep=["rid"], unit_rows=400)
    assert summary.rows_rejected == 2 and summary.rows_scored == 998
    rejects = pd.read_parquet(tmp_path / "out" / "_rejects")
    assert sorted(rejects["source_row"]) == [5, 9]
    assert rejects["reason"].str.contains("column 'x'").all()
    assert set(summary.reject_reasons.values()) == {1}
    out = pd.read_parquet(tmp_path / "out")  # the rejects directory is not read with it
    assert len(out) == 998 and 11 in set(out["rid"]) and np.isfinite(out["score"]).all()


def test_single_file_outputs_csv_in_and_out(model_dir, tmp_path):
    df = _table(800, seed=3)
    df.to_csv(tmp_path / "in.csv", index=False)
    summary = score_job(
        model_dir,
        tmp_path / "in.csv",
        tmp_path / "scores.csv",
        keep=["rid"],
        explain=2,
        batch_rows=300,
        unit_rows=300,
    )
    out = pd.read_csv(tmp_path / "scores.csv")
    assert len(out) == 800 and out["rid"].tolist() == list(range(800))
    assert {"top1_column", "top1_log_prob", "top1_tail", "top2_column"} <= set(out.columns)
    assert summary.output == str(tmp_path / "scores.csv")
    assert not (tmp_path / ".scores.csv.parts").exists()  # parts removed once assembled
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_directory_of_parquet_files_and_plain_synthesizer(tmp_path):
    df = _table(1200, seed=4)
    syn = Synthesizer(
        "naive_bayes", {"n_classes": 2}, device="cpu", random_state=0, schema={"rid": "drop"}
    ).fit(df)
    (tmp_path / "in").mkdir()
    for i in range(3):
        df.iloc[i * 400 : (i + 1) * 400].to_parquet(tmp_path / "in" / f"f{i}.parquet")
    (tmp_path / "in" / "_SUCCESS").touch()  # ignored, like Spark's markers
    summary = score_job(syn, tmp_path / "in", tmp_path / "out.parquet", keep=["rid"])
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert summary.rows_scored == 1200 and "is_anomaly" not in out.columns
    np.testing.assert_allclose(out["score"], syn.score_samples(df), rtol=1e-9)


def test_resume_does_only_missing_units(model_dir, tmp_path):
    df = _table(3000, seed=5)
    src = _write_parts(df, tmp_path / "in.parquet", 500)
    out_dir = tmp_path / "out"
    first = score_job(model_dir, src, out_dir, keep=["rid"], unit_rows=500)
    # Pretend the job died: two parts missing, no success marker, a half-written part.
    for name in ("part-00001.parquet", "part-00004.parquet", "_SUCCESS", "_summary.json"):
        (out_dir / name).unlink()
    (out_dir / "part-00004.parquet.tmp").write_bytes(b"partial")
    again = score_job(model_dir, src, out_dir, keep=["rid"], unit_rows=500)
    assert again.units == first.units and again.units_resumed == first.units - 2
    assert again.rows_scored == 3000
    out = pd.read_parquet(out_dir)
    assert sorted(out["rid"]) == list(range(3000))  # nothing lost, nothing duplicated
    assert not list(out_dir.glob("*.tmp"))


def test_refuses_to_mix_jobs_and_bad_inputs(model_dir, tmp_path):
    df = _table(500, seed=6)
    src = _write_parts(df, tmp_path / "in.parquet", 500)
    score_job(model_dir, src, tmp_path / "out", keep=["rid"])
    with pytest.raises(ConfigError, match="different job"):
        score_job(model_dir, src, tmp_path / "out", keep=[])  # other options
    score_job(model_dir, src, tmp_path / "out", keep=[], overwrite=True)
    with pytest.raises(DataValidationError, match="'x'"):
        df.drop(columns="x").to_parquet(tmp_path / "nox.parquet")
        score_job(model_dir, tmp_path / "nox.parquet", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()  # nothing written for an unusable input
    with pytest.raises(DataValidationError, match="kept column 'nope'"):
        score_job(model_dir, src, tmp_path / "out3", keep=["nope"])
    with pytest.raises(InputFileError):
        score_job(model_dir, tmp_path / "missing.parquet", tmp_path / "out4")
    with pytest.raises(InputFileError, match="is the input"):
        score_job(model_dir, src, src)
    (tmp_path / "notmine").mkdir()
    (tmp_path / "notmine" / "precious.txt").write_text("keep me")
    with pytest.raises(InputFileError):
        score_job(model_dir, src, tmp_path / "notmine", overwrite=True)
    assert (tmp_path / "notmine" / "precious.txt").exists()
    with pytest.raises(ConfigError):
        score_job(model_dir, src, tmp_path / "out5", batch_rows=0)


def test_sigkill_then_rerun_is_exactly_once(model_dir, tmp_path):
    df = _table(30_000, seed=7)
    src = _write_parts(df, tmp_path / "in.parquet", 1000)
    out_dir = tmp_path / "out"
    script = textwrap.dedent(
        f"""
        import time
        from synthkit.jobs import score_job
        # Slow each unit down so the kill lands in the middle of the job.
        score_job({str(model_dir)!r}, {str(src)!r}, {str(out_dir)!r}, keep=["rid"],
                  unit_rows=1000, batch_rows=500,
                  on_progress=lambda *a: time.sleep(0.15))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 120
        while len(list(out_dir.glob("part-*.parquet"))) < 4:
            assert proc.poll() is None, "the job ended before it could be killed"
            assert time.time() < deadline, "the job made no progress"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (out_dir / "_SUCCESS").exists()  # marked incomplete
    done_before = len(list(out_dir.glob("part-*.parquet")))
    assert 4 <= done_before < 30
    summary = score_job(model_dir, src, out_dir, keep=["rid"], unit_rows=1000, batch_rows=500)
    assert summary.units == 30 and summary.units_resumed == done_before
    out = pd.read_parquet(out_dir)
    assert len(out) == 30_000 and out["rid"].is_unique
    assert sorted(out["rid"]) == list(range(30_000))
