"""Declarative runs: a TOML file in ``pipelines/`` -> load -> fit -> sample / score -> report.

A pipeline file has these sections (only ``[data]`` is required)::

    [pipeline]   name, output (directory, relative to the working directory), seed,
                 description
    [data]       path (relative to the TOML file), holdout (share kept out of training,
                 default 0.2), max_rows (subsample), drop (columns), label (anomaly label
                 column: dropped before fitting, used for AUROC/AUPRC), stratify (column)
    [model]      task ("synthesize" or "detect"), backend, params, schema, contamination
    [sample]     n (rows; default: as many as the training split)
    [score]      on ("holdout", "train" or "all")
    [report]     fidelity, privacy, detection (C2ST), efficacy_target (column for TSTR)
    [tracking]   enabled, experiment, run_name

Every unknown section or key and every wrong type is reported at once, with the file and the
allowed keys. The output directory holds ``model/``, ``synthetic.parquet``,
``scores.parquet``, ``report.json``; it is marked ``_RUNNING`` while the run works and
``_SUCCESS`` when it is complete, and inputs are never written to.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthkit.errors import ConfigError, InputFileError

__all__ = ["PipelineResult", "load_pipeline", "run_pipeline"]

# section -> key -> (accepted types, default)
_SPEC: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "pipeline": {
        "name": ((str,), None),
        "description": ((str,), ""),
        "output": ((str,), None),
        "seed": ((int,), 0),
    },
    "data": {
        "path": ((str,), None),
        "holdout": ((float, int), 0.2),
        "max_rows": ((int,), 0),
        "drop": ((list,), []),
        "label": ((str,), ""),
        "stratify": ((str,), ""),
    },
    "model": {
        "task": ((str,), "synthesize"),
        "backend": ((str,), "gmm"),
        "params": ((dict,), {}),
        "schema": ((dict,), {}),
        "contamination": ((float, int), 0.01),
    },
    "sample": {"n": ((int,), 0)},
    "score": {"on": ((str,), "holdout")},
    "report": {
        "fidelity": ((bool,), True),
        "privacy": ((bool,), True),
        "detection": ((bool,), False),
        "efficacy_target": ((str,), ""),
    },
    "tracking": {
        "enabled": ((bool,), True),
        "experiment": ((str,), "synthkit-pipelines"),
        "run_name": ((str,), ""),
    },
}
_CHOICES = {
    ("model", "task"): ("synthesize", "detect"),
    ("score", "on"): ("holdout", "train", "all"),
}


@dataclass
class PipelineResult:
    """What a pipeline run produced.

    Attributes:
        name: the pipeline's name.
        output: its output directory.
        files: output files by role (model, synthetic, scores, report).
        report: every number of the report.
        run_id: the MLflow run id, when tracked.
    """

    name: str
    output: str
    files: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    if not path.is_file():
        raise InputFileError(f"pipeline file {path} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def load_pipeline(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a pipeline file; defaults filled in, paths resolved.

    Raises:
        InputFileError: the pipeline file or its data file does not exist.
        ConfigError: unknown sections or keys, wrong types or values (all listed).
    """
    path = Path(path)
    raw = _read_toml(path)
    problems = []
    config: dict[str, dict[str, Any]] = {}
    for section in raw:
        if section not in _SPEC:
            problems.append(f"unknown section [{section}]; allowed: {', '.join(_SPEC)}")
    for section, keys in _SPEC.items():
        given = raw.get(section, {})
        if not isinstance(given, dict):
            problems.append(f"[{section}] must be a table")
            continue
        config[section] = {}
        for key, value in given.items():
            if key not in keys:
                problems.append(f"[{section}] unknown key {key!r}; allowed: {', '.join(keys)}")
                continue
            types = keys[key][0]
            if isinstance(value, bool) and bool not in types:
                value = None  # True is an int in Python, not in a config
            if value is None or not isinstance(value, types):
                expected = " or ".join(t.__name__ for t in types)
                problems.append(f"[{section}] {key} must be {expected}, got {given[key]!r}")
                continue
            choices = _CHOICES.get((section, key))
            if choices and value not in choices:
                problems.append(f"[{section}] {key} must be one of {choices}, got {value!r}")
                continue
            config[section][key] = value
        for key, (_, default) in keys.items():
            config[section].setdefault(key, default)
    if "data" not in raw or "path" not in raw.get("data", {}):
        problems.append("[data] path is required")
    holdout = config["data"]["holdout"]
    if not 0 <= holdout < 1:
        problems.append(f"[data] holdout must be in [0, 1), got {holdout}")
    if problems:
        raise ConfigError([f"{path}: {p}" for p in problems])
    data_path = (path.parent / config["data"]["path"]).resolve()
    if not data_path.exists():
        raise InputFileError(
            f"{path}: [data] path {config['data']['path']} -> {data_path} does not exist"
        )
    config["data"]["path"] = str(data_path)
    config["pipeline"]["name"] = config["pipeline"]["name"] or path.stem
    config["pipeline"]["output"] = config["pipeline"]["output"] or str(
        Path("runs") / config["pipeline"]["name"]
    )
    config["_file"] = str(path)
    config["_sections"] = sorted(raw)  # optional steps run only when their section is given
    return config


