"""One self-contained HTML page for a :class:`~synthkit.reports.Report`.

Plots are inline PNG images (``data:`` URIs) and the styles are inline: the page loads
nothing from the network, runs no script, and can be mailed or archived as one file.
Each section says in plain words what its numbers mean and what is a warning sign.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthkit.reports.report import Report

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0}td,th{padding:.25em .8em;border-bottom:1px solid
#eee;text-align:left;vertical-align:top}td.num{text-align:right;font-variant-numeric:
tabular-nums;white-space:nowrap}.explain{background:#f6f8fa;border-left:4px solid #8ab;
padding:.5em 1em;margin:.8em 0}.warning{color:#a40000;font-weight:600}.ok{color:#276b2e}
.grid{display:flex;flex-wrap:wrap;gap:6px}.skip{color:#777;font-style:italic}
img{max-width:100%}
"""

#: Section -> (title, plain-English explanation with the warning signs).
_SECTIONS: dict[str, tuple[str, str]] = {
    "fidelity": (
        "Fidelity: marginals and pairs",
        "<b>Shape error</b> is 100 % minus the mean per-column similarity of the synthetic "
        "and real distributions (Kolmogorov-Smirnov complement for numbers, total-variation "
        "complement for categories). <b>Trend error</b> does the same for every pair of "
        "columns (correlation for two numeric columns, the joint table of values otherwise). "
        "0 % means identical. The <b>noise floor</b> is the same error for real held-out rows: "
        "a fresh real sample is not perfect either. <span class=warning>Warning sign:</span> "
        "errors several points above the noise floor, or single columns whose bars clearly "
        "differ below.",
    ),
    "alpha_precision": (
        "Alpha-precision and beta-recall",
        "Rows are placed in one numeric space. <b>Alpha-precision</b> asks whether synthetic "
        "rows fall where real rows are typical (fidelity); <b>beta-recall</b> whether the "
        "synthetic rows cover all of the real data, rare regions included (diversity). Both "
        "are 1 for a perfect generator and fall as the curves leave the diagonal. "
        "<b>Authenticity</b> is the share of synthetic rows that are not closer to a real row "
        "than real rows are to each other; about 0.5 for an honest sample. "
        "<span class=warning>Warning sign:</span> low precision (implausible rows), low "
        "recall (mode collapse: missing kinds of rows), authenticity near 0 (copies).",
    ),
    "detection": (
        "Detection (classifier two-sample test)",
        "A gradient-boosted classifier tries to tell real rows from synthetic ones; the number "
        "is its cross-validated ROC <b>AUC</b>. 0.5 means it cannot tell them apart, 1.0 that "
        "every synthetic row is recognisable. This is the strictest fidelity test: shape and "
        "trend errors look good long before it does. <span class=warning>Warning sign:</span> "
        "AUC above 0.9.",
    ),
    "efficacy": (
        "Machine-learning efficacy",
        "The same model is trained on synthetic rows (<b>TSTR</b>) and on real training rows "
        "(<b>TRTR</b>), and both are tested on real held-out rows (ROC AUC for two classes, "
        "accuracy for more, RMSE for numbers: lower is better). <span class=warning>Warning "
        "sign:</span> TSTR far below TRTR: the synthetic data lost what predicts the target.",
    ),
    "likelihood": (
        "Likelihood",
        "How probable the model finds rows, as negative log-likelihood (<b>NLL</b>, lower is "
        "better) per row and in <b>bits per column</b>. Numeric columns contribute densities, "
        "so values can be negative; compare models on the same data only. The held-out NLL is "
        "the honest one. <span class=warning>Warning sign:</span> held-out rows costing much "
        "more than training rows (a large <b>generalisation gap</b>: memorisation), or "
        "held-out scores far left of the training scores in the plot.",
    ),
    "privacy": (
        "Privacy",
        "Distances between rows (numbers scaled to [0, 1], categories one-hot, L1). "
        "<b>DCR share</b>: the share of synthetic rows closer to a training row than to any "
        "held-out row, with as many training as held-out rows; about 0.5 is ideal. "
        "<b>Exact-copy rate</b>: synthetic rows identical to a training row (compare with the "
        "held-out rate: real data has duplicates too). <b>NNDR</b>: distance to the nearest "
        "training row over the distance to the second nearest; values near 0 mean a row sits "
        "on one training record. <b>Membership-inference AUC</b>: how well an attacker who "
        "holds the synthetic data tells training rows from other real rows by their distance "
        "to the nearest synthetic row; 0.5 is ideal. <span class=warning>Warning signs:"
        "</span> DCR share above 0.6, an exact-copy rate above the held-out rate, NNDR lower "
        "than for held-out rows, attack AUC above 0.6, and a training-distance histogram "
        "shifted left of the held-out one.",
    ),
    "anomaly": (
        "Anomaly detection",
        "Rows are ranked by anomaly score (negative log-likelihood) and compared with the "
        "labels. <b>AUROC</b>: the chance that a random anomaly scores above a random normal "
        "row (0.5 = random). <b>AUPRC</b> (average precision): starts at the anomaly rate for "
        "a random ranking, 1 is perfect. <b>Precision at k</b>: the share of anomalies among "
        "the k highest scores (k = the number of anomalies). <span class=warning>Warning "
        "sign:</span> AUROC near 0.5, or overlapping score histograms.",
    ),
}


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return html.escape(str(value))
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.4g}"
    return html.escape(str(value))


