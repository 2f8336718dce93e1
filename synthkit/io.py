"""Read and write tables (CSV, Parquet, Feather/Arrow) with clear, typed errors.

Formats are chosen by file extension:

========================  =====================================================
extension                 format
========================  =====================================================
``.csv``, ``.csv.gz``     comma-separated text (gzip-compressed for ``.gz``)
``.parquet``, ``.pq``     Apache Parquet
``.feather``, ``.arrow``  Arrow IPC file (Feather v2)
a directory               every ``*.parquet`` / ``*.pq`` file under it (read only)
========================  =====================================================

Outputs are written atomically: to a temporary file in the target directory, then renamed
over the target, so a reader never sees a half-written file and a failure leaves nothing
behind. Input files are only ever opened for reading.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from synthkit.errors import DataValidationError, InputFileError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SUPPORTED_EXTENSIONS", "read_table", "table_format", "write_table"]

#: File extensions understood by :func:`read_table` and :func:`write_table`.
SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".csv",
    ".csv.gz",
    ".parquet",
    ".pq",
    ".feather",
    ".arrow",
)

_FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv.gz",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
}
_PARQUET_SUFFIXES = (".parquet", ".pq")


def table_format(path: str | os.PathLike[str]) -> str:
    """Return the table format that ``path``'s extension names.

    Use it to reject a bad output name before doing expensive work.

    Args:
        path: a file name; only its extension is looked at (case-insensitive).

    Returns:
        ``"csv"``, ``"csv.gz"``, ``"parquet"`` or ``"feather"``.

    Raises:
        InputFileError: the extension is not one of :data:`SUPPORTED_EXTENSIONS`.
    """
    path = Path(path)
    name = path.name.lower()
    # Longest first so that ".csv.gz" wins over a bare ".gz".
    for ext in sorted(_FORMATS, key=len, reverse=True):
        if name.endswith(ext) and len(name) > len(ext):
            return _FORMATS[ext]
    raise InputFileError(
        f"{path}: unsupported file type; expected one of {', '.join(SUPPORTED_EXTENSIONS)}"
        " (or a directory of Parquet files)"
    )


def _check_not_empty(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Raise :class:`DataValidationError` if ``df`` has no rows or no columns."""
    problems = []
    if df.shape[1] == 0:
        problems.append("the table has no columns")
    if df.shape[0] == 0:
        problems.append("the table has no rows")
    if problems:
        raise DataValidationError(problems, prefix=str(path))
    return df


def _parquet_files(directory: Path) -> list[str]:
    """List Parquet files under ``directory``, skipping hidden and ``_``-prefixed entries.

    Spark and Hive write ``_SUCCESS``, ``.crc`` and ``_metadata`` files next to the data;
    pyarrow would fail on them, so only Parquet-named files are kept.
    """
    files = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        files.extend(
            os.path.join(root, n)
            for n in sorted(names)
            if not n.startswith((".", "_")) and n.lower().endswith(_PARQUET_SUFFIXES)
        )
    return files


def _read_parquet_dir(directory: Path) -> pd.DataFrame:
    """Read a (possibly Hive-partitioned) directory of Parquet files into one DataFrame."""
    import pyarrow.dataset as ds

    files = _parquet_files(directory)
    if not files:
        raise InputFileError(f"{directory}: directory contains no .parquet or .pq files")
    dataset = ds.dataset(
        files, format="parquet", partitioning="hive", partition_base_dir=str(directory)
    )
    return dataset.to_table().to_pandas()


