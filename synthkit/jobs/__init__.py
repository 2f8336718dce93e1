"""Batch jobs over tables larger than memory: streamed, resumable, exactly once."""

from synthkit.jobs.scoring import JobSummary, input_columns, score_job

__all__ = ["JobSummary", "input_columns", "score_job"]
