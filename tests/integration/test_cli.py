"""End-to-end tests of the ``synthkit`` command line on tiny tables (click's CliRunner)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from synthkit.cli import _parse_value, main
from synthkit.io import read_table, write_table

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(*args: object) -> Result:
    """Invoke the CLI in-process; exceptions that escape the CLI fail the test loudly."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_ok(result: Result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output
    return result.stdout.strip().splitlines()[-1]


def assert_clean_error(result: Result, *fragments: str, code: int = 1) -> str:
    """One ``error:`` line on stderr, the right exit code, no traceback."""
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert lines[-1] == errors[0], result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def subprocess_env() -> dict[str, str]:
    """Environment that imports synthkit from this checkout, installed or not."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def tiny(small_mixed: pd.DataFrame) -> pd.DataFrame:
    """200 rows of the mixed table: enough to fit, small enough to be quick."""
    return small_mixed.head(200).copy()


@pytest.fixture(scope="module")
def tiny_parquet(tmp_path_factory: pytest.TempPathFactory, tiny: pd.DataFrame) -> Path:
    return write_table(tiny, tmp_path_factory.mktemp("data") / "tiny.parquet")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory, tiny_parquet: Path, device: str) -> Path:
    """A detector fitted once through the CLI and shared by the read-only tests."""
    model = tmp_path_factory.mktemp("models") / "detector"
    out = assert_ok(run("fit", tiny_parquet, "-o", model, "--seed", 0, "--device", device))
    assert Path(out) == model
    return model


def files_under(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*")}


# --------------------------------------------------------------------------- happy paths


@pytest.mark.parametrize("ext", [".parquet", ".csv"])
def test_fit_sample_score_round_trip(tmp_path, tiny, device, ext):
    data = write_table(tiny.drop(columns="signup"), tmp_path / f"data{ext}")
    model = tmp_path / "model"

    result = run("fit", data, "-o", model, "--seed", 0, "--device", device)
    assert Path(assert_ok(result)) == model.absolute()
    assert model.is_dir()

    fake_path = tmp_path / f"fake{ext}"
    result = run("sample", model, "-n", 50, "-o", fake_path, "--seed", 1)
    assert Path(assert_ok(result)) == fake_path.absolute()
    fake = read_table(fake_path)
    assert len(fake) == 50
    assert list(fake.columns) == list(tiny.drop(columns="signup").columns)

    scores_path = tmp_path / f"scores{ext}"
    result = run("score", model, data, "-o", scores_path, "--keep", "age")
    assert Path(assert_ok(result)) == scores_path.absolute()
    assert "flagged as anomalies" in result.stderr
    scores = read_table(scores_path)
    assert list(scores.columns) == ["age", "score", "is_anomaly"]
    assert len(scores) == len(tiny)
    assert scores["is_anomaly"].dtype == bool
    assert scores["score"].notna().all()
    assert scores["age"].tolist() == tiny["age"].tolist()


def test_sample_is_reproducible_with_seed(tmp_path, fitted):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert_ok(run("sample", fitted, "-n", 20, "-o", a, "--seed", 7))
    assert_ok(run("sample", fitted, "-n", 20, "-o", b, "--seed", 7))
    pd.testing.assert_frame_equal(read_table(a), read_table(b))


def test_score_flags_match_the_python_api(tmp_path, fitted, tiny_parquet):
    import synthkit

    out = tmp_path / "s.parquet"
    assert_ok(run("score", fitted, tiny_parquet, "-o", out, "--keep-all"))
    scores = read_table(out)
    detector = synthkit.load(fitted)
    data = read_table(tiny_parquet)
    assert list(scores.columns) == [*data.columns, "score", "is_anomaly"]
    assert (scores["is_anomaly"] == (detector.predict(data) == -1)).all()
    pd.testing.assert_series_equal(
        scores["score"], pd.Series(detector.score_samples(data), name="score")
    )


def test_fit_without_options_uses_default_dir(tmp_path, monkeypatch, tiny_parquet, device):
    monkeypatch.chdir(tmp_path)
    first = assert_ok(run("fit", tiny_parquet, "--device", device))
    assert Path(first) == tmp_path / "synthkit-model"
    assert Path(first).is_absolute() and Path(first).is_dir()
    # A second fit does not clobber the first one...
    second = assert_ok(run("fit", tiny_parquet, "--device", device))
    assert Path(second) == tmp_path / "synthkit-model-2"
    # ...unless asked to.
    third = assert_ok(run("fit", tiny_parquet, "--device", device, "--overwrite"))
    assert Path(third) == tmp_path / "synthkit-model"
    assert not (tmp_path / "synthkit-model-3").exists()


def test_plain_synthesizer_has_no_threshold(tmp_path, tiny_parquet, device):
    model = tmp_path / "syn"
    result = run(
        "fit",
        tiny_parquet,
        "-o",
        model,
        "--no-anomaly",
        "--device",
        device,
        "--contamination",
        "0.1",
    )
    assert_ok(result)
    assert "--contamination is ignored" in result.stderr
    assert_ok(run("sample", model, "-n", 5, "-o", tmp_path / "f.csv"))
    result = run("score", model, tiny_parquet, "-o", tmp_path / "s.parquet")
    assert_ok(result)
    assert "No is_anomaly column" in result.stderr
    assert list(read_table(tmp_path / "s.parquet").columns) == ["score"]
    result = run("score", model, tiny_parquet, "-o", tmp_path / "e.parquet", "--explain", 2)
    assert_clean_error(result, "--explain needs an anomaly detector")
    assert not (tmp_path / "e.parquet").exists()


def test_fit_passes_params_and_schema(tmp_path, tiny_parquet, device):
    model = tmp_path / "m"
    result = run(
        "fit",
        tiny_parquet,
        "-o",
        model,
        "--device",
        device,
        "--seed",
        0,
        "--schema",
        "region=drop",
        "--schema",
        "age=numeric",
    )
    assert_ok(result)
    assert_ok(run("sample", model, "-n", 10, "-o", tmp_path / "f.parquet"))
    fake = read_table(tmp_path / "f.parquet")
    assert "region" not in fake.columns
    assert "segment" in fake.columns


def test_warnings_are_one_line(tmp_path, tiny, device):
    data = write_table(tiny.assign(const=1), tmp_path / "d.parquet")
    result = run("fit", data, "-o", tmp_path / "m", "--device", device)
    assert_ok(result)
    warning_lines = [line for line in result.stderr.splitlines() if "'const'" in line]
    assert len(warning_lines) == 1
    assert warning_lines[0].startswith("warning: ")


def test_explain(tmp_path, fitted, tiny_parquet):
    from synthkit.backends import get_backend_class

    out = tmp_path / "x.parquet"
    result = run("score", fitted, tiny_parquet, "-o", out, "--explain", 2)
    if get_backend_class("gmm").supports_explain:
        assert_ok(result)
        columns = list(read_table(out).columns)
        assert columns[:2] == ["score", "is_anomaly"]
        assert len(columns) > 2
    else:
        assert_clean_error(result)
        assert not out.exists()


def test_backends_listing():
    result = run("backends")
    assert_ok(result)
    for expected in ("gmm", "naive_bayes", "exact"):
        assert expected in result.stdout


def test_version():
    from synthkit import __version__

    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_parse_value():
    assert _parse_value("3") == 3
    assert _parse_value("0.5") == 0.5
    assert _parse_value("true") is True
    assert _parse_value("[1, 2]") == [1, 2]
    assert _parse_value("auto") == "auto"
    assert _parse_value("diag") == "diag"
    assert _parse_value("") == ""


# --------------------------------------------------------------------------- bad input


def test_fit_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nope.csv"
    assert_clean_error(run("fit", missing), str(missing), "no such file")
    assert files_under(tmp_path) == set()


def test_fit_unsupported_extension(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "data.xlsx"
    bad.write_bytes(b"PK\x03\x04")
    assert_clean_error(run("fit", bad), str(bad), "unsupported file type")
    assert files_under(tmp_path) == {bad}


def test_fit_empty_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b,c\n")
    assert_clean_error(run("fit", empty), str(empty), "no rows")
    assert files_under(tmp_path) == {empty}


def test_fit_corrupt_parquet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"definitely not parquet")
    assert_clean_error(run("fit", bad), str(bad))
    assert files_under(tmp_path) == {bad}


def test_fit_unknown_backend(tmp_path, tiny_parquet):
    assert_clean_error(run("fit", tiny_parquet, "-o", tmp_path / "m", "--backend", "nope"), "nope")
    assert not (tmp_path / "m").exists()


def test_fit_bad_param_syntax_is_a_usage_error(tmp_path, tiny_parquet):
    result = run("fit", tiny_parquet, "-o", tmp_path / "m", "--param", "novalue")
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output
    assert not (tmp_path / "m").exists()


def test_fit_refuses_existing_dir(tmp_path, tiny_parquet):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("keep me")
    assert_clean_error(run("fit", tiny_parquet, "-o", taken), "already exists", "--overwrite")
    # --overwrite only ever replaces a synthkit model, never an arbitrary folder.
    assert_clean_error(run("fit", tiny_parquet, "-o", taken, "--overwrite"), "not a synthkit model")
    assert (taken / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("n", [0, -5])
def test_sample_needs_positive_n(tmp_path, fitted, n):
    out = tmp_path / "fake.parquet"
    assert_clean_error(run("sample", fitted, "-n", n, "-o", out), "-n")
    assert files_under(tmp_path) == set()


def test_sample_unsupported_output(tmp_path, fitted):
    assert_clean_error(run("sample", fitted, "-n", 5, "-o", tmp_path / "f.xlsx"), "unsupported")
    assert files_under(tmp_path) == set()


def test_sample_missing_model(tmp_path):
    out = tmp_path / "f.parquet"
    assert_clean_error(run("sample", tmp_path / "no-model", "-n", 5, "-o", out), "no-model")
    assert files_under(tmp_path) == set()


def test_sample_from_a_directory_that_is_not_a_model(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "synthkit.json").write_text("{not json")
    out = tmp_path / "f.parquet"
    assert_clean_error(run("sample", tmp_path / "junk", "-n", 5, "-o", out))
    assert not out.exists()


def test_score_missing_column(tmp_path, fitted, tiny):
    data = write_table(tiny.drop(columns=["income"]), tmp_path / "d.parquet")
    out = tmp_path / "s.parquet"
    assert_clean_error(run("score", fitted, data, "-o", out), "income")
    assert files_under(tmp_path) == {data}


def test_score_missing_keep_column(tmp_path, fitted, tiny_parquet):
    out = tmp_path / "s.parquet"
    assert_clean_error(run("score", fitted, tiny_parquet, "-o", out, "--keep", "nope"), "'nope'")
    assert not out.exists()


def test_score_never_overwrites_its_input(tmp_path, fitted, tiny):
    data = write_table(tiny, tmp_path / "d.parquet")
    before = data.read_bytes()
    assert_clean_error(run("score", fitted, data, "-o", data), "overwrite the input")
    assert data.read_bytes() == before


def test_score_output_name_clash(tmp_path, fitted, tiny):
    data = write_table(tiny.assign(score=1.0), tmp_path / "d.parquet")
    out = tmp_path / "s.parquet"
    result = run("score", fitted, data, "-o", out, "--keep", "score")
    assert_clean_error(result, "'score' clashes")
    assert not out.exists()
    # Without --keep the input's own "score" column is simply not copied.
    assert_ok(run("score", fitted, data, "-o", out))
    assert list(read_table(out).columns) == ["score", "is_anomaly"]


def test_internal_error_is_one_line_and_debug_shows_traceback(tmp_path, monkeypatch):
    import synthkit.io

    def boom(path):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(synthkit.io, "read_table", boom)
    data = tmp_path / "d.csv"
    result = run("fit", data, "-o", tmp_path / "m")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "internal error: RuntimeError: boom second line (rerun with --debug for the traceback)"
    )
    assert "Traceback" not in result.output

    result = run("--debug", "fit", data, "-o", tmp_path / "m")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert not (tmp_path / "m").exists()


def test_failed_fit_stops_progress_and_saves_nothing(tmp_path, monkeypatch, tiny_parquet):
    from synthkit.anomaly import AnomalyDetector
    from synthkit.callbacks import notify
    from synthkit.errors import BackendError

    seen = []

    def failing_fit(self, df, y=None, *, callbacks=None):
        notify(callbacks, "on_fit_start", 10, "fake")
        seen.extend(callbacks)
        raise BackendError("EM diverged")

    monkeypatch.setattr(AnomalyDetector, "fit", failing_fit)
    model = tmp_path / "m"
    assert_clean_error(run("fit", tiny_parquet, "-o", model), "EM diverged")
    assert not model.exists()
    bar = getattr(seen[0], "_progress", None)
    assert bar is None or not bar.live.is_started


def test_usage_errors_keep_exit_code_2(fitted):
    assert run("sample", fitted).exit_code == 2  # missing -n and -o
    assert run("no-such-command").exit_code == 2


# --------------------------------------------------------------------------- start-up cost


def test_help_is_fast_and_light():
    code = (
        "import subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "subprocess.run([sys.executable, '-m', 'synthkit', '--help'], check=True,"
        " stdout=subprocess.DEVNULL)\n"
        "print(time.perf_counter() - t)\n"
    )
    env = subprocess_env()
    subprocess.run(
        [sys.executable, "-m", "synthkit", "--help"], env=env, check=True, capture_output=True
    )  # warm the file cache and bytecode
    timings = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(2)
    ]
    assert min(timings) < 1.5, timings


def test_cli_import_does_not_load_heavy_modules():
    code = (
        "import sys, synthkit.cli\n"
        "print(sorted(m for m in ('torch', 'pandas', 'numpy', 'sklearn', 'pyarrow', 'rich')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert out == "[]"


# --------------------------------------------------------------------------- demo


def test_demo(tmp_path, device):
    out = tmp_path / "demo"
    start = time.perf_counter()
    result = run("demo", "-o", out, "--device", device)
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    for name in ("data.parquet", "synthetic.parquet", "scores.parquet"):
        assert (out / name).is_file()
        assert str(out / name) in result.stdout
    assert (out / "model").is_dir()
    assert "anomalies flagged" in result.stdout
    assert "mean log-likelihood" in result.stdout
    data = read_table(out / "data.parquet")
    assert data.shape == (4000, 15)
    assert read_table(out / "synthetic.parquet").shape == (3200, 15)  # the 80 % training split
    scores = read_table(out / "scores.parquet")
    assert list(scores.columns[-2:]) == ["score", "is_anomaly"]
    assert 0 < scores["is_anomaly"].sum() < 400
    report = json.loads((out / "report.json").read_text())
    assert str(out / "report.json") in result.stdout
    assert report["n_train"] == 3200 and report["n_holdout"] == 800
    # A reasonable model of 3,200 rows is within a few points of the real-data noise floor.
    assert 0 <= report["shape_error_pct"] < report["noise_floor_shape_error_pct"] + 2
    assert 0 <= report["trend_error_pct"] < report["noise_floor_trend_error_pct"] + 3
    print(f"demo took {elapsed:.1f} s")


def test_report_help_does_not_load_heavy_modules():
    code = (
        "import sys\n"
        "from synthkit.cli import main\n"
        "try:\n    main(['report', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'mlflow', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    for option in ("--real", "--holdout", "--synthetic", "--n-rows", "--label-col", "--no-track"):
        assert option in proc.stdout


def test_sample_with_conditions(tmp_path, fitted, tiny):
    out = tmp_path / "c.parquet"
    assert_ok(run("sample", fitted, "-n", 30, "-o", out, "--condition", "segment=public",
                  "--seed", 1, "--no-track"))  # fmt: skip
    fake = read_table(out)
    assert len(fake) == 30 and (fake["segment"] == "public").all()
    per_row = tmp_path / "cond.csv"
    cond = pd.DataFrame({"segment": ["retail", "corporate"], "age": [30, None]})
    cond.to_csv(per_row, index=False)
    per_row_out = tmp_path / "d.parquet"
    assert_ok(run("sample", fitted, "--conditions", per_row, "-o", per_row_out, "--no-track"))
    fake = read_table(per_row_out)
    assert fake["segment"].tolist() == ["retail", "corporate"] and fake["age"].iloc[0] == 30
    bad = run("sample", fitted, "-n", 5, "-o", tmp_path / "e.parquet", "--condition",
              "segment=nowhere", "--no-track")  # fmt: skip
    assert_clean_error(bad, "impossible conditions", "never seen")
