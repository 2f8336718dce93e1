"""Shared helpers: turn mixed tables into numeric matrices for the report metrics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from synthkit.reports.fidelity import _as_float, _is_numeric

# HistGradientBoosting accepts native categorical features with at most this many levels.
_MAX_NATIVE_CATEGORIES = 250


def _as_str(s: pd.Series) -> pd.Series:
    """Values as Python strings, nulls as None (object dtype)."""
    null = s.isna().to_numpy()
    out = s.astype(object).map(str).astype(object)
    out[null] = None
    return out


def tree_features(
    frames: Sequence[pd.DataFrame], columns: Sequence[str]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Encode tables for gradient-boosted trees with one shared, deterministic encoding.

    Numeric columns become float64 (nulls stay NaN, which the trees route natively).
    Categorical columns become integer codes over the sorted union of the values seen in
    ``frames`` (nulls -> NaN); they are flagged as native categorical features unless they
    have more than 250 levels, in which case the codes are used as ordinal numbers.

    Args:
        frames: tables holding at least ``columns``; the first one decides which columns
            are numeric.
        columns: the feature columns.

    Returns:
        One float64 matrix per frame and the boolean categorical-feature mask.
    """
    mats: list[list[np.ndarray]] = [[] for _ in frames]
    mask = []
    for col in columns:
        if _is_numeric(frames[0][col]):
            for out, f in zip(mats, frames, strict=True):
                out.append(_as_float(f[col]))
            mask.append(False)
            continue
        values = [_as_str(f[col]) for f in frames]
        levels = sorted({v for s in values for v in s.dropna().unique()})
        for out, s in zip(mats, values, strict=True):
            codes = pd.Categorical(s, categories=levels).codes.astype(np.float64)
            codes[codes < 0] = np.nan
            out.append(codes)
        mask.append(len(levels) <= _MAX_NATIVE_CATEGORIES)
    matrices = [
        np.column_stack(m) if m else np.zeros((len(f), 0))
        for m, f in zip(mats, frames, strict=True)
    ]
    return matrices, np.asarray(mask, dtype=bool)
