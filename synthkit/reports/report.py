"""The :class:`Report` object: every number of a report, the data for its plots, and checks.

``metrics`` is a nested dict of plain numbers and strings (what ``report.json`` holds);
``plots`` holds the arrays the HTML page draws from (not written to JSON).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Finding", "Report"]

#: Characters MLflow accepts in a metric name; anything else becomes "_".
_METRIC_NAME = re.compile(r"[^A-Za-z0-9_\-./ ]")


@dataclass(frozen=True)
class Finding:
    """One automatic check: ``level`` is ``"ok"`` or ``"warning"``."""

    section: str
    level: str
    message: str


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars/arrays to Python, NaN and infinities to ``None``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass
class Report:
    """A synthetic-data report (:func:`synthkit.reports.build_report` makes one).

    Attributes:
        metrics: nested dict of every number: ``meta`` counts, one dict per section
            (``fidelity``, ``alpha_precision``, ``detection``, ``efficacy``, ``likelihood``,
            ``privacy``, ``anomaly``), ``skipped`` (section -> why) and ``timings``.
        plots: data for the HTML plots (marginals, pair differences, distances, scores).
    """

    metrics: dict[str, Any]
    plots: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The metrics as JSON-ready Python objects (NaN -> ``None``)."""
        return _plain(self.metrics)

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the metrics as JSON (atomically); return the absolute path."""
        return _write_atomic(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the self-contained HTML page (atomically); return the absolute path."""
        from synthkit.reports.html import render_html

        return _write_atomic(Path(path), render_html(self))

    def flat_metrics(self) -> dict[str, float]:
        """Every finite number as ``section.key`` -> float (MLflow metric names)."""
        out: dict[str, float] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), item)
            elif isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
                number = float(value)
                if math.isfinite(number):
                    out[_METRIC_NAME.sub("_", prefix)] = number

        walk("", {k: v for k, v in self.metrics.items() if k != "meta"})
        return out

    def findings(self) -> list[Finding]:
        """Automatic checks of the numbers against the usual warning signs (see docs)."""
        return _findings(self.metrics)


def _get(metrics: dict[str, Any], section: str, key: str) -> float | None:
    value = (metrics.get(section) or {}).get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _findings(m: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []

    def check(section: str, bad: bool, warning: str, ok: str) -> None:
        out.append(Finding(section, "warning" if bad else "ok", warning if bad else ok))

    for key, name in (("shape_error_pct", "shape"), ("trend_error_pct", "trend")):
        err, floor = _get(m, "fidelity", key), _get(m, "fidelity", f"noise_floor_{key}")
        if err is not None:
            ref = floor if floor is not None else 0.0
            check(
                "fidelity",
                err > ref + 5.0,
                f"{name} error {err:.1f} % is more than 5 points above the real-data noise"
                f" floor ({ref:.1f} %)",
                f"{name} error {err:.1f} % is within 5 points of the noise floor ({ref:.1f} %)",
            )
    auc = _get(m, "detection", "auc")
    if auc is not None:
        check(
            "detection",
            auc > 0.9,
            f"a classifier tells synthetic from real rows with AUC {auc:.2f} (> 0.9)",
            f"detection AUC {auc:.2f} (0.5 = indistinguishable)",
        )
    precision = _get(m, "alpha_precision", "alpha_precision")
    if precision is not None:
        check(
            "alpha_precision",
            precision < 0.8,
            f"alpha-precision {precision:.2f} < 0.8: many synthetic rows fall outside the"
            " real data's typical region",
            f"alpha-precision {precision:.2f}",
        )
    tstr, trtr = _get(m, "efficacy", "tstr"), _get(m, "efficacy", "trtr")
    if (
        tstr is not None
        and trtr is not None
        and (m.get("efficacy") or {}).get("metric")
        in (
            "roc_auc",
            "accuracy",
        )
    ):
        check(
            "efficacy",
            tstr < trtr - 0.05,
            f"a model trained on synthetic rows scores {tstr:.3f}, more than 0.05 below"
            f" the same model trained on real rows ({trtr:.3f})",
            f"TSTR {tstr:.3f} vs TRTR {trtr:.3f}",
        )
    gap = _get(m, "likelihood", "generalisation_gap_bits_per_column")
    if gap is not None:
        check(
            "likelihood",
            gap > 0.25,
            f"held-out rows cost {gap:.2f} bits per column more than training rows: the"
            " model may have memorised its training data",
            f"held-out vs training NLL gap {gap:.2f} bits per column",
        )
    share = _get(m, "privacy", "dcr_share")
    if share is not None:
        check(
            "privacy",
            share > 0.6,
            f"DCR share {share:.2f} > 0.6: synthetic rows are closer to training rows than"
            " to unseen real rows",
            f"DCR share {share:.2f} (ideal about 0.5)",
        )
    mia = _get(m, "privacy", "membership_inference_auc")
    if mia is not None:
        check(
            "privacy",
            mia > 0.6,
            f"membership-inference AUC {mia:.2f} > 0.6: an attacker can tell training rows",
            f"membership-inference AUC {mia:.2f} (ideal 0.5)",
        )
    copies, ref_copies = (
        _get(m, "privacy", "exact_copy_rate"),
        _get(m, "privacy", "exact_copy_rate_holdout"),
    )
    if copies is not None:
        limit = max(2.0 * (ref_copies or 0.0), (ref_copies or 0.0) + 0.01)
        check(
            "privacy",
            copies > limit,
            f"{100 * copies:.1f} % of synthetic rows copy a training row (real held-out rows:"
            f" {100 * (ref_copies or 0.0):.1f} %)",
            f"exact-copy rate {100 * copies:.2f} %",
        )
    nndr_syn, nndr_hold = (
        _get(m, "privacy", "nndr_p05_synthetic"),
        _get(m, "privacy", "nndr_p05_holdout"),
    )
    if nndr_syn is not None and nndr_hold is not None:
        check(
            "privacy",
            nndr_syn < 0.5 * nndr_hold,
            f"the 5 % lowest NNDR of synthetic rows ({nndr_syn:.2f}) is under half that of"
            f" real held-out rows ({nndr_hold:.2f}): some rows sit on single training records",
            f"NNDR 5th percentile {nndr_syn:.2f} (held-out real rows: {nndr_hold:.2f})",
        )
    auroc = _get(m, "anomaly", "auroc")
    if auroc is not None:
        check(
            "anomaly",
            auroc < 0.6,
            f"AUROC {auroc:.2f}: the scores barely rank the labelled anomalies first",
            f"AUROC {auroc:.2f}",
        )
    return out
