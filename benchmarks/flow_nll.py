"""Held-out NLL (bits per column) of the ``flow`` backend next to ``gmm``.

Each table is split 80/20 with seed 0 (:func:`benchmarks._data.synthesis_split`, all rows);
both models are fitted on the 80 % and score the 20 %. One run, no repeats::

    python -m benchmarks.flow_nll --time-budget 180 --threads 2
"""

from __future__ import annotations

import argparse
import json
import time

TABLES = {"adult": "adult.parquet", "california": "california_housing.parquet"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--time-budget", type=float, default=180.0, help="flow training, s")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    from benchmarks._data import synthesis_split
    from synthkit import Synthesizer
    from synthkit.reports.likelihood import heldout_nll

    torch.set_num_threads(args.threads)
    models = {
        "gmm": ("gmm", None),
        "flow": ("flow", {"time_budget": args.time_budget}),
    }
    for table in args.tables:
        train, holdout = synthesis_split(TABLES[table], max_rows=None, seed=0)
        for label, (backend, params) in models.items():
            start = time.perf_counter()
            syn = Synthesizer(backend, params, device=args.device, random_state=0).fit(train)
            seconds = time.perf_counter() - start
            row = {
                "table": table,
                "backend": label,
                "fit_s": round(seconds, 1),
                **heldout_nll(syn, holdout),
                "train_nll": -float(syn.score_samples(train).mean()),
                "fit_info": getattr(syn.backend_, "fit_info_", None),
            }
            print(json.dumps(row), flush=True)
            _append(row)


def _append(row: dict) -> None:
    """Add a row to benchmarks/results/heldout_nll_cpu.csv (read by ``benchmarks report``)."""
    import pandas as pd

    from benchmarks._env import RESULTS_DIR

    path = RESULTS_DIR / "heldout_nll_cpu.csv"
    new = pd.DataFrame(
        [
            {
                "table": row["table"],
                "backend": row["backend"],
                "heldout_nll": round(row["nll"], 2),
                "bits_per_column": round(row["bits_per_column"], 3),
                "train_nll": round(row["train_nll"], 2),
                "fit_s": row["fit_s"],
            }
        ]
    )
    if path.exists():
        new = pd.concat([pd.read_csv(path), new], ignore_index=True)
    new.to_csv(path, index=False)


if __name__ == "__main__":
    main()