def _read_feather(path: Path) -> pd.DataFrame:
    """Read an Arrow IPC file (Feather v1/v2), falling back to the IPC stream format."""
    import pyarrow as pa
    import pyarrow.feather as feather

    try:
        table = feather.read_table(path)
    except pa.ArrowInvalid:
        # ".arrow" files are sometimes written with the streaming IPC format.
        with pa.OSFile(str(path), "rb") as source:
            table = pa.ipc.open_stream(source).read_all()
    return table.to_pandas()


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table from a CSV, Parquet or Feather/Arrow file, or a directory of Parquet files.

    The format is chosen by extension (see :data:`SUPPORTED_EXTENSIONS`). CSV files must be
    UTF-8; empty fields and pandas' usual markers (``NA``, ``null``...) become missing values.
    The file is only opened for reading.

    Args:
        path: the file, or a directory holding ``*.parquet`` / ``*.pq`` files (read as one
            table through ``pyarrow.dataset``; Hive partitions become columns).

    Returns:
        The table as a DataFrame with a default ``RangeIndex``.

    Raises:
        InputFileError: the path does not exist, has an unsupported extension, or cannot be
            read or parsed (corrupt, truncated, not UTF-8, not the format its name says).
        DataValidationError: the table has no rows or no columns.

    Example:
        >>> from synthkit.io import read_table
        >>> df = read_table("customers.parquet")  # doctest: +SKIP
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file or directory")
    if path.is_dir():
        fmt = "parquet-dir"
    else:
        fmt = table_format(path)
        if not path.is_file():
            raise InputFileError(f"{path}: not a regular file")

    try:
        if fmt == "parquet-dir":
            df = _read_parquet_dir(path)
        elif fmt in ("csv", "csv.gz"):
            df = pd.read_csv(
                path, compression="gzip" if fmt == "csv.gz" else None, low_memory=False
            )
        elif fmt == "parquet":
            df = pd.read_parquet(path)
        else:
            df = _read_feather(path)
    except InputFileError:
        raise
    except pd.errors.EmptyDataError:
        # pandas' word for a CSV with no header line at all.
        raise DataValidationError("the table has no columns", prefix=str(path)) from None
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{path}: cannot decode the file as UTF-8 ({exc.reason} at byte {exc.start});"
            " re-save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the file: {_reason(exc)}") from exc
    except Exception as exc:  # parser errors differ per format and library version
        raise InputFileError(
            f"{path}: cannot read it as {fmt.replace('-dir', ' directory')}: {_reason(exc)}"
        ) from exc

    if not isinstance(df.index, pd.RangeIndex):
        # A named index (e.g. Parquet written by pandas with index=True) is data: keep it.
        df = df.reset_index(drop=all(name is None for name in df.index.names))
    return _check_not_empty(df, path)


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` to ``path`` atomically, in the format its extension names.

    The data go to a hidden temporary file in the target directory, which is then renamed
    over ``path`` (``os.replace``), so ``path`` is either the complete new table or untouched.
    The temporary file is removed if writing fails. Missing parent directories are created.
    The index is not written.

    Args:
        df: the table to write.
        path: the output file; its extension picks the format (see
            :data:`SUPPORTED_EXTENSIONS`). An existing file is replaced.

    Returns:
        The absolute path written.

    Raises:
        InputFileError: unsupported extension, ``path`` is a directory, or the file cannot
            be written (permissions, disk full, a column pyarrow cannot store...).

    Example:
        >>> from synthkit.io import write_table
        >>> write_table(df, "out/synthetic.parquet")  # doctest: +SKIP
    """
    path = Path(path).absolute()
    fmt = table_format(path)
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory; give a file name to write to")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot create its directory: {_reason(exc)}") from exc

    # Same directory so os.replace is an atomic rename; hidden and *.tmp so it is easy to
    # spot (and ignore) if the process is killed mid-write.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        if fmt in ("csv", "csv.gz"):
            df.to_csv(tmp, index=False, compression="gzip" if fmt == "csv.gz" else None)
        elif fmt == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            # Feather needs a default RangeIndex and cannot store any other.
            df.reset_index(drop=True).to_feather(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise InputFileError(f"{path}: cannot write the file: {_reason(exc)}") from exc
        if isinstance(exc, Exception):
            raise InputFileError(f"{path}: cannot write the table: {_reason(exc)}") from exc
        raise  # KeyboardInterrupt and friends: clean up, then let them through
    return path


def _reason(exc: BaseException) -> str:
    """A one-line description of ``exc`` (strerror for OS errors, else the message)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
