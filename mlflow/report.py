"""Fidelity report for the MLflow Project's ``report`` entry point.

Compares a synthetic table with a real one (shape and trend error, as ``synthkit demo``
reports), writes the numbers as JSON and logs them to the MLflow run. Stand-in until the
``synthkit report`` command exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, compute the report, write and log it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--real", required=True, type=Path, help="the real table")
    parser.add_argument("--synthetic", required=True, type=Path, help="the synthetic table")
    parser.add_argument("--output", default=Path("report.json"), type=Path, help="JSON file")
    parser.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    args = parser.parse_args(argv)

    from synthkit.io import read_table
    from synthkit.reports import fidelity_summary

    real, synthetic = read_table(args.real), read_table(args.synthetic)
    summary = fidelity_summary(real, synthetic)
    report = {
        "real": str(args.real),
        "synthetic": str(args.synthetic),
        "n_real": len(real),
        "n_synthetic": len(synthetic),
        "shape_error_pct": summary["shape_error_pct"],
        "trend_error_pct": summary["trend_error_pct"],
    }
    out = args.output.absolute()
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2), encoding="utf-8")
    tmp.replace(out)  # atomic: never a half-written report

    if not args.no_track:
        import mlflow

        from synthkit.tracking import tracking_run

        with tracking_run(tags={"synthkit.command": "report"}):
            mlflow.log_metrics(
                {k: float(v) for k, v in report.items() if k.endswith(("_pct",)) or k[:2] == "n_"}
            )
            mlflow.log_artifact(str(out), artifact_path="report")
    print(
        f"shape error {report['shape_error_pct']:.2f} %, trend error"
        f" {report['trend_error_pct']:.2f} %",
        file=sys.stderr,
    )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
