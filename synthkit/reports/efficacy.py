"""Machine-learning efficacy: train on synthetic, test on real (TSTR) against TRTR.

A gradient-boosted tree model with fixed, untuned settings
(scikit-learn ``HistGradientBoosting{Classifier,Regressor}``, 100 iterations, learning rate
0.1, no early stopping) is trained on one table and evaluated on the real held-out split.
TSTR trains it on synthetic rows, TRTR on the real training rows; the gap is the efficacy
lost by synthesis. Binary targets are scored by ROC AUC, regression targets by RMSE (and RMSE
divided by the standard deviation of the held-out target). Rows with a null target are dropped
for this metric only (METRICS.md).

Example:
    >>> from synthkit.reports import efficacy_summary  # doctest: +SKIP
    >>> efficacy_summary(train, synthetic, holdout, target="income")  # doctest: +SKIP
    {'task': 'binary', 'metric': 'roc_auc', 'tstr': 0.88, 'trtr': 0.92, ...}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.reports._tabular import tree_features
from synthkit.reports.fidelity import _is_numeric

__all__ = ["GBT_PARAMS", "efficacy_summary", "infer_task", "tstr_score"]

#: The fixed, untuned settings of the gradient-boosted trees used by every efficacy metric.
GBT_PARAMS: dict[str, Any] = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "early_stopping": False,
}


def infer_task(target: pd.Series) -> str:
    """The learning task a target column implies.

    Args:
        target: the target column of the real training rows.

    Returns:
        ``"regression"`` for numeric columns with more than 2 distinct values, ``"binary"`` for
        columns with exactly 2 values, else ``"multiclass"``.
    """
    n_unique = target.dropna().nunique()
    if _is_numeric(target) and n_unique > 2:
        return "regression"
    return "binary" if n_unique == 2 else "multiclass"


def _drop_null_target(df: pd.DataFrame, target: str) -> pd.DataFrame:
    return df.loc[df[target].notna()]


def _labels(s: pd.Series, numeric: bool) -> np.ndarray:
    """Class labels as strings; numeric labels via float so ``1`` and ``1.0`` agree."""
    if numeric:
        return s.to_numpy(dtype=np.float64).astype(str)
    return s.astype(object).map(str).to_numpy()


def tstr_score(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    *,
    task: str | None = None,
    positive_label: Any = None,
    random_state: int = 0,
) -> dict[str, Any]:
    """Fit the fixed gradient-boosted model on ``train`` and score it on ``test``.

    Args:
        train: training rows (synthetic for TSTR, real for TRTR), with ``target``.
        test: the real held-out rows, with ``target``.
        target: the target column.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from ``test`` when
            ``None``.
        positive_label: the positive class for ROC AUC; by default the last of the sorted
            labels of ``test``.
        random_state: seed of the model (binning subsample).

    Returns:
        ``{"task", "metric", "score", "n_train", "n_test"}``; for regression also ``"rmse"``
        and ``"rmse_over_std"`` (``score`` is the RMSE). Binary ``score`` is ROC AUC
        (0.5 when the training rows hold a single class); multiclass ``score`` is accuracy.

    Raises:
        ValueError: the target is missing or no rows with a target remain.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, roc_auc_score

    if target not in train.columns or target not in test.columns:
        raise ValueError(f"target column {target!r} is missing")
    train, test = _drop_null_target(train, target), _drop_null_target(test, target)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"no rows with a non-null {target!r} to train or test on")
    task = task or infer_task(test[target])
    features = [c for c in test.columns if c != target]
    (x_train, x_test), cat_mask = tree_features([train, test], features)
    cat = cat_mask if cat_mask.any() else None
    out: dict[str, Any] = {"task": task, "n_train": len(train), "n_test": len(test)}
    if task == "regression":
        y_train = train[target].to_numpy(dtype=np.float64)
        y_test = test[target].to_numpy(dtype=np.float64)
        model = HistGradientBoostingRegressor(
            **GBT_PARAMS, categorical_features=cat, random_state=random_state
        )
        pred = model.fit(x_train, y_train).predict(x_test)
        rmse = float(np.sqrt(np.mean((pred - y_test) ** 2)))
        std = float(np.std(y_test))
        out.update(metric="rmse", score=rmse, rmse=rmse, rmse_over_std=rmse / std if std else 0.0)
        return out
    numeric = _is_numeric(test[target])
    y_train, y_test = _labels(train[target], numeric), _labels(test[target], numeric)
    model = HistGradientBoostingClassifier(
        **GBT_PARAMS, categorical_features=cat, random_state=random_state
    )
    if task == "binary":
        labels = sorted(set(y_test))
        positive = labels[-1] if positive_label is None else str(positive_label)
        y_true = (y_test == positive).astype(int)
        if len(set(y_train)) < 2:  # a synthesizer that lost one class: no ranking at all
            out.update(metric="roc_auc", score=0.5)
            return out
        model.fit(x_train, y_train)
        classes = list(model.classes_)
        if positive in classes:
            proba = model.predict_proba(x_test)[:, classes.index(positive)]
        else:  # the positive class never appears in the training rows
            proba = np.zeros(len(x_test))
        auc = float(roc_auc_score(y_true, proba)) if 0 < y_true.sum() < len(y_true) else 0.5
        out.update(metric="roc_auc", score=auc)
        return out
    if len(set(y_train)) < 2:
        pred = np.full(len(y_test), y_train[0])
    else:
        pred = model.fit(x_train, y_train).predict(x_test)
    out.update(metric="accuracy", score=float(accuracy_score(y_test, pred)))
    return out


def efficacy_summary(
    real_train: pd.DataFrame,
    synthetic: pd.DataFrame,
    real_test: pd.DataFrame,
    target: str,
    *,
    task: str | None = None,
    random_state: int = 0,
) -> dict[str, Any]:
    """TSTR and TRTR of the fixed gradient-boosted model on the real held-out rows.

    Args:
        real_train: the real training rows.
        synthetic: synthetic rows (same columns).
        real_test: the real held-out rows.
        target: the target column.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from
            ``real_train`` when ``None``.
        random_state: model seed.

    Returns:
        ``{"task", "metric", "tstr", "trtr"}`` (for regression the scores are RMSE, lower is
        better, plus ``"tstr_rmse_over_std"`` and ``"trtr_rmse_over_std"``).

    Example:
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=400)
        >>> df = pd.DataFrame({"x": x, "y": np.where(x + rng.normal(size=400) > 0, "a", "b")})
        >>> s = efficacy_summary(df[:300], df[:300], df[300:], "y")
        >>> s["tstr"] == s["trtr"]
        True
    """
    task = task or infer_task(_drop_null_target(real_train, target)[target])
    tstr = tstr_score(synthetic, real_test, target, task=task, random_state=random_state)
    trtr = tstr_score(real_train, real_test, target, task=task, random_state=random_state)
    out = {"task": task, "metric": tstr["metric"], "tstr": tstr["score"], "trtr": trtr["score"]}
    if task == "regression":
        out["tstr_rmse_over_std"] = tstr["rmse_over_std"]
        out["trtr_rmse_over_std"] = trtr["rmse_over_std"]
    return out
