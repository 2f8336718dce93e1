"""The ``synthkit`` command line: fit, sample, score, report, backends, demo.

The commands are thin: parse, call the Python API, print. Only click and the standard
library are imported at module level; pandas, torch and rich load inside the commands, so
``synthkit --help`` answers at once.

Output conventions: the result a script wants (a path) goes to stdout, progress and
summaries go to stderr. Errors are reported in one place (:class:`_SynthkitGroup`):
synthkit errors print ``error: <message>`` and exit with status 1, unexpected exceptions
print a one-line ``internal error`` (``--debug`` shows the traceback), and usage errors keep
click's status 2.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
from click.core import ParameterSource

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

__all__ = ["main"]

#: Model directory ``synthkit fit`` writes to when no ``-o`` is given (in the cwd).
DEFAULT_MODEL_DIR = "synthkit-model"
#: Output directory of ``synthkit demo`` when no ``-o`` is given (in the cwd).
DEFAULT_DEMO_DIR = "synthkit_demo"
#: Name of the metadata file that marks a saved synthkit model directory.
_MODEL_MARKER = "synthkit.json"


# --------------------------------------------------------------------------- helpers


def _one_line(text: str) -> str:
    """Collapse whitespace so that every message fits on one line."""
    return " ".join(str(text).split())


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print warnings as ``warning: ...`` lines instead of Python's two-line format."""
    click.echo(f"warning: {_one_line(str(message))}", err=True)


class _SynthkitGroup(click.Group):
    """A click group that turns exceptions into one-line messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; report synthkit errors as ``error:`` and others as internal."""
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
                raise  # click prints these and picks the exit code (2 for usage errors)
            except Exception as exc:
                from synthkit.errors import SynthkitError

                if ctx.params.get("debug"):
                    traceback.print_exc(file=sys.stderr)
                # OSError covers a full disk or a permission problem: the user's to fix.
                if isinstance(exc, (SynthkitError, OSError)):
                    click.echo(f"error: {_one_line(str(exc))}", err=True)
                else:
                    click.echo(
                        f"internal error: {type(exc).__name__}: {_one_line(str(exc))}"
                        " (rerun with --debug for the traceback)",
                        err=True,
                    )
                ctx.exit(1)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from synthkit._version import __version__

    click.echo(f"synthkit {__version__}")
    ctx.exit(0)


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def _status(console: Console, text: str) -> Iterator[None]:
    """Show a spinner with ``text`` on stderr while the block runs (nothing when not a tty)."""
    from rich.markup import escape

    with console.status(escape(text)):
        yield


def _parse_value(text: str) -> Any:
    """JSON when it parses (numbers, true/false, null, lists, objects), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_pairs(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, Any]:
    """Click callback: ``("a=1", "b=x")`` -> ``{"a": 1, "b": "x"}``."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", ctx=ctx, param=param)
        if key in out:
            raise click.BadParameter(f"{key!r} is given twice", ctx=ctx, param=param)
        out[key] = _parse_value(value)
    return out


def _read_data(path: Path, console: Console) -> pd.DataFrame:
    from synthkit.io import read_table

    with _status(console, f"Reading {path}"):
        df = read_table(path)
    click.echo(f"Read {path}: {len(df):,} rows x {df.shape[1]} columns", err=True)
    return df


def _load_model(path: Path, device: str | None, console: Console) -> Any:
    import synthkit

    with _status(console, f"Loading model {path}"):
        return synthkit.load(path, device=device)


def _fit_with_progress(model: Any, df: pd.DataFrame, callbacks: list[Any] | None = None) -> float:
    """Fit ``model`` on ``df`` with a progress bar on stderr; return the seconds it took."""
    from synthkit.callbacks import RichProgress

    start = time.perf_counter()
    # The context manager stops the bar even when the fit fails, so the error stays readable.
    with RichProgress() as progress:
        model.fit(df, callbacks=[progress, *(callbacks or [])])
    return time.perf_counter() - start


def _is_detector(model: Any) -> bool:
    from synthkit.anomaly import AnomalyDetector

    return isinstance(model, AnomalyDetector)


def _check_output(path: Path, *inputs: Path) -> Path:
    """Validate an output file name before any work is done; never let it be an input."""
    from synthkit.errors import InputFileError
    from synthkit.io import table_format

    table_format(path)
    out = path.absolute()
    for source in inputs:
        if os.path.realpath(out) == os.path.realpath(source):
            raise InputFileError(f"{out}: the output would overwrite the input; choose another -o")
    return out


