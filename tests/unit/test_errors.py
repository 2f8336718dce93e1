"""Bad input through the Python API: typed errors from synthkit.errors that name the column."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from synthkit import AnomalyDetector, Synthesizer
from synthkit.errors import (
    BackendError,
    ConfigError,
    DataValidationError,
    IncompatibleModelError,
    InputFileError,
    NotFittedError,
    SchemaError,
    SynthkitError,
)
from synthkit.schema import infer_schema


def _table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2.0, size=n)),  # has nulls
            "k": rng.integers(0, 1000, n),
            "c": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
            "flag": rng.random(n) < 0.5,
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, n), "D"),
        }
    )


@pytest.fixture(scope="module")
def fitted() -> Synthesizer:
    return Synthesizer("gmm", {"n_components": 2}, device="cpu", random_state=0).fit(_table())


def _raises_naming(error: type, columns: list[str], call) -> Exception:
    with pytest.raises(error) as exc:
        call()
    for col in columns:
        assert f"'{col}'" in str(exc.value), (col, str(exc.value))
    return exc.value


# ---------------------------------------------------------------- the hierarchy
def test_error_hierarchy() -> None:
    for cls in (
        SchemaError,
        DataValidationError,
        NotFittedError,
        IncompatibleModelError,
        ConfigError,
        BackendError,
        InputFileError,
    ):
        assert issubclass(cls, SynthkitError)
    # Usable where callers catch the standard exceptions (scikit-learn does).
    for cls in (SchemaError, DataValidationError, ConfigError, NotFittedError):
        assert issubclass(cls, ValueError)
    assert issubclass(NotFittedError, AttributeError) and issubclass(InputFileError, OSError)


def test_problems_error_lists_every_problem() -> None:
    one = DataValidationError("column 'a' is bad")
    assert one.problems == ["column 'a' is bad"] and str(one) == "column 'a' is bad"
    many = DataValidationError(["column 'a' is bad", "column 'b' is bad"], prefix="scoring")
    assert many.problems == ["column 'a' is bad", "column 'b' is bad"]
    assert str(many) == "scoring: 2 problems: column 'a' is bad; column 'b' is bad"


# --------------------------------------------------------------------- at fit
@pytest.mark.parametrize("shape", [(0, 6), (300, 0), (0, 0)])
def test_empty_frame_at_fit(shape: tuple[int, int]) -> None:
    df = _table().iloc[: shape[0], : shape[1]]
    with pytest.raises(DataValidationError, match="empty"):
        Synthesizer(device="cpu").fit(df)


@pytest.mark.parametrize("value", [np.nan, None])
def test_all_null_column_at_fit(value: object) -> None:
    df = _table().assign(blank=value)
    err = _raises_naming(DataValidationError, ["blank"], lambda: Synthesizer(device="cpu").fit(df))
    assert "drop" in str(err)  # says how to fix it


def test_all_null_string_column_at_fit() -> None:
    df = _table().assign(note=pd.Series([None] * 300, dtype="str"))
    _raises_naming(DataValidationError, ["note"], lambda: Synthesizer(device="cpu").fit(df))


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_value_at_fit(bad: float) -> None:
    df = _table()
    df.loc[5, "x"] = bad
    df.loc[7, "y"] = np.inf
    err = _raises_naming(DataValidationError, ["x", "y"], lambda: Synthesizer(device="cpu").fit(df))
    assert len(err.problems) == 2 and "infinite" in str(err)


def test_non_dataframe_at_fit() -> None:
    for bad in ([[1, 2], [3, 4]], np.zeros((5, 2)), {"x": [1, 2]}, "table.csv"):
        with pytest.raises(DataValidationError, match="DataFrame"):
            Synthesizer(device="cpu").fit(bad)
        with pytest.raises(DataValidationError, match="DataFrame"):
            AnomalyDetector(device="cpu").fit(bad)
    with pytest.raises(DataValidationError, match="list"):
        infer_schema([1, 2, 3])


def test_duplicate_column_names_at_fit() -> None:
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)), columns=["a", "b", "a"])
    _raises_naming(DataValidationError, ["a"], lambda: Synthesizer(device="cpu").fit(df))


# ------------------------------------------------------------------- at score
def test_infinite_value_at_score(fitted: Synthesizer) -> None:
    probe = _table(20, seed=1)
    probe.loc[3, "y"] = np.inf
    _raises_naming(DataValidationError, ["y"], lambda: fitted.score_samples(probe))


def test_nan_in_numeric_column_without_nulls_at_fit(fitted: Synthesizer) -> None:
    probe = _table(20, seed=1)
    probe.loc[[2, 4], "x"] = np.nan
    err = _raises_naming(DataValidationError, ["x"], lambda: fitted.score_samples(probe))
    assert "no nulls when the model was fitted" in str(err) and "(2 rows)" in str(err)
    # A column that had nulls at fit scores them (the null state has a probability).
    ok = _table(20, seed=1)
    ok.loc[[2, 4], "y"] = np.nan
    assert np.isfinite(fitted.score_samples(ok)).all()


def test_missing_columns_are_listed_together(fitted: Synthesizer) -> None:
    probe = _table(20, seed=1).drop(columns=["x", "c", "day"])
    err = _raises_naming(
        DataValidationError, ["x", "c", "day"], lambda: fitted.score_samples(probe)
    )
    assert len(err.problems) == 3
    assert [p.split("'")[1] for p in err.problems] == ["x", "c", "day"]
    assert "3 problems" in str(err)


def test_extra_columns_are_ignored(fitted: Synthesizer) -> None:
    probe = _table(20, seed=1)
    wider = probe.assign(extra="whatever")[["extra", *probe.columns]]
    np.testing.assert_array_equal(fitted.score_samples(wider), fitted.score_samples(probe))


def test_text_in_numeric_column_at_score(fitted: Synthesizer) -> None:
    probe = _table(20, seed=1)
    probe["x"] = probe["x"].astype(object)
    probe.loc[3, "x"] = "n/a"
    err = _raises_naming(DataValidationError, ["x"], lambda: fitted.score_samples(probe))
    assert "'n/a'" in str(err)
    # Numbers written as text are numbers.
    as_text = _table(20, seed=1).assign(x=lambda d: d["x"].astype(str))
    np.testing.assert_allclose(
        fitted.score_samples(as_text), fitted.score_samples(_table(20, seed=1)), rtol=1e-9
    )


def test_every_value_problem_is_listed(fitted: Synthesizer) -> None:
    probe = _table(20, seed=1)
    probe["k"] = "many"
    probe["flag"] = "perhaps"
    probe["day"] = "someday"
    probe.loc[0, "x"] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas' "could not infer format"
        err = _raises_naming(
            DataValidationError, ["k", "flag", "day", "x"], lambda: fitted.score_samples(probe)
        )
    assert len(err.problems) == 4


def test_non_dataframe_at_score(fitted: Synthesizer) -> None:
    with pytest.raises(DataValidationError, match="list"):
        fitted.score_samples([[0.1, 0.2, 3, "a", True]])
    with pytest.raises(DataValidationError, match="ndarray"):
        fitted.explain(np.zeros((2, 6)))


def test_empty_frame_at_score(fitted: Synthesizer) -> None:
    with pytest.raises(DataValidationError, match="no rows"):
        fitted.score_samples(_table().iloc[:0])


def test_unseen_category_at_score_is_finite_and_low(fitted: Synthesizer) -> None:
    probe = _table(20, seed=1)
    base = fitted.score_samples(probe)
    probe["c"] = "never-seen"
    ll = fitted.score_samples(probe)
    assert np.isfinite(ll).all() and (ll < base).all()


def test_anomaly_detector_reports_the_same_errors() -> None:
    det = AnomalyDetector("gmm", {"n_components": 2}, device="cpu", random_state=0).fit(_table())
    probe = _table(20, seed=1).drop(columns=["x", "c"])
    for method in (det.predict, det.decision_function, det.score_samples, det.explain):
        err = _raises_naming(DataValidationError, ["x", "c"], lambda m=method: m(probe))
        assert len(err.problems) == 2


def test_not_fitted_is_also_sklearns_kind() -> None:
    # Catchable as synthkit's error; check_is_fitted raises scikit-learn's own.
    with pytest.raises(NotFittedError):
        Synthesizer().score_samples(_table(5))
    from sklearn.utils.validation import check_is_fitted

    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(AnomalyDetector())
