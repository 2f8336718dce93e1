"""Neural synthesizers at the same wall-clock budget: synthkit ``vae``/``gan`` vs SDV TVAE/CTGAN.

The fixed Adult split (all rows, 80/20, seed 0), every method given the same training budget
on the same machine, one method at a time in a fresh process. synthkit backends stop on their
``time_budget``. SDV has no time limit, so its epochs are calibrated first: two short fits
(1 and 5 epochs) give the preprocessing time and the time per epoch, and the final fit gets
``floor((budget - preprocessing) / per_epoch)`` epochs (at most SDV's default 300), so it
trains for about the budget.
On a shared machine a calibration can be off (another job ran meanwhile): when the final fit
takes less than 80 % or more than 110 % of the budget, the epochs are rescaled from that fit's
own time and the method is run again (once); the row records every attempt's epochs.
Metrics are those of the benchmark suite (METRICS.md): shape and trend error, TSTR, C2ST, DCR.

    python -m benchmarks.neural_budget --budget 300 --threads 2 [--methods vae tvae gan ctgan]

Results are appended to ``benchmarks/results/neural_budget_<device>.csv``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

from benchmarks._env import RESULTS_DIR, environment
from benchmarks._jobs import run_in_subprocess, synthesis_job

METHODS = {
    # name: (kind, backend or SDV class, params)
    "vae": ("synthkit", "vae", {}),
    "gan": ("synthkit", "gan", {}),
    "flow": ("synthkit", "flow", {}),
    "diffusion": ("synthkit", "diffusion", {}),
    "transformer": ("synthkit", "transformer", {}),
    "gmm": ("synthkit", "gmm", {"n_components": 16}),
    "tvae": ("sdv", "tvae", {}),
    "ctgan": ("sdv", "ctgan", {}),
    "gaussian_copula": ("sdv", "gaussian_copula", {}),
}
UNTIMED = {"gmm", "gaussian_copula"}  # run to convergence (seconds), no budget to share
DATASETS = {"adult": ("adult.parquet", "income")}
SDV_MAX_EPOCHS = 300  # SDV's default: a bigger budget does not buy more than that


def _timed_sdv_fit(spec: dict) -> float:
    """Seconds to fit an SDV model with ``spec['params']`` (calibration only)."""
    import torch

    from benchmarks._data import synthesis_split
    from benchmarks._jobs import _SDVModel

    torch.set_num_threads(int(spec["threads"]))
    train, _ = synthesis_split(spec["file"], max_rows=None, seed=0)
    model = _SDVModel(spec["sdv_kind"], spec["params"], spec["dataset"], spec["device"])
    t0 = time.perf_counter()
    model.fit(train, 0)
    return time.perf_counter() - t0


def _calibrate(spec: dict, budget: float) -> dict[str, float]:
    times = {}
    for epochs in (1, 5):  # 4 epochs apart, so timing noise matters less than with 1 and 2
        status, out = run_in_subprocess(
            _timed_sdv_fit, {**spec, "params": {**spec["params"], "epochs": epochs}}, 3600
        )
        if status != "ok":
            raise RuntimeError(f"calibration failed: {out}")
        times[epochs] = out
    per_epoch = max(1e-3, (times[5] - times[1]) / 4)
    prep = max(0.0, times[1] - per_epoch)
    epochs = min(SDV_MAX_EPOCHS, max(1, math.floor((budget - prep) / per_epoch)))
    return {"epochs": epochs, "calib_per_epoch_s": per_epoch, "calib_prep_s": prep}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", default="adult", choices=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    file, target = DATASETS[args.dataset]
    out = args.out or RESULTS_DIR / f"neural_budget_{args.device.split(':')[0]}.csv"
    env = environment()
    for name in args.methods:
        kind, which, params = METHODS[name]
        spec: dict[str, Any] = {
            "method": name, "kind": kind, "dataset": args.dataset, "file": file,
            "target": target, "max_rows": None, "split_seed": 0, "holdout_fraction": 0.2,
            "seed": args.seed, "device": args.device, "threads": args.threads,
            "params": dict(params),
        }  # fmt: skip
        extra: dict[str, Any] = {}
        if name in UNTIMED:
            spec["backend" if kind == "synthkit" else "sdv_kind"] = which
        elif kind == "synthkit":
            spec["backend"] = which
            spec["params"]["time_budget"] = args.budget
            spec["params"]["epochs"] = 100_000  # the budget stops training
        else:
            spec["sdv_kind"] = which
            extra = _calibrate(spec, args.budget)
            spec["params"]["epochs"] = int(extra["epochs"])
        status, row = run_in_subprocess(synthesis_job, spec, 4 * args.budget + 1800)
        if kind == "sdv" and name not in UNTIMED and status == "ok":
            fit_s, prep = row["fit_s"], extra["calib_prep_s"]
            if not 0.8 * args.budget <= fit_s <= 1.1 * args.budget:
                per_epoch = max(1e-3, (fit_s - prep) / spec["params"]["epochs"])
                extra["first_epochs"], extra["first_fit_s"] = spec["params"]["epochs"], fit_s
                spec["params"]["epochs"] = min(
                    SDV_MAX_EPOCHS, max(1, math.floor((args.budget - prep) / per_epoch))
                )
                extra["epochs"] = spec["params"]["epochs"]
                status, row = run_in_subprocess(synthesis_job, spec, 4 * args.budget + 1800)
        record = {
            "method": name, "dataset": args.dataset, "budget_s": args.budget,
            "threads": args.threads, "device": args.device, "status": status, **extra,
            **(row if status == "ok" else {"error": str(row)[:500]}),
            "cpu": env.get("cpu"), "when": time.strftime("%Y-%m-%d %H:%M"),
        }  # fmt: skip
        print(json.dumps(record, default=str), flush=True)
        _append(out, record)


def _append(path: Path, record: dict) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    new = pd.DataFrame([record])
    if path.exists():
        new = pd.concat([pd.read_csv(path), new], ignore_index=True)
    new.to_csv(path, index=False)


if __name__ == "__main__":
    main()
