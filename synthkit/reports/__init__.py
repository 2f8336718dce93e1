"""Fidelity, efficacy, detection, privacy and anomaly reports comparing synthetic rows with real.

Metric definitions follow ``METRICS.md`` (TabSyn / TabDiff conventions) so numbers compare
across backends and with published results. :func:`build_report` computes every section at
once and returns a :class:`Report` that writes ``report.json`` and one self-contained
``report.html``. scikit-learn, torch and matplotlib are imported inside the functions that
need them. See ``docs/reports.md``.
"""

from synthkit.reports.alpha_precision import alpha_precision
from synthkit.reports.anomaly import anomaly_summary, binary_labels
from synthkit.reports.builder import build_report
from synthkit.reports.detection import c2st_auc
from synthkit.reports.efficacy import efficacy_summary, infer_task, tstr_score
from synthkit.reports.fidelity import column_pair_trends, column_shapes, fidelity_summary
from synthkit.reports.likelihood import heldout_nll
from synthkit.reports.privacy import (
    dcr_share,
    distance_encoding,
    exact_copy_rate,
    knn_distances,
    membership_inference_auc,
    nearest_distance,
    nndr,
    privacy_summary,
)
from synthkit.reports.report import Report

__all__ = [
    "Report",
    "alpha_precision",
    "anomaly_summary",
    "binary_labels",
    "build_report",
    "c2st_auc",
    "column_pair_trends",
    "column_shapes",
    "dcr_share",
    "distance_encoding",
    "efficacy_summary",
    "exact_copy_rate",
    "fidelity_summary",
    "heldout_nll",
    "infer_task",
    "knn_distances",
    "membership_inference_auc",
    "nearest_distance",
    "nndr",
    "privacy_summary",
    "tstr_score",
]
