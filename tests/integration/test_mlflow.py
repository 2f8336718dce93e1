"""MLflow tracking and the synthkit model flavor, against a real SQLite-backed MLflow store.

One store per module (creating its tables takes seconds); one detector is fitted and logged
once and inspected by several tests. Everything is small: 300 rows, 2 components, 10 EM
iterations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

mlflow = pytest.importorskip("mlflow")

from synthkit.cli import main  # noqa: E402 (after the importorskip)
from synthkit.tracking import (  # noqa: E402
    FLAVOR_NAME,
    MlflowCallback,
    data_fingerprint,
    load_model,
    log_fit,
    log_model,
    save_model,
    tracking_run,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
FAST = {"n_components": 2, "max_iter": 10}
REGISTERED = "synthkit-test-model"

pytestmark = [
    pytest.mark.filterwarnings("ignore::synthkit.errors.SynthkitWarning"),  # 10 EM iterations
    # MLflow's own deprecation noise (SQLAlchemy 2.1, pandas 3), not ours to fix.
    pytest.mark.filterwarnings("ignore:.*noload.*"),
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated"),
]


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _isolate(mp: pytest.MonkeyPatch, store_uri: str) -> None:
    """Point MLflow at ``store_uri``; clear what other code set process-wide.

    ``mlflow.set_tracking_uri`` beats ``MLFLOW_TRACKING_URI`` and ``mlflow.set_experiment``
    outlives its store: both private globals are reset here and restored afterwards.
    """
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    mp.setattr(utils, "_tracking_uri", None)
    mp.setattr(fluent, "_active_experiment_id", None, raising=False)
    mp.setenv("MLFLOW_TRACKING_URI", store_uri)


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh SQLite store; its artifacts go to ``mlruns/`` beside it."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # MLflow caches one store per URI and fixes its default artifact root ("./mlruns") when
    # it creates it: create it here, from the store's folder, not from the repository.
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mlflow.tracking.MlflowClient(tracking_uri=uri).search_experiments()
    return uri


@pytest.fixture(autouse=True)
def _use_store(store_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test talks to the module's store; the cwd is a temp dir (no stray mlflow.db)."""
    _isolate(monkeypatch, store_uri)
    monkeypatch.delenv("SYNTHKIT_TRACK", raising=False)
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    assert mlflow.active_run() is None, "a test left an MLflow run open"


@pytest.fixture(scope="module")
def train(small_mixed: pd.DataFrame) -> pd.DataFrame:
    return small_mixed.head(300).copy()


@pytest.fixture(scope="module")
def logged(store_uri: str, train: pd.DataFrame) -> dict[str, Any]:
    """Fit a detector inside a tracked run, log fit + model, register it: what tests inspect."""
    from synthkit import AnomalyDetector

    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, store_uri)
        with tracking_run(experiment="tests", run_name="fit-once") as run:
            det = AnomalyDetector(backend_params=FAST, random_state=0)
            det.fit(train, callbacks=[MlflowCallback()])
            log_fit(det, train, fit_seconds=1.5)
            info = log_model(det, "model", training_data=train, registered_model_name=REGISTERED)
    return {"run_id": run.info.run_id, "detector": det, "info": info}


def _client() -> Any:
    return mlflow.tracking.MlflowClient()


# --------------------------------------------------------------------------- imports


