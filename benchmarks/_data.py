"""Loading and splitting the benchmark datasets (deterministic, seed recorded in every row)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._env import DATA_DIR


def synthesis_split(
    file: str,
    *,
    max_rows: int | None,
    seed: int = 0,
    holdout_fraction: float = 0.2,
    data_dir: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fixed train / holdout split of a synthesis table.

    The table is first subsampled to ``max_rows`` rows (without replacement, ``seed``), then
    permuted with ``seed`` and cut ``1 - holdout_fraction`` / ``holdout_fraction``.
    """
    df = pd.read_parquet((data_dir or DATA_DIR) / file)
    rng = np.random.default_rng(seed)
    if max_rows is not None and len(df) > max_rows:
        df = df.iloc[np.sort(rng.choice(len(df), max_rows, replace=False))]
    order = rng.permutation(len(df))
    n_hold = round(holdout_fraction * len(df))
    holdout = df.iloc[np.sort(order[:n_hold])].reset_index(drop=True)
    train = df.iloc[np.sort(order[n_hold:])].reset_index(drop=True)
    return train, holdout


def load_ad_table(name: str, data_dir: Path | None = None) -> tuple[pd.DataFrame, np.ndarray, bool]:
    """An anomaly-detection table: features, 0/1 labels and whether features are categorical.

    ADBench ``.npz`` files give numeric features ``f0..f{d-1}``; the categorical Parquet tables
    give their string columns (label ``is_anomaly`` removed).
    """
    base = data_dir or DATA_DIR
    npz = base / f"{name}.npz"
    if npz.exists():
        with np.load(npz, allow_pickle=False) as z:
            x, y = np.asarray(z["X"], dtype=np.float64), np.asarray(z["y"]).astype(int)
        cols = [f"f{i}" for i in range(x.shape[1])]
        return pd.DataFrame(x, columns=cols), y, False
    df = pd.read_parquet(base / f"{name}.parquet")
    y = df.pop("is_anomaly").to_numpy().astype(int)
    return df, y, True


def adbench_splits(
    y: np.ndarray,
    *,
    seeds: list[int],
    max_rows: int = 10_000,
    test_fraction: float = 0.3,
) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """The ADBench protocol's row selection.

    Tables above ``max_rows`` are stratified-subsampled once to ``max_rows`` rows (seed 0),
    shared by all split seeds; then for each seed a stratified ``1 - test_fraction`` /
    ``test_fraction`` split of the kept rows.

    Returns:
        The kept row indices and ``{seed: (train_idx, test_idx)}`` (indices into the kept rows).
    """
    from sklearn.model_selection import train_test_split

    keep = np.arange(len(y))
    if len(y) > max_rows:
        keep, _ = train_test_split(keep, train_size=max_rows, stratify=y, random_state=0)
        keep = np.sort(keep)
    yk = y[keep]
    splits = {}
    for seed in seeds:
        tr, te = train_test_split(
            np.arange(len(keep)), test_size=test_fraction, stratify=yk, random_state=seed
        )
        splits[seed] = (np.sort(tr), np.sort(te))
    return keep, splits
