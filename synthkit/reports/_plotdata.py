"""Small summaries of the tables that the HTML plots draw (histograms, top categories)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.reports.fidelity import _as_float, _is_numeric

#: At most this many columns get a marginal plot and a row of the pair heatmap.
MAX_PLOT_COLUMNS = 40
_BINS = 30
_TOP_CATEGORIES = 12


def plot_columns(shapes: pd.Series) -> list[str]:
    """The columns to plot: all, or the :data:`MAX_PLOT_COLUMNS` with the worst shapes."""
    if len(shapes) <= MAX_PLOT_COLUMNS:
        return list(shapes.index)
    worst = set(shapes.sort_values().index[:MAX_PLOT_COLUMNS])
    return [c for c in shapes.index if c in worst]


def marginal(real: pd.Series, synthetic: pd.Series) -> dict[str, Any]:
    """Shares per bin (numeric) or per category (top categories, other, null)."""
    null = [float(real.isna().mean()), float(synthetic.isna().mean())]
    if _is_numeric(real):
        r, s = _as_float(real), _as_float(synthetic)
        finite = r[np.isfinite(r)]
        lo, hi = np.quantile(finite, [0.005, 0.995]) if len(finite) else (0.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, _BINS + 1)

        def share(x: np.ndarray) -> list[float]:
            x = np.clip(x[np.isfinite(x)], lo, hi)
            counts = np.histogram(x, bins=edges)[0]
            return (counts / max(len(x), 1)).tolist()

        return {
            "kind": "numeric",
            "edges": edges.tolist(),
            "real": share(r),
            "synthetic": share(s),
            "null": null,
        }
    r, s = real.astype(object).map(str).where(real.notna()), synthetic.astype(object)
    s = s.map(str).where(synthetic.notna())
    top = list(r.value_counts().index[:_TOP_CATEGORIES])

    def freq(x: pd.Series) -> list[float]:
        n = max(len(x), 1)
        counts = x.value_counts()
        shares = [float(counts.get(c, 0)) / n for c in top]
        other = float((x.notna() & ~x.isin(top)).sum()) / n
        return [*shares, other, float(x.isna().sum()) / n]

    return {
        "kind": "categorical",
        "labels": [*top, "(other)", "(null)"],
        "real": freq(r),
        "synthetic": freq(s),
        "null": null,
    }


def pair_difference(trends: pd.DataFrame, columns: list[str]) -> dict[str, Any]:
    """Matrix of ``1 - pair similarity`` (|rho difference| / 2 or contingency distance)."""
    index = {c: i for i, c in enumerate(columns)}
    mat = np.zeros((len(columns), len(columns)))
    keep = trends["a"].isin(index) & trends["b"].isin(index)
    for a, b, sim in trends.loc[keep, ["a", "b", "similarity"]].itertuples(index=False):
        mat[index[a], index[b]] = mat[index[b], index[a]] = 1.0 - sim
    return {"columns": columns, "matrix": mat.tolist()}
