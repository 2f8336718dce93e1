"""Speed of the foundation backends on Adult: fit, sample 100k rows, score 1M rows.

Targets (issue 3, 2 CPU cores): fit < 30 s with 10 components, sample 100k < 2 s,
score 1M < 10 s, for ``gmm`` and ``naive_bayes``.

Run: ``python -m benchmarks.foundation_speed [--device cpu] [--repeats 3]``
Writes ``benchmarks/results/foundation_speed.csv`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings

import pandas as pd

from benchmarks._env import DATA_DIR, RESULTS_DIR, environment

BACKENDS = {
    "gmm": {"n_components": 10},
    "naive_bayes": {"n_classes": 10},
}


def _best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(device: str = "cpu", repeats: int = 3) -> list[dict]:
    from synthkit import Synthesizer

    adult = pd.read_parquet(DATA_DIR / "adult.parquet")
    big = pd.concat([adult] * (1_000_000 // len(adult) + 1), ignore_index=True).iloc[:1_000_000]
    rows = []
    for name, params in BACKENDS.items():
        syn = Synthesizer(name, params, device=device, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_s = _best_of(lambda syn=syn: syn.fit(adult), repeats)
        syn.score_samples(big.iloc[:1000])  # warm-up (thread pools, allocator)
        sample_s = _best_of(lambda syn=syn: syn.sample(100_000), repeats)
        score_s = _best_of(lambda syn=syn: syn.score_samples(big), repeats)
        rows.append(
            {
                "backend": name,
                "params": str(params),
                "n_components": syn.backend_.n_components_,
                "em_iterations": syn.backend_.fit_info_["n_iter"],
                "fit_s": round(fit_s, 3),
                "fit_rows_per_s": round(len(adult) / fit_s),
                "sample_100k_s": round(sample_s, 3),
                "sample_rows_per_s": round(100_000 / sample_s),
                "score_1m_s": round(score_s, 3),
                "score_rows_per_s": round(1_000_000 / score_s),
                "train_loglik_per_row": round(syn.score(adult), 3),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = run(args.device, args.repeats)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"foundation_speed_{args.device.replace(':', '')}.csv"
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    env = environment()
    print("environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
