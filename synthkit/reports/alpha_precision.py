"""Alpha-precision, beta-recall and authenticity (Alaa et al., 2022), as synthcity computes them.

Rows are embedded with :func:`~synthkit.reports.privacy.distance_encoding` (the encoding of
the privacy metrics, scaled with the real rows' statistics) and compared with Euclidean
distances, as in the paper's hypersphere picture. The embedding is fixed (synthcity's
"naive" variant), not a learned one-class network, so numbers compare across runs.

* The real rows' centre ``c`` is their mean embedding; for ``alpha`` in ``[0, 1]`` the
  ``alpha``-support is the ball around ``c`` whose radius is the ``alpha`` quantile of the
  real rows' distances to ``c``.
* **alpha-precision curve**: the share of synthetic rows inside the ``alpha``-support. A
  faithful generator puts a share ``alpha`` there: the curve follows the diagonal.
* **beta-recall (coverage) curve**: the share of real rows whose nearest synthetic row is no
  farther than their nearest other real row *and* lies within the ``beta`` quantile of
  those nearest synthetic rows' distances to the synthetic centre.
* The reported **alpha_precision** and **beta_recall** are
  ``1 - sum |alpha - curve(alpha)| / sum alpha`` over 30 evenly spaced levels (synthcity's
  ``delta_precision_alpha`` / ``delta_coverage_beta``): 1 is ideal, lower is worse.
* **authenticity**: the share of synthetic rows farther from their nearest real row than
  that real row is from its own nearest real neighbour (not a copy). Independent samples of
  one distribution score about 0.5; 0 means every synthetic row hugs a real one. (synthcity
  indexes the real-to-real distances with synthetic row indices here; we use the nearest
  real row's own distance, which is the definition in the paper.)

Reference: A. M. Alaa, B. van Breugel, E. Saveliev, M. van der Schaar, "How Faithful is your
Synthetic Data? Sample-level Metrics for Evaluating and Auditing Generative Models",
ICML 2022.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.reports.privacy import distance_encoding, knn_distances

__all__ = ["alpha_precision", "alpha_precision_from_embeddings"]

_N_LEVELS = 30


def alpha_precision_from_embeddings(
    real: np.ndarray, synthetic: np.ndarray, *, device: str = "cpu"
) -> dict[str, Any]:
    """Alpha-precision, beta-recall and authenticity of embedded rows (see the module doc).

    Args:
        real: ``(n, d)`` embedded real rows (at least 2).
        synthetic: ``(m, d)`` embedded synthetic rows (at least 1).
        device: torch device for the nearest-neighbour searches.

    Returns:
        ``alpha_precision``, ``beta_recall``, ``authenticity`` (floats) and the curves
        ``alphas``, ``alpha_precision_curve``, ``beta_recall_curve`` (lists).

    Raises:
        ValueError: fewer than 2 real rows or no synthetic row.
    """
    if len(real) < 2 or len(synthetic) < 1:
        raise ValueError(
            f"need at least 2 real rows and 1 synthetic row, got {len(real)} and {len(synthetic)}"
        )
    real = real.astype(np.float64)
    synthetic = synthetic.astype(np.float64)
    alphas = np.linspace(0.0, 1.0, _N_LEVELS)
    centre = real.mean(axis=0)
    radii = np.quantile(np.linalg.norm(real - centre, axis=1), alphas)
    syn_to_centre = np.linalg.norm(synthetic - centre, axis=1)
    precision_curve = (syn_to_centre[None, :] <= radii[:, None]).mean(axis=1)

    real_to_real = knn_distances(real, real, k=2, p=2.0, device=device)[:, 1]  # not itself
    real_to_syn, nearest = knn_distances(
        real, synthetic, k=1, p=2.0, device=device, return_indices=True
    )
    real_to_syn, nearest = real_to_syn[:, 0], nearest[:, 0]
    syn_centre = synthetic.mean(axis=0)
    closest_to_syn_centre = np.linalg.norm(synthetic[nearest] - syn_centre, axis=1)
    syn_radii = np.quantile(closest_to_syn_centre, alphas)
    covered = real_to_syn <= real_to_real
    recall_curve = (covered[None, :] & (closest_to_syn_centre[None, :] <= syn_radii[:, None])).mean(
        axis=1
    )

    syn_to_real, syn_nearest = knn_distances(
        synthetic, real, k=1, p=2.0, device=device, return_indices=True
    )
    authentic = syn_to_real[:, 0] > real_to_real[syn_nearest[:, 0]]

    def delta(curve: np.ndarray) -> float:
        return float(1.0 - np.abs(alphas - curve).sum() / alphas.sum())

    return {
        "alpha_precision": delta(precision_curve),
        "beta_recall": delta(recall_curve),
        "authenticity": float(authentic.mean()),
        "alphas": alphas.tolist(),
        "alpha_precision_curve": precision_curve.tolist(),
        "beta_recall_curve": recall_curve.tolist(),
    }


def alpha_precision(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    max_rows: int | None = None,
    random_state: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Alpha-precision, beta-recall and authenticity of synthetic rows against real rows.

    Args:
        real: the real rows (usually the training split); their statistics scale the
            embedding.
        synthetic: synthetic rows with the same columns.
        max_rows: cap on the rows taken from each table (drawn without replacement with
            ``random_state``); ``None`` uses every row.
        random_state: seed of the subsample.
        device: torch device for the nearest-neighbour searches.

    Returns:
        See :func:`alpha_precision_from_embeddings`.

    Example:
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(list("ab"), 300)})
        >>> out = alpha_precision(df, df)
        >>> round(out["alpha_precision"], 2), round(out["beta_recall"], 2), out["authenticity"]
        (1.0, 1.0, 0.0)
    """
    rng = np.random.default_rng(random_state)

    def cap(df: pd.DataFrame) -> pd.DataFrame:
        if max_rows is None or len(df) <= max_rows:
            return df
        return df.iloc[np.sort(rng.choice(len(df), max_rows, replace=False))]

    e_real, e_syn = distance_encoding(cap(real), cap(synthetic[list(real.columns)]))
    return alpha_precision_from_embeddings(e_real, e_syn, device=device)
