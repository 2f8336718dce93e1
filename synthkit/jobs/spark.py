"""Batch anomaly scoring on Apache Spark: the job of :func:`~synthkit.jobs.score_job`, distributed.

:func:`score_job_spark` reads the same inputs (a Parquet file, a directory of Parquet files or
a CSV file) and writes the same results as the local engine: ``keep...``, ``score``,
``is_anomaly`` (detectors) and the ``explain`` columns; rows that cannot be scored go to
``_rejects/`` with ``source_file``, ``source_row``, the modelled and kept columns and the
same ``reason``. Only the part-file names and the row order differ.

How it runs:

* the model is never pickled: its directory (``synthkit.json`` + ``weights.safetensors``) is
  shipped with ``SparkContext.addFile(dir, recursive=True)`` and each Python worker loads
  it once (module-level cache, reused across tasks while the worker lives);
* rows are scored in Arrow batches of ``batch_rows`` rows through ``DataFrame.mapInArrow``
  with :meth:`~synthkit.Synthesizer.score_rows`, the same code path as the local engine;
* one pass computes the score *or* the reject reason of every row; that result is persisted
  (``MEMORY_AND_DISK``) and split with two filters, so no row is scored twice.

Exactly once: Spark's file committer makes each task's output appear atomically and a
failed job leaves no part files behind; ``_SUCCESS`` and ``_summary.json`` are written by
the driver after both outputs are committed. Unlike the local engine there is no resumption
by unit: rerunning a job that did not complete (no ``_SUCCESS``) deletes whatever it left and
recomputes the whole job; rerunning a completed job returns its saved summary at once.

Paths are local paths seen by the driver (a shared mount on a cluster): the driver writes
``_job.json`` and the markers itself.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np

from synthkit.errors import BackendError
from synthkit.jobs.scoring import (
    JOB_FILE,
    REJECTS_DIR,
    JobSummary,
    _job_spec,
    _mark_complete,
    _plan,
    _prepare_output,
    _result,
    _score_batch,
)

__all__ = ["score_job_spark"]

_MIN_JAVA = 17
_BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"
# Spark cannot read Parquet TIMESTAMP(NANOS) columns otherwise; read as int64 ns, they are
# cast back to timestamps on the workers (see _conform).
_NANOS_CONF = "spark.sql.legacy.parquet.nanosAsLong"
_REASON, _FILE, _ROW = "__synthkit_reason", "__synthkit_file", "__synthkit_row"
_MODELS: dict[tuple[str, str], Any] = {}  # per Python worker: (model name, device) -> model


@dataclass(frozen=True)
class _Plan:
    """What a Spark task needs to score its rows: small, plain data (pickled cheaply)."""

    model_name: str  # the SparkFiles name of the shipped model directory
    device: str | None
    columns: tuple[str, ...]  # modelled and kept columns, as the local engine reads them
    keep: tuple[str, ...]
    explain: int
    source_types: tuple[Any, ...]  # Arrow types the local engine would read (or None)
    files: tuple[tuple[str, str], ...]  # (absolute path, the path as the local engine names it)
    csv: bool = False


def _input_name(i: int) -> str:
    return f"__synthkit_in{i}"


# ------------------------------------------------------------------------ on the workers
def _worker_model(name: str, device: str | None) -> Any:
    """The shipped model, loaded once per Python worker."""
    key = (name, str(device))
    if key not in _MODELS:
        import torch
        from pyspark import SparkFiles, TaskContext

        from synthkit.persistence import load

        context = TaskContext.get()
        if context is not None and context.cpus() > 0:
            # Spark sets OMP_NUM_THREADS to the executor's cores, and several tasks run at
            # once: one task gets spark.task.cpus cores.
            torch.set_num_threads(context.cpus())
        model = load(SparkFiles.get(name), device=device)
        _MODELS.clear()  # every job ships its model under a new name: keep the latest only
        _MODELS[key] = model
    return _MODELS[key]


def _local_path(uri: str, files: dict[str, str]) -> str:
    """A Spark file URI as the local engine names the file (its path as given)."""
    parsed = urlparse(uri)
    path = unquote(parsed.path) if parsed.scheme in ("", "file") else uri
    return files.get(path, path)


def _conform(batch: Any, plan: _Plan) -> Any:
    """The input columns as a pandas frame typed as the local engine reads them.

    Spark changes some Arrow types on the way (dictionary -> string, timestamp units,
    string -> large_string); each column is cast back where Arrow can do it safely.
    """
    import pyarrow as pa

    arrays = []
    for i, target in enumerate(plan.source_types):
        arr = batch.column(i)
        if target is not None and arr.type != target:
            try:
                arr = arr.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        is_text = pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
        if plan.csv and is_text and arr.null_count:
            arr = arr.fill_null("")  # Spark reads an empty CSV field as null, pyarrow as ""
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=list(plan.columns)).to_pandas()


def _arrow_schema(batch: Any, fields: Sequence[tuple[str, str]]) -> Any:
    """The result's Arrow schema: input columns keep the types Spark sent them in."""
    import pyarrow as pa

    types = {"double": pa.float64(), "boolean": pa.bool_(), "string": pa.string()}
    types["long"] = pa.int64()
    return pa.schema(
        [
            (name, batch.schema.field(name).type if kind == "input" else types[kind])
            for name, kind in fields
        ]
    )


