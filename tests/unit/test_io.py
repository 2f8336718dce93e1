"""Tests for synthkit.io: round trips per format, atomic writes, typed errors."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthkit.errors import DataValidationError, InputFileError, SynthkitError
from synthkit.io import SUPPORTED_EXTENSIONS, read_table, write_table


def _leftover_temporaries(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("ext", [".parquet", ".pq", ".feather", ".arrow"])
def test_binary_round_trip_keeps_dtypes_and_nulls(small_mixed, tmp_path, ext):
    out = write_table(small_mixed, tmp_path / f"t{ext}")
    assert out == (tmp_path / f"t{ext}").absolute()
    back = read_table(out)
    pd.testing.assert_frame_equal(back, small_mixed)
    assert _leftover_temporaries(tmp_path) == []


@pytest.mark.parametrize("ext", [".csv", ".csv.gz", ".CSV"])
def test_csv_round_trip(small_mixed, tmp_path, ext):
    path = tmp_path / f"t{ext}"
    write_table(small_mixed, path)
    back = read_table(path)
    assert list(back.columns) == list(small_mixed.columns)
    assert len(back) == len(small_mixed)
    # CSV has no types: numbers and nulls survive, datetimes come back as text.
    pd.testing.assert_series_equal(back["age"], small_mixed["age"])
    pd.testing.assert_series_equal(back["income"], small_mixed["income"])
    assert back["region"].isna().sum() == small_mixed["region"].isna().sum()
    assert back["active"].dtype == bool
    if ext == ".csv.gz":
        with gzip.open(path, "rt") as fh:
            assert fh.readline().startswith("segment,")


def test_read_parquet_directory_with_partitions_and_junk(small_mixed, tmp_path):
    d = tmp_path / "ds"
    for seg, part in small_mixed.groupby("segment"):
        sub = d / f"segment={seg}"
        sub.mkdir(parents=True)
        pq.write_table(
            pa.Table.from_pandas(part.drop(columns="segment"), preserve_index=False),
            sub / "part-0.parquet",
        )
    (d / "_SUCCESS").write_text("")
    (d / ".part-0.parquet.crc").write_text("junk")
    back = read_table(d)
    assert len(back) == len(small_mixed)
    assert set(back.columns) == set(small_mixed.columns)
    assert sorted(back["segment"].astype(str).unique()) == sorted(small_mixed["segment"].unique())


def test_read_keeps_named_index(tmp_path):
    df = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.Index(["a", "b"], name="key"))
    df.to_parquet(tmp_path / "i.parquet")  # pandas stores the named index as a column
    back = read_table(tmp_path / "i.parquet")
    assert list(back.columns) == ["key", "x"]
    assert isinstance(back.index, pd.RangeIndex)


def test_read_arrow_stream_format(tmp_path):
    table = pa.table({"a": [1, 2, 3], "b": ["x", None, "z"]})
    path = tmp_path / "s.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    back = read_table(path)
    assert back["a"].tolist() == [1, 2, 3]
    assert back["b"].isna().tolist() == [False, True, False]


def test_read_does_not_modify_the_input(small_mixed, tmp_path):
    path = tmp_path / "in.parquet"
    write_table(small_mixed, path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    read_table(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(InputFileError, match="no such file") as info:
        read_table(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, OSError)  # InputFileError is also an OSError


@pytest.mark.parametrize("name", ["data.xlsx", "data.gz", "data", "data.json", ".csv"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match="unsupported file type") as info:
        read_table(path)
    assert str(path) in str(info.value)
    assert ".parquet" in str(info.value)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.parquet", b"this is not parquet at all"),
        ("bad.pq", b"PAR1\x00\x00garbagePAR1"),
        ("bad.feather", b"ARROW1\x00\x00garbage"),
        ("bad.csv.gz", b"not gzip data"),
        ("bad.csv", b"\xff\xfe\x00\x81\x82 not utf-8\n\x80\x81,\x82\n"),
        ("ragged.csv", b'a,b\n1,2\n3,"4\n'),
    ],
)
def test_corrupt_files_raise_input_file_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        read_table(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_parquet(small_mixed, tmp_path):
    path = tmp_path / "t.parquet"
    write_table(small_mixed, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputFileError, match="cannot read"):
        read_table(path)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.csv", "", "no columns"),
        ("header_only.csv", "a,b\n", "no rows"),
    ],
)
def test_empty_csv(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataValidationError, match=problem) as info:
        read_table(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("ext", [".parquet", ".feather"])
def test_empty_binary_tables(tmp_path, ext):
    no_rows = tmp_path / f"rows{ext}"
    write_table(pd.DataFrame({"a": pd.Series([], dtype="float64")}), no_rows)
    with pytest.raises(DataValidationError, match="no rows"):
        read_table(no_rows)
    no_cols = tmp_path / f"cols{ext}"
    write_table(pd.DataFrame(), no_cols)
    with pytest.raises(DataValidationError, match="no columns"):
        read_table(no_cols)


def test_directory_without_parquet(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InputFileError, match=r"no \.parquet"):
        read_table(tmp_path)


def test_write_replaces_existing_file_atomically(small_mixed, tmp_path):
    path = tmp_path / "out.parquet"
    path.write_text("old content")
    write_table(small_mixed.head(5), path)
    assert len(read_table(path)) == 5
    assert _leftover_temporaries(tmp_path) == []


def test_write_creates_parent_directories(small_mixed, tmp_path):
    path = tmp_path / "a" / "b" / "out.csv"
    write_table(small_mixed.head(3), path)
    assert len(read_table(path)) == 3


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path):
    path = tmp_path / "out.parquet"
    path.write_bytes(b"previous")
    # A column of mixed Python objects that pyarrow cannot convert.
    df = pd.DataFrame({"a": pd.Series([1, "x", object()], dtype=object)})
    with pytest.raises(InputFileError, match="cannot write") as info:
        write_table(df, path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == b"previous"
    assert _leftover_temporaries(tmp_path) == []


def test_failed_write_on_interrupt_cleans_up(tmp_path, monkeypatch):
    def boom(self, *args, **kwargs):
        Path(args[0]).write_text("partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(KeyboardInterrupt):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


def test_write_errors(small_mixed, tmp_path):
    with pytest.raises(InputFileError, match="unsupported file type"):
        write_table(small_mixed, tmp_path / "out.xlsx")
    (tmp_path / "dir.parquet").mkdir()
    with pytest.raises(InputFileError, match="is a directory"):
        write_table(small_mixed, tmp_path / "dir.parquet")
    assert _leftover_temporaries(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_write_permission_denied(small_mixed, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(InputFileError, match="cannot write"):
            write_table(small_mixed, locked / "out.parquet")
    finally:
        locked.chmod(0o700)


def test_errors_are_synthkit_errors():
    assert issubclass(InputFileError, SynthkitError)
    assert issubclass(DataValidationError, SynthkitError)
    assert ".csv.gz" in SUPPORTED_EXTENSIONS


def test_load_adult_sample(data_dir):
    from synthkit.datasets import load_adult_sample

    df = load_adult_sample()
    assert df.shape == (4000, 15)
    ints = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
    assert all(df[c].dtype == "int64" for c in ints)
    assert df[["workclass", "occupation", "native-country"]].isna().sum().tolist() == [224, 224, 69]
    assert df.drop(columns=["workclass", "occupation", "native-country"]).notna().all().all()
    assert set(df["income"]) == {"<=50K", ">50K"}

    source = data_dir / "adult.parquet"
    if source.is_file():  # it is exactly the documented subsample of the shared table
        full = pd.read_parquet(source)
        expected = full.sample(n=4000, random_state=0).sort_index().reset_index(drop=True)
        pd.testing.assert_frame_equal(df, expected)


def test_datasets_import_is_light():
    import subprocess
    import sys

    code = "import sys, synthkit.datasets; print('pandas' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
