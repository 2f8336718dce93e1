"""MLflow runs: where they are stored, what a fit logs, and a fit callback for step metrics.

mlflow is imported inside the functions, never at module level, so that ``import synthkit``
and ``synthkit --help`` stay fast and work without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthkit.callbacks import Callback
from synthkit.errors import SynthkitError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_TRACKING_URI",
    "MlflowCallback",
    "TrackingError",
    "data_fingerprint",
    "default_tracking_uri",
    "import_mlflow",
    "log_fit",
    "log_score_job",
    "tracking_run",
    "tracking_uri",
]

#: Where runs go when neither ``MLFLOW_TRACKING_URI`` nor ``mlflow.set_tracking_uri`` says
#: otherwise: a SQLite database in the working directory. It is MLflow's own default since
#: 3.7 (the ``./mlruns`` file store is deprecated) and, unlike the file store, it also holds
#: the Model Registry. Artifacts go to ``./mlruns`` next to it (MLflow's default root).
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"

#: Longer param values are cut: MLflow allows 6000 characters now, 500 in older versions.
_MAX_PARAM_CHARS = 500


class TrackingError(SynthkitError):
    """MLflow is missing, or logging to the tracking store failed."""


def import_mlflow() -> Any:
    """Import and return :mod:`mlflow`.

    Raises:
        TrackingError: mlflow is not installed.
    """
    try:
        import mlflow
    except ImportError as exc:
        raise TrackingError(
            f"MLflow tracking needs the mlflow package ({exc}); pip install 'mlflow>=2.13'"
        ) from exc
    return mlflow


def _uri_was_set(mlflow: Any) -> bool:
    """Whether the user chose a tracking URI (environment or ``mlflow.set_tracking_uri``)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return True
    try:  # private helper, present in MLflow 2.x and 3.x; fall back to "not set"
        from mlflow.tracking._tracking_service.utils import is_tracking_uri_set
    except ImportError:  # pragma: no cover
        return False
    return bool(is_tracking_uri_set())


def default_tracking_uri() -> str:
    """:data:`DEFAULT_TRACKING_URI` with the working directory's absolute path.

    Absolute because MLflow caches one store per URI string: a relative ``sqlite:///`` URI
    would keep pointing at the first directory it was used in after a ``chdir``.
    """
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def tracking_uri() -> str:
    """The tracking URI runs will use: the user's choice, else :func:`default_tracking_uri`."""
    mlflow = import_mlflow()
    return str(mlflow.get_tracking_uri()) if _uri_was_set(mlflow) else default_tracking_uri()


@contextlib.contextmanager
def tracking_run(
    experiment: str | None = None,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """Start (or resume) an MLflow run; end it when the block ends.

    The store is ``MLFLOW_TRACKING_URI`` (or what ``mlflow.set_tracking_uri`` set), else
    ``mlflow.db`` in the working directory (:func:`default_tracking_uri`). An active run is
    reused as is (so a caller's run, or the run ``mlflow run`` starts through
    ``MLFLOW_RUN_ID``, receives the logs) and is left open.

    Args:
        experiment: experiment name, created if missing; ``None`` keeps MLflow's choice
            (``MLFLOW_EXPERIMENT_NAME`` / ``MLFLOW_EXPERIMENT_ID``, else "Default").
        run_name: the run's display name (MLflow picks one when ``None``).
        tags: extra run tags.

    Yields:
        The active :class:`mlflow.ActiveRun`.

    Raises:
        TrackingError: mlflow is not installed.
    """
    mlflow = import_mlflow()
    from synthkit._version import __version__

    all_tags = {"synthkit.version": __version__, **{k: str(v) for k, v in (tags or {}).items()}}
    active = mlflow.active_run()
    if active is not None:
        mlflow.set_tags(all_tags)
        yield active
        return
    # The default store is set for this block only: mlflow.set_tracking_uri is process-wide
    # (it even exports MLFLOW_TRACKING_URI), and a library should not leave it changed.
    use_default = not _uri_was_set(mlflow)
    if use_default:
        mlflow.set_tracking_uri(default_tracking_uri())
    try:
        # Under `mlflow run` the run exists already (MLFLOW_RUN_ID) in the project's
        # experiment: naming another experiment would make start_run refuse to resume it.
        experiment_id = None
        if experiment is not None and not os.environ.get("MLFLOW_RUN_ID"):
            experiment_id = _experiment_id(mlflow, experiment)
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=all_tags) as run:
            yield run
    finally:
        if use_default:
            mlflow.set_tracking_uri(None)  # back to "not set" (and the variable unset)


