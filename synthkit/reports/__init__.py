"""Fidelity, efficacy, detection and privacy reports comparing synthetic rows with real ones.

Metric definitions follow ``METRICS.md`` (TabSyn / TabDiff conventions) so numbers compare
across backends and with published results. scikit-learn and torch are imported inside the
functions that need them.
"""

from synthkit.reports.detection import c2st_auc
from synthkit.reports.efficacy import efficacy_summary, infer_task, tstr_score
from synthkit.reports.fidelity import column_pair_trends, column_shapes, fidelity_summary
from synthkit.reports.privacy import (
    dcr_share,
    distance_encoding,
    exact_copy_rate,
    nearest_distance,
    privacy_summary,
)

__all__ = [
    "c2st_auc",
    "column_pair_trends",
    "column_shapes",
    "dcr_share",
    "distance_encoding",
    "efficacy_summary",
    "exact_copy_rate",
    "fidelity_summary",
    "infer_task",
    "nearest_distance",
    "privacy_summary",
    "tstr_score",
]
