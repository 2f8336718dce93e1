"""``synthkit report`` end to end: files, atomic output, CLI errors, MLflow tracking, and a
headless Chromium render of the HTML page (skipped when no Chromium is installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from synthkit.cli import main
from synthkit.io import write_table

pytestmark = pytest.mark.filterwarnings("ignore::synthkit.errors.SynthkitWarning")

SECTIONS = {"meta", "fidelity", "alpha_precision", "detection", "efficacy", "likelihood",
            "privacy", "anomaly", "skipped", "timings"}  # fmt: skip


def _run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, small_mixed: pd.DataFrame) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report-data")
    train, hold = small_mixed.head(250), small_mixed.iloc[250:450].copy()
    hold["flag"] = (hold["age"] > hold["age"].quantile(0.9)).astype(int)
    paths = {"train": write_table(train, root / "train.parquet")}
    paths["holdout"] = write_table(hold, root / "holdout.parquet")
    model = root / "model"
    result = _run("fit", paths["train"], "-o", model, "--seed", 0, "--no-track",
                  "--param", "n_components=2", "--param", "max_iter=10")  # fmt: skip
    assert result.exit_code == 0, result.output
    paths["model"] = model
    return paths


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory, data: dict[str, Path]) -> Path:
    out = tmp_path_factory.mktemp("reports") / "rep"
    result = _run(
        "report", data["model"], "--real", data["train"], "--holdout", data["holdout"],
        "--target", "segment", "--label-col", "flag", "-o", out, "--no-track",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(out)
    return out


def test_report_files(report_dir: Path) -> None:
    assert sorted(p.name for p in report_dir.iterdir()) == ["report.html", "report.json"]
    assert not list(report_dir.parent.glob(".rep.*"))  # no temporary directory left
    rep = json.loads((report_dir / "report.json").read_text())
    assert set(rep) == SECTIONS
    assert rep["meta"]["n_real"] == 250 and rep["meta"]["n_synthetic"] == 250
    assert rep["meta"]["label_column"] == "flag"
    for key in ("dcr_share", "membership_inference_auc", "nndr_median_synthetic",
                "exact_copy_rate"):  # fmt: skip
        assert 0.0 <= rep["privacy"][key] <= 1.0, key
    assert {"alpha_precision", "beta_recall", "authenticity"} <= set(rep["alpha_precision"])
    assert {"holdout_nll", "holdout_bits_per_column"} <= set(rep["likelihood"])
    assert {"auroc", "auprc", "precision_at_k"} <= set(rep["anomaly"])
    html = (report_dir / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "Membership-inference AUC" in html


def test_report_refuses_to_replace_without_overwrite(
    report_dir: Path, data: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "rep"
    shutil.copytree(report_dir, copy)
    args = ["report", data["model"], "--real", data["train"], "-o", copy, "--no-track"]
    result = _run(*args)
    assert result.exit_code == 1 and "--overwrite" in result.stderr
    result = _run(*args, "--overwrite", "--n-rows", 100)
    assert result.exit_code == 0, result.output
    rep = json.loads((copy / "report.json").read_text())
    assert rep["meta"]["n_synthetic"] == 100 and "efficacy" in rep["skipped"]
    (copy / "other.txt").write_text("x")
    result = _run(*args, "--overwrite")
    assert result.exit_code == 1 and "other than a synthkit report" in result.stderr


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--synthetic", "s.parquet", "--n-rows", "5"], "either --synthetic or --n-rows"),
        (["--target", "nope"], "target column 'nope'"),
        (["--label-col", "nope"], "label column 'nope'"),
    ],
)
def test_report_errors_are_one_line(
    data: dict[str, Path], tmp_path: Path, extra: list[str], fragment: str
) -> None:
    result = _run("report", data["model"], "--real", data["train"], "-o", tmp_path / "r",
                  "--no-track", *extra)  # fmt: skip
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ MLflow


def test_report_and_score_are_tracked(
    data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(utils, "_tracking_uri", None)
    monkeypatch.setattr(fluent, "_active_experiment_id", None, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("SYNTHKIT_TRACK")
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)

    out = tmp_path / "rep"
    result = _run("report", data["model"], "--real", data["train"], "--holdout",
                  data["holdout"], "-o", out, "--experiment", "rep",
                  "--run-name", "r1")  # fmt: skip
    assert result.exit_code == 0, result.output
    report_stderr = result.stderr
    scores = tmp_path / "scores.parquet"
    result = _run("score", data["model"], data["holdout"], "-o", scores, "--experiment", "rep")
    assert result.exit_code == 0, result.output

    client = mlflow.tracking.MlflowClient()
    exp = client.get_experiment_by_name("rep")
    runs: dict[str, Any] = {
        r.data.tags["synthkit.command"]: r for r in client.search_runs([exp.experiment_id])
    }
    assert set(runs) == {"report", "score"}
    rep_run = runs["report"]
    assert rep_run.info.run_name == "r1"
    assert rep_run.info.run_id in report_stderr
    report = json.loads((out / "report.json").read_text())
    metrics = rep_run.data.metrics
    assert metrics["privacy.dcr_share"] == pytest.approx(report["privacy"]["dcr_share"])
    assert metrics["fidelity.shape_error_pct"] == pytest.approx(
        report["fidelity"]["shape_error_pct"]
    )
    assert "alpha_precision.beta_recall" in metrics
    assert rep_run.data.params["real"] == str(data["train"])
    artifacts = {a.path for a in client.list_artifacts(rep_run.info.run_id, "report")}
    assert artifacts == {"report/report.html", "report/report.json"}

    score_run = runs["score"]
    assert score_run.data.params["model"] == str(data["model"])
    assert score_run.data.params["input"] == str(data["holdout"])
    assert score_run.data.params["rows"] == "200"
    assert score_run.data.metrics["rows_scored"] == 200
    assert score_run.data.metrics["rows_rejected"] == 0
    assert score_run.data.metrics["rows_per_second"] > 0
    assert mlflow.active_run() is None


# ------------------------------------------------------------------ browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_html_renders_in_headless_chromium(report_dir: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary on PATH (apt-get install chromium)")
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,3000",
            f"--screenshot={shot}", "--enable-logging=stderr", "--v=0",
            (report_dir / "report.html").as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.is_file(), proc.stderr
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 20_000  # a blank page is a few kB; plots and tables make far more
    console = [
        line
        for line in proc.stderr.splitlines()
        if "Uncaught" in line or ("CONSOLE" in line and "error" in line.lower())
    ]
    assert not console, console
