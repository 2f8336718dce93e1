"""Declarative pipelines: validation errors, the shipped files, an end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthkit.errors import ConfigError, InputFileError
from synthkit.pipeline import load_pipeline, run_pipeline

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture()
def table(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    n = 600
    g = rng.choice(["a", "b"], n)
    x = rng.normal(size=n) + (g == "b") * 2
    label = (rng.random(n) < 0.05).astype(int)
    x = np.where(label == 1, x + 8, x)  # planted anomalies
    df = pd.DataFrame({"g": g, "x": x, "y": 2 * x + rng.normal(size=n), "label": label})
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    return path


def test_every_problem_is_reported_at_once(tmp_path, table):
    path = _write(
        tmp_path,
        """
        [pipeline]
        nmae = "typo"
        [data]
        path = "t.parquet"
        holdout = "lots"
        [model]
        task = "dream"
        [extra]
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_pipeline(path)
    problems = info.value.problems
    assert any("unknown key 'nmae'" in p and "allowed: name" in p for p in problems)
    assert any("holdout must be float or int" in p for p in problems)
    assert any("task must be one of" in p for p in problems)
    assert any("unknown section [extra]" in p for p in problems)
    assert all(str(path) in p for p in problems)


def test_missing_files_are_clear(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        load_pipeline(tmp_path / "nope.toml")
    path = _write(tmp_path, '[data]\npath = "missing.parquet"\n')
    with pytest.raises(InputFileError, match=r"missing\.parquet"):
        load_pipeline(path)
    with pytest.raises(ConfigError, match="path is required"):
        load_pipeline(_write(tmp_path, "[model]\nbackend = 'gmm'\n", "q.toml"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_pipeline(_write(tmp_path, "[data\n", "r.toml"))


def test_shipped_pipelines_validate(data_dir):
    for toml in sorted((REPO / "pipelines").glob("*.toml")):
        if "shared" in toml.read_text() and not data_dir.exists():
            continue
        config = load_pipeline(toml)
        assert Path(config["data"]["path"]).exists(), toml


def test_synthesize_then_detect_end_to_end(tmp_path, table, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = table.read_bytes()
    path = _write(
        tmp_path,
        f"""
        [pipeline]
        name = "t"
        output = "{tmp_path / "out"}"
        [data]
        path = "t.parquet"
        drop = ["label"]
        [model]
        params = {{ n_components = 2, max_iter = 20 }}
        [sample]
        n = 300
        [report]
        privacy = true
        efficacy_target = "g"
        """,
    )
    result = run_pipeline(path, track=False)
    out = tmp_path / "out"
    assert (out / "_SUCCESS").exists() and not (out / "_RUNNING").exists()
    assert len(pd.read_parquet(out / "synthetic.parquet")) == 300
    report = json.loads((out / "report.json").read_text())
    assert report == json.loads(json.dumps(result.report, default=float))
    assert {"fidelity", "privacy", "efficacy"} <= set(report)
    assert 0 <= report["fidelity"]["shape_error_pct"] < 20
    assert table.read_bytes() == before  # inputs untouched

    det = _write(
        tmp_path,
        f"""
        [pipeline]
        output = "{tmp_path / "det"}"
        [data]
        path = "t.parquet"
        label = "label"
        holdout = 0.5
        [model]
        task = "detect"
        params = {{ n_components = 2, max_iter = 20 }}
        [score]
        on = "holdout"
        """,
        "det.toml",
    )
    report = run_pipeline(det, track=False).report
    assert report["anomaly"]["auroc"] > 0.9  # the planted anomalies are far out
    scores = pd.read_parquet(tmp_path / "det" / "scores.parquet")
    assert {"score", "is_anomaly", "label"} <= set(scores.columns)


def test_tracked_pipeline_logs_to_mlflow(tmp_path, table, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)  # the store's artifacts (./mlruns) land here, not in the repo
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    path = _write(
        tmp_path,
        f"""
        [pipeline]
        output = "{tmp_path / "out"}"
        [data]
        path = "t.parquet"
        drop = ["label"]
        [model]
        params = {{ n_components = 2, max_iter = 10 }}
        [sample]
        [report]
        privacy = false
        [tracking]
        experiment = "pipes"
        """,
    )
    result = run_pipeline(path)
    run = mlflow.get_run(result.run_id)
    assert "fidelity.shape_error_pct" in run.data.metrics
    assert run.data.params["backend"] == "gmm"