def _choose_model_dir(model_dir: Path | None, overwrite: bool) -> tuple[Path, bool]:
    """Pick where ``fit`` saves, and whether saving must replace an existing directory.

    Without ``-o``: ``./synthkit-model``, or the first free ``./synthkit-model-N`` (N >= 2)
    unless ``--overwrite``. An existing directory is only replaced with ``--overwrite``, and
    only if it is empty or a synthkit model (so ``-o . --overwrite`` cannot wipe a project).
    """
    from synthkit.errors import ConfigError

    if model_dir is None:
        base = Path.cwd() / DEFAULT_MODEL_DIR
        path = base
        if not overwrite:
            for i in itertools.count(2):
                if not path.exists():
                    break
                path = base.with_name(f"{DEFAULT_MODEL_DIR}-{i}")
    else:
        path = model_dir.absolute()

    if not path.exists():
        return path, False
    if not path.is_dir():
        raise ConfigError(f"{path} exists and is not a directory; choose another -o")
    empty = not any(path.iterdir())
    if not (empty or overwrite):
        raise ConfigError(
            f"{path} already exists; pass --overwrite to replace it or choose another -o"
        )
    if not empty and not (path / _MODEL_MARKER).is_file():
        raise ConfigError(
            f"{path} is not empty and is not a synthkit model directory; refusing to replace"
            " it, choose another -o"
        )
    return path, True


# --------------------------------------------------------------------------- tracking

#: Experiment the CLI logs to when neither --experiment nor MLFLOW_EXPERIMENT_NAME/ID is set.
DEFAULT_EXPERIMENT = "synthkit"
#: Output tables up to this size are logged as run artifacts by ``sample``.
MAX_ARTIFACT_BYTES = 50 * 1024 * 1024


