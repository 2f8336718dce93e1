"""Work done in fresh 'spawn' subprocesses: one synthesis method on one dataset, or the
pending detectors of one anomaly-detection (dataset, seed).

A fresh process per job gives a clean peak RSS (``resource.getrusage`` maxrss, which covers
torch's allocations that tracemalloc misses) and isolates crashes and hangs: the parent
records ``status=error`` / ``timeout`` and goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import resource
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _proc_status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _PeakRSS:
    """Peak resident memory of this process during a block, and its growth over the start.

    Uses VmHWM after resetting it where Linux allows (so earlier peaks, e.g. from imports or
    reading the data, do not mask the block's own), else ``getrusage`` maxrss.
    """

    def __enter__(self) -> _PeakRSS:
        self.reset = _reset_peak_rss()
        self.start = _proc_status_mb("VmRSS") if self.reset else _maxrss_mb()
        return self

    def __exit__(self, *exc: object) -> None:
        peak = _proc_status_mb("VmHWM") if self.reset else None
        self.peak = peak if peak is not None else _maxrss_mb()
        self.delta = max(0.0, self.peak - (self.start or 0.0))


def _child(fn: Callable[[dict], Any], spec: dict, q: Any) -> None:
    try:
        q.put(("ok", fn(spec)))
    except BaseException as exc:  # report everything, the parent decides
        q.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"))


def run_in_subprocess(fn: Callable[[dict], Any], spec: dict, timeout_s: float) -> tuple[str, Any]:
    """Run ``fn(spec)`` in a fresh spawned process.

    Returns:
        ``("ok", result)``, ``("error", message)`` or ``("timeout", message)``.
    """
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, spec, q), daemon=True)
    proc.start()
    deadline = time.monotonic() + timeout_s
    result: tuple[str, Any] | None = None
    while result is None:
        try:
            result = q.get(timeout=1.0)
        except queue_mod.Empty:
            if not proc.is_alive():
                try:
                    result = q.get(timeout=2.0)
                except queue_mod.Empty:
                    result = ("error", f"worker died with exit code {proc.exitcode}")
            elif time.monotonic() > deadline:
                proc.kill()
                result = ("timeout", f"killed after {timeout_s:.0f} s")
    proc.join(timeout=30)
    if proc.is_alive():
        proc.kill()
    return result


# --------------------------------------------------------------------------------- synthesis
class _SDVModel:
    """SDV 2.x single-table synthesizer with metadata auto-detected from the training frame."""

    def __init__(self, kind: str, params: dict, table: str, device: str) -> None:
        from sdv.single_table import (
            CTGANSynthesizer,
            GaussianCopulaSynthesizer,
            TVAESynthesizer,
        )

        self.cls = {
            "gaussian_copula": GaussianCopulaSynthesizer,
            "ctgan": CTGANSynthesizer,
            "tvae": TVAESynthesizer,
        }[kind]
        self.params = dict(params)
        if kind in ("ctgan", "tvae"):
            self.params["enable_gpu"] = device.startswith("cuda")
        self.table = table

    def fit(self, df: Any, seed: int) -> None:
        import random

        import pandas as pd
        import torch
        from sdv.metadata import Metadata

        # SDV has no random_state: seed the global generators it draws from.
        random.seed(seed)
        np.random.seed(seed)  # noqa: NPY002 (SDV and CTGAN draw from the legacy global RNG)
        torch.manual_seed(seed)
        metadata = Metadata.detect_from_dataframes({self.table: df}, infer_keys=None)
        # SDV detects semantic sdtypes from column names (california's longitude / latitude
        # become 'longitude' / 'latitude', which SDV regenerates with Faker instead of
        # learning them). Model every column: numeric -> numerical, else categorical.
        columns = metadata.to_dict()["tables"][self.table]["columns"]
        for col, meta in columns.items():
            if meta["sdtype"] not in ("numerical", "categorical", "boolean", "datetime"):
                numeric = pd.api.types.is_numeric_dtype(df[col].dtype)
                sdtype = "numerical" if numeric else "categorical"
                metadata.update_column(col, table_name=self.table, sdtype=sdtype)
        self.model = self.cls(metadata, **self.params)
        self.model.fit({self.table: df})

    def sample(self, n: int, seed: int) -> Any:
        import torch

        np.random.seed(seed + 1)  # noqa: NPY002
        torch.manual_seed(seed + 1)
        out = self.model.sample(n)
        return out[self.table] if isinstance(out, dict) else out


class _SynthkitModel:
    def __init__(self, backend: str, params: dict, device: str) -> None:
        self.backend, self.params, self.device = backend, params, device

    def fit(self, df: Any, seed: int) -> None:
        from synthkit import Synthesizer

        self.model = Synthesizer(
            self.backend, self.params, device=self.device, random_state=seed
        ).fit(df)

    def sample(self, n: int, seed: int) -> Any:
        return self.model.sample(n, random_state=seed + 1)


def synthesis_job(spec: dict) -> dict:
    """Fit one method on one dataset's training split, sample, and compute every metric."""
    import torch
    from threadpoolctl import threadpool_limits

    from benchmarks._data import synthesis_split

    warnings.simplefilter("ignore")
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    train, holdout = synthesis_split(
        spec["file"],
        max_rows=spec["max_rows"],
        seed=spec["split_seed"],
        holdout_fraction=spec["holdout_fraction"],
        data_dir=Path(spec["data_dir"]) if spec.get("data_dir") else None,
    )
    seed, device, method = spec["seed"], spec["device"], spec["method"]
    kind = spec["kind"]
    row: dict[str, Any] = {"n_train": len(train), "n_holdout": len(holdout)}
    if kind == "synthkit":
        model: Any = _SynthkitModel(spec["backend"], spec["params"], device)
    elif kind == "sdv":
        model = _SDVModel(spec["sdv_kind"], spec["params"], spec["dataset"], device)
    elif kind != "holdout":
        raise ValueError(f"unknown method kind {kind!r} for {method}")
    with _PeakRSS() as mem:
        if kind == "holdout":  # the noise floor: a fresh real sample in place of synthetic rows
            synthetic, fit_s, sample_s = holdout, 0.0, 0.0
        else:
            t0 = time.perf_counter()
            model.fit(train, seed)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            synthetic = model.sample(len(train), seed)
            sample_s = time.perf_counter() - t0
    synthetic = synthetic[list(train.columns)].reset_index(drop=True)
    row.update(
        n_synthetic=len(synthetic),
        fit_s=fit_s,
        sample_s=sample_s,
        sample_rows_per_s=len(synthetic) / sample_s if sample_s > 0 else float("nan"),
        peak_rss_mb=mem.peak,
        peak_rss_delta_mb=mem.delta,
        peak_rss_method="VmHWM reset" if mem.reset else "getrusage maxrss",
    )
    import sklearn.ensemble  # noqa: F401  (load scikit-learn's OpenMP so the limit reaches it)

    with threadpool_limits(1):  # OpenMP trees on a busy 2-core box: 1 thread is ~10x faster
        row.update(_synthesis_metrics(spec, train, holdout, synthetic, kind, seed, device))
    return row


def _synthesis_metrics(
    spec: dict, train: Any, holdout: Any, synthetic: Any, kind: str, seed: int, device: str
) -> dict[str, Any]:
    from synthkit.reports import c2st_auc, efficacy_summary, fidelity_summary, privacy_summary

    row: dict[str, Any] = {}
    t0 = time.perf_counter()
    fid = fidelity_summary(train, synthetic)
    row.update(shape_error_pct=fid["shape_error_pct"], trend_error_pct=fid["trend_error_pct"])
    det = c2st_auc(train, synthetic, random_state=seed)
    row.update(c2st_auc=det["auc"], c2st_auc_std=det["auc_std"])
    if kind != "holdout":
        eff = efficacy_summary(train, synthetic, holdout, spec["target"], random_state=seed)
        row.update(
            efficacy_task=eff["task"],
            efficacy_metric=eff["metric"],
            tstr=eff["tstr"],
            trtr=eff["trtr"],
            tstr_rmse_over_std=eff.get("tstr_rmse_over_std", float("nan")),
            trtr_rmse_over_std=eff.get("trtr_rmse_over_std", float("nan")),
        )
        priv = privacy_summary(train, holdout, synthetic, random_state=seed, device=device)
        row.update(priv)
    row["metrics_s"] = time.perf_counter() - t0
    return row


# ---------------------------------------------------------------------------- anomaly
def _pyod_detector(name: str, seed: int, x_train: np.ndarray) -> Any:
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.gmm import GMM
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.ocsvm import OCSVM
    from pyod.models.pca import PCA

    return {
        "IForest": lambda: IForest(random_state=seed),
        "ECOD": ECOD,
        "COPOD": COPOD,
        "HBOS": HBOS,
        "KNN": KNN,
        "LOF": LOF,
        # PyOD's PCA divides by each component's variance; components of the null space
        # (one-hot blocks, collinear columns) have zero variance and turn every score into
        # NaN. Keep the components of the training matrix's rank (all the defined ones).
        "PCA": lambda: PCA(
            n_components=int(min(np.linalg.matrix_rank(x_train), *x_train.shape)),
            random_state=seed,
        ),
        "OCSVM": OCSVM,
        # Same model class and size as synthkit's gmm (PyOD's default is one component), on
        # the standardised features; reg_covar keeps one-hot blocks from going singular.
        "GMM": lambda: GMM(n_components=10, reg_covar=1e-4, random_state=seed),
    }[name]()


def _one_hot(train: Any, test: Any) -> tuple[np.ndarray, np.ndarray]:
    """One-hot of string features with categories from the training part, null its own."""
    from sklearn.preprocessing import OneHotEncoder

    tr = train.astype(object).where(train.notna(), "<null>").astype(str)
    te = test.astype(object).where(test.notna(), "<null>").astype(str)
    enc = OneHotEncoder(handle_unknown="ignore", dtype=np.float64)
    return enc.fit_transform(tr).toarray(), enc.transform(te).toarray()


def anomaly_job(spec: dict) -> list[dict]:
    """Run the pending detectors on one (dataset, seed) split; one row per detector."""
    import torch
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.preprocessing import StandardScaler

    from benchmarks._data import adbench_splits, load_ad_table

    warnings.simplefilter("ignore")
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    x, y, categorical = load_ad_table(
        spec["dataset"], Path(spec["data_dir"]) if spec.get("data_dir") else None
    )
    seed = spec["seed"]
    keep, splits = adbench_splits(
        y, seeds=[seed], max_rows=spec["max_rows"], test_fraction=spec["test_fraction"]
    )
    x, y = x.iloc[keep].reset_index(drop=True), y[keep]
    tr, te = splits[seed]
    x_tr, x_te, y_te = x.iloc[tr].reset_index(drop=True), x.iloc[te].reset_index(drop=True), y[te]
    matrices: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    rows = []
    for det in spec["detectors"]:
        row: dict[str, Any] = {
            "detector": det["name"],
            "n_rows": len(y),
            "n_features": x.shape[1],
            "n_train": len(tr),
            "n_test": len(te),
            "anomaly_rate": float(y.mean()),
            "categorical": categorical,
        }
        try:
            t0 = time.perf_counter()
            if det["kind"] == "synthkit":
                from synthkit import AnomalyDetector

                model = AnomalyDetector(
                    det["backend"], det["params"], device=spec["device"], random_state=seed
                ).fit(x_tr)
                fit_s = time.perf_counter() - t0
                t1 = time.perf_counter()
                scores = -model.score_samples(x_te)
            else:
                scaled = det["name"] in spec["needs_scaling"]
                key = "scaled" if scaled else "raw"
                if key not in matrices:
                    if categorical:
                        a, b = _one_hot(x_tr, x_te)
                    else:
                        a, b = x_tr.to_numpy(np.float64), x_te.to_numpy(np.float64)
                        if scaled:
                            sc = StandardScaler().fit(a)
                            a, b = sc.transform(a), sc.transform(b)
                    matrices[key] = (a, b)
                a, b = matrices[key]
                model = _pyod_detector(det["name"], seed, a)
                t0 = time.perf_counter()
                model.fit(a)
                fit_s = time.perf_counter() - t0
                t1 = time.perf_counter()
                scores = model.decision_function(b)
            score_s = time.perf_counter() - t1
            scores = np.asarray(scores, dtype=np.float64)
            row["n_nonfinite_scores"] = int((~np.isfinite(scores)).sum())
            scores = np.nan_to_num(scores, nan=np.inf)
            scores = np.clip(scores, -1e300, 1e300)
            row.update(
                status="ok",
                auroc=float(roc_auc_score(y_te, scores)),
                auprc=float(average_precision_score(y_te, scores)),
                fit_s=fit_s,
                score_s=score_s,
                fit_score_s=fit_s + score_s,
            )
        except Exception as exc:
            row.update(status="error", error=f"{type(exc).__name__}: {exc}"[:500])
        rows.append(row)
    return rows
