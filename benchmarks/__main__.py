"""Command line: ``python -m benchmarks run|report``.

Examples::

    python -m benchmarks run --suite quick              # ~10 min on 2 CPU cores
    python -m benchmarks run --suite full --device cuda # hours; resumable
    python -m benchmarks run --suite quick --part anomaly --no-track
    python -m benchmarks report                         # rewrite docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a suite (skips results already in the CSVs)")
    run.add_argument("--suite", choices=["quick", "full", "neural"], default="quick")
    run.add_argument("--device", default="cpu", help="cpu or cuda (synthkit, SDV, distances)")
    run.add_argument(
        "--track",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log one MLflow run per result (default on)",
    )
    run.add_argument("--part", choices=["synthesis", "anomaly", "all"], default="all")
    run.add_argument("--datasets", nargs="+", help="only these datasets")
    run.add_argument("--methods", nargs="+", help="only these methods / detectors")
    run.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads in each job (default: torch's default, all cores)",
    )
    report = sub.add_parser("report", help="regenerate docs/benchmarks.md from the CSVs")
    report.add_argument("--output", default=None, help="default: docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.command == "run":
        from benchmarks.suite import run as run_suite

        parts = ("synthesis", "anomaly") if args.part == "all" else (args.part,)
        run_suite(
            args.suite,
            device=args.device,
            track=args.track,
            parts=parts,
            datasets=args.datasets,
            methods=args.methods,
            argv=argv,
            threads=args.threads,
        )
        return 0
    from benchmarks.report import write_report

    path = write_report(args.output)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