def _score_partition(
    batches: Iterator[Any], plan: _Plan, fields: tuple[tuple[str, str], ...]
) -> Iterator[Any]:
    """``mapInArrow`` body: scored rows, then rejected rows, of every input batch."""
    import pyarrow as pa

    est = out_schema = None
    files = dict(plan.files)
    n_in = len(plan.columns)
    for batch in batches:
        n = batch.num_rows
        if n == 0:
            continue
        if est is None:
            est = _worker_model(plan.model_name, plan.device)
            out_schema = _arrow_schema(batch, fields)
        df = _conform(batch, plan)
        out, rej = _score_batch(est, df, plan.keep, plan.explain)
        bad = np.zeros(n, dtype=bool)
        if rej is not None:
            bad[rej.index.to_numpy()] = True
        for rows, good in ((np.flatnonzero(~bad), True), (np.flatnonzero(bad), False)):
            if len(rows) == 0:
                continue
            idx = pa.array(rows, type=pa.int64())
            arrays = []
            for field in out_schema:
                name = field.name
                if name.startswith("__synthkit_in"):
                    i = int(name.removeprefix("__synthkit_in"))
                    use = not good or plan.columns[i] in plan.keep
                    arr = batch.column(i).take(idx) if use else None
                elif name == _REASON:
                    arr = None if good else pa.array(rej["reason"].to_numpy(dtype=object))
                elif name == _FILE:
                    uris = [] if good else batch.column(n_in).take(idx).to_pylist()
                    arr = None if good else pa.array([_local_path(u, files) for u in uris])
                elif name == _ROW:
                    arr = None if good else batch.column(n_in + 1).take(idx)
                else:  # score, is_anomaly, explain columns
                    arr = pa.array(out[name].to_numpy(), from_pandas=True) if good else None
                if arr is None:
                    arr = pa.nulls(len(rows), type=field.type)
                elif arr.type != field.type:
                    arr = arr.cast(field.type)
                arrays.append(arr)
            yield pa.RecordBatch.from_arrays(arrays, schema=out_schema)


# ----------------------------------------------------------------------- on the driver
def _import_pyspark() -> Any:
    try:
        import pyspark
    except ImportError as exc:
        raise BackendError(
            "the spark engine needs pyspark: install synthkit[spark] (pip install "
            "'synthkit[spark]')"
        ) from exc
    return pyspark