def test_import_synthkit_and_help_do_not_import_mlflow() -> None:
    code = (
        "import sys, synthkit, synthkit.tracking\n"
        "from synthkit.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    main(['fit', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'mlflow' not in sys.modules, 'mlflow imported'\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_subprocess_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "--track / --no-track" in proc.stdout


# --------------------------------------------------------------------------- logging


def test_log_fit_params(logged: dict[str, Any], train: pd.DataFrame) -> None:
    params = _client().get_run(logged["run_id"]).data.params
    assert params["estimator"] == "AnomalyDetector"
    assert params["backend"] == "gmm"
    assert params["backend.n_components"] == "2"
    assert params["backend.max_iter"] == "10"
    assert params["estimator.contamination"] == "0.01"
    assert params["n_rows"] == "300"
    assert params["n_columns"] == str(train.shape[1])
    assert params["data_fingerprint"] == data_fingerprint(train)
    kinds = {k.split(".", 1)[1]: int(v) for k, v in params.items() if k.startswith("schema.")}
    assert sum(kinds.values()) == train.shape[1]
    assert kinds["categorical"] >= 1 and kinds["datetime"] == 1


def test_data_fingerprint_tracks_content(train: pd.DataFrame) -> None:
    assert data_fingerprint(train) == data_fingerprint(train.copy().reset_index(drop=True))
    changed = train.copy()
    changed.loc[changed.index[0], "age"] += 1
    assert data_fingerprint(changed) != data_fingerprint(train)
    assert data_fingerprint(train.rename(columns={"age": "years"})) != data_fingerprint(train)


def test_log_fit_metrics_and_step_history(logged: dict[str, Any]) -> None:
    client = _client()
    metrics = client.get_run(logged["run_id"]).data.metrics
    det = logged["detector"]
    assert metrics["fit_seconds"] == 1.5
    assert metrics["threshold"] == pytest.approx(det.threshold_)
    assert metrics["train_log_likelihood"] < 0
    history = client.get_metric_history(logged["run_id"], "log_lik")
    n_iter = det.synthesizer_.backend_.fit_info_["n_iter"]
    assert [m.step for m in sorted(history, key=lambda m: m.step)] == list(range(1, n_iter + 1))
    assert history[-1].value == pytest.approx(metrics["backend_log_likelihood"])


def test_callback_steps_continue_across_inner_fits() -> None:
    with tracking_run(experiment="tests") as run:
        cb = MlflowCallback(flush_every=2)
        for _stage in range(2):  # e.g. two BIC candidates, each counting from 1
            cb.on_fit_start(3, "EM")
            for step in (1, 2, 3):
                cb.on_step(step, {"loss": float(step)})
            cb.on_fit_end({})
    history = _client().get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == [1, 2, 3, 4, 5, 6]
    stages = _client().get_metric_history(run.info.run_id, "fit_stage")
    assert {m.step: m.value for m in stages}[4] == 1.0


def test_tracking_run_restores_default_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without MLFLOW_TRACKING_URI the run goes to ./mlflow.db, and nothing global stays set."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with tracking_run(run_name="default-store") as run:
        assert mlflow.get_tracking_uri() == f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    assert Path("mlflow.db").is_file()
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert run.info.run_name == "default-store"


# --------------------------------------------------------------------------- the flavor


def _local_model(logged: dict[str, Any], tmp_path: Path) -> Path:
    uri = logged["info"].model_uri
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path)))


def test_logged_model_layout_has_no_pickle(
    logged: dict[str, Any], train: pd.DataFrame, tmp_path: Path
) -> None:
    local = _local_model(logged, tmp_path)
    files = [p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()]
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))], files
    conf = mlflow.models.Model.load(str(local / "MLmodel"))
    flavor = conf.flavors[FLAVOR_NAME]
    assert flavor["estimator"] == "AnomalyDetector"
    assert (local / flavor["model_dir"] / "synthkit.json").is_file()
    assert (local / flavor["model_dir"] / "weights.safetensors").is_file()
    pyfunc = conf.flavors["python_function"]
    assert "python_model" not in pyfunc  # the pickled-object key of non-code models
    assert pyfunc["model_code_path"].endswith("_pyfunc_model.py")
    example = conf.load_input_example(str(local))  # synthetic rows, never training rows
    assert len(example) == 5
    assert not example["income"].dropna().isin(train["income"]).any()
    requirements = (local / "requirements.txt").read_text()
    assert "torch>=2.4" in requirements
    assert "+cpu" not in requirements and "+cu" not in requirements