def _experiment_id(mlflow: Any, name: str) -> str:
    """The id of experiment ``name``, created if missing.

    Not ``mlflow.set_experiment``: that changes the process-wide active experiment (and
    exports ``MLFLOW_EXPERIMENT_ID``), which would outlive the block.
    """
    client = mlflow.tracking.MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            raise TrackingError(
                f"MLflow experiment {name!r} is deleted; restore it (mlflow experiments restore"
                f" --experiment-id {found.experiment_id}) or choose another experiment name"
            )
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name))
    except mlflow.exceptions.MlflowException:  # created meanwhile by another process
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


# --------------------------------------------------------------------------- fit logging


def data_fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 of a table's content, column names and dtypes (row order matters, index not).

    Uses :func:`pandas.util.hash_pandas_object` (vectorised, no copy to Arrow), so two
    frames with the same values, names and dtypes get the same fingerprint.
    """
    import pandas as pd

    digest = hashlib.sha256()
    for name, dtype in df.dtypes.items():
        digest.update(f"{name}\x1f{dtype}\x1e".encode())
    if len(df) and df.shape[1]:
        rows = pd.util.hash_pandas_object(df, index=False)
        digest.update(rows.to_numpy().tobytes())
    return digest.hexdigest()


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else _json(value)
    return text if len(text) <= _MAX_PARAM_CHARS else text[: _MAX_PARAM_CHARS - 3] + "..."


def _json(value: Any) -> str:
    import json

    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _estimator_parts(estimator: Any) -> tuple[Any, Any]:
    """``(synthesizer, detector or None)`` of a fitted estimator."""
    syn = getattr(estimator, "synthesizer_", None)
    if syn is not None:
        return syn, estimator
    return estimator, None


def fit_params(estimator: Any, data_df: pd.DataFrame) -> dict[str, str]:
    """The params :func:`log_fit` logs, as strings (see there)."""
    syn, detector = _estimator_parts(estimator)
    backend = syn.backend_
    params: dict[str, Any] = {
        "estimator": type(estimator).__name__,
        "backend": getattr(backend, "name", type(backend).__name__),
        "n_rows": len(data_df),
        "n_columns": data_df.shape[1],
        "data_fingerprint": data_fingerprint(data_df),
    }
    for key, value in backend.get_params(deep=False).items():
        params[f"backend.{key}"] = value
    n_components = getattr(backend, "n_components_", None)
    if n_components is not None:  # "auto" resolved by BIC: log what was used
        params["backend.n_components_"] = n_components
    for key, value in estimator.get_params(deep=False).items():
        if key in ("backend", "backend_params"):
            continue  # logged above, resolved
        params[f"estimator.{key}"] = value
    for kind, count in sorted(syn.schema_.summary().items()):
        params[f"schema.{kind}"] = count
    if detector is None:
        params.pop("estimator.contamination", None)
    return {k: _param_value(v) for k, v in params.items()}


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fit_metrics(estimator: Any, data_df: pd.DataFrame, fit_seconds: float) -> dict[str, float]:
    """The metrics :func:`log_fit` logs (see there)."""
    import numpy as np

    syn, detector = _estimator_parts(estimator)
    metrics: dict[str, Any] = {"fit_seconds": fit_seconds}
    if detector is not None:
        # The detector kept its training scores: no second pass over the data.
        train_scores = np.asarray(detector.decision_scores_) + detector.offset_
        metrics["threshold"] = detector.threshold_
        metrics["train_anomaly_rate"] = float(np.mean(detector.labels_ == -1))
    else:
        train_scores = syn.score_samples(data_df)
    metrics["train_log_likelihood"] = float(np.mean(train_scores))
    for key, value in (getattr(syn.backend_, "fit_info_", None) or {}).items():
        if isinstance(value, bool):
            value = float(value)
        metrics[f"backend_{key}"] = value
    return {k: v for k, v in ((k, _finite(v)) for k, v in metrics.items()) if v is not None}


def log_fit(estimator: Any, data_df: pd.DataFrame, fit_seconds: float) -> None:
    """Log a fitted estimator's params and metrics to the active MLflow run.

    Params: ``estimator``, ``backend``, ``backend.<hyper-parameter>`` (as given, plus the
    resolved ``backend.n_components_`` for mixtures), ``estimator.<param>``,
    ``schema.<kind>`` (number of columns of each kind), ``n_rows``, ``n_columns`` and
    ``data_fingerprint`` (:func:`data_fingerprint`). Metrics: ``fit_seconds``,
    ``train_log_likelihood`` (mean per row), ``threshold`` and ``train_anomaly_rate`` for
    anomaly detectors, and the backend's scalar ``fit_info_`` as ``backend_<key>``.

    Args:
        estimator: a fitted :class:`~synthkit.Synthesizer` or
            :class:`~synthkit.AnomalyDetector`.
        data_df: the training table.
        fit_seconds: wall-clock seconds the fit took.
    """
    mlflow = import_mlflow()
    mlflow.log_params(fit_params(estimator, data_df))
    mlflow.log_metrics(fit_metrics(estimator, data_df, fit_seconds))


# --------------------------------------------------------------------------- callback


class MlflowCallback(Callback):
    """Fit callback that logs each training step's metrics to MLflow with ``step=``.

    EM backends report ``log_lik`` per iteration; neural backends report per-epoch losses
    the same way. A fit may run several inner fits (``n_init`` restarts, BIC candidates),
    each restarting its step count: steps are made continuous across them so the metric
    history stays monotonic, and ``fit_stage`` records which inner fit a step belongs to.
    Metrics are buffered and sent in batches (one SQLite write per ``flush_every`` steps
    instead of one per step).

    Args:
        run_id: run to log to; ``None`` = the active run at the first step.
        prefix: prepended to every metric key (e.g. ``"train/"``).
        flush_every: steps buffered before a batch is sent.
    """

    def __init__(self, run_id: str | None = None, prefix: str = "", flush_every: int = 50) -> None:
        self.run_id = run_id
        self.prefix = prefix
        self.flush_every = flush_every
        self._buffer: list[Any] = []
        self._offset = 0
        self._last = 0
        self._stage = -1

    def on_fit_start(self, total: int | None, desc: str) -> None:
        """Continue the step count after the previous inner fit."""
        self._offset = self._last
        self._stage += 1

    def on_step(self, step: int, metrics: Mapping[str, float]) -> None:
        """Buffer this step's metrics (sent every ``flush_every`` steps)."""
        import time

        from mlflow.entities import Metric

        global_step = self._offset + int(step)
        self._last = max(self._last, global_step)
        stamp = int(time.time() * 1000)
        values = {**metrics, "fit_stage": self._stage}
        for key, value in values.items():
            number = _finite(value)
            if number is not None:
                self._buffer.append(Metric(self.prefix + key, number, stamp, global_step))
        if len(self._buffer) >= self.flush_every:
            self.flush()

    def on_fit_end(self, metrics: Mapping[str, float]) -> None:
        """Send what is buffered."""
        self.flush()

    def flush(self) -> None:
        """Send the buffered metrics to the run."""
        if not self._buffer:
            return
        mlflow = import_mlflow()
        run_id = self.run_id
        if run_id is None:
            run = mlflow.active_run()
            if run is None:
                raise TrackingError("MlflowCallback: no active MLflow run and no run_id given")
            run_id = self.run_id = run.info.run_id
        batch, self._buffer = self._buffer, []
        mlflow.tracking.MlflowClient().log_batch(run_id, metrics=batch)