def _tracking_options(command: Any) -> Any:
    """Add --track/--no-track, --experiment and --run-name to a command."""
    options = [
        click.option(
            "--track/--no-track",
            default=True,
            show_default=True,
            envvar="SYNTHKIT_TRACK",
            help="Log this run to MLflow: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the"
            " working directory (or set SYNTHKIT_TRACK=0).",
        ),
        click.option(
            "--experiment",
            default=None,
            metavar="NAME",
            help=f"MLflow experiment, created if missing [default: MLFLOW_EXPERIMENT_NAME, else"
            f" {DEFAULT_EXPERIMENT}].",
        ),
        click.option("--run-name", default=None, metavar="NAME", help="MLflow run name."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@contextlib.contextmanager
def _tracking(
    track: bool, experiment: str | None, run_name: str | None, command: str
) -> Iterator[Any | None]:
    """An MLflow run for a CLI command, or ``None`` when tracking is off or unavailable.

    Without mlflow installed, tracking is skipped with one warning line (not an error).
    After the block, the run id and how to browse the store are printed on stderr.
    """
    if not track:
        yield None
        return
    try:
        import mlflow  # noqa: F401 (only checking that it imports)
    except ImportError:
        click.echo(
            "warning: mlflow is not installed, so this run is not tracked"
            " (pip install mlflow, or pass --no-track to silence this)",
            err=True,
        )
        yield None
        return
    from synthkit.tracking import tracking_run, tracking_uri

    uri = tracking_uri()
    if experiment is None and not os.environ.get("MLFLOW_EXPERIMENT_ID"):
        experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
    with tracking_run(experiment, run_name, tags={"synthkit.command": command}) as run:
        yield run
    browse = (
        f"; browse with: mlflow ui --backend-store-uri {uri}"
        if uri.startswith(("sqlite:", "file:", "/"))  # a local store, not a server
        else ""
    )
    click.echo(
        f"MLflow run {run.info.run_id} (experiment {run.info.experiment_id}) in {uri}{browse}",
        err=True,
    )


def _fit_callbacks(run: Any | None) -> list[Any]:
    if run is None:
        return []
    from synthkit.tracking import MlflowCallback

    return [MlflowCallback(run_id=run.info.run_id)]


# --------------------------------------------------------------------------- commands

_LOAD_DEVICE_OPTION = click.option(
    "--device",
    default=None,
    help="Where to run: auto, cpu, cuda, mps... [default: where it was fitted, if available,"
    " else auto].",
)

# "\b" keeps click from re-wrapping the example block.
_MAIN_HELP = """Learn a table's distribution, then sample synthetic rows or flag improbable ones.

\b
Quick start:
  synthkit demo                               # end to end on a bundled table
  synthkit fit data.parquet -o model          # learn the table
  synthkit sample model -n 1000 -o fake.parquet
  synthkit score model data.parquet -o scores.parquet
  synthkit report model --real data.parquet --holdout test.parquet -o report

Tables can be .csv, .csv.gz, .parquet/.pq, .feather/.arrow, or a directory of Parquet files.
Results (paths) go to stdout; progress and summaries to stderr.
"""


@click.group(
    cls=_SynthkitGroup,
    help=_MAIN_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the synthkit version and exit.",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="SYNTHKIT_DEBUG",
    help="Show full tracebacks on errors (or set SYNTHKIT_DEBUG=1).",
)
def main(debug: bool) -> None:
    """The synthkit command group (help text: ``_MAIN_HELP``)."""


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--backend",
    default="gmm",
    show_default=True,
    help="Model family; list them with `synthkit backends`.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_parse_pairs,
    help="Backend hyper-parameter (repeatable). VALUE is read as JSON when it parses,"
    " else as a string: --param n_components=8 --param covariance_type=diag.",
)
@click.option(
    "-o",
    "--output",
    "model_dir",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Model directory to create [default: ./{DEFAULT_MODEL_DIR}, or "
    f"./{DEFAULT_MODEL_DIR}-2, -3... if taken].",
)
@click.option("--seed", type=int, default=None, help="Random seed, for reproducible fits.")
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps.",
)
@click.option(
    "--schema",
    "schema",
    multiple=True,
    metavar="COLUMN=KIND",
    callback=_parse_pairs,
    help="Override the inferred kind of a column (repeatable). Kinds: numeric, integer,"
    " boolean, categorical, datetime, id, constant, drop.",
)
@click.option(
    "--anomaly/--no-anomaly",
    default=True,
    show_default=True,
    help="Fit an anomaly detector (can also sample) or a plain synthesizer (no threshold).",
)
@click.option(
    "--contamination",
    type=float,
    default=0.01,
    show_default=True,
    help="Expected share of anomalies in DATA; sets the anomaly threshold.",
)
@click.option("--overwrite", is_flag=True, help="Replace the model directory if it exists.")
@_tracking_options
@click.pass_context
def fit(
    ctx: click.Context,
    data: Path,
    backend: str,
    params: dict[str, Any],
    model_dir: Path | None,
    seed: int | None,
    device: str,
    schema: dict[str, Any],
    anomaly: bool,
    contamination: float,
    overwrite: bool,
    track: bool,
    experiment: str | None,
    run_name: str | None,
) -> None:
    """Learn the distribution of the table DATA and save the model.

    With tracking on (the default), the params, the per-step training metrics and the model
    (as an MLflow model) are logged to an MLflow run whose id is printed on stderr.
    Prints the model directory's absolute path on stdout.
    """
    from synthkit.training.distributed import is_main_process

    # Under torchrun every process runs this command; only rank 0 tracks, saves and prints.
    main_rank = is_main_process()
    track = track and main_rank
    path, replace = _choose_model_dir(model_dir, overwrite)
    if not anomaly and ctx.get_parameter_source("contamination") is not ParameterSource.DEFAULT:
        click.echo("warning: --contamination is ignored with --no-anomaly", err=True)

    console = _stderr_console()
    df = _read_data(data, console)

    common: dict[str, Any] = {
        "backend": backend,
        "backend_params": params or None,
        "schema": schema or None,
        "random_state": seed,
        "device": device,
    }
    if anomaly:
        from synthkit import AnomalyDetector

        model: Any = AnomalyDetector(contamination=contamination, **common)
    else:
        from synthkit import Synthesizer

        model = Synthesizer(**common)

    with _tracking(track, experiment, run_name, "fit") as run:
        seconds = _fit_with_progress(model, df, _fit_callbacks(run))
        with _status(console, f"Saving model to {path}"):
            model.save(path, overwrite=replace)
        if run is not None:
            from synthkit.tracking import log_fit, log_model

            with _status(console, "Logging to MLflow"):
                import mlflow

                mlflow.log_params({"input_path": str(data.absolute()), "model_dir": str(path)})
                log_fit(model, df, seconds)
                log_model(model, "model", training_data=df)
    if not main_rank:
        return
    kind = "anomaly detector" if anomaly else "synthesizer"
    click.echo(
        f"Fitted {kind} (backend {backend}) on {len(df):,} rows x {df.shape[1]} columns"
        f" in {seconds:.1f} s; saved to:",
        err=True,
    )
    click.echo(str(path))


@main.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option(
    "-n",
    "--n-rows",
    "n_rows",
    type=int,
    default=None,
    help="Number of rows to generate (> 0); not needed with --conditions.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Output table (.parquet, .csv, .csv.gz, .feather...); replaced if it exists.",
)
@click.option("--seed", type=int, default=None, help="Random seed, for reproducible samples.")
@click.option(
    "--condition",
    "condition",
    multiple=True,
    metavar="COLUMN=VALUE",
    callback=_parse_pairs,
    help="Fix a column in every generated row (repeatable): --condition sex=Female"
    " --condition age=30. The other columns come from the model's conditional distribution.",
)
@click.option(
    "--conditions",
    "conditions_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Table of per-row conditions: one generated row per row, a null cell = not given.",
)
@_LOAD_DEVICE_OPTION
@_tracking_options
def sample(
    model_dir: Path,
    n_rows: int | None,
    output: Path,
    seed: int | None,
    condition: dict[str, Any],
    conditions_file: Path | None,
    device: str | None,
    track: bool,
    experiment: str | None,
    run_name: str | None,
) -> None:
    """Generate synthetic rows from the model in MODEL_DIR.

    With tracking on (the default), n, the seed and the model path are logged to an MLflow
    run, and the output table too when it is under 50 MB.
    Prints the output file's absolute path on stdout.
    """
    from synthkit.errors import ConfigError

    if condition and conditions_file is not None:
        raise ConfigError("give either --condition or --conditions, not both")
    if conditions_file is None and n_rows is None:
        raise ConfigError("-n/--n-rows is required (the number of rows to generate)")
    if n_rows is not None and n_rows <= 0:
        raise ConfigError(f"-n/--n-rows must be a positive number of rows, got {n_rows}")
    out = _check_output(output, *([conditions_file] if conditions_file else []))
    console = _stderr_console()
    conditions: Any = condition or None
    if conditions_file is not None:
        conditions = _read_data(conditions_file, console)
        n_rows = n_rows or len(conditions)
    model = _load_model(model_dir, device, console)
    synthesizer = model.synthesizer_ if _is_detector(model) else model

    from synthkit.io import write_table

    with _tracking(track, experiment, run_name, "sample") as run:
        start = time.perf_counter()
        with _status(console, f"Sampling {n_rows:,} rows"):
            df = synthesizer.sample(n_rows, conditions=conditions, random_state=seed)
        seconds = time.perf_counter() - start
        with _status(console, f"Writing {out}"):
            written = write_table(df, out)
        if run is not None:
            _log_sample(model_dir, n_rows, seed, seconds, written)
    click.echo(f"Wrote {len(df):,} synthetic rows x {df.shape[1]} columns to:", err=True)
    click.echo(str(out))


def _log_sample(model_dir: Path, n_rows: int, seed: int | None, seconds: float, out: Path) -> None:
    """Log a ``sample`` call to the active run; the table itself if it is small enough."""
    import mlflow

    mlflow.log_params({"n": n_rows, "seed": seed, "model_dir": str(model_dir.absolute())})
    mlflow.log_metric("sample_seconds", seconds)
    size = _path_size(out)
    if size <= MAX_ARTIFACT_BYTES:
        if out.is_dir():
            mlflow.log_artifacts(str(out), artifact_path=f"samples/{out.name}")
        else:
            mlflow.log_artifact(str(out), artifact_path="samples")
    else:
        click.echo(
            f"warning: {out} is {size / 2**20:.0f} MB, over the"
            f" {MAX_ARTIFACT_BYTES // 2**20} MB artifact limit; logged its path only",
            err=True,
        )
        mlflow.set_tag("synthkit.output", str(out))


def _path_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


@main.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="A .parquet/.csv file (replaced if it exists) or a directory of part files "
    "(resumed if the same job was interrupted).",
)
@click.option(
    "--keep",
    "--id-col",
    "keep",
    multiple=True,
    metavar="COLUMN",
    help="Copy this column of DATA into the output, e.g. an id (repeatable).",
)
@click.option("--keep-all", is_flag=True, help="Copy every column of DATA into the output.")
@click.option(
    "--explain",
    type=int,
    default=None,
    metavar="K",
    help="Add the K columns that contribute most to each row's score (if the backend can).",
)
@click.option(
    "--batch-rows",
    type=click.IntRange(min=1),
    default=262_144,
    show_default=True,
    help="Rows scored at once; memory grows with it.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an output directory holding a different job's results.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="local: stream on this machine (resumable part by part); spark: run on Apache Spark"
    " (pip install 'synthkit[spark]').",
)
@click.option(
    "--master",
    default=None,
    metavar="URL",
    help="Spark master for --engine spark (default local[*]; under spark-submit, its own).",
)
@_LOAD_DEVICE_OPTION
@_tracking_options
def score(
    model_dir: Path,
    data: Path,
    output: Path,
    keep: tuple[str, ...],
    keep_all: bool,
    explain: int | None,
    batch_rows: int,
    overwrite: bool,
    engine: str,
    master: str | None,
    device: str | None,
    track: bool,
    experiment: str | None,
    run_name: str | None,
) -> None:
    """Score each row of DATA with the model in MODEL_DIR, streaming (any size).

    DATA is a Parquet or CSV file or a directory of Parquet files. Writes the kept columns,
    ``score`` (log-likelihood of the row; lower is more unusual), ``is_anomaly`` (anomaly
    detectors only) and, with --explain, the explanation columns. Rows that cannot be scored
    (text in a numeric column, infinite values...) go to a rejects file with the reason. An
    interrupted run resumes where it stopped when rerun. With tracking on (the default), the
    model, input and row count are logged to an MLflow run with rows scored, rows/s and the
    rejected count. Prints the output path on stdout.
    """
    from synthkit.errors import ConfigError, DataValidationError
    from synthkit.jobs import input_columns, score_job

    if master is not None and engine != "spark":
        raise ConfigError("--master is only for --engine spark")

    if explain is not None and explain < 1:
        raise ConfigError(f"--explain must be a positive number of columns, got {explain}")
    single_file = output.suffix != "" and not output.is_dir()
    out = _check_output(output, data) if single_file else output
    console = _stderr_console()
    model = _load_model(model_dir, device, console)
    detector = _is_detector(model)
    if explain is not None and not detector:
        raise ConfigError(
            "--explain needs an anomaly detector; this model was fitted with --no-anomaly"
        )
    columns = input_columns(data)
    kept = list(columns) if keep_all else list(dict.fromkeys(keep))
    reserved = {"score", "is_anomaly"} if detector else {"score"}
    if keep_all:
        kept = [c for c in kept if c not in reserved]  # the input's own "score" is not copied
    problems = [f"--keep column {c!r} is not in {data}" for c in kept if c not in columns]
    problems += [
        f"--keep column {c!r} clashes with the output column of that name; rename it in {data}"
        for c in kept
        if c in reserved
    ]
    if problems:  # checked before scoring, which is the slow part
        raise DataValidationError(problems, prefix="score")

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with (
        _tracking(track, experiment, run_name, "score") as run,
        Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rows]} rows"),
            console=console,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("score", total=None, rows="0")

        def progress(done: int, total: int, rows: int) -> None:
            bar.update(task, completed=done, total=total, rows=f"{rows:,}")

        options: dict[str, Any] = {
            "keep": kept,
            "explain": explain or 0,
            "batch_rows": batch_rows,
            "overwrite": overwrite or single_file,
            "device": device,
            "on_progress": progress,
        }
        if engine == "spark":
            from synthkit.jobs import score_job_spark

            summary = score_job_spark(model_dir, data, out, master=master, **options)
        else:
            # The saved files (not the loaded model) fingerprint the job exactly.
            summary = score_job(model_dir, data, out, **options)
        if run is not None:
            from synthkit.tracking._runs import log_score_job

            log_score_job(summary, model_dir=model_dir, data=data, engine=engine)
    if summary.units_resumed:
        click.echo(
            f"Resumed: {summary.units_resumed} of {summary.units} parts were done.", err=True
        )
    if not detector:
        click.echo(
            f"Scored {summary.rows_scored:,} rows. No is_anomaly column: the model is a plain"
            " synthesizer with no threshold (fit without --no-anomaly to get one).",
            err=True,
        )
    else:
        share = 100 * summary.anomalies / max(summary.rows_scored, 1)
        click.echo(
            f"Scored {summary.rows_scored:,} rows; {summary.anomalies:,} flagged as anomalies"
            f" ({share:.1f} %).",
            err=True,
        )
    if summary.rows_rejected:
        click.echo(
            f"warning: {summary.rows_rejected:,} rows could not be scored; they are in"
            f" {summary.rejects} with the reason",
            err=True,
        )
    click.echo(str(Path(summary.output).absolute()))