def _split(df: Any, config: dict[str, Any]) -> tuple[Any, Any]:
    from sklearn.model_selection import train_test_split

    data, seed = config["data"], config["pipeline"]["seed"]
    if data["max_rows"] and len(df) > data["max_rows"]:
        df = df.sample(data["max_rows"], random_state=seed).reset_index(drop=True)
    if not data["holdout"]:
        return df.reset_index(drop=True), df.iloc[0:0]
    strat_col = data["stratify"] or data["label"]
    stratify = df[strat_col] if strat_col else None
    train, test = train_test_split(
        df, test_size=data["holdout"], random_state=seed, stratify=stratify
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _anomaly_metrics(labels: Any, scores: Any) -> dict[str, float]:
    import numpy as np
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(labels).astype(int)
    outlier = -np.asarray(scores)  # higher = more anomalous
    k = int(y.sum())
    top = np.argsort(-outlier, kind="stable")[:k]
    return {
        "auroc": float(roc_auc_score(y, outlier)),
        "auprc": float(average_precision_score(y, outlier)),
        "precision_at_k": float(y[top].mean()) if k else float("nan"),
        "anomaly_rate": float(y.mean()),
    }


def run_pipeline(
    path: str | os.PathLike, *, track: bool | None = None, callbacks: list | None = None
) -> PipelineResult:
    """Run a pipeline file end to end.

    Args:
        path: the TOML file.
        track: override ``[tracking] enabled``.
        callbacks: fit callbacks (progress bars).

    Returns:
        A :class:`PipelineResult` with the output files and the report.
    """
    from synthkit.io import read_table, write_table

    config = load_pipeline(path)
    p, data, model, report_cfg = (
        config["pipeline"],
        config["data"],
        config["model"],
        config["report"],
    )
    out = Path(p["output"]).absolute()
    out.mkdir(parents=True, exist_ok=True)
    (out / "_SUCCESS").unlink(missing_ok=True)
    (out / "_RUNNING").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    df = read_table(data["path"])
    missing = [
        c
        for c in [*data["drop"], data["label"], data["stratify"], report_cfg["efficacy_target"]]
        if c and c not in df.columns
    ]
    if missing:
        raise ConfigError(f"{config['_file']}: columns {missing} are not in {data['path']}")
    df = df.drop(columns=data["drop"])
    train, holdout = _split(df, config)
    label = data["label"]
    features = [c for c in df.columns if c != label]

    tracking = config["tracking"]["enabled"] if track is None else track
    result = PipelineResult(name=p["name"], output=str(out.resolve()))
    rep: dict[str, Any] = {"pipeline": p["name"], "n_train": len(train), "n_holdout": len(holdout)}
    with _maybe_run(tracking, config) as run:
        cbs = list(callbacks or [])
        if run is not None:
            from synthkit.tracking import MlflowCallback

            cbs.append(MlflowCallback())
        est = _make_estimator(model, p["seed"])
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(train[features], callbacks=cbs)
        rep["fit_seconds"] = time.perf_counter() - t0
        est.save(out / "model", overwrite=True)
        result.files["model"] = str(out / "model")
        syn = getattr(est, "synthesizer_", est)

        if holdout is not None and len(holdout) and syn.backend_.has_log_prob:
            rep["holdout_log_likelihood"] = syn.score(holdout[features])
        synthetic = None
        if "sample" in config["_sections"]:
            n = config["sample"]["n"] or len(train)
            t0 = time.perf_counter()
            synthetic = syn.sample(n, random_state=p["seed"])
            rep["sample_seconds"] = time.perf_counter() - t0
            result.files["synthetic"] = str(write_table(synthetic, out / "synthetic.parquet"))
        if "score" in config["_sections"]:
            on = config["score"]["on"]
            rows = {"holdout": holdout, "train": train}.get(on)
            rows = df if rows is None else rows
            scores = est.score_samples(rows[features])
            scored = rows.assign(score=scores)
            if hasattr(est, "labels_from_scores"):
                scored["is_anomaly"] = est.labels_from_scores(scores) == -1
            result.files["scores"] = str(write_table(scored, out / "scores.parquet"))
            if label:
                rep["anomaly"] = _anomaly_metrics(rows[label], scores)
        if synthetic is not None:
            rep.update(
                _synthesis_report(
                    report_cfg, train[features], holdout, synthetic, p["seed"], features
                )
            )
        result.report = rep
        report_path = out / "report.json"
        tmp = report_path.with_name(report_path.name + ".tmp")
        tmp.write_text(json.dumps(rep, indent=2, default=float), encoding="utf-8")
        os.replace(tmp, report_path)
        result.files["report"] = str(report_path)
        if run is not None:
            result.run_id = _log_run(est, train[features], rep, out)
    (out / "_RUNNING").unlink(missing_ok=True)
    (out / "_SUCCESS").touch()
    return result


def _make_estimator(model: dict[str, Any], seed: int) -> Any:
    from synthkit import AnomalyDetector, Synthesizer

    common = {
        "backend_params": model["params"] or None,
        "schema": model["schema"] or None,
        "random_state": seed,
    }
    if model["task"] == "detect":
        return AnomalyDetector(model["backend"], contamination=model["contamination"], **common)
    return Synthesizer(model["backend"], **common)


def _synthesis_report(
    cfg: dict[str, Any], train: Any, holdout: Any, synthetic: Any, seed: int, features: list
) -> dict[str, Any]:
    from synthkit import reports

    rep: dict[str, Any] = {}
    if cfg["fidelity"]:
        fid = reports.fidelity_summary(train, synthetic[features])
        rep["fidelity"] = {k: v for k, v in fid.items() if k != "shapes"}
        if len(holdout):
            floor = reports.fidelity_summary(train, holdout[features])
            rep["fidelity"]["noise_floor_shape_error_pct"] = floor["shape_error_pct"]
            rep["fidelity"]["noise_floor_trend_error_pct"] = floor["trend_error_pct"]
    if cfg["privacy"] and len(holdout):
        rep["privacy"] = reports.privacy_summary(
            train, holdout[features], synthetic[features], random_state=seed
        )
    if cfg["detection"]:
        rep["detection"] = reports.c2st_auc(
            train, synthetic[features], max_rows=20_000, random_state=seed
        )
    if cfg["efficacy_target"] and len(holdout):
        rep["efficacy"] = reports.efficacy_summary(
            train,
            synthetic[features],
            holdout[features],
            cfg["efficacy_target"],
            random_state=seed,
        )
    return rep


class _NoRun:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _maybe_run(enabled: bool, config: dict[str, Any]) -> Any:
    if not enabled:
        return _NoRun()
    try:
        from synthkit.tracking import tracking_run
        from synthkit.tracking._runs import import_mlflow

        import_mlflow()
    except Exception as exc:  # mlflow missing or broken: the run itself still works
        warnings.warn(f"tracking skipped: {exc}", stacklevel=3)
        return _NoRun()
    t = config["tracking"]
    return tracking_run(
        experiment=t["experiment"],
        run_name=t["run_name"] or config["pipeline"]["name"],
        tags={"synthkit.pipeline": config["pipeline"]["name"]},
    )


def _flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = float(value)


def _log_run(est: Any, train_features: Any, rep: dict[str, Any], out: Path) -> str:
    import mlflow

    from synthkit.tracking import log_fit, log_model

    log_fit(est, train_features, rep["fit_seconds"])
    metrics: dict[str, float] = {}
    _flatten("", rep, metrics)
    mlflow.log_metrics({k.replace(" ", "_"): v for k, v in metrics.items() if v == v})
    mlflow.log_artifact(str(out / "report.json"))
    log_model(est, "model", training_data=train_features)
    return mlflow.active_run().info.run_id
