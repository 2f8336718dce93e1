"""Privacy: DCR share, NNDR, membership-inference AUC and exact-copy rate (METRICS.md).

Distances use one encoding for every table: numeric columns min-max scaled with the
*training* minimum and maximum (nulls -> the training median), categorical columns one-hot
with null as its own category, and the L1 distance. Nearest neighbours are found with
``torch.cdist`` over chunks of rows (never a Python loop over rows), on CPU or CUDA.

* **DCR share**: the fraction of synthetic rows whose nearest training row is *strictly*
  closer than their nearest held-out row. With the training rows subsampled to the size of the
  held-out set a generator that does not copy scores about 50 %; against the full training set
  a fresh real sample scores about ``n_train / (n_train + n_holdout)``.
* **NNDR** (nearest-neighbour distance ratio): per synthetic row, the distance to its nearest
  training row over the distance to the second nearest. Near 0: the row sits on one training
  record (a copy or near-copy); compare its low quantiles with held-out real rows'.
* **Membership-inference AUC**: an attacker scores each candidate record by minus its
  distance to the nearest synthetic row and calls close ones training members. The AUC of
  telling training rows (members) from held-out rows (non-members) this way; 0.5 is ideal,
  a copy of the training data scores 1.
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
    "knn_distances",
    "membership_auc",
    "membership_inference_auc",
    "nearest_distance",
    "nndr",
    "privacy_distances",
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


def knn_distances(
    query: np.ndarray,
    reference: np.ndarray,
    *,
    k: int = 1,
    p: float = 1.0,
    device: str = "cpu",
    chunk_elements: int = _CHUNK_ELEMENTS,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Distances from every query row to its ``k`` nearest reference rows (batched, no loops).

    The search runs ``torch.cdist`` over blocks of ``query rows x reference rows`` and keeps a
    running ``topk``. For the L1 distance, columns holding only 0 and 1 in both matrices
    (the one-hot blocks of :func:`distance_encoding`) go through a matrix product, exactly:
    ``|a - b| = a + b - 2ab`` for ``a, b`` in {0, 1}; only the other columns go through
    ``cdist``. The L2 distance uses ``cdist``'s matrix-product mode.

    Args:
        query: ``(n, d)`` encoded rows.
        reference: ``(m, d)`` encoded rows.
        k: neighbours per query row (at most ``m``).
        p: 1 (L1, the privacy metrics) or 2 (Euclidean, alpha-precision / beta-recall).
        device: torch device for the computation.
        chunk_elements: ``query rows x reference rows`` per block.
        return_indices: also return the reference row index of each neighbour.

    Returns:
        float64 ``(n, k)`` distances, nearest first; with ``return_indices`` also the int64
        ``(n, k)`` indices.

    Raises:
        ValueError: ``k`` is not in ``[1, m]`` or ``p`` is not 1 or 2.
    """
    import torch

    n, m = query.shape[0], reference.shape[0]
    if not 1 <= k <= m:
        raise ValueError(f"k must be between 1 and the {m} reference rows, got {k}")
    if p not in (1.0, 2.0):
        raise ValueError(f"p must be 1 (L1) or 2 (Euclidean), got {p}")
    q = torch.as_tensor(np.ascontiguousarray(query), dtype=torch.float32, device=device)
    r = torch.as_tensor(np.ascontiguousarray(reference), dtype=torch.float32, device=device)
    binary = torch.zeros(q.shape[1], dtype=torch.bool, device=device)
    if p == 1.0 and q.shape[1]:
        binary = ((q == 0) | (q == 1)).all(dim=0) & ((r == 0) | (r == 1)).all(dim=0)
    q_num, r_num = q[:, ~binary], r[:, ~binary]
    # One product gives sum(a) + sum(b) - 2 a.b for the binary columns of every pair.
    q_bin, r_bin = q[:, binary], r[:, binary]
    ones_q, ones_r = torch.ones(n, 1, device=device), torch.ones(m, 1, device=device)
    q_aug = torch.cat([q_bin, q_bin.sum(dim=1, keepdim=True), ones_q], dim=1)
    r_aug = torch.cat([-2.0 * r_bin, ones_r, r_bin.sum(dim=1, keepdim=True)], dim=1).T
    mode = "use_mm_for_euclid_dist" if p == 2.0 else "donot_use_mm_for_euclid_dist"

    def block(qs: slice, rs: slice) -> torch.Tensor:
        if q_num.shape[1]:
            d = torch.cdist(q_num[qs], r_num[rs], p=p, compute_mode=mode)
        else:
            d = torch.zeros(len(q_num[qs]), len(r_num[rs]), device=device)
        if q_bin.shape[1]:  # only for p == 1
            d = torch.addmm(d, q_aug[qs], r_aug[:, rs], out=d)
        return d

    r_step = max(k, min(m, chunk_elements))
    q_step = max(1, chunk_elements // r_step)
    best = torch.full((n, k), float("inf"), device=device)
    best_idx = torch.zeros((n, k), dtype=torch.int64, device=device)
    with torch.no_grad():
        for rs in range(0, m, r_step):
            re = min(m, rs + r_step)
            for qs in range(0, n, q_step):
                rows = slice(qs, qs + q_step)
                d = block(rows, slice(rs, re))
                kk = min(k, re - rs)
                val, idx = torch.topk(d, kk, dim=1, largest=False, sorted=False)
                val = torch.cat([best[rows], val], dim=1)
                idx = torch.cat([best_idx[rows], idx + rs], dim=1)
                val, pos = torch.topk(val, k, dim=1, largest=False, sorted=True)
                best[rows], best_idx[rows] = val, torch.gather(idx, 1, pos)
    dist = best.clamp_min_(0.0).cpu().numpy().astype(np.float64)
    if return_indices:
        return dist, best_idx.cpu().numpy()
    return dist


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
        float64 array of shape ``(n,)`` (``inf`` when ``reference`` is empty).
    """
    if reference.shape[0] == 0:
        return np.full(query.shape[0], np.inf)
    out = knn_distances(query, reference, device=device, chunk_elements=chunk_elements)
    return out[:, 0]


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


def nndr(distances: np.ndarray) -> np.ndarray:
    """Nearest-neighbour distance ratio from :func:`knn_distances` with ``k >= 2``.

    ``d1 / d2``, the distance to the nearest reference row over the distance to the second
    nearest: close to 0 when a row sits on one reference record and away from the others
    (the signature of a copied record), close to 1 when it is as far from its nearest record
    as from the next. Rows whose two nearest distances are both 0 get 0.

    Args:
        distances: ``(n, k)`` sorted neighbour distances, ``k >= 2``.

    Returns:
        float64 array of shape ``(n,)`` in [0, 1].
    """
    d1, d2 = distances[:, 0], distances[:, 1]
    return np.divide(d1, d2, out=np.zeros_like(d1), where=d2 > 0)


def membership_auc(member_distance: np.ndarray, non_member_distance: np.ndarray) -> float:
    """AUC of the distance attack: score = -(distance to the nearest synthetic row).

    Args:
        member_distance: nearest-synthetic distances of training rows (members).
        non_member_distance: the same for held-out rows (non-members).

    Returns:
        The ROC AUC of telling members from non-members (0.5 = no better than a coin flip,
        1.0 = every training row is recognisable; ties count half).
    """
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.ones(len(member_distance)), np.zeros(len(non_member_distance))]
    return float(roc_auc_score(y, -np.r_[member_distance, non_member_distance]))


def membership_inference_auc(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    random_state: int = 0,
    device: str = "cpu",
) -> float:
    """Distance-based membership-inference attack on the synthetic data.

    The attacker holds candidate records and the synthetic table, and calls a candidate a
    training member when it lies close to some synthetic row. Members are
    ``min(len(train), len(holdout))`` training rows (drawn with ``random_state``),
    non-members the held-out rows.

    Args:
        train: the real training rows.
        holdout: the real held-out rows.
        synthetic: synthetic rows.
        random_state: seed of the member subsample.
        device: torch device for the distances.

    Returns:
        The attack's ROC AUC (:func:`membership_auc`); 0.5 is ideal.

    Example:
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(list("ab"), 400)})
        >>> membership_inference_auc(df[:200], df[200:], df[:200])  # a copy of train
        1.0
    """
    sub = _member_subsample(len(train), len(holdout), random_state)
    e_train, e_hold, e_syn = distance_encoding(train, holdout, synthetic)
    d_member = nearest_distance(e_train[sub], e_syn, device=device)
    d_non_member = nearest_distance(e_hold, e_syn, device=device)
    return membership_auc(d_member, d_non_member)


def _member_subsample(n_train: int, n_holdout: int, random_state: int) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n_train, min(n_train, n_holdout), replace=False))


def privacy_distances(
    train: pd.DataFrame,
    holdout: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    *,
    random_state: int = 0,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """Every nearest-neighbour distance the privacy metrics need, from one encoding.

    Args:
        train: the real training rows.
        holdout: the real held-out rows, or ``None`` (then only ``syn_train`` is returned).
        synthetic: synthetic rows.
        random_state: seed of the holdout-size training subsample.
        device: torch device for the distances.

    Returns:
        ``syn_train`` (synthetic -> 2 nearest training rows, ``(n_syn, 2)``), and with a
        holdout: ``syn_sub`` (-> nearest of the training subsample), ``syn_holdout``
        (-> nearest held-out row), ``holdout_train`` (held-out -> 2 nearest training rows),
        ``member_syn`` (training subsample -> nearest synthetic row) and ``holdout_syn``
        (held-out -> nearest synthetic row).
    """
    has_holdout = holdout is not None and len(holdout) > 0
    frames = [holdout, synthetic] if has_holdout else [synthetic]
    e_train, *rest = distance_encoding(train, *frames)
    e_syn = rest[-1]
    k = min(2, len(train))
    out = {"syn_train": knn_distances(e_syn, e_train, k=k, device=device)}
    if not has_holdout:
        return out
    e_hold = rest[0]
    sub = _member_subsample(len(train), len(e_hold), random_state)
    out["syn_sub"] = nearest_distance(e_syn, e_train[sub], device=device)
    out["syn_holdout"] = nearest_distance(e_syn, e_hold, device=device)
    out["holdout_train"] = knn_distances(e_hold, e_train, k=k, device=device)
    out["member_syn"] = nearest_distance(e_train[sub], e_syn, device=device)
    out["holdout_syn"] = nearest_distance(e_hold, e_syn, device=device)
    return out


def privacy_summary(
    train: pd.DataFrame,
    holdout: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    *,
    random_state: int = 0,
    device: str = "cpu",
    distances: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """DCR shares, NNDR, membership-inference AUC and exact-copy rates in one pass.

    Args:
        train: the real training rows.
        holdout: the real held-out rows; ``None`` leaves out every number that needs them.
        synthetic: synthetic rows.
        random_state: seed of the training subsample for the DCR share and the attack.
        device: torch device for the distances.
        distances: the output of :func:`privacy_distances` for these tables, if already
            computed.

    Returns:
        ``dcr_median_synthetic`` (median L1 distance to the nearest training row),
        ``nndr_median_synthetic`` and ``nndr_p05_synthetic`` (:func:`nndr` to the training
        rows), ``exact_copy_rate`` (synthetic); with a holdout also ``dcr_share`` (vs a
        holdout-size training subsample; ideal ~0.5), ``dcr_share_full_train`` and its
        reference ``dcr_share_full_train_expected`` (``n_train / (n_train + n_holdout)``),
        ``dcr_median_holdout``, ``nndr_median_holdout`` and ``nndr_p05_holdout`` (real
        references), ``membership_inference_auc`` (ideal 0.5) and ``exact_copy_rate_holdout``.
    """
    d = distances or privacy_distances(
        train, holdout, synthetic, random_state=random_state, device=device
    )
    syn_train = d["syn_train"]
    out: dict[str, Any] = {
        "dcr_median_synthetic": float(np.median(syn_train[:, 0])),
        "exact_copy_rate": exact_copy_rate(synthetic, train),
    }
    if syn_train.shape[1] > 1:
        ratio = nndr(syn_train)
        out["nndr_median_synthetic"] = float(np.median(ratio))
        out["nndr_p05_synthetic"] = float(np.quantile(ratio, 0.05))
    if "syn_holdout" not in d:
        return out
    hold_train = d["holdout_train"]
    out.update(
        dcr_share=float(np.mean(d["syn_sub"] < d["syn_holdout"])),
        dcr_share_full_train=float(np.mean(syn_train[:, 0] < d["syn_holdout"])),
        dcr_share_full_train_expected=len(train) / (len(train) + len(holdout)),
        dcr_median_holdout=float(np.median(hold_train[:, 0])),
        membership_inference_auc=membership_auc(d["member_syn"], d["holdout_syn"]),
        exact_copy_rate_holdout=exact_copy_rate(holdout, train),
    )
    if hold_train.shape[1] > 1:
        ratio = nndr(hold_train)
        out["nndr_median_holdout"] = float(np.median(ratio))
        out["nndr_p05_holdout"] = float(np.quantile(ratio, 0.05))
    return out
