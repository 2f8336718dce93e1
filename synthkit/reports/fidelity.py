"""Shape and trend fidelity: how close synthetic marginals and pairwise relations are to real.

* Shape: per column, KS complement for numeric columns (nulls dropped) and total-variation
  complement for categorical ones (null is its own category). Shape error % is
  ``100 * (1 - mean similarity)``.
* Trend: over ALL column pairs. Numeric-numeric pairs use correlation similarity
  ``1 - |rho_real - rho_syn| / 2`` (Pearson, pairwise-complete rows); any pair with a
  categorical column uses contingency similarity (1 - total variation between the joint
  distributions), with numeric columns cut into 10 equal-width bins whose edges come from the
  real column (outer edges open, null its own bin). Trend error % is
  ``100 * (1 - mean similarity)``.

These match sdmetrics' ``KSComplement``, ``TVComplement``, ``CorrelationSimilarity`` and
``ContingencySimilarity``, but every pair is averaged (sdmetrics' QualityReport averages a
subset), as METRICS.md asks. Everything is vectorised per pair with ``numpy.bincount``.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["column_pair_trends", "column_shapes", "fidelity_summary", "summarise_fidelity"]

_N_BINS = 10


def _is_numeric(s: pd.Series) -> bool:
    return (
        pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    ) or pd.api.types.is_datetime64_any_dtype(s.dtype)


def _as_float(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s.astype("int64", errors="ignore").to_numpy(dtype=np.float64, na_value=np.nan)
        out[s.isna().to_numpy()] = np.nan
        return out
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def _ks_complement(real: np.ndarray, syn: np.ndarray) -> float:
    real, syn = np.sort(real[~np.isnan(real)]), np.sort(syn[~np.isnan(syn)])
    if len(real) == 0 or len(syn) == 0:
        return float(len(real) == len(syn))
    grid = np.concatenate([real, syn])
    cdf_r = np.searchsorted(real, grid, side="right") / len(real)
    cdf_s = np.searchsorted(syn, grid, side="right") / len(syn)
    return float(1.0 - np.max(np.abs(cdf_r - cdf_s)))


def _codes(real: pd.Series, syn: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Shared integer codes for a column in both tables (null and binning included)."""
    if _is_numeric(real):
        r, s = _as_float(real), _as_float(syn)
        finite = r[~np.isnan(r)]
        if len(finite) == 0:
            edges = np.array([0.0])
        else:
            edges = np.histogram_bin_edges(finite, bins=_N_BINS)[1:-1]  # inner edges: open ends
        k = len(edges) + 1

        def cut(x: np.ndarray) -> np.ndarray:
            out = np.searchsorted(edges, x, side="right")
            out[np.isnan(x)] = k  # null is its own bin
            return out

        return cut(r), cut(s), k + 1
    both = pd.concat([real.astype(object), syn.astype(object)], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes)  # null is its own category
    return codes[: len(real)], codes[len(real) :], len(uniques) + 1


def _tv_complement(a: np.ndarray, b: np.ndarray, k: int) -> float:
    p = np.bincount(a, minlength=k) / max(len(a), 1)
    q = np.bincount(b, minlength=k) / max(len(b), 1)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame) -> pd.Series:
    """Per-column shape similarity in [0, 1] (1 = identical marginals)."""
    out = {}
    for col in real.columns:
        if _is_numeric(real[col]):
            out[col] = _ks_complement(_as_float(real[col]), _as_float(synthetic[col]))
        else:
            a, b, k = _codes(real[col], synthetic[col])
            out[col] = _tv_complement(a, b, k)
    return pd.Series(out, name="shape_similarity")


def column_pair_trends(real: pd.DataFrame, synthetic: pd.DataFrame) -> pd.DataFrame:
    """Similarity of every column pair: columns ``a``, ``b``, ``metric``, ``similarity``."""
    cols = list(real.columns)
    numeric = {c: _is_numeric(real[c]) for c in cols}
    codes = {c: _codes(real[c], synthetic[c]) for c in cols}
    num_cols = [c for c in cols if numeric[c]]
    corr_r = pd.DataFrame({c: _as_float(real[c]) for c in num_cols}).corr()
    corr_s = pd.DataFrame({c: _as_float(synthetic[c]) for c in num_cols}).corr()
    rows = []
    for a, b in combinations(cols, 2):
        if numeric[a] and numeric[b]:
            rr, rs = corr_r.loc[a, b], corr_s.loc[a, b]
            if np.isnan(rr) or np.isnan(rs):  # a constant column: no correlation to compare
                sim = float(np.isnan(rr) and np.isnan(rs))
            else:
                sim = 1.0 - abs(rr - rs) / 2.0
            rows.append((a, b, "correlation", sim))
            continue
        (ra, sa, ka), (rb, sb, kb) = codes[a], codes[b]
        sim = _tv_complement(ra * kb + rb, sa * kb + sb, ka * kb)
        rows.append((a, b, "contingency", sim))
    return pd.DataFrame(rows, columns=["a", "b", "metric", "similarity"])


def fidelity_summary(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, Any]:
    """Shape error % and trend error % (lower is better; 0 = identical).

    Args:
        real: the real rows (usually the training split).
        synthetic: synthetic rows with the same columns.

    Returns:
        ``{"shape_error_pct", "trend_error_pct", "shapes" (per column), "n_pairs"}``.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "b"]})
        >>> fidelity_summary(df, df)["shape_error_pct"]
        0.0
    """
    missing = [c for c in real.columns if c not in synthetic.columns]
    if missing:
        from synthkit.errors import DataValidationError

        raise DataValidationError(
            [f"column {c!r} is missing from the synthetic table" for c in missing]
        )
    synthetic = synthetic[list(real.columns)]
    return summarise_fidelity(column_shapes(real, synthetic), column_pair_trends(real, synthetic))


def summarise_fidelity(shapes: pd.Series, trends: pd.DataFrame) -> dict[str, Any]:
    """The numbers of :func:`fidelity_summary` from per-column and per-pair similarities.

    Args:
        shapes: per-column shape similarities (:func:`column_shapes`).
        trends: per-pair similarities (:func:`column_pair_trends`).

    Returns:
        ``{"shape_error_pct", "trend_error_pct", "shapes" (per column), "n_pairs"}``.
    """
    return {
        "shape_error_pct": float(100.0 * (1.0 - shapes.mean())),
        "trend_error_pct": float(100.0 * (1.0 - trends["similarity"].mean()))
        if len(trends)
        else 0.0,
        "shapes": shapes.to_dict(),
        "n_pairs": len(trends),
    }