def _check_java() -> None:
    """Fail early and clearly when Spark cannot start a JVM (Spark 4 needs Java 17+)."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not java.exists():
            raise BackendError(
                f"JAVA_HOME={home} holds no bin/java; point JAVA_HOME at a Java "
                f"{_MIN_JAVA}+ installation (or unset it to use the java on PATH)"
            )
    else:
        found = shutil.which("java")
        if found is None:
            raise BackendError(
                f"the spark engine needs Java {_MIN_JAVA} or later and no java was found: "
                "install a JDK (e.g. OpenJDK 17) and put java on PATH or set JAVA_HOME"
            )
        java = Path(found)
    try:
        probe = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return  # let Spark report it
    match = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0_392" is Java 8
            major = int(match.group(2))
        if major < _MIN_JAVA:
            raise BackendError(
                f"{java} is Java {major}; Spark 4 needs Java {_MIN_JAVA} or later: set "
                "JAVA_HOME to a newer JDK"
            )


def _session(master: str | None, spark: Any, batch_rows: int) -> tuple[Any, bool]:
    """``(session, created here)``: the given or active session, else a new one."""
    if spark is not None:
        return spark, False
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    _check_java()
    builder = (
        SparkSession.builder.master(master or "local[*]")
        .appName("synthkit-score")
        .config(_BATCH_CONF, str(batch_rows))
        .config(_NANOS_CONF, "true")
    )
    if not os.environ.get("PYSPARK_PYTHON"):
        builder = builder.config("spark.pyspark.python", sys.executable)
    return builder.getOrCreate(), True


def _stage_model(model: Any, fingerprint: str) -> Path:
    """A copy of the model directory under a name of its own, to ship with ``addFile``.

    SparkFiles are found by base name and a name cannot be registered twice with other
    contents, so every job ships its model under a new name (the model's fingerprint and a
    random suffix); the copy is deleted when the job ends.
    """
    name = f"synthkit-model-{fingerprint[:16]}-{uuid.uuid4().hex[:8]}"
    path = Path(tempfile.mkdtemp(prefix="synthkit-spark-")) / name
    try:
        if isinstance(model, (str, os.PathLike)):
            shutil.copytree(model, path)
        else:
            model.save(path)
    except BaseException:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    return path


def _read_input(spark: Any, files: list[Path], fmt: str, columns: list[str]) -> Any:
    """The input as a DataFrame of ``columns`` + source file + row number in that file."""
    from pyspark.sql import functions as F

    paths = [str(f.resolve()) for f in files]
    if fmt == "parquet":
        df = spark.read.parquet(*paths)
        row = F.col("_metadata.row_index")
    else:  # CSV: Spark gives no row number within the file
        df = spark.read.options(header=True, inferSchema=True).csv(paths[0])
        row = F.lit(None)
    cols = [F.col(f"`{c}`").alias(_input_name(i)) for i, c in enumerate(columns)]
    file = F.col("_metadata.file_path")
    return df.select(*cols, file.alias(_FILE), row.cast("long").alias(_ROW))


def _source_types(files: list[Path], fmt: str, columns: list[str]) -> tuple[Any, ...]:
    """Arrow types the local engine reads (from the first file), to cast Spark's back to."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        schema = pq.ParquetFile(files[0]).schema_arrow
    else:
        convert = pcsv.ConvertOptions(include_columns=columns)
        with pcsv.open_csv(files[0], convert_options=convert) as reader:
            schema = reader.schema
    return tuple(schema.field(c).type if c in schema.names else None for c in columns)


def _output_schema(est: Any, df_in: Any, columns: list[str], explain: int) -> Any:
    """Spark schema of the one-pass result: inputs, score, flags, explain, reject fields."""
    from pyspark.sql.types import BooleanType, DoubleType, LongType, StringType, StructType

    from synthkit.anomaly import AnomalyDetector

    detector = isinstance(est, AnomalyDetector)
    syn = est.synthesizer_ if detector else est
    schema = StructType([df_in.schema[_input_name(i)] for i in range(len(columns))])
    schema = schema.add("score", DoubleType())
    if detector:
        schema = schema.add("is_anomaly", BooleanType())
    if explain:
        for i in range(1, max(1, min(explain, len(syn.encoder_.layout_.groups))) + 1):
            schema = schema.add(f"top{i}_column", StringType())
            schema = schema.add(f"top{i}_log_prob", DoubleType())
            if detector:
                schema = schema.add(f"top{i}_tail", DoubleType())
    return schema.add(_REASON, StringType()).add(_FILE, StringType()).add(_ROW, LongType())


