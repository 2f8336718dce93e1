"""Batch scoring job at scale: peak memory and throughput on a 10-million-row Parquet input.

Targets (issue 8, 2 CPU cores): peak RSS under 2 GB, throughput with ``gmm`` at least
500k rows/s. The input is Adult repeated to ``--rows`` rows (1M-row row groups, as pyarrow
writes by default); the job runs in a fresh subprocess so its peak RSS
(``ru_maxrss``) is its own.

Run: ``python -m benchmarks.scoring_job [--rows 10000000] [--backend gmm]``
Writes ``benchmarks/results/scoring_job.csv`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from benchmarks._env import DATA_DIR, RESULTS_DIR, environment

_CHILD = """
import json, resource, sys, time
from synthkit.jobs import score_job
t0 = time.perf_counter()
s = score_job(sys.argv[1], sys.argv[2], sys.argv[3], keep=["rid"])
wall = time.perf_counter() - t0
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": s.rows_scored, "wall_s": wall, "job_rows_per_s": s.rows_per_second,
                  "peak_rss_mb": rss_mb, "anomalies": s.anomalies}))
"""


def make_input(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    adult = pd.read_parquet(DATA_DIR / "adult.parquet")
    chunk = pa.Table.from_pandas(adult, preserve_index=False)
    with pq.ParquetWriter(path, chunk.schema.append(pa.field("rid", pa.int64()))) as writer:
        written = 0
        while written < rows:
            n = min(len(adult), rows - written)
            t = chunk.slice(0, n).append_column("rid", pa.array(np.arange(written, written + n)))
            writer.write_table(t, row_group_size=1 << 20)
            written += n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--backend", default="gmm")
    args = parser.parse_args()

    import pandas as pd

    from synthkit import AnomalyDetector

    work = Path(tempfile.mkdtemp(prefix="synthkit-bench-"))
    try:
        adult = pd.read_parquet(DATA_DIR / "adult.parquet")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det = AnomalyDetector(args.backend, random_state=0, device="cpu").fit(adult)
        det.save(work / "model")
        t0 = time.perf_counter()
        make_input(work / "in.parquet", args.rows)
        print(f"wrote {args.rows:,} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(work / "model"),
                str(work / "in.parquet"),
                str(work / "out"),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    row = {"backend": args.backend, "input_rows": args.rows, **result}
    row["end_to_end_rows_per_s"] = round(row["rows"] / row["wall_s"])
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(RESULTS_DIR / "scoring_job.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    print("environment: " + ", ".join(f"{k}={v}" for k, v in environment().items()))
    print("| " + " | ".join(row) + " |")
    print("|" + "---|" * len(row))
    print(
        "| "
        + " | ".join(str(round(v, 2) if isinstance(v, float) else v) for v in row.values())
        + " |"
    )


if __name__ == "__main__":
    main()
