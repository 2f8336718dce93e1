"""Run the synthesis and anomaly-detection benchmark suites (resumable).

Every (method, dataset[, seed]) result is appended to ``benchmarks/results/<suite>_<part>.csv``
as soon as it is done; a rerun skips the keys already there with ``status=ok``.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks._config import NEEDS_SCALING, PYOD_DETECTORS, SUITES, Suite, synthkit_params
from benchmarks._config import SYNTHESIS_DATASETS as SYN_DATA
from benchmarks._env import RESULTS_DIR, environment
from benchmarks._jobs import anomaly_job, run_in_subprocess, synthesis_job
from benchmarks._results import (
    ANOMALY_KEY,
    SYNTHESIS_KEY,
    Tracker,
    append_rows,
    done_keys,
    results_path,
)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def synthesis_methods(suite: Suite) -> dict[str, dict[str, Any]]:
    """Method name -> job settings: every registered synthkit backend, SDV, the noise floor."""
    from synthkit.backends import available

    methods: dict[str, dict[str, Any]] = {
        "real_holdout": {"kind": "holdout", "params": {}},
    }
    for backend in available():
        methods[backend] = {
            "kind": "synthkit",
            "backend": backend,
            "params": synthkit_params(backend, "synthesis", suite),
        }
    sdv = {
        "sdv_gaussian_copula": ("gaussian_copula", {}),
        "sdv_ctgan": ("ctgan", {"epochs": suite.ctgan_epochs}),
        "sdv_tvae": ("tvae", {"epochs": suite.tvae_epochs}),
    }
    for name, (kind, params) in sdv.items():
        methods[name] = {"kind": "sdv", "sdv_kind": kind, "params": params}
    return methods


def anomaly_detectors(suite: Suite) -> list[dict[str, Any]]:
    from synthkit.backends import available

    dets = [
        {
            "name": b,
            "kind": "synthkit",
            "backend": b,
            "params": synthkit_params(b, "anomaly", suite),
        }
        for b in available()
    ]
    dets += [{"name": d, "kind": "pyod", "params": {}} for d in PYOD_DETECTORS]
    return dets


def _write_run_info(suite: Suite, argv: list[str], device: str) -> None:
    info = {
        "suite": suite.name,
        "command": "python -m benchmarks " + " ".join(argv),
        "started": _now(),
        "device": device,
        "environment": environment(),
        "platform": platform.platform(),
        "versions": _versions(),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{suite.name}_run.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    info["history"] = [*old.get("history", []), {"command": info["command"], "at": info["started"]}]
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("sdv", "ctgan", "pyod", "scikit-learn", "mlflow", "matplotlib", "psutil"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_synthesis(
    suite: Suite,
    *,
    device: str,
    tracker: Tracker,
    datasets: list[str] | None = None,
    methods: list[str] | None = None,
    results_dir: Path | None = None,
    data_dir: Path | None = None,
    threads: int | None = None,
    synthesis_datasets: dict[str, tuple[str, str]] | None = None,
) -> None:
    table_files = synthesis_datasets or SYN_DATA
    path = results_path(suite.name, "synthesis", results_dir)
    done = done_keys(path, SYNTHESIS_KEY)
    all_methods = synthesis_methods(suite)
    if not _has("sdv"):
        print("sdv is not installed: SDV baselines skipped (pip install 'synthkit[bench]')")
        all_methods = {k: v for k, v in all_methods.items() if v["kind"] != "sdv"}
    seed = 0  # synthesis: one seed in both suites (the split seed is recorded too)
    for dataset in datasets or list(table_files):
        file, target = table_files[dataset]
        for method, cfg in all_methods.items():
            if methods and method not in methods:
                continue
            if (method, dataset, str(seed)) in done:
                print(f"[synthesis] {method:22s} {dataset:20s} already done, skipped")
                continue
            spec = {
                **cfg,
                "method": method,
                "dataset": dataset,
                "file": file,
                "target": target,
                "seed": seed,
                "device": device,
                "max_rows": suite.synthesis_max_rows,
                "split_seed": suite.split_seed,
                "holdout_fraction": suite.holdout_fraction,
                "data_dir": str(data_dir) if data_dir else None,
                "threads": threads,
            }
            t0 = time.perf_counter()
            status, result = run_in_subprocess(synthesis_job, spec, suite.job_timeout_s)
            row: dict[str, Any] = {
                "suite": suite.name,
                "method": method,
                "dataset": dataset,
                "seed": seed,
                "split_seed": suite.split_seed,
                "status": status,
                "params": cfg.get("params", {}),
                "device": device,
                "wall_s": time.perf_counter() - t0,
                "finished": _now(),
            }
            if status == "ok":
                row.update(result)
            else:
                row["error"] = str(result)[-800:]
            append_rows(path, [row])
            msg = (
                f"fit {row.get('fit_s', 0):7.1f}s shape {row.get('shape_error_pct', 0):5.1f}%"
                f" trend {row.get('trend_error_pct', 0):5.1f}% c2st {row.get('c2st_auc', 0):.3f}"
                if status == "ok"
                else f"{status}: {str(result).splitlines()[0][:160]}"
            )
            print(f"[synthesis] {method:22s} {dataset:20s} {msg}", flush=True)
            if status == "ok":
                tracker.log(
                    f"{method}/{dataset}",
                    {
                        k: row[k]
                        for k in (
                            "suite",
                            "method",
                            "dataset",
                            "seed",
                            "split_seed",
                            "params",
                            "device",
                        )
                    }
                    | {"n_train": row.get("n_train"), "n_holdout": row.get("n_holdout")},
                    row,
                )


def run_anomaly(
    suite: Suite,
    *,
    device: str,
    tracker: Tracker,
    datasets: list[str] | None = None,
    methods: list[str] | None = None,
    results_dir: Path | None = None,
    data_dir: Path | None = None,
    threads: int | None = None,
) -> None:
    path = results_path(suite.name, "anomaly", results_dir)
    done = done_keys(path, ANOMALY_KEY)
    detectors = anomaly_detectors(suite)
    if not _has("pyod"):
        print("pyod is not installed: PyOD baselines skipped (pip install 'synthkit[bench]')")
        detectors = [d for d in detectors if d["kind"] != "pyod"]
    if methods:
        detectors = [d for d in detectors if d["name"] in methods]
    for dataset in datasets or [*suite.adbench, *suite.categorical_ad]:
        for seed in suite.seeds:
            pending = [d for d in detectors if (d["name"], dataset, str(seed)) not in done]
            if not pending:
                print(f"[anomaly] {dataset:22s} seed {seed}: already done, skipped")
                continue
            spec = {
                "dataset": dataset,
                "seed": seed,
                "device": device,
                "detectors": pending,
                "max_rows": suite.ad_max_rows,
                "test_fraction": suite.ad_test_fraction,
                "needs_scaling": sorted(NEEDS_SCALING),
                "data_dir": str(data_dir) if data_dir else None,
                "threads": threads,
            }
            t0 = time.perf_counter()
            status, result = run_in_subprocess(anomaly_job, spec, suite.job_timeout_s)
            base = {"suite": suite.name, "dataset": dataset, "seed": seed, "device": device}
            if status == "ok":
                rows = [{**base, **r, "finished": _now()} for r in result]
            else:
                rows = [
                    {**base, "detector": d["name"], "status": status,
                     "error": str(result)[-800:], "finished": _now()}
                    for d in pending
                ]  # fmt: skip
            params = {d["name"]: d["params"] for d in pending}
            for r in rows:
                r["params"] = params.get(r["detector"], {})
            append_rows(path, rows)
            ok = [r for r in rows if r.get("status") == "ok"]
            summary = " ".join(f"{r['detector']}={r['auroc']:.3f}" for r in ok)
            failed = [r["detector"] for r in rows if r.get("status") != "ok"]
            print(
                f"[anomaly] {dataset:22s} seed {seed} ({time.perf_counter() - t0:5.1f}s) "
                f"AUROC {summary}" + (f" FAILED: {failed}" if failed else ""),
                flush=True,
            )
            for r in ok:
                tracker.log(
                    f"{r['detector']}/{dataset}/seed{seed}",
                    {k: r.get(k) for k in ("suite", "detector", "dataset", "seed", "params",
                                           "device", "n_train", "n_test")},
                    r,
                )  # fmt: skip


def run(
    suite_name: str,
    *,
    device: str = "cpu",
    track: bool = True,
    parts: tuple[str, ...] = ("synthesis", "anomaly"),
    datasets: list[str] | None = None,
    methods: list[str] | None = None,
    argv: list[str] | None = None,
    threads: int | None = None,
) -> float:
    """Run a suite; returns its wall-clock seconds."""
    suite = SUITES[suite_name]
    t0 = time.perf_counter()
    _write_run_info(suite, argv if argv is not None else sys.argv[1:], device)
    for part in parts:
        tracker = Tracker(track, f"synthkit-bench-{suite.name}-{part}")
        fn = run_synthesis if part == "synthesis" else run_anomaly
        ds = None
        if datasets:
            known = SYN_DATA if part == "synthesis" else [*suite.adbench, *suite.categorical_ad]
            ds = [d for d in datasets if d in known] or None
            if ds is None:
                continue
        fn(suite, device=device, tracker=tracker, datasets=ds, methods=methods, threads=threads)
    wall = time.perf_counter() - t0
    info_path = RESULTS_DIR / f"{suite.name}_run.json"
    info = json.loads(info_path.read_text())
    info["last_wall_s"] = wall
    if info.get("history"):
        info["history"][-1]["wall_s"] = round(wall, 1)
    info["finished"] = _now()
    info_path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    print(f"suite {suite.name!r} finished in {wall / 60:.1f} min")
    return wall