def _clear_outputs(out_dir: Path) -> None:
    """Remove what an incomplete run left (everything but ``_job.json``)."""
    for entry in out_dir.iterdir():
        if entry.name == JOB_FILE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _spark_failure(exc: Exception) -> BackendError:
    """A one-line BackendError for an exception raised by Spark (often a worker traceback)."""
    text = str(exc)
    found = re.findall(r"synthkit\.errors\.\w+: [^\n]+", text)  # a synthkit error on a worker
    if not found:  # else the last Python error line of a worker traceback
        found = re.findall(r"^[\w.]*(?:Error|Exception): [^\n]+", text, flags=re.MULTILINE)
    line = found[-1] if found else next((t for t in text.splitlines() if t.strip()), repr(exc))
    return BackendError(f"the Spark scoring job failed: {line.strip()}")


def score_job_spark(
    model: Any,
    input_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    keep: Sequence[str] = (),
    explain: int = 0,
    batch_rows: int = 262_144,
    unit_rows: int | None = None,
    overwrite: bool = False,
    device: Any = None,
    on_progress: Callable[[int, int, int], None] | None = None,
    master: str | None = None,
    spark: Any = None,
) -> JobSummary:
    """Score every row of a large table on Spark; same results as :func:`score_job`.

    Args:
        model: a model directory (from ``save`` / ``synthkit fit``) or a fitted estimator.
        input_path: a Parquet file, a directory of Parquet files, or a CSV file.
        output: a directory (Spark part files, ``_job.json``, ``_SUCCESS``,
            ``_summary.json``, ``_rejects/``), or a ``.parquet`` / ``.csv`` file assembled on
            the driver from such a directory.
        keep: input columns copied to the output (keys, ids).
        explain: add the ``explain`` top-K columns for each row (0 = none).
        batch_rows: rows per Arrow batch scored at once on a worker (memory is
            proportional to it); Spark's ``spark.sql.execution.arrow.maxRecordsPerBatch``.
        unit_rows: at most this many rows per output part file (``maxRecordsPerFile``);
            ``None`` = one part file per Spark task.
        overwrite: replace an existing output file, or the results of a *different* job in
            the output directory, instead of refusing.
        device: where the workers load the model (``None``: as saved, else auto).
        on_progress: called once at the end as ``on_progress(units, units, rows)``, a unit
            being a Spark input partition (Spark shows its own progress).
        master: Spark master URL for a session created here (default ``local[*]``); ignored
            when ``spark`` is given or a session is already active.
        spark: a ``SparkSession`` to use (it is not stopped); ``None`` creates one and stops
            it at the end.

    Returns:
        A :class:`JobSummary` (``units`` = Spark input partitions; ``units_resumed`` = 0).

    Raises:
        BackendError: pyspark or Java is missing, or the Spark job failed.
        InputFileError: the input is missing or unreadable, or the output is in the way.
        DataValidationError: the input lacks a modelled or kept column.
        ConfigError: the output holds another job's results, or bad options.
    """
    _import_pyspark()
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
    options = {"engine": "spark", "keep": list(keep), "explain": explain}
    if unit_rows is not None:
        options["unit_rows"] = unit_rows
    done = _prepare_output(out_dir, _job_spec(model_fp, files, options), overwrite)
    if not done:
        _clear_outputs(out_dir)  # an incomplete Spark run is redone whole
        with warnings.catch_warnings():
            # pyspark warns about pandas >= 3; this job hands Spark Arrow data, never pandas.
            warnings.filterwarnings(
                "ignore", message="PySpark does not yet fully support", category=FutureWarning
            )
            summary = _run_spark(
                model,
                model_fp,
                est,
                files,
                fmt,
                out_dir,
                columns,
                keep,
                explain,
                batch_rows,
                unit_rows,
                device,
                master,
                spark,
            )
        summary.seconds = time.perf_counter() - started
        summary.rows_per_second = summary.rows_in / summary.seconds if summary.seconds else 0.0
        _mark_complete(out_dir, summary)
        if on_progress:
            on_progress(summary.units, summary.units, summary.rows_in)
    return _result(plan)