#: Files ``synthkit report`` writes into its output directory.
_REPORT_FILES = ("report.json", "report.html")


@main.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option(
    "--real", type=click.Path(path_type=Path), required=True, help="The real training rows."
)
@click.option(
    "--holdout",
    type=click.Path(path_type=Path),
    default=None,
    help="Real rows the model did not see (noise floor, held-out NLL, DCR share, attack).",
)
@click.option(
    "--synthetic",
    type=click.Path(path_type=Path),
    default=None,
    help="Synthetic rows to judge [default: sample from the model].",
)
@click.option(
    "-n",
    "--n-rows",
    "n_rows",
    type=click.IntRange(min=1),
    default=None,
    help="Rows to sample when no --synthetic is given [default: as many as --real].",
)
@click.option("--target", default=None, metavar="COLUMN", help="Target column for TSTR.")
@click.option(
    "--label-col",
    default=None,
    metavar="COLUMN",
    help="Anomaly labels (bool, 0/1 with 1 = anomaly, or -1/+1 with -1 = anomaly); scored on"
    " --holdout when it has the column, else on --real.",
)
@click.option(
    "--anomaly-label",
    default=None,
    metavar="VALUE",
    help="The --label-col value that marks an anomaly, for other label conventions.",
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory to write report.json and report.html into.",
)
@click.option("--overwrite", is_flag=True, help="Replace the output directory's report.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@_LOAD_DEVICE_OPTION
@_tracking_options
def report(
    model_dir: Path,
    real: Path,
    holdout: Path | None,
    synthetic: Path | None,
    n_rows: int | None,
    target: str | None,
    label_col: str | None,
    anomaly_label: str | None,
    out_dir: Path,
    overwrite: bool,
    seed: int,
    device: str | None,
    track: bool,
    experiment: str | None,
    run_name: str | None,
) -> None:
    """Judge the model in MODEL_DIR: fidelity, privacy, efficacy and anomaly metrics.

    Writes report.json (every number) and report.html (one self-contained page with plots
    and what each number means) into the output directory, which appears complete or not at
    all. With tracking on (the default), the numbers are logged as MLflow metrics and both
    files as artifacts. Prints the output directory on stdout. See docs/reports.md.
    """
    from synthkit.errors import ConfigError

    if synthetic is not None and n_rows is not None:
        raise ConfigError("give either --synthetic or --n-rows, not both")
    if anomaly_label is not None and label_col is None:
        raise ConfigError("--anomaly-label needs --label-col")
    out = _check_report_dir(out_dir, overwrite)
    console = _stderr_console()
    model = _load_model(model_dir, device, console)
    real_df = _read_data(real, console)
    holdout_df = None if holdout is None else _read_data(holdout, console)
    synthetic_df = None if synthetic is None else _read_data(synthetic, console)

    from synthkit.reports import build_report

    with _tracking(track, experiment, run_name, "report") as run:
        status = console.status("Report")
        with status:
            result = build_report(
                model,
                real_df,
                synthetic=synthetic_df,
                holdout=holdout_df,
                target=target,
                labels=label_col,
                positive_label=_parse_value(anomaly_label) if anomaly_label else None,
                n_rows=n_rows,
                random_state=seed,
                device=device,
                on_section=lambda name: status.update(f"Report: {name}"),
            )
            status.update("Report: writing")
            _write_report_dir(result, out)
        if run is not None:
            import mlflow

            params = {"model_dir": model_dir.absolute(), "real": real.absolute(), "seed": seed}
            params.update(holdout=holdout, synthetic=synthetic, n_rows=n_rows, target=target)
            params["label_col"] = label_col
            mlflow.log_params({k: str(v) for k, v in params.items() if v is not None})
            mlflow.log_metrics(result.flat_metrics())
            for name in _REPORT_FILES:
                mlflow.log_artifact(str(out / name), artifact_path="report")
    for finding in result.findings():
        if finding.level == "warning":
            click.echo(f"warning: {finding.section}: {finding.message}", err=True)
    seconds = sum(result.metrics["timings"].values())
    click.echo(f"Report written in {seconds:.1f} s to:", err=True)
    click.echo(str(out))


def _check_report_dir(out_dir: Path, overwrite: bool) -> Path:
    """Refuse to replace anything but an earlier report (and only with --overwrite)."""
    from synthkit.errors import ConfigError

    out = out_dir.absolute()
    if not out.exists():
        return out
    if not out.is_dir():
        raise ConfigError(f"{out} exists and is not a directory; choose another -o")
    entries = {p.name for p in out.iterdir()}
    if entries and not overwrite:
        raise ConfigError(f"{out} is not empty; pass --overwrite to replace its report")
    if entries - set(_REPORT_FILES):
        raise ConfigError(
            f"{out} holds files other than a synthkit report; refusing to replace it,"
            " choose another -o"
        )
    return out


def _write_report_dir(result: Any, out: Path) -> None:
    """Write both files into a temporary sibling directory, then rename it into place."""
    import shutil
    import tempfile

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        result.to_json(tmp / "report.json")
        result.to_html(tmp / "report.html")
        if out.exists():  # an earlier report (checked by _check_report_dir)
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@main.command()
def backends() -> None:
    """List the model backends: likelihood type, explanations, conditioning, description."""
    import inspect

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from synthkit import backends as registry

    table = Table(title="synthkit backends")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("likelihood", no_wrap=True)
    table.add_column("explain", no_wrap=True)
    table.add_column("conditions", no_wrap=True)
    table.add_column("description")
    for name in registry.available():
        try:
            cls = registry.get_backend_class(name)
        except Exception as exc:  # e.g. an optional dependency is missing: say so, go on
            table.add_row(name, "?", "?", "?", Text(f"unavailable: {_one_line(str(exc))}"))
            continue
        if not getattr(cls, "has_log_prob", False):
            likelihood = "none"
        elif getattr(cls, "exact_log_prob", False):
            likelihood = "exact"
        else:
            likelihood = "approx."  # an estimate (vae) or a bound (diffusion)
        explains = "yes" if getattr(cls, "supports_explain", False) else "no"
        conditions = "yes" if getattr(cls, "supports_conditions", False) else "no"
        doc = inspect.getdoc(cls) or ""
        summary = Text(doc.strip().splitlines()[0] if doc else "")
        table.add_row(name, likelihood, explains, conditions, summary)
    Console().print(table)


@main.command()
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DEMO_DIR,
    show_default=True,
    help="Directory for the demo's data, model, samples and scores (files are replaced).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, mps...")
