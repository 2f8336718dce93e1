"""MLflow tracking for synthkit: runs, fit logging, and the ``synthkit`` model flavor.

Example:
    >>> from synthkit import AnomalyDetector  # doctest: +SKIP
    >>> from synthkit.tracking import MlflowCallback, log_fit, log_model, tracking_run
    >>> with tracking_run(experiment="customers") as run:  # doctest: +SKIP
    ...     det = AnomalyDetector().fit(df, callbacks=[MlflowCallback()])
    ...     log_fit(det, df, fit_seconds=12.3)
    ...     info = log_model(det, "model", training_data=df)
    >>> import mlflow  # doctest: +SKIP
    >>> mlflow.pyfunc.load_model(info.model_uri).predict(df)  # score, is_anomaly

mlflow is imported inside the functions that need it: importing this package does not
import mlflow (nor torch).
"""

from synthkit.tracking._runs import (
    DEFAULT_TRACKING_URI,
    MlflowCallback,
    TrackingError,
    data_fingerprint,
    default_tracking_uri,
    log_fit,
    tracking_run,
    tracking_uri,
)
from synthkit.tracking.flavor import (
    FLAVOR_NAME,
    get_default_pip_requirements,
    infer_model_signature,
    load_model,
    log_model,
    save_model,
)

__all__ = [
    "DEFAULT_TRACKING_URI",
    "FLAVOR_NAME",
    "MlflowCallback",
    "TrackingError",
    "data_fingerprint",
    "default_tracking_uri",
    "get_default_pip_requirements",
    "infer_model_signature",
    "load_model",
    "log_fit",
    "log_model",
    "save_model",
    "tracking_run",
    "tracking_uri",
]
