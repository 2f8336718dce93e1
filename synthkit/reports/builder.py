"""``build_report``: every report section for one model and its data, in one call."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from synthkit.reports import _plotdata
from synthkit.reports.report import Report

__all__ = ["build_report"]


def _features(model: Any | None, real: pd.DataFrame, label_col: str | None) -> list[str]:
    """The columns the metrics compare: the model's inputs (else the real table's)."""
    from synthkit.errors import DataValidationError

    if model is None:
        return [c for c in real.columns if c != label_col]
    syn = getattr(model, "synthesizer_", model)
    names = [str(c) for c in syn.feature_names_in_]
    missing = [c for c in names if c not in real.columns]
    if missing:
        raise DataValidationError(
            [f"column {c!r} of the model is missing from the real table" for c in missing],
            prefix="report",
        )
    return names


def _check_inputs(
    features: list[str],
    frames: dict[str, pd.DataFrame | None],
    target: str | None,
    label_col: str | None,
) -> None:
    from synthkit.errors import ConfigError, DataValidationError

    problems = [
        f"column {c!r} is missing from the {name} table"
        for name, df in frames.items()
        if df is not None
        for c in features
        if c not in df.columns
    ]
    if problems:
        raise DataValidationError(problems, prefix="report")
    if target is not None and target not in features:
        raise ConfigError(f"target column {target!r} is not one of the model's columns")
    if label_col is not None and not any(
        df is not None and label_col in df.columns for df in (frames["real"], frames["holdout"])
    ):
        raise ConfigError(f"label column {label_col!r} is in neither the real nor held-out table")


def build_report(
    model: Any | None,
    real: pd.DataFrame,
    synthetic: pd.DataFrame | None = None,
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    labels: Any = None,
    *,
    positive_label: Any = None,
    n_rows: int | None = None,
    random_state: int = 0,
    device: str | None = None,
    c2st_max_rows: int = 20_000,
    classifier_threads: int | None = 1,
    on_section: Callable[[str], None] | None = None,
) -> Report:
    """Fidelity, detection, efficacy, likelihood, privacy and anomaly metrics in one report.

    Sections that lack an input are skipped and say why in ``metrics["skipped"]``: efficacy
    needs ``target`` and ``holdout``; the held-out NLL, DCR share, membership-inference AUC
    and the fidelity noise floor need ``holdout``; likelihoods need a model whose backend
    has one; the anomaly section needs ``labels``.

    Args:
        model: a fitted :class:`~synthkit.Synthesizer` or :class:`~synthkit.AnomalyDetector`,
            or ``None`` to compare tables only (then ``synthetic`` is required).
        real: the real training rows.
        synthetic: synthetic rows; ``None`` samples ``n_rows`` (default ``len(real)``) rows
            from ``model`` with ``random_state``.
        holdout: real rows the model did not see.
        target: column for train-synthetic-test-real efficacy.
        labels: anomaly labels: the name of a label column (evaluated on ``holdout`` when it
            has the column, else on ``real``; the column is not a feature unless the model
            used it), or one label per ``real`` row. See
            :func:`~synthkit.reports.anomaly.binary_labels` for the accepted values.
        positive_label: the label value that marks an anomaly, if not a usual convention.
        n_rows: rows to sample when ``synthetic`` is ``None``.
        random_state: seed of sampling, subsamples and classifiers.
        device: torch device for nearest-neighbour searches; default the model's device.
        c2st_max_rows: rows per class for the detection classifier.
        classifier_threads: OpenMP threads of the gradient-boosted classifiers (detection,
            efficacy); ``None`` keeps scikit-learn's default (all cores). One thread is the
            default because OpenMP teams spin at every barrier: on a machine shared with
            other work, two threads took 15-20x longer than one in our measurements.
        on_section: called with each section's name before it runs (progress display).

    Returns:
        The :class:`~synthkit.reports.Report`.

    Raises:
        ConfigError: no model and no synthetic rows, or an unknown target / label column.
        DataValidationError: a table lacks a column of the model.
    """
    from synthkit.errors import ConfigError

    if model is None and synthetic is None:
        raise ConfigError("build_report needs a model to sample from or synthetic rows")
    label_col = labels if isinstance(labels, str) else None
    features = _features(model, real, label_col)
    _check_inputs(
        features, {"real": real, "synthetic": synthetic, "holdout": holdout}, target, label_col
    )
    syn_model = getattr(model, "synthesizer_", model)
    device = device or (str(syn_model.device_) if syn_model is not None else "cpu")
    metrics: dict[str, Any] = {"meta": {}, "skipped": {}, "timings": {}}
    plots: dict[str, Any] = {}
    timings: dict[str, float] = metrics["timings"]

    @contextmanager
    def section(name: str) -> Iterator[None]:
        if on_section is not None:
            on_section(name)
        start = time.perf_counter()
        yield
        timings[name] = time.perf_counter() - start

    if synthetic is None:
        with section("sampling"):
            synthetic = syn_model.sample(n_rows or len(real), random_state=random_state)
    train = real[features].reset_index(drop=True)
    synthetic = synthetic[features].reset_index(drop=True)
    hold = None if holdout is None or len(holdout) == 0 else holdout[features]
    hold = None if hold is None else hold.reset_index(drop=True)
    metrics["meta"] = _meta(model, train, hold, synthetic, features, target, label_col)

    with section("fidelity"):
        _fidelity(train, hold, synthetic, metrics, plots)
    with section("alpha_precision"):
        from synthkit.reports.alpha_precision import alpha_precision

        ab = alpha_precision(train, synthetic, random_state=random_state, device=device)
        curves = ("alphas", "alpha_precision_curve", "beta_recall_curve")
        plots["alpha_precision"] = {k: ab.pop(k) for k in curves}
        metrics["alpha_precision"] = ab
    with section("detection"):
        from synthkit.reports.detection import c2st_auc

        with _openmp_threads(classifier_threads):
            metrics["detection"] = c2st_auc(
                train, synthetic, max_rows=c2st_max_rows, random_state=random_state
            )
    if target is None or hold is None:
        metrics["skipped"]["efficacy"] = (
            "no target column given" if target is None else "needs held-out rows"
        )
    else:
        with section("efficacy"):
            from synthkit.reports.efficacy import efficacy_summary

            with _openmp_threads(classifier_threads):
                metrics["efficacy"] = efficacy_summary(
                    train, synthetic, hold, target, random_state=random_state
                )
    with section("likelihood"):
        _likelihood(model, train, hold, synthetic, metrics, plots)
    with section("privacy"):
        _privacy(train, hold, synthetic, random_state, device, metrics, plots)
    if labels is None:
        metrics["skipped"]["anomaly"] = "no labels given"
    else:
        with section("anomaly"):
            _anomaly(model, real, holdout, features, labels, positive_label, metrics, plots)
    return Report(metrics=metrics, plots=plots)


@contextmanager
def _openmp_threads(n: int | None) -> Iterator[None]:
    """Limit OpenMP (scikit-learn's gradient boosting) to ``n`` threads; ``None``: as is."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="openmp"):
        yield


def _meta(
    model: Any | None,
    train: pd.DataFrame,
    hold: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    features: list[str],
    target: str | None,
    label_col: str | None,
) -> dict[str, Any]:
    from synthkit._version import __version__

    meta: dict[str, Any] = {
        "synthkit_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "n_real": len(train),
        "n_holdout": 0 if hold is None else len(hold),
        "n_synthetic": len(synthetic),
        "n_columns": len(features),
        "target": target,
        "label_column": label_col,
    }
    if model is not None:
        syn = getattr(model, "synthesizer_", model)
        meta["estimator"] = type(model).__name__
        meta["backend"] = getattr(syn.backend_, "name", type(syn.backend_).__name__)
    return meta


def _fidelity(
    train: pd.DataFrame,
    hold: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    metrics: dict[str, Any],
    plots: dict[str, Any],
) -> None:
    from synthkit.reports.fidelity import column_pair_trends, column_shapes, summarise_fidelity

    shapes, trends = column_shapes(train, synthetic), column_pair_trends(train, synthetic)
    fid = summarise_fidelity(shapes, trends)
    if hold is not None:
        floor = summarise_fidelity(column_shapes(train, hold), column_pair_trends(train, hold))
        fid["noise_floor_shape_error_pct"] = floor["shape_error_pct"]
        fid["noise_floor_trend_error_pct"] = floor["trend_error_pct"]
    else:
        metrics["skipped"]["fidelity noise floor"] = "needs held-out rows"
    metrics["fidelity"] = fid
    cols = _plotdata.plot_columns(shapes)
    plots["marginals"] = {c: _plotdata.marginal(train[c], synthetic[c]) for c in cols}
    plots["pair_difference"] = _plotdata.pair_difference(trends, cols)


def _likelihood(
    model: Any | None,
    train: pd.DataFrame,
    hold: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    metrics: dict[str, Any],
    plots: dict[str, Any],
) -> None:
    from synthkit.reports.likelihood import likelihood_info, nll_summary, score_rows

    if model is None:
        metrics["skipped"]["likelihood"] = "no model given"
        return
    info = likelihood_info(model)
    if not info["has_log_prob"]:
        metrics["skipped"]["likelihood"] = "the model's backend has no likelihood"
        return
    scores = {"training": score_rows(model, train), "synthetic": score_rows(model, synthetic)}
    out: dict[str, Any] = {"exact": info["exact_log_prob"], "n_columns": info["n_columns"]}
    train_nll = nll_summary(scores["training"], info["n_columns"])
    out["train_nll"] = train_nll["nll"]
    out["train_bits_per_column"] = train_nll["bits_per_column"]
    out["synthetic_nll"] = nll_summary(scores["synthetic"], info["n_columns"])["nll"]
    if hold is not None:
        scores["held-out"] = score_rows(model, hold)
        held = nll_summary(scores["held-out"], info["n_columns"])
        out["holdout_nll"] = held["nll"]
        out["holdout_bits_per_column"] = held["bits_per_column"]
        out["holdout_unscored"] = held["n_unscored"]
        out["generalisation_gap_bits_per_column"] = (
            held["bits_per_column"] - train_nll["bits_per_column"]
        )
    else:
        metrics["skipped"]["held-out NLL"] = "needs held-out rows"
    metrics["likelihood"] = out
    plots["scores"] = scores


def _privacy(
    train: pd.DataFrame,
    hold: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    random_state: int,
    device: str,
    metrics: dict[str, Any],
    plots: dict[str, Any],
) -> None:
    from synthkit.reports.privacy import privacy_distances, privacy_summary

    dist = privacy_distances(train, hold, synthetic, random_state=random_state, device=device)
    metrics["privacy"] = privacy_summary(
        train, hold, synthetic, random_state=random_state, distances=dist
    )
    if hold is None:
        metrics["skipped"]["DCR share and membership inference"] = "needs held-out rows"
        plots["dcr"] = {"synthetic to training": dist["syn_train"][:, 0]}
        return
    plots["dcr"] = {
        "synthetic to training (holdout-size subsample)": dist["syn_sub"],
        "synthetic to held-out": dist["syn_holdout"],
        "held-out real to training": dist["holdout_train"][:, 0],
    }


def _anomaly(
    model: Any | None,
    real: pd.DataFrame,
    holdout: pd.DataFrame | None,
    features: list[str],
    labels: Any,
    positive_label: Any,
    metrics: dict[str, Any],
    plots: dict[str, Any],
) -> None:
    from synthkit.errors import ConfigError, DataValidationError
    from synthkit.reports.anomaly import anomaly_summary, binary_labels
    from synthkit.reports.likelihood import likelihood_info, score_rows

    if model is None or not likelihood_info(model)["has_log_prob"]:
        raise ConfigError("anomaly metrics need a model with a likelihood to score rows")
    if isinstance(labels, str):
        use_holdout = holdout is not None and labels in holdout.columns and len(holdout) > 0
        rows = holdout if use_holdout else real
        y = binary_labels(rows[labels], positive_label)
        evaluated_on = "held-out rows" if use_holdout else "real (training) rows"
    else:
        rows = real
        if len(labels) != len(real):
            raise DataValidationError(
                f"labels: {len(labels)} labels for {len(real)} real rows", prefix="report"
            )
        y = binary_labels(labels, positive_label)
        evaluated_on = "real (training) rows"
    anomaly_scores = -score_rows(model, rows[features])
    out = anomaly_summary(anomaly_scores, y)
    out["evaluated_on"] = evaluated_on
    metrics["anomaly"] = out
    plots["anomaly_scores"] = {"normal": anomaly_scores[~y], "anomaly": anomaly_scores[y]}
    if not np.isfinite(anomaly_scores).all():
        out["n_unscored"] = int((~np.isfinite(anomaly_scores)).sum())