@_tracking_options
def demo(
    out_dir: Path,
    seed: int,
    device: str,
    track: bool,
    experiment: str | None,
    run_name: str | None,
) -> None:
    """Run the whole workflow on a bundled 4,000-row sample of UCI Adult.

    Fits on 80 % of the rows, samples, scores, and reports fidelity against the held-out
    20 % (the noise floor). Writes data.parquet, model/, synthetic.parquet, scores.parquet
    and report.json under the output directory, then prints a summary and every path.
    With tracking on (the default), all of it is logged to one MLflow run: params, training
    curve, the report's numbers as metrics, the model and the output files.
    """
    with _tracking(track, experiment, run_name, "demo") as run:
        _demo(out_dir, seed, device, run)


def _demo(out_dir: Path, seed: int, device: str, run: Any | None) -> None:
    """The body of ``synthkit demo``; logs to ``run`` when it is not ``None``."""
    import json

    import numpy as np

    from synthkit import AnomalyDetector
    from synthkit.datasets import load_adult_sample
    from synthkit.io import write_table
    from synthkit.reports import fidelity_summary

    out_dir = out_dir.absolute()
    console = _stderr_console()
    df = load_adult_sample()
    data_path = write_table(df, out_dir / "data.parquet")
    click.echo(
        f"Loaded the bundled UCI Adult sample: {len(df):,} rows x {df.shape[1]} columns",
        err=True,
    )

    order = np.random.default_rng(seed).permutation(len(df))
    n_train = int(0.8 * len(df))
    train = df.iloc[order[:n_train]].reset_index(drop=True)
    holdout = df.iloc[order[n_train:]].reset_index(drop=True)
    # The demo reports fidelity, so it keeps the Synthesizer's encoding (quantile transform,
    # spike states) rather than the detector's defaults, which rank anomalies better but
    # sample less faithfully.
    detector = AnomalyDetector(
        backend="gmm",
        continuous_transform="quantile",
        max_spikes=5,
        random_state=seed,
        device=device,
    )
    fit_seconds = _fit_with_progress(detector, train, _fit_callbacks(run))

    model_path = out_dir / "model"
    with _status(console, "Saving the model"):
        detector.save(model_path, overwrite=True)
    with _status(console, f"Sampling {len(train):,} synthetic rows"):
        synthetic = detector.synthesizer_.sample(len(train), random_state=seed)
    synthetic_path = write_table(synthetic, out_dir / "synthetic.parquet")

    with _status(console, "Scoring"):
        real_scores = detector.score_samples(df)
        flags = detector.predict(df) == -1
        synthetic_scores = detector.score_samples(synthetic)
    scored = df.assign(score=real_scores, is_anomaly=flags)
    scores_path = write_table(scored, out_dir / "scores.parquet")

    with _status(console, "Reporting fidelity"):
        fid = fidelity_summary(train, synthetic)
        floor = fidelity_summary(train, holdout)  # a fresh real sample: the noise floor
    report = {
        "dataset": "UCI Adult sample (bundled)",
        "n_train": len(train),
        "n_holdout": len(holdout),
        "backend": "gmm",
        "fit_seconds": fit_seconds,
        "shape_error_pct": fid["shape_error_pct"],
        "trend_error_pct": fid["trend_error_pct"],
        "noise_floor_shape_error_pct": floor["shape_error_pct"],
        "noise_floor_trend_error_pct": floor["trend_error_pct"],
        "holdout_log_likelihood": detector.synthesizer_.score(holdout),
        "n_flagged": int(flags.sum()),
        "threshold": detector.threshold_,
    }
    report_path = out_dir / "report.json"
    tmp = report_path.with_name(report_path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2), encoding="utf-8")
    tmp.replace(report_path)  # atomic: never a half-written report
    if run is not None:
        with _status(console, "Logging to MLflow"):
            _log_demo(detector, train, report, out_dir)

    n_flagged = int(flags.sum())
    lines = [
        "",
        f"synthkit demo: UCI Adult sample, {len(train):,} training rows x {df.shape[1]} columns,"
        " backend gmm",
        f"  fit time                 {fit_seconds:.1f} s",
        f"  shape error              {fid['shape_error_pct']:.2f} %"
        f"   (noise floor {floor['shape_error_pct']:.2f} %)",
        f"  trend error              {fid['trend_error_pct']:.2f} %"
        f"   (noise floor {floor['trend_error_pct']:.2f} %)",
        f"  anomalies flagged        {n_flagged:,} of {len(df):,}"
        f" ({100 * n_flagged / len(df):.1f} %)",
        f"  mean log-likelihood      real {float(real_scores.mean()):.2f}"
        f"   synthetic {float(synthetic_scores.mean()):.2f}",
        "",
        "Outputs:",
        f"  data        {data_path}",
        f"  model       {model_path}",
        f"  synthetic   {synthetic_path}",
        f"  scores      {scores_path}",
        f"  report      {report_path}",
        "",
        "Next:",
        f"  synthkit sample {model_path} -n 1000 -o more.parquet",
        f"  synthkit score {model_path} {data_path} -o my_scores.parquet --explain 3",
    ]
    click.echo("\n".join(lines))


