"""Batch jobs over tables larger than memory: streamed, resumable, exactly once.

:func:`score_job_spark` (the same job on Apache Spark) is imported on first use: importing
this package does not import pyspark.
"""

from __future__ import annotations

from typing import Any

from synthkit.jobs.scoring import JobSummary, input_columns, score_job

__all__ = ["JobSummary", "input_columns", "score_job", "score_job_spark"]


def __getattr__(name: str) -> Any:
    if name == "score_job_spark":
        from synthkit.jobs.spark import score_job_spark

        return score_job_spark
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
