"""Held-out negative log-likelihood (NLL) for models whose backend has a likelihood.

``score_samples`` is the log-likelihood of a row in the *original* data space (a density per
unit of each continuous column times a probability for discrete parts), so the NLL of real
held-out rows compares across backends (METRICS.md). It is also given in bits per column:
``NLL / (n_columns * ln 2)`` over the columns the model describes. Continuous columns
contribute densities, so both numbers can be negative; only differences between models on
the same data mean something. The training rows' NLL is the reference: a held-out NLL far
above it means the model memorised its training rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["heldout_nll", "likelihood_info", "nll_summary"]


def _synthesizer(model: Any) -> Any:
    """The :class:`~synthkit.Synthesizer` of a synthesizer or an anomaly detector."""
    return getattr(model, "synthesizer_", model)


def likelihood_info(model: Any) -> dict[str, Any]:
    """What kind of likelihood a fitted model has.

    Args:
        model: a fitted :class:`~synthkit.Synthesizer` or :class:`~synthkit.AnomalyDetector`.

    Returns:
        ``{"has_log_prob", "exact_log_prob", "n_columns"}`` (``n_columns``: modelled columns).
    """
    syn = _synthesizer(model)
    backend = syn.backend_
    return {
        "has_log_prob": bool(getattr(backend, "has_log_prob", False)),
        "exact_log_prob": bool(getattr(backend, "exact_log_prob", False)),
        "n_columns": len(syn.schema_.modeled),
    }


def score_rows(model: Any, rows: pd.DataFrame) -> np.ndarray:
    """Log-likelihood of each row; NaN for rows the model cannot score (a value it rejects).

    Args:
        model: a fitted model with a likelihood.
        rows: the rows to score.

    Returns:
        float64 array of shape ``(len(rows),)``.
    """
    scores, _reasons = _synthesizer(model).score_rows(rows)
    return np.asarray(scores, dtype=np.float64)


def nll_summary(scores: np.ndarray, n_columns: int) -> dict[str, Any]:
    """NLL per row and in bits per column from log-likelihoods (NaN scores are left out).

    Args:
        scores: log-likelihoods of rows.
        n_columns: number of modelled columns.

    Returns:
        ``{"nll", "bits_per_column", "n_rows", "n_unscored"}``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(scores)
    nll = float(-scores[ok].mean()) if ok.any() else float("nan")
    return {
        "nll": nll,
        "bits_per_column": nll / (max(n_columns, 1) * math.log(2.0)),
        "n_rows": int(ok.sum()),
        "n_unscored": int((~ok).sum()),
    }


def heldout_nll(model: Any, holdout: pd.DataFrame) -> dict[str, Any]:
    """Mean negative log-likelihood of real held-out rows, also in bits per column.

    Args:
        model: a fitted :class:`~synthkit.Synthesizer` or :class:`~synthkit.AnomalyDetector`.
        holdout: real rows the model did not see.

    Returns:
        :func:`nll_summary`'s numbers plus ``exact`` (False when the backend's likelihood
        is a bound or an estimate).

    Raises:
        BackendError: the backend has no likelihood.
    """
    info = likelihood_info(model)
    if not info["has_log_prob"]:
        from synthkit.errors import BackendError

        raise BackendError("this model's backend has no likelihood, so it has no held-out NLL")
    out = nll_summary(score_rows(model, holdout), info["n_columns"])
    out["exact"] = info["exact_log_prob"]
    return out