def _log_demo(detector: Any, train: pd.DataFrame, report: dict[str, Any], out_dir: Path) -> None:
    """Log the demo to the active run: fit params/metrics, report numbers, model, files."""
    import mlflow

    from synthkit.tracking import log_fit, log_model

    mlflow.log_params({"dataset": report["dataset"], "n_holdout": report["n_holdout"]})
    log_fit(detector, train, report["fit_seconds"])
    numbers = {
        f"report_{key}": float(value)
        for key, value in report.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    mlflow.log_metrics(numbers)
    log_model(detector, "model", training_data=train)
    for name in ("report.json", "synthetic.parquet", "scores.parquet"):
        path = out_dir / name
        if path.stat().st_size <= MAX_ARTIFACT_BYTES:
            mlflow.log_artifact(str(path), artifact_path="demo")


@main.command("run")
@click.argument("pipeline", type=click.Path(path_type=Path))
@click.option(
    "--track/--no-track",
    default=None,
    help="Override the pipeline's [tracking] enabled setting.",
)
def run_cmd(pipeline: Path, track: bool | None) -> None:
    """Run a declarative pipeline file (pipelines/NAME.toml): fit, sample/score, report.

    Prints a summary on stderr and the output directory on stdout.
    """
    from synthkit.callbacks import RichProgress
    from synthkit.pipeline import run_pipeline

    with RichProgress() as bar:
        result = run_pipeline(pipeline, track=track, callbacks=[bar])
    flat: dict[str, Any] = {}
    for key, value in result.report.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    lines = [f"pipeline {result.name}:"]
    lines += [
        f"  {k:<40} {v:.4g}" if isinstance(v, float) else f"  {k:<40} {v}" for k, v in flat.items()
    ]
    lines += [f"  {role:<40} {path}" for role, path in result.files.items()]
    if result.run_id:
        lines.append(f"  {'mlflow run':<40} {result.run_id}")
    click.echo("\n".join(lines), err=True)
    click.echo(result.output)


if __name__ == "__main__":  # pragma: no cover
    main()
