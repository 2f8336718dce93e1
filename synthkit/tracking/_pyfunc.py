"""The ``python_function`` wrapper of a synthkit model: score rows, or sample new ones.

Imported by MLflow when a logged synthkit model is loaded with ``mlflow.pyfunc.load_model``
(through the code file ``_pyfunc_model.py``); it needs mlflow, so it is never imported by
``import synthkit``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

__all__ = ["ARTIFACT_KEY", "SynthkitPyfuncModel", "predict_frame"]

#: Name of the pyfunc artifact that holds the synthkit model directory.
ARTIFACT_KEY = "synthkit_model"


def _int_param(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        from synthkit.errors import ConfigError

        raise ConfigError(f"params[{key!r}] must be an integer, got {value!r}") from None


def predict_frame(model: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
    """What the pyfunc ``predict`` returns, for a loaded synthkit estimator.

    Args:
        model: a fitted :class:`~synthkit.Synthesizer` or :class:`~synthkit.AnomalyDetector`.
        model_input: rows to score (DataFrame or Arrow table; ignored in sample mode).
        params: ``{"mode": "score"}`` (default) or ``{"mode": "sample", "n": N, "seed": S}``
            (``seed`` < 0 or missing: not seeded).

    Returns:
        score mode: a DataFrame with ``score`` (the row's log-likelihood; lower is more
        unusual) and, for an anomaly detector, ``is_anomaly``, one row per input row.
        sample mode: ``n`` synthetic rows with the training table's columns and dtypes.

    Raises:
        ConfigError: an unknown mode, or ``n`` missing or not positive in sample mode.
    """
    import numpy as np
    import pandas as pd

    from synthkit.anomaly import AnomalyDetector
    from synthkit.errors import ConfigError

    params = dict(params or {})
    mode = str(params.get("mode") or "score")
    detector = isinstance(model, AnomalyDetector)
    if mode == "sample":
        n = _int_param(params, "n")
        if n is None or n <= 0:
            raise ConfigError(f"sample mode needs params['n'] > 0, got {params.get('n')!r}")
        seed = _int_param(params, "seed")
        synthesizer = model.synthesizer_ if detector else model
        return synthesizer.sample(n, random_state=None if seed is None or seed < 0 else seed)
    if mode != "score":
        raise ConfigError(f"params['mode'] must be 'score' or 'sample', got {mode!r}")
    scores = np.asarray(model.score_samples(model_input), dtype=np.float64)
    out = pd.DataFrame({"score": scores})
    if detector:
        # Same rule as AnomalyDetector.predict (decision_function < 0), without rescoring.
        out["is_anomaly"] = scores < model.threshold_
    index = getattr(model_input, "index", None)
    if isinstance(index, pd.Index) and len(index) == len(out):
        out.index = index  # keep the caller's row labels (Spark and pandas joins rely on them)
    return out


class SynthkitPyfuncModel(PythonModel):
    """``mlflow.pyfunc`` model around a saved synthkit estimator (see :func:`predict_frame`)."""

    def __init__(self) -> None:
        self.model: Any = None

    def load_context(self, context: Any) -> None:
        """Load the synthkit model directory stored as the ``synthkit_model`` artifact."""
        import synthkit

        self.model = synthkit.load(context.artifacts[ARTIFACT_KEY])

    # pd.DataFrame is a hint MLflow 3 accepts without deriving a signature from it (the
    # signature is given explicitly at logging time); other hints, or none, make it warn.
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Score ``model_input`` (default) or sample rows (``params={"mode": "sample"...}``)."""
        if self.model is None:  # predict before load_context: MLflow always loads first
            self.load_context(context)
        return predict_frame(self.model, model_input, params)