def _run_spark(
    model: Any,
    model_fp: str,
    est: Any,
    files: list[Path],
    fmt: str,
    out_dir: Path,
    columns: list[str],
    keep: Sequence[str],
    explain: int,
    batch_rows: int,
    unit_rows: int | None,
    device: Any,
    master: str | None,
    spark: Any,
) -> JobSummary:
    """Score into ``out_dir`` (parts and ``_rejects/``); returns the totals."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    session, created = _session(master, spark, batch_rows)
    confs = {_BATCH_CONF: str(batch_rows), _NANOS_CONF: "true"}  # for this job only
    previous = {key: session.conf.get(key, None) for key in confs}
    staged = _stage_model(model, model_fp)
    combined = None
    try:
        for key, value in confs.items():
            session.conf.set(key, value)
        session.sparkContext.addFile(str(staged), recursive=True)
        df_in = _read_input(session, files, fmt, columns)
        schema = _output_schema(est, df_in, columns, explain)
        plan = _Plan(
            model_name=staged.name,
            device=None if device is None else str(device),
            columns=tuple(columns),
            keep=tuple(keep),
            explain=explain,
            source_types=_source_types(files, fmt, columns),
            files=tuple((str(f.resolve()), str(f)) for f in files),
            csv=fmt == "csv",
        )
        fields = tuple(
            (f.name, "input" if f.name.startswith("__synthkit_in") else f.dataType.typeName())
            for f in schema.fields
        )
        fn = functools.partial(_score_partition, plan=plan, fields=fields)
        combined = df_in.mapInArrow(fn, schema).persist(StorageLevel.MEMORY_AND_DISK)
        ins = {c: F.col(_input_name(i)).alias(c) for i, c in enumerate(columns)}
        results = [f.name for f in schema.fields[len(columns) : -3]]
        scored = combined.where(F.col(_REASON).isNull()).select(*[ins[c] for c in keep], *results)
        writer = scored.write.mode("append").option(
            "mapreduce.fileoutputcommitter.marksuccessfuljobs", "false"
        )  # our _SUCCESS comes last, after the rejects and the summary
        if unit_rows is not None:
            writer = writer.option("maxRecordsPerFile", unit_rows)
        units = df_in.rdd.getNumPartitions()
        writer.parquet(str(out_dir.resolve()))
        flag = F.col("is_anomaly").cast("long") if "is_anomaly" in results else F.lit(0)
        counts = combined.groupBy(_REASON).agg(F.count("*").alias("n"), F.sum(flag).alias("a"))
        summary = JobSummary(output=str(out_dir), units=units)
        for row in counts.collect():
            if row[_REASON] is None:
                summary.rows_scored, summary.anomalies = int(row["n"]), int(row["a"] or 0)
            else:
                summary.reject_reasons[row[_REASON]] = int(row["n"])
        summary.rows_rejected = sum(summary.reject_reasons.values())
        summary.rows_in = summary.rows_scored + summary.rows_rejected
        if summary.rows_rejected:
            rejects = combined.where(F.col(_REASON).isNotNull()).select(
                F.col(_FILE).alias("source_file"),
                F.col(_ROW).alias("source_row"),
                *ins.values(),
                F.col(_REASON).alias("reason"),
            )
            rejects.write.mode("overwrite").option(
                "mapreduce.fileoutputcommitter.marksuccessfuljobs", "false"
            ).parquet(str((out_dir / REJECTS_DIR).resolve()))
            summary.rejects = str(out_dir / REJECTS_DIR)
        return summary
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("pyspark", "py4j"):
            raise _spark_failure(exc) from exc
        raise
    finally:
        if combined is not None:
            combined.unpersist()
        if created:
            session.stop()
        else:
            for key, value in previous.items():
                if value is None:
                    session.conf.unset(key)
                else:
                    session.conf.set(key, value)
        shutil.rmtree(staged.parent, ignore_errors=True)
