"""Anomaly-detection quality against known labels: AUROC, AUPRC and precision at k.

The anomaly score is the negative log-likelihood (higher = more anomalous), as METRICS.md
defines it for likelihood backends. AUROC is the chance that a random anomaly scores above a
random normal row (0.5 = random ranking); AUPRC (average precision) summarises the
precision-recall curve and starts at the anomaly rate for a random ranking; precision at k
is the share of true anomalies among the k highest scores (k = the number of anomalies
unless given).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["anomaly_summary", "binary_labels"]


def binary_labels(labels: Any, positive: Any = None) -> np.ndarray:
    """Anomaly labels as booleans (True = anomaly).

    Without ``positive``: booleans are taken as they are, numbers in {0, 1} mean 1 =
    anomaly, and numbers in {-1, 1} follow scikit-learn's ``predict`` (-1 = anomaly).

    Args:
        labels: one label per row; nulls are not allowed.
        positive: the label value that marks an anomaly (compared as strings too).

    Returns:
        Boolean array.

    Raises:
        DataValidationError: null labels, or no ``positive`` and labels that are not one of
            the conventions above.
    """
    from synthkit.errors import DataValidationError

    s = pd.Series(labels).reset_index(drop=True)
    if s.isna().any():
        raise DataValidationError(f"labels: {int(s.isna().sum())} rows have no label")
    if positive is not None:
        return (s.astype(str) == str(positive)).to_numpy()
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype):
        values = set(np.unique(s.to_numpy(dtype=np.float64)).tolist())
        if values <= {0.0, 1.0}:
            return s.to_numpy(dtype=np.float64) == 1.0
        if values <= {-1.0, 1.0}:
            return s.to_numpy(dtype=np.float64) == -1.0
    found = sorted(map(str, s.unique()))[:5]
    raise DataValidationError(
        f"labels: cannot tell which value marks an anomaly among {found}; use booleans, 0/1"
        " (1 = anomaly), -1/+1 (-1 = anomaly), or name the anomaly value"
    )


def anomaly_summary(
    anomaly_scores: np.ndarray, is_anomaly: np.ndarray, *, k: int | None = None
) -> dict[str, Any]:
    """AUROC, AUPRC and precision at k of anomaly scores against labels.

    Args:
        anomaly_scores: higher = more anomalous (e.g. the negative log-likelihood); rows with
            a NaN score are left out.
        is_anomaly: boolean labels (:func:`binary_labels`).
        k: rows taken from the top for precision at k; default the number of anomalies.

    Returns:
        ``{"auroc", "auprc", "precision_at_k", "k", "n_rows", "n_anomalies",
        "anomaly_rate"}``; the ranking metrics are NaN when only one class is present.

    Example:
        >>> anomaly_summary(np.array([0.1, 0.2, 0.9, 0.8]), np.array([0, 0, 1, 1], bool))["auroc"]
        1.0
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = np.asarray(anomaly_scores, dtype=np.float64)
    y = np.asarray(is_anomaly, dtype=bool)
    ok = np.isfinite(scores)
    scores, y = scores[ok], y[ok]
    n_pos = int(y.sum())
    k = n_pos if k is None else int(k)
    out: dict[str, Any] = {
        "n_rows": len(y),
        "n_anomalies": n_pos,
        "anomaly_rate": float(n_pos / len(y)) if len(y) else float("nan"),
        "k": k,
    }
    if n_pos == 0 or n_pos == len(y) or k <= 0:
        out.update(auroc=float("nan"), auprc=float("nan"), precision_at_k=float("nan"))
        return out
    top = np.argsort(-scores, kind="stable")[:k]
    out.update(
        auroc=float(roc_auc_score(y, scores)),
        auprc=float(average_precision_score(y, scores)),
        precision_at_k=float(y[top].mean()),
    )
    return out
