"""Privacy: distance to closest record (DCR) share and exact-copy rate, as METRICS.md defines.

Distances use one encoding for every table: numeric columns min-max scaled with the
*training* minimum and maximum (nulls -> the training median), categorical columns one-hot
with null as its own category, and the L1 distance. Nearest neighbours are found with
``torch.cdist`` over chunks of rows (never a Python loop over rows), on CPU or CUDA.

* **DCR share**: the fraction of synthetic rows whose nearest training row is *strictly*
  closer than their nearest held-out row. With the training rows subsampled to the size of the
  held-out set a generator that does not copy scores about 50 %; against the full training set
  a fresh real sample scores about ``n_train / (n_train + n_holdout)``.
* **Exact-copy rate**: the fraction of rows identical (every value, nulls included) to some
  training row; report it for the synthetic rows and, as the reference, for held-out real rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthkit.reports.fidelity import _as_float, _is_numeric

__all__ = [
    "dcr_share",
    "distance_encoding",
    "exact_copy_rate",
    "nearest_distance",
    "privacy_summary",
]

_CHUNK_ELEMENTS = 1 << 24  # query rows x reference rows per cdist call (64 MiB of float32)


def distance_encoding(train: pd.DataFrame, *others: pd.DataFrame) -> list[np.ndarray]:
    """Encode tables for L1 distances with statistics of ``train``.

    Args:
        train: the training rows; their min, max and median scale numeric columns.
        *others: more tables with (at least) the columns of ``train``.

    Returns:
        One float32 matrix per table (``train`` first): scaled numeric columns, then one-hot
        blocks for categorical columns over the values seen in any table plus a null
        indicator.
    """
    frames = [train, *(o[list(train.columns)] for o in others)]
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for col in train.columns:
        if _is_numeric(train[col]):
            ref = _as_float(train[col])
            finite = ref[~np.isnan(ref)]
            lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
            med = float(np.median(finite)) if len(finite) else 0.0
            span = hi - lo if hi > lo else 1.0
            for out, f in zip(blocks, frames, strict=True):
                v = _as_float(f[col])
                v = np.where(np.isnan(v), med, v)
                out.append(((v - lo) / span)[:, None])
            continue
        values = [f[col].astype(object) for f in frames]
        levels = sorted({str(v) for s in values for v in s.dropna().unique()})
        for out, s in zip(blocks, values, strict=True):
            null = s.isna().to_numpy()
            codes = pd.Categorical(s.map(str).where(~null), categories=levels).codes
            codes = np.where(null, len(levels), codes).astype(np.int64)
            onehot = np.zeros((len(s), len(levels) + 1), dtype=np.float32)
            onehot[np.arange(len(s)), codes] = 1.0
            out.append(onehot)
    return [
        np.hstack(b).astype(np.float32) if b else np.zeros((len(f), 0), np.float32)
        for b, f in zip(blocks, frames, strict=True)
    ]


def nearest_distance(
    query: np.ndarray,
    reference: np.ndarray,
    *,
    device: str = "cpu",
    chunk_elements: int = _CHUNK_ELEMENTS,
) -> np.ndarray:
    """L1 distance from every query row to its nearest reference row.

    Args:
        query: ``(n, d)`` encoded rows.
        reference: ``(m, d)`` encoded rows.
        device: torch device for the computation.
        chunk_elements: ``query rows x reference rows`` per ``torch.cdist`` call.

    Returns:
        float64 array of shape ``(n,)``.
    """
    import torch

    q = torch.as_tensor(np.ascontiguousarray(query), dtype=torch.float32, device=device)
    r = torch.as_tensor(np.ascontiguousarray(reference), dtype=torch.float32, device=device)
    n, m = q.shape[0], r.shape[0]
    if m == 0:
        return np.full(n, np.inf)
    r_step = max(1, min(m, chunk_elements))
    q_step = max(1, chunk_elements // r_step)
    best = torch.full((n,), float("inf"), device=device)
    with torch.no_grad():
        for rs in range(0, m, r_step):
            ref = r[rs : rs + r_step]
            for qs in range(0, n, q_step):
                d = torch.cdist(q[qs : qs + q_step], ref, p=1.0).min(dim=1).values
                best[qs : qs + q_step] = torch.minimum(best[qs : qs + q_step], d)
    return best.cpu().numpy().astype(np.float64)


def dcr_share(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    subsample_train: bool = True,
    random_state: int = 0,
    device: str = "cpu",
) -> float:
    """Share of synthetic rows strictly closer to the training rows than to held-out rows.

    Args:
        synthetic: synthetic rows.
        train: the real training rows.
        holdout: the real held-out rows.
        subsample_train: compare with ``len(holdout)`` training rows drawn without
            replacement (ideal ~0.5); ``False`` uses every training row.
        random_state: seed of the subsample.
        device: torch device for the distances.

    Returns:
        The share in [0, 1].

    Example:
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(list("abc"), 400)})
        >>> dcr_share(df[:200], df[:200], df[200:])  # a copy of train
        1.0
    """
    if subsample_train and len(train) > len(holdout):
        rng = np.random.default_rng(random_state)
        train_ref = train.iloc[np.sort(rng.choice(len(train), len(holdout), replace=False))]
    else:
        train_ref = train
    _, e_ref, e_hold, e_syn = distance_encoding(train, train_ref, holdout, synthetic)
    d_train = nearest_distance(e_syn, e_ref, device=device)
    d_hold = nearest_distance(e_syn, e_hold, device=device)
    return float(np.mean(d_train < d_hold))


def _row_hashes(df: pd.DataFrame, columns: Sequence[str], numeric: Sequence[bool]) -> np.ndarray:
    parts = {}
    for i, (col, is_num) in enumerate(zip(columns, numeric, strict=True)):
        s = df[col]
        null = s.isna().to_numpy()
        if is_num:
            v = _as_float(s)
            parts[f"v{i}"] = np.where(null, 0.0, v) + 0.0  # + 0.0 turns -0.0 into 0.0
        else:
            parts[f"v{i}"] = s.astype(object).map(str).where(~null, "").to_numpy(dtype=object)
        parts[f"n{i}"] = null.astype(np.int8)
    frame = pd.DataFrame(parts, index=pd.RangeIndex(len(df)))
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def exact_copy_rate(rows: pd.DataFrame, train: pd.DataFrame) -> float:
    """Fraction of ``rows`` identical to some row of ``train`` (nulls equal nulls).

    Numeric values are compared as float64 (so ``3`` equals ``3.0``), other values as strings.

    Args:
        rows: rows to check (synthetic, or held-out real rows for the reference rate).
        train: the training rows.

    Returns:
        The rate in [0, 1] (0.0 for an empty ``rows``).

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"x": [1.0, 2.0, None], "c": ["a", None, "b"]})
        >>> exact_copy_rate(df, df)
        1.0
    """
    if len(rows) == 0:
        return 0.0
    cols = list(train.columns)
    numeric = [_is_numeric(train[c]) for c in cols]
    ref = _row_hashes(train, cols, numeric)
    return float(np.isin(_row_hashes(rows[cols], cols, numeric), ref).mean())


def privacy_summary(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    random_state: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """DCR shares, median distances and exact-copy rates in one pass over the encodings.

    Args:
        train: the real training rows.
        holdout: the real held-out rows.
        synthetic: synthetic rows.
        random_state: seed of the training subsample for the DCR share.
        device: torch device for the distances.

    Returns:
        ``dcr_share`` (vs a holdout-size training subsample; ideal ~0.5),
        ``dcr_share_full_train`` and its reference ``dcr_share_full_train_expected``
        (``n_train / (n_train + n_holdout)``), ``dcr_median_synthetic`` and
        ``dcr_median_holdout`` (median L1 distance to the nearest training row),
        ``exact_copy_rate`` (synthetic) and ``exact_copy_rate_holdout`` (real reference).
    """
    rng = np.random.default_rng(random_state)
    sub = np.sort(rng.choice(len(train), min(len(train), len(holdout)), replace=False))
    e_train, e_hold, e_syn = distance_encoding(train, holdout, synthetic)
    d_syn_train = nearest_distance(e_syn, e_train, device=device)
    d_syn_sub = nearest_distance(e_syn, e_train[sub], device=device)
    d_syn_hold = nearest_distance(e_syn, e_hold, device=device)
    d_hold_train = nearest_distance(e_hold, e_train, device=device)
    return {
        "dcr_share": float(np.mean(d_syn_sub < d_syn_hold)),
        "dcr_share_full_train": float(np.mean(d_syn_train < d_syn_hold)),
        "dcr_share_full_train_expected": len(train) / (len(train) + len(holdout)),
        "dcr_median_synthetic": float(np.median(d_syn_train)),
        "dcr_median_holdout": float(np.median(d_hold_train)),
        "exact_copy_rate": exact_copy_rate(synthetic, train),
        "exact_copy_rate_holdout": exact_copy_rate(holdout, train),
    }
