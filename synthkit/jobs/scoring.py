"""Batch anomaly scoring of Parquet/CSV inputs larger than memory.

The input (a Parquet file, a directory of Parquet files, or a CSV file) is cut into *units*:
runs of consecutive Parquet row groups (or of CSV blocks) of about ``unit_rows`` rows, in a
fixed order. Each unit is read in record batches, scored on the model's device and written
to its own part file, ``part-{unit:05d}.parquet``, under a temporary name that is renamed
when the part is complete. A part's existence is therefore the record that its unit is done:

* killed at any point (even SIGKILL), a job leaves only complete parts and stray ``.tmp``
  files; rerunning the same command deletes the strays and does the missing units only, so
  no row is lost or written twice;
* ``_job.json`` records what the parts belong to (model, input files, options); a rerun with
  anything changed is refused rather than mixing results;
* ``_SUCCESS`` and ``_summary.json`` are written last: an output directory without them is
  incomplete.

Rows that cannot be scored (text in a numeric column, an infinite value, a null in a numeric
column that had no nulls at fit time) do not stop the job: they go to
``_rejects/part-{unit:05d}.parquet`` (dataset readers skip ``_`` names) with their source
file, row number and the reason. Unseen categories are not errors: they are scored as a rare
value (low likelihood).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthkit.errors import ConfigError, DataValidationError, InputFileError

__all__ = ["JobSummary", "input_columns", "score_job"]

JOB_FILE = "_job.json"
SUCCESS_FILE = "_SUCCESS"
SUMMARY_FILE = "_summary.json"
REJECTS_DIR = "_rejects"  # leading "_": dataset readers skip it
_JOB_FORMAT = 1
_TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz")


@dataclass
class JobSummary:
    """What a scoring job did.

    Attributes:
        output: where the results are (a directory of parts, or a single file).
        rows_in: input rows, over all units (including units done by an earlier run).
        rows_scored: rows written with a score.
        rows_rejected: rows routed to the rejects with a reason.
        anomalies: scored rows flagged as anomalies (0 when the model has no threshold).
        units: units in the input.
        units_resumed: units already done by an earlier run, skipped this time.
        seconds: wall-clock time of this run.
        rows_per_second: rows processed per second by this run.
        rejects: where the rejected rows are (``None`` when there are none).
    """

    output: str
    rows_in: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    anomalies: int = 0
    units: int = 0
    units_resumed: int = 0
    seconds: float = 0.0
    rows_per_second: float = 0.0
    rejects: str | None = None
    reject_reasons: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------- input units
@dataclass(frozen=True)
class _Unit:
    index: int
    path: str
    row_groups: tuple[int, ...]  # Parquet row groups; empty for CSV blocks
    first_row: int  # row number of the unit's first row within its file
    n_rows: int | None  # known for Parquet, discovered for CSV


def _input_files(path: Path) -> tuple[list[Path], str]:
    if not path.exists():
        raise InputFileError(f"input {path} does not exist")
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix in (".parquet", ".pq")
            and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)
        )
        if not files:
            raise InputFileError(f"input directory {path} holds no .parquet files")
        return files, "parquet"
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return [path], "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return [path], "csv"
    raise InputFileError(
        f"input {path}: unsupported format; use .parquet, .pq, .csv, .csv.gz or a directory "
        "of Parquet files"
    )


def _parquet_units(files: list[Path], unit_rows: int) -> list[_Unit]:
    import pyarrow.parquet as pq

    units: list[_Unit] = []
    for f in files:
        try:
            meta = pq.ParquetFile(f).metadata
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise InputFileError(f"cannot read Parquet file {f}: {exc}") from exc
        groups: list[int] = []
        rows = first = start = 0
        for rg in range(meta.num_row_groups):
            if not groups:
                start = first
            groups.append(rg)
            n = meta.row_group(rg).num_rows
            rows += n
            first += n
            if rows >= unit_rows:
                units.append(_Unit(len(units), str(f), tuple(groups), start, rows))
                groups, rows = [], 0
        if groups:
            units.append(_Unit(len(units), str(f), tuple(groups), start, rows))
    return units


def _read_unit(unit: _Unit, columns: list[str], batch_rows: int) -> Iterator[Any]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(unit.path)
    yield from pf.iter_batches(
        batch_size=batch_rows, row_groups=list(unit.row_groups), columns=columns
    )


def _csv_batches(path: Path, columns: list[str], block_bytes: int) -> Iterator[Any]:
    import pyarrow.csv as pcsv

    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(block_size=block_bytes),
        convert_options=pcsv.ConvertOptions(include_columns=columns),
    )
    yield from reader


# ------------------------------------------------------------------------------ the job
def _fingerprint_model(model: Any, device: Any = None) -> tuple[str, Any]:
    """``(sha256 of the saved model, the loaded estimator)``."""
    from synthkit.persistence import META_FILE, WEIGHTS_FILE, load

    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        est = load(path, device=device)
    else:
        est, tmp = model, tempfile.mkdtemp(prefix="synthkit-fp-")
        path = Path(tmp) / "m"
        est.save(path)
    h = hashlib.sha256()
    for name in (META_FILE, WEIGHTS_FILE):
        data = (path / name).read_bytes()
        if name == META_FILE:  # the creation time is not part of the model
            meta = json.loads(data)
            meta.pop("created", None)
            data = json.dumps(meta, sort_keys=True).encode()
        h.update(data)
    if not isinstance(model, (str, os.PathLike)):
        shutil.rmtree(path.parent, ignore_errors=True)
    return h.hexdigest(), est


def _job_spec(model_fp: str, files: list[Path], options: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": _JOB_FORMAT,
        "model_sha256": model_fp,
        "inputs": [
            {"path": str(f.resolve()), "size": f.stat().st_size, "mtime_ns": f.stat().st_mtime_ns}
            for f in files
        ],
        "options": options,
    }


def _prepare_output(out_dir: Path, spec: dict[str, Any], overwrite: bool) -> bool:
    """Create, resume or replace ``out_dir``; returns True when the job is already complete.

    The same job (same model, input files and options) always resumes; ``overwrite`` only
    allows discarding the results of a *different* job. A directory that is not a scoring
    output is never deleted.
    """
    job_file = out_dir / JOB_FILE
    if out_dir.exists() and not job_file.exists() and any(out_dir.iterdir()):
        raise InputFileError(
            f"{out_dir} exists and is not a synthkit scoring output; choose another path"
        )
    if job_file.exists():
        previous = json.loads(job_file.read_text(encoding="utf-8"))
        if previous == spec:
            for stray in list(out_dir.rglob("*.tmp")):  # parts a killed run did not finish
                stray.unlink()
            return (out_dir / SUCCESS_FILE).exists()
        if not overwrite:
            raise ConfigError(
                f"{out_dir} holds the results of a different job (the model, the input files "
                "or the options changed); choose a new output or pass overwrite"
            )
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(out_dir / JOB_FILE, json.dumps(spec, indent=1))
    return False


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _score_batch(est: Any, df: Any, keep: Sequence[str], explain: int) -> tuple[Any, Any]:
    """``(scored frame, rejected frame or None)`` for one batch."""
    from synthkit.anomaly import AnomalyDetector, top_columns

    detector = est if isinstance(est, AnomalyDetector) else None
    syn = detector.synthesizer_ if detector is not None else est
    scores, reasons = syn.score_rows(df, normality=detector is not None)
    good = np.ones(len(df), dtype=bool) if reasons is None else np.equal(reasons, None)
    out = df.loc[good, list(keep)].reset_index(drop=True)
    out["score"] = scores[good]
    if detector is not None:
        out["is_anomaly"] = detector.labels_from_scores(scores[good]) == -1
    if explain and good.any():
        if detector is not None:
            ex = detector.explain(df.loc[good], top_k=explain).drop(columns="score")
        else:  # no training reference for tails: rank by the terms alone
            ex = top_columns(syn.explain(df.loc[good]), explain)
        for c in ex.columns:
            out[c] = ex[c].to_numpy()
    rejected = None
    if not good.all():
        rejected = df.loc[~good].copy()
        rejected["reason"] = reasons[~good].astype(str)
    return out, rejected


def _write_parquet_atomic(path: Path, batches: Iterator[Any]) -> int:
    """Stream Arrow tables to ``path`` via a ``.tmp`` file; returns rows written."""
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".tmp")
    writer = None
    rows = 0
    try:
        for table in batches:
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        return 0
    os.replace(tmp, path)
    return rows


def score_job(
    model: Any,
    input_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    keep: Sequence[str] = (),
    explain: int = 0,
    batch_rows: int = 262_144,
    unit_rows: int = 1_048_576,
    overwrite: bool = False,
    device: Any = None,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> JobSummary:
    """Score every row of a large table with a saved model; resumable and exactly once.

    Args:
        model: a model directory (from ``save`` / ``synthkit fit``) or a fitted estimator.
        input_path: a Parquet file, a directory of Parquet files, or a CSV file.
        output: a directory (parts, ``_job.json``, ``_SUCCESS``, ``_summary.json``,
            ``_rejects/``), or a ``.parquet`` / ``.csv`` file, assembled from the parts when
            every unit is done (the parts wait in a hidden sibling directory until then, so a
            rerun resumes too).
        keep: input columns copied to the output (keys, ids).
        explain: add the ``explain`` top-K columns for each row (0 = none).
        batch_rows: rows scored at once (memory is proportional to it).
        unit_rows: rows per unit of work and part file (the granularity of resumption).
        overwrite: replace an existing output file, or the results of a *different* job in
            the output directory, instead of refusing (the same job always resumes).
        device: where to load a model given as a directory (``None``: as saved, else auto).
        on_progress: called as ``on_progress(units_done, units_total, rows_done)``.

    Returns:
        A :class:`JobSummary`.

    Raises:
        InputFileError: the input is missing or unreadable, or the output is in the way.
        DataValidationError: the input lacks a modelled or kept column.
        ConfigError: the output holds another job's results, or bad options.
    """
    started = time.perf_counter()
    plan = _plan(
        model,
        input_path,
        output,
        keep=keep,
        explain=explain,
        batch_rows=batch_rows,
        unit_rows=unit_rows,
        overwrite=overwrite,
        device=device,
    )
    files, fmt, out_dir = plan.files, plan.fmt, plan.out_dir
    model_fp, est, columns = plan.model_fp, plan.est, plan.columns
    options = {"keep": list(keep), "explain": explain, "unit_rows": unit_rows}
    if fmt == "csv":
        options["batch_rows"] = batch_rows  # CSV units are made of batches: part of the plan
    done = _prepare_output(out_dir, _job_spec(model_fp, files, options), overwrite)
    if not done:
        units, rows = _run_units(
            est, files, fmt, out_dir, columns, keep, explain, batch_rows, unit_rows, on_progress
        )
        summary = _totals_from_outputs(out_dir)
        summary.units, summary.units_resumed = units
        summary.seconds = time.perf_counter() - started
        summary.rows_per_second = rows / summary.seconds if summary.seconds else 0.0
        _mark_complete(out_dir, summary)
    return _result(plan)


def _mark_complete(out_dir: Path, summary: JobSummary) -> None:
    """Write the summary, then ``_SUCCESS`` last: an output without it is incomplete."""
    _atomic_write_text(out_dir / SUMMARY_FILE, json.dumps(asdict(summary), indent=1))
    (out_dir / SUCCESS_FILE).touch()


def _result(plan: _Plan) -> JobSummary:
    """The saved summary of a complete job; a single-file output is assembled from its parts."""
    text = (plan.out_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    summary = JobSummary(**json.loads(text))
    return _assemble(plan.out_dir, plan.out, summary) if plan.single else summary


@dataclass
class _Plan:
    """What both engines settle before scoring: inputs, outputs and the loaded model."""

    files: list[Path]
    fmt: str
    out: Path
    out_dir: Path
    single: bool
    model_fp: str
    est: Any
    columns: list[str]


def _plan(
    model: Any,
    input_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    keep: Sequence[str],
    explain: int,
    batch_rows: int,
    unit_rows: int | None,
    overwrite: bool,
    device: Any,
) -> _Plan:
    """Check the options, inputs and output path; load and fingerprint the model."""
    from synthkit.errors import BackendError

    for name, value in (("batch_rows", batch_rows), ("unit_rows", unit_rows)):
        if value is None and name == "unit_rows":
            continue  # the Spark engine has no unit size of its own
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(explain, bool) or not isinstance(explain, int) or explain < 0:
        raise ConfigError(f"explain must be an integer >= 0, got {explain!r}")
    in_path, out = Path(input_path), Path(output)
    files, fmt = _input_files(in_path)
    if any(out.resolve() == f.resolve() for f in files) or out.resolve() == in_path.resolve():
        raise InputFileError(f"output {out} is the input; choose another path")
    single = out.name.lower().endswith(_TABLE_SUFFIXES)
    if not single and out.suffix and not out.is_dir():
        raise InputFileError(
            f"output {out}: unsupported format; use .parquet, .pq, .csv, .csv.gz or a "
            "directory (a name without an extension)"
        )
    if single and out.exists() and not overwrite:
        raise InputFileError(f"{out} already exists; choose another path or overwrite")
    model_fp, est = _fingerprint_model(model, device)
    syn = getattr(est, "synthesizer_", est)
    if explain and not syn.backend_.supports_explain:
        raise BackendError(
            f"explain needs per-column terms, which the {syn.backend_.name!r} backend does "
            "not give; use explain=0 or another backend"
        )
    needed = [c.name for c in syn.schema_.modeled]
    _check_columns(files[0], needed, keep)
    out_dir = out.with_name(f".{out.name}.parts") if single else out
    columns = list(dict.fromkeys([*needed, *keep]))
    return _Plan(files, fmt, out, out_dir, single, model_fp, est, columns)


def input_columns(input_path: str | os.PathLike) -> list[str]:
    """Column names of a scoring input (Parquet file or directory, or CSV), without reading it."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    files, fmt = _input_files(Path(input_path))
    if fmt == "parquet":
        return list(pq.ParquetFile(files[0]).schema_arrow.names)
    with pcsv.open_csv(files[0]) as reader:
        return list(reader.schema.names)


