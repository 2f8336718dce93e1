"""Fidelity and privacy reports comparing synthetic rows with real ones.

Metric definitions follow ``METRICS.md`` (TabSyn / TabDiff conventions) so numbers compare
across backends and with published results.
"""

from synthkit.reports.fidelity import column_pair_trends, column_shapes, fidelity_summary

__all__ = ["column_pair_trends", "column_shapes", "fidelity_summary"]