# --------------------------------------------------------------------------- scoring jobs


def log_score_job(summary: Any, *, model_dir: Path, data: Path, engine: str = "local") -> None:
    """Log a finished scoring job to the active MLflow run.

    Params: ``model`` (model directory), ``input``, ``output``, ``engine`` and ``rows`` (input
    rows). Metrics: ``rows_scored``, ``rows_per_second``, ``rows_rejected``, ``anomalies``,
    ``score_seconds`` and ``units_resumed``.

    Args:
        summary: the job's :class:`~synthkit.jobs.scoring.JobSummary`.
        model_dir: the model directory that scored.
        data: the input table.
        engine: ``"local"`` or ``"spark"``.
    """
    mlflow = import_mlflow()
    mlflow.log_params(
        {
            "model": str(Path(model_dir).absolute()),
            "input": str(Path(data).absolute()),
            "output": str(summary.output),
            "engine": engine,
            "rows": summary.rows_in,
        }
    )
    metrics = {
        "rows_scored": summary.rows_scored,
        "rows_per_second": summary.rows_per_second,
        "rows_rejected": summary.rows_rejected,
        "anomalies": summary.anomalies,
        "score_seconds": summary.seconds,
        "units_resumed": summary.units_resumed,
    }
    mlflow.log_metrics(
        {k: v for k, v in ((k, _finite(v)) for k, v in metrics.items()) if v is not None}
    )
