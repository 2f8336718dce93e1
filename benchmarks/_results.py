"""Results CSVs (append + resume) and optional MLflow tracking."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks._env import RESULTS_DIR

SYNTHESIS_KEY = ("method", "dataset", "seed")
ANOMALY_KEY = ("detector", "dataset", "seed")


def results_path(suite: str, part: str, results_dir: Path | None = None) -> Path:
    return (results_dir or RESULTS_DIR) / f"{suite}_{part}.csv"


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def done_keys(path: Path, key: tuple[str, ...]) -> set[tuple[str, ...]]:
    """Keys of the rows already finished successfully (failed ones are retried)."""
    return {
        tuple(str(r.get(k, "")) for k in key)
        for r in read_rows(path)
        if r.get("status", "ok") == "ok"
    }


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return v


def append_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows; a new column rewrites the file with the union of the columns."""
    rows = [{k: _fmt(v) for k, v in r.items()} for r in rows]
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    old = read_rows(path)
    fields: list[str] = list(old[0].keys()) if old else []
    for r in rows:
        fields += [k for k in r if k not in fields]
    if old and set(fields) != set(old[0].keys()):
        tmp = path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, restval="")
            w.writeheader()
            w.writerows(old + rows)
        os.replace(tmp, path)
        return
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, restval="")
        if new:
            w.writeheader()
        w.writerows(rows)


class Tracker:
    """One MLflow run per result row; a no-op (with a one-line notice) without mlflow."""

    def __init__(self, enabled: bool, experiment: str, results_dir: Path | None = None) -> None:
        self.mlflow: Any = None
        if not enabled:
            return
        try:
            import mlflow
        except ImportError:
            print("mlflow is not installed: tracking skipped (pip install 'synthkit[bench]')")
            return
        base = results_dir or RESULTS_DIR
        base.mkdir(parents=True, exist_ok=True)
        from_env = os.environ.get("MLFLOW_TRACKING_URI")
        uri = from_env or f"sqlite:///{base / 'mlflow.db'}"
        mlflow.set_tracking_uri(uri)
        if not from_env:  # mlflow 3 exports it as MLFLOW_TRACKING_URI: keep our default private
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        if mlflow.get_experiment_by_name(experiment) is None:
            artifacts = None if from_env else base / "mlruns"
            mlflow.create_experiment(
                experiment, artifact_location=artifacts.as_uri() if artifacts else None
            )
        mlflow.set_experiment(experiment)
        self.mlflow = mlflow
        print(f"tracking to MLflow at {uri} (experiment {experiment!r})")

    def log(self, run_name: str, params: dict[str, Any], metrics: dict[str, Any]) -> None:
        if self.mlflow is None:
            return
        with self.mlflow.start_run(run_name=run_name):
            self.mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            clean = {}
            for k, v in metrics.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                if math.isfinite(v):
                    clean[k] = float(v)
            self.mlflow.log_metrics(clean)