def _check_columns(first: Path, needed: list[str], keep: Sequence[str]) -> None:
    present = set(input_columns(first))
    problems = [
        f"column {c!r} is missing (the model was fitted with it)"
        for c in needed
        if c not in present
    ]
    problems += [f"kept column {c!r} is not in the input" for c in keep if c not in present]
    if problems:
        raise DataValidationError(problems)


def _run_units(
    est: Any,
    files: list[Path],
    fmt: str,
    out_dir: Path,
    columns: list[str],
    keep: Sequence[str],
    explain: int,
    batch_rows: int,
    unit_rows: int,
    on_progress: Callable[[int, int, int], None] | None,
) -> tuple[tuple[int, int], int]:
    """Score every unit whose part is missing; returns ``((units, resumed), rows read)``."""
    import pandas as pd
    import pyarrow as pa

    if fmt == "parquet":
        units = _parquet_units(files, unit_rows)
        plan: Iterator[tuple[_Unit, Iterator[Any]]] = (
            (u, _read_unit(u, columns, batch_rows)) for u in units
        )
        total = len(units)
    else:
        plan = _csv_units(files[0], columns, batch_rows, unit_rows)
        total = 0  # unknown until the file is read
    n_units = resumed = rows_read = 0
    for unit, batches in plan:
        n_units += 1
        part = out_dir / f"part-{unit.index:05d}.parquet"
        if part.exists():  # done by an earlier run; CSV cannot seek, so read past it
            resumed += 1
            for _ in batches if fmt == "csv" else ():
                pass
        else:
            tables, rejects = [], []
            offset = unit.first_row
            for batch in batches:
                df = batch.to_pandas()
                out, rej = _score_batch(est, df, keep, explain)
                if rej is not None:
                    rej.insert(0, "source_row", rej.index.to_numpy() + offset)
                    rej.insert(0, "source_file", unit.path)
                    rejects.append(rej)
                tables.append(pa.Table.from_pandas(out, preserve_index=False))
                offset += len(df)
                rows_read += len(df)
            if rejects:  # rejects first: the part, written last, marks the unit done
                (out_dir / REJECTS_DIR).mkdir(exist_ok=True)
                rej_table = pa.Table.from_pandas(pd.concat(rejects), preserve_index=False)
                _write_parquet_atomic(out_dir / REJECTS_DIR / part.name, iter([rej_table]))
            _write_parquet_atomic(part, iter(tables))
        if on_progress:
            on_progress(n_units, max(total, n_units), rows_read)
    return (n_units, resumed), rows_read


