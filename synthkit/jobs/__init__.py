"""Batch jobs over tables larger than memory: streamed, resumable, exactly once."""

from synthkit.jobs.scoring import JobSummary, score_job

__all__ = ["JobSummary", "score_job"]