def _table(values: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td class=num>{_fmt(v)}</td></tr>"
        for k, v in values.items()
        if not isinstance(v, (dict, list))
    )
    return f"<table>{rows}</table>"


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _section_plots(name: str, plots: dict[str, Any]) -> str:
    from synthkit.reports import _plots

    parts = []
    if name == "fidelity" and plots.get("marginals"):
        cells = "".join(_img(_plots.marginal(c, d), c) for c, d in plots["marginals"].items())
        parts.append(f"<h3>Marginals: real vs synthetic</h3><div class=grid>{cells}</div>")
        if len(plots["pair_difference"]["columns"]) > 1:
            parts.append(
                "<h3>Pair differences (1 - pair similarity; darker = relation less kept)</h3>"
                + _img(_plots.pair_difference(plots["pair_difference"]), "pair differences")
            )
    elif name == "alpha_precision" and "alpha_precision" in plots:
        parts.append(_img(_plots.curves(plots["alpha_precision"]), "alpha/beta curves"))
    elif name == "likelihood" and "scores" in plots:
        parts.append(
            "<h3>Score distributions (log-likelihood per row)</h3>"
            + _img(_plots.histograms(plots["scores"], "log-likelihood"), "scores")
        )
    elif name == "privacy" and "dcr" in plots:
        parts.append(
            "<h3>Distance to closest record</h3>"
            + _img(_plots.histograms(plots["dcr"], "L1 distance", clip=(0.0, 99.0)), "DCR")
        )
    elif name == "anomaly" and "anomaly_scores" in plots:
        parts.append(
            "<h3>Anomaly scores by label</h3>"
            + _img(_plots.histograms(plots["anomaly_scores"], "anomaly score"), "scores")
        )
    return "".join(parts)


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document (inline styles and PNG images).

    Args:
        report: the report to render.

    Returns:
        The HTML text.
    """
    m = report.to_dict()
    meta = m.get("meta", {})
    findings = report.findings()
    items = "".join(
        f"<li class={f.level}>{html.escape(f.section)}: {html.escape(f.message)}</li>"
        for f in findings
    )
    body = [
        "<h1>synthkit report</h1>",
        _table(meta),
        "<h2>Summary</h2>",
        f"<ul>{items}</ul>" if items else "<p class=skip>No checks apply.</p>",
    ]
    for name, (title, text) in _SECTIONS.items():
        body.append(f"<h2 id={name}>{html.escape(title)}</h2>")
        body.append(f"<div class=explain>{text}</div>")
        if name not in m:
            reason = m.get("skipped", {}).get(name, "not computed")
            body.append(f"<p class=skip>Skipped: {html.escape(reason)}.</p>")
            continue
        body.append(_table(m[name]))
        if name == "fidelity" and m[name].get("shapes"):
            body.append("<h3>Per-column shape similarity (1 = identical)</h3>")
            body.append(_table(m[name]["shapes"]))
        body.append(_section_plots(name, report.plots))
    skipped = m.get("skipped", {})
    if skipped:
        body.append("<h2>Not computed</h2>" + _table(skipped))
    body.append("<h2>Timings (seconds)</h2>" + _table(m.get("timings", {})))
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>synthkit report</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