def _totals_from_outputs(out_dir: Path) -> JobSummary:
    """Totals recounted from the parts: they are the truth, whatever run wrote them."""
    import pyarrow.parquet as pq

    summary = JobSummary(output=str(out_dir))
    for part in sorted(out_dir.glob("part-*.parquet")):
        pf = pq.ParquetFile(part)
        summary.rows_scored += pf.metadata.num_rows
        if "is_anomaly" in pf.schema_arrow.names:
            flags = pq.read_table(part, columns=["is_anomaly"])["is_anomaly"]
            summary.anomalies += int(flags.to_numpy(zero_copy_only=False).sum())
    rej_parts = sorted((out_dir / REJECTS_DIR).glob("part-*.parquet"))
    for part in rej_parts:
        reasons = pq.read_table(part, columns=["reason"])["reason"].to_pylist()
        summary.rows_rejected += len(reasons)
        for r in reasons:
            summary.reject_reasons[r] = summary.reject_reasons.get(r, 0) + 1
    summary.rows_in = summary.rows_scored + summary.rows_rejected
    summary.rejects = str(out_dir / REJECTS_DIR) if rej_parts else None
    return summary


def _csv_units(
    path: Path, columns: list[str], batch_rows: int, unit_rows: int
) -> Iterator[tuple[_Unit, Iterator[Any]]]:
    """Units of consecutive CSV batches; deterministic for a file and ``batch_rows``."""
    import pyarrow as pa

    # Block size from the batch size: about 100 bytes a row is typical of business tables.
    batches = _csv_batches(path, columns, block_bytes=max(1 << 20, batch_rows * 100))
    index, first = 0, 0
    pending: list[Any] = []
    rows = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= unit_rows:
            yield (
                _Unit(index, str(path), (), first, rows),
                iter(pa.Table.from_batches(pending).to_batches(max_chunksize=batch_rows)),
            )
            index, first, pending, rows = index + 1, first + rows, [], 0
    if pending:
        yield (
            _Unit(index, str(path), (), first, rows),
            iter(pa.Table.from_batches(pending).to_batches(max_chunksize=batch_rows)),
        )