def test_signature(logged: dict[str, Any], train: pd.DataFrame) -> None:
    signature = mlflow.models.get_model_info(logged["info"].model_uri).signature
    assert signature.inputs.input_names() == list(train.columns)
    assert signature.outputs.input_names() == ["score", "is_anomaly"]
    assert {p.name for p in signature.params} == {"mode", "n", "seed"}


def test_pyfunc_scores_match_estimator(logged: dict[str, Any], train: pd.DataFrame) -> None:
    model = mlflow.pyfunc.load_model(logged["info"].model_uri)
    det = logged["detector"]
    out = model.predict(train)
    assert list(out.columns) == ["score", "is_anomaly"]
    np.testing.assert_allclose(out["score"], det.score_samples(train), rtol=1e-10)
    np.testing.assert_array_equal(out["is_anomaly"], det.predict(train) == -1)


def test_pyfunc_sample_mode(logged: dict[str, Any], train: pd.DataFrame) -> None:
    model = mlflow.pyfunc.load_model(f"runs:/{logged['run_id']}/model")
    params = {"mode": "sample", "n": 7, "seed": 3}
    fake = model.predict(train.head(1), params=params)
    assert fake.shape == (7, train.shape[1])
    assert list(fake.columns) == list(train.columns)
    pd.testing.assert_frame_equal(fake, model.predict(train.head(1), params=params))
    expected = logged["detector"].synthesizer_.sample(7, random_state=3)
    pd.testing.assert_frame_equal(fake.reset_index(drop=True), expected.reset_index(drop=True))


def test_flavor_load_model(logged: dict[str, Any], train: pd.DataFrame) -> None:
    from synthkit import AnomalyDetector

    det = load_model(logged["info"].model_uri)
    assert isinstance(det, AnomalyDetector)
    np.testing.assert_allclose(det.score_samples(train), logged["detector"].score_samples(train))


def test_model_registry(logged: dict[str, Any], train: pd.DataFrame) -> None:
    version = _client().get_model_version(REGISTERED, "1")
    assert version.run_id == logged["run_id"]
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED}/1")
    np.testing.assert_allclose(
        model.predict(train.head(20))["score"], logged["detector"].score_samples(train.head(20))
    )
    assert isinstance(load_model(f"models:/{REGISTERED}/1"), type(logged["detector"]))


def test_save_model_synthesizer(train: pd.DataFrame, tmp_path: Path) -> None:
    """A plain synthesizer scores without is_anomaly; a local directory works without a run."""
    from synthkit import Synthesizer

    syn = Synthesizer(backend_params=FAST, random_state=0).fit(train)
    save_model(syn, tmp_path / "m")  # no input example: schema from synthetic rows
    model = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    out = model.predict(train.head(50))
    assert list(out.columns) == ["score"]
    np.testing.assert_allclose(out["score"], syn.score_samples(train.head(50)))
    with pytest.raises(Exception, match="sample mode needs"):
        model.predict(train.head(1), params={"mode": "sample", "n": 0})


# --------------------------------------------------------------------------- CLI


def _run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _runs(experiment: str) -> list[Any]:
    exp = _client().get_experiment_by_name(experiment)
    return [] if exp is None else _client().search_runs([exp.experiment_id])


