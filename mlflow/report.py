"""Report for the MLflow Project's ``report`` entry point: real vs synthetic tables, no model.

Runs :func:`synthkit.reports.build_report` without a model (fidelity, alpha-precision /
beta-recall, detection, privacy without a holdout), writes the numbers as JSON to
``--output`` and the HTML page beside it (same name, ``.html``), and logs the numbers as
metrics and both files as artifacts to the MLflow run. With a fitted model, use
``synthkit report MODEL_DIR --real ... -o DIR`` instead (the ``report_model`` entry point).
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
    from synthkit.reports import build_report
    from synthkit.reports.report import _write_atomic

    real, synthetic = read_table(args.real), read_table(args.synthetic)
    report = build_report(None, real, synthetic=synthetic)
    numbers = {
        "real": str(args.real),
        "synthetic": str(args.synthetic),
        "n_real": len(real),
        "n_synthetic": len(synthetic),
        **report.to_dict(),
    }
    out = _write_atomic(args.output, json.dumps(numbers, indent=2) + "\n")
    page = report.to_html(out.with_suffix(".html"))

    if not args.no_track:
        import mlflow

        from synthkit.tracking import tracking_run

        with tracking_run(tags={"synthkit.command": "report"}):
            mlflow.log_metrics(report.flat_metrics())
            mlflow.log_artifact(str(out), artifact_path="report")
            mlflow.log_artifact(str(page), artifact_path="report")
    fid = report.metrics["fidelity"]
    print(
        f"shape error {fid['shape_error_pct']:.2f} %, trend error {fid['trend_error_pct']:.2f} %",
        file=sys.stderr,
    )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