def _assemble(parts_dir: Path, out: Path, summary: JobSummary) -> JobSummary:
    """Concatenate the parts into ``out`` (atomically), rejects beside it; drop the parts."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    parts = sorted(parts_dir.glob("part-*.parquet"))
    tmp = out.with_name(f".{out.name}.tmp")
    is_csv = out.name.lower().endswith((".csv", ".csv.gz"))
    schema = (
        pq.ParquetFile(parts[0]).schema_arrow if parts else pa.schema([("score", pa.float64())])
    )
    writer: Any = (
        pcsv.CSVWriter(_csv_sink(tmp, out), schema) if is_csv else pq.ParquetWriter(tmp, schema)
    )
    try:
        for part in parts:
            for batch in pq.ParquetFile(part).iter_batches():
                # A part whose kept column was all null has a null type there: cast it.
                table = pa.Table.from_batches([batch]).cast(schema)
                writer.write_table(table)
    finally:
        writer.close()
    os.replace(tmp, out)
    rej_parts = sorted((parts_dir / REJECTS_DIR).glob("part-*.parquet"))
    if rej_parts:
        rej_out = out.with_name(out.name.split(".")[0] + ".rejects.parquet")
        tables = [pq.read_table(p) for p in rej_parts]
        _write_parquet_atomic(rej_out, iter([pa.concat_tables(tables, promote_options="default")]))
        summary.rejects = str(rej_out)
    summary.output = str(out)
    shutil.rmtree(parts_dir, ignore_errors=True)
    return summary


def _csv_sink(tmp: Path, out: Path) -> Any:
    import pyarrow as pa

    if out.name.lower().endswith(".gz"):
        return pa.CompressedOutputStream(str(tmp), "gzip")
    return str(tmp)