@pytest.fixture(scope="module")
def train_parquet(tmp_path_factory: pytest.TempPathFactory, train: pd.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.parquet"
    train.to_parquet(path)
    return path


def _fit_args(train_parquet: Path, out: Path) -> list[object]:
    return [
        "fit", train_parquet, "-o", out, "--seed", "0",
        "--param", "n_components=2", "--param", "max_iter=10",
    ]  # fmt: skip


def test_cli_fit_tracks_by_default(train_parquet: Path, tmp_path: Path) -> None:
    result = _run(
        *_fit_args(train_parquet, tmp_path / "m"), "--experiment", "cli", "--run-name", "r"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(tmp_path / "m")
    (run,) = _runs("cli")
    assert run.info.run_id in result.stderr
    assert run.info.run_name == "r"
    assert run.data.params["backend.n_components"] == "2"
    assert run.data.params["input_path"] == str(train_parquet)
    assert run.data.tags["synthkit.command"] == "fit"
    assert len(_client().get_metric_history(run.info.run_id, "log_lik")) >= 1
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert list(model.predict(pd.read_parquet(train_parquet).head(5)).columns) == [
        "score",
        "is_anomaly",
    ]

    # sample from the fitted model: n, seed and the output table are logged
    out = tmp_path / "fake.parquet"
    result = _run("sample", tmp_path / "m", "-n", 25, "-o", out, "--seed", 4, "--experiment", "cli")
    assert result.exit_code == 0, result.output
    runs = {r.data.tags["synthkit.command"]: r for r in _runs("cli")}
    sample_run = runs["sample"]
    assert sample_run.data.params["n"] == "25"
    assert sample_run.data.params["seed"] == "4"
    artifacts = [a.path for a in _client().list_artifacts(sample_run.info.run_id, "samples")]
    assert artifacts == ["samples/fake.parquet"]


def test_cli_no_track(train_parquet: Path, tmp_path: Path) -> None:
    result = _run(*_fit_args(train_parquet, tmp_path / "m"), "--no-track", "--experiment", "off")
    assert result.exit_code == 0, result.output
    assert _runs("off") == []
    assert "MLflow run" not in result.stderr


def test_cli_without_mlflow_warns(
    train_parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # makes `import mlflow` raise ImportError
    result = _run(*_fit_args(train_parquet, tmp_path / "m"), "--experiment", "missing")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "mlflow is not installed" in line]
    assert len(warnings) == 1
    assert (tmp_path / "m" / "synthkit.json").is_file()


@pytest.mark.slow
def test_cli_demo_tracks(tmp_path: Path) -> None:
    result = _run("demo", "-o", tmp_path / "demo", "--experiment", "demo")
    assert result.exit_code == 0, result.output
    (run,) = _runs("demo")
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert run.data.metrics["report_shape_error_pct"] == pytest.approx(report["shape_error_pct"])
    assert run.data.metrics["report_trend_error_pct"] == pytest.approx(report["trend_error_pct"])
    assert {"demo/report.json", "demo/synthetic.parquet"} <= {
        a.path for a in _client().list_artifacts(run.info.run_id, "demo")
    }
    mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")


# --------------------------------------------------------------------------- MLproject


@pytest.mark.slow
def test_mlflow_project_entry_points(train_parquet: Path, store_uri: str, tmp_path: Path) -> None:
    """`mlflow run mlflow -e fit/sample/report/score --env-manager local` all run and log."""
    env = _subprocess_env(MLFLOW_TRACKING_URI=store_uri, MLFLOW_EXPERIMENT_NAME="project")
    env.pop("SYNTHKIT_TRACK", None)

    def project(entry: str, **params: object) -> None:
        cmd = ["mlflow", "run", str(REPO_ROOT / "mlflow"), "-e", entry, "--env-manager", "local"]
        for key, value in params.items():
            cmd += ["-P", f"{key}={value}"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    model, fake = tmp_path / "model", tmp_path / "fake.parquet"
    project("fit", data=train_parquet, output=model)
    project("sample", model=model, output=fake, n=50)
    project("report", real=train_parquet, synthetic=fake, output=tmp_path / "report.json")
    project("score", model=model, data=train_parquet, output=tmp_path / "scores.parquet")
    runs = {r.data.params.get("mlflow.project.entryPoint") for r in _runs("project")}
    fit_run = next(r for r in _runs("project") if "backend.n_components" in r.data.params)
    assert fit_run.data.params["data"] == str(train_parquet)
    assert len(_runs("project")) == 4, runs
    assert (tmp_path / "scores.parquet").is_file()
    assert json.loads((tmp_path / "report.json").read_text())["n_synthetic"] == 50
