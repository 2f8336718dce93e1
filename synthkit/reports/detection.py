"""Detection (C2ST): how well a classifier tells synthetic rows from real ones.

The classifier-two-sample test trains gradient-boosted trees (the fixed settings of
:data:`synthkit.reports.efficacy.GBT_PARAMS`) to separate real training rows from an equal
number of synthetic rows and reports the cross-validated ROC AUC: 0.5 means the classifier
cannot tell them apart, 1.0 means every synthetic row is recognisable. It is the hardest and
most honest fidelity test; shape and trend errors saturate long before it does (METRICS.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.reports._tabular import tree_features

__all__ = ["c2st_auc"]


def c2st_auc(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    n_splits: int = 5,
    max_rows: int | None = None,
    random_state: int = 0,
) -> dict[str, Any]:
    """Cross-validated AUC of a classifier separating real rows from synthetic rows.

    Both tables are subsampled (without replacement) to the same size ``n`` =
    ``min(len(real), len(synthetic), max_rows)``, so a constant guess scores 0.5.

    Args:
        real: real rows (usually the training split).
        synthetic: synthetic rows with the same columns.
        n_splits: stratified cross-validation folds.
        max_rows: cap on the rows taken from each table (``None``: no cap).
        random_state: seed of the subsampling, the folds and the model.

    Returns:
        ``{"auc" (mean over folds), "auc_std", "n_per_class", "n_splits"}``.

    Raises:
        ValueError: fewer than ``n_splits`` rows in a table.

    Example:
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> a = pd.DataFrame({"x": rng.normal(size=500)})
        >>> b = pd.DataFrame({"x": rng.normal(size=500)})
        >>> 0.4 < c2st_auc(a, b)["auc"] < 0.6
        True
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from synthkit.reports.efficacy import GBT_PARAMS

    cols = list(real.columns)
    synthetic = synthetic[cols]
    n = min(len(real), len(synthetic), max_rows or len(real))
    if n < n_splits:
        raise ValueError(f"need at least {n_splits} rows in each table, got {n}")
    rng = np.random.default_rng(random_state)
    real = real.iloc[np.sort(rng.choice(len(real), n, replace=False))]
    synthetic = synthetic.iloc[np.sort(rng.choice(len(synthetic), n, replace=False))]
    (x_real, x_syn), cat_mask = tree_features([real, synthetic], cols)
    x = np.vstack([x_real, x_syn])
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    aucs = []
    for train_idx, test_idx in folds.split(x, y):
        model = HistGradientBoostingClassifier(
            **GBT_PARAMS,
            categorical_features=cat_mask if cat_mask.any() else None,
            random_state=random_state,
        )
        model.fit(x[train_idx], y[train_idx])
        aucs.append(roc_auc_score(y[test_idx], model.predict_proba(x[test_idx])[:, 1]))
    return {
        "auc": float(np.mean(aucs)),
        "auc_std": float(np.std(aucs)),
        "n_per_class": int(n),
        "n_splits": int(n_splits),
    }
