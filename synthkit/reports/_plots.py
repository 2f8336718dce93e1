"""Matplotlib figures for the HTML report, as ``data:image/png;base64`` URIs.

matplotlib (a dependency of MLflow) is imported inside the functions, with the
non-interactive Agg backend, so no display is needed and ``import synthkit`` stays light.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

_REAL, _SYN, _THIRD = "#1f77b4", "#ff7f0e", "#2ca02c"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _uri(fig: Any) -> str:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def marginal(name: str, data: dict[str, Any]) -> str:
    """Real vs synthetic shares of one column (bars per bin or per category)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3.6, 2.6))
    if data["kind"] == "numeric":
        edges = np.asarray(data["edges"])
        ax.stairs(data["real"], edges, label="real", color=_REAL, fill=True, alpha=0.35)
        ax.stairs(data["synthetic"], edges, label="synthetic", color=_SYN, linewidth=1.5)
    else:
        x = np.arange(len(data["labels"]))
        ax.bar(x - 0.2, data["real"], width=0.4, label="real", color=_REAL)
        ax.bar(x + 0.2, data["synthetic"], width=0.4, label="synthetic", color=_SYN)
        ax.set_xticks(x, [str(v)[:14] for v in data["labels"]], rotation=60, ha="right", fontsize=7)
    null_r, null_s = data["null"]
    title = name if not (null_r or null_s) else f"{name} (null {null_r:.0%} / {null_s:.0%})"
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("share of rows", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False)
    return _uri(fig)


def pair_difference(data: dict[str, Any]) -> str:
    """Heatmap of ``1 - pair similarity`` between every two columns."""
    plt = _pyplot()
    cols, mat = data["columns"], np.asarray(data["matrix"])
    size = min(12.0, 2.5 + 0.38 * len(cols))
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(mat, cmap="Reds", vmin=0.0, vmax=max(0.2, float(mat.max())))
    labels = [str(c)[:18] for c in cols]
    ax.set_xticks(range(len(cols)), labels, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(len(cols)), labels, fontsize=7)
    fig.colorbar(image, ax=ax, label="1 - pair similarity")
    return _uri(fig)


def histograms(
    series: dict[str, np.ndarray], xlabel: str, *, clip: tuple[float, float] = (0.5, 99.5)
) -> str:
    """Overlaid density histograms on shared bins (outer percentiles clipped)."""
    plt = _pyplot()
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in series.items()}
    arrays = {k: v[np.isfinite(v)] for k, v in arrays.items()}
    both = np.concatenate([v for v in arrays.values() if len(v)] or [np.zeros(1)])
    lo, hi = np.percentile(both, clip)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, 41)
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    colors = (_REAL, _SYN, _THIRD, "#d62728")
    for (name, values), color in zip(arrays.items(), colors, strict=False):
        if len(values):
            counts = np.histogram(np.clip(values, lo, hi), bins=edges)[0] / len(values)
            ax.stairs(
                counts, edges, label=f"{name} (n={len(values):,})", color=color, linewidth=1.6
            )
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("share of rows", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    return _uri(fig)


def curves(data: dict[str, Any]) -> str:
    """Alpha-precision and beta-recall curves against the ideal diagonal."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.0, 3.4))
    alphas = data["alphas"]
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="ideal")
    ax.plot(alphas, data["alpha_precision_curve"], color=_REAL, label="alpha-precision")
    ax.plot(alphas, data["beta_recall_curve"], color=_SYN, label="beta-recall")
    ax.set_xlabel("alpha / beta", fontsize=9)
    ax.set_ylabel("share", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    return _uri(fig)
