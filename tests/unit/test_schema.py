"""Schema inference and overrides: kinds on the real tables, special columns, dtype round trips.

Models here are tiny (a gmm with one or two components on a few hundred rows): what is tested
is what the schema and the encoder do to columns, not the quality of the fit.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from synthkit import Synthesizer
from synthkit.errors import DataValidationError, SchemaError, SynthkitWarning
from synthkit.schema import KINDS, ColumnSchema, TableSchema, infer_schema

CUT_ORDER = ["Fair", "Good", "Very Good", "Premium", "Ideal"]


def _fit(df: pd.DataFrame, **kwargs) -> Synthesizer:
    kwargs.setdefault("backend_params", {"n_components": 2, "max_iter": 20})
    return Synthesizer("gmm", device="cpu", random_state=0, **kwargs).fit(df)


def _kinds(schema: TableSchema) -> dict[str, str]:
    return {c.name: c.kind for c in schema.columns}


# ------------------------------------------------------------------ real tables
def test_adult_kinds(adult: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthkitWarning)  # no id or constant column here
        schema = infer_schema(adult)
    assert schema.summary() == {"integer": 6, "categorical": 9}
    integers = [c.name for c in schema.columns if c.kind == "integer"]
    assert integers == [
        "age",
        "fnlwgt",
        "education-num",
        "capital-gain",
        "capital-loss",
        "hours-per-week",
    ]
    assert {c.name for c in schema.columns if c.nullable} == {
        "workclass",
        "occupation",
        "native-country",
    }
    assert schema["income"].categories == ["<=50K", ">50K"]
    assert schema["age"].min == 17 and schema["age"].max == 90
    assert schema.n_rows == len(adult) and schema.names == list(adult.columns)


def test_california_kinds(california: pd.DataFrame) -> None:
    schema = infer_schema(california)
    kinds = _kinds(schema)
    assert {c.name for c in schema.columns if c.nullable} == {"total_bedrooms"}
    assert kinds["ocean_proximity"] == "categorical"
    assert sorted(schema["ocean_proximity"].categories) == sorted(
        california["ocean_proximity"].dropna().unique()
    )
    assert len(schema["ocean_proximity"].categories) == 5
    assert kinds["total_bedrooms"] in ("integer", "numeric")
    assert {kinds[c] for c in ("longitude", "latitude", "median_income")} == {"numeric"}
    assert all(k in ("numeric", "integer") for n, k in kinds.items() if n != "ocean_proximity")


def test_diamonds_kinds(diamonds: pd.DataFrame) -> None:
    schema = infer_schema(diamonds)
    kinds = _kinds(schema)
    assert [n for n, k in kinds.items() if k == "categorical"] == ["cut", "color", "clarity"]
    assert kinds["price"] == "integer" and kinds["carat"] == "numeric"
    assert not any(c.nullable for c in schema.columns)
    assert set(schema["cut"].categories) == set(CUT_ORDER)
    assert not schema["cut"].ordered  # plain strings: no order unless declared


def test_ordered_override_gives_ordered_samples(diamonds: pd.DataFrame) -> None:
    df = diamonds.sample(2000, random_state=0).reset_index(drop=True)
    override = {"cut": {"kind": "categorical", "categories": CUT_ORDER, "ordered": True}}
    schema = infer_schema(df, override)
    assert schema["cut"].categories == CUT_ORDER and schema["cut"].ordered
    syn = _fit(df, schema=override)
    fake = syn.sample(500, random_state=0)
    assert isinstance(fake["cut"].dtype, pd.CategoricalDtype)
    assert fake["cut"].cat.ordered
    assert list(fake["cut"].cat.categories) == CUT_ORDER
    assert fake["cut"].notna().all()
    # The order is usable: comparisons follow the declared order, not the alphabet.
    assert ((fake["cut"] >= "Premium") == fake["cut"].isin(["Premium", "Ideal"])).all()
    for col in ("color", "clarity"):
        assert fake[col].dtype == df[col].dtype


def test_ordered_flag_alone_orders_seen_categories() -> None:
    df = pd.DataFrame({"size": ["S", "M", "L"] * 10, "x": np.arange(30.0) % 7})
    schema = infer_schema(df, {"size": {"kind": "categorical", "ordered": True}})
    assert schema["size"].ordered and schema["size"].categories == ["L", "M", "S"]


# --------------------------------------------------------------------- overrides
def test_drop_override(small_mixed: pd.DataFrame) -> None:
    syn = _fit(small_mixed, schema={"income": "drop"})
    assert syn.schema_["income"].kind == "drop"
    assert "income" not in [g.name for g in syn.encoder_.layout_.groups]
    fake = syn.sample(50, random_state=0)
    assert "income" not in fake.columns
    assert list(fake.columns) == [c for c in small_mixed.columns if c != "income"]
    # A dropped column is not needed to score.
    assert np.isfinite(syn.score_samples(small_mixed.drop(columns="income"))).all()


def test_drop_override_allows_an_all_null_column(small_mixed: pd.DataFrame) -> None:
    df = small_mixed.assign(empty=np.nan)
    with pytest.raises(DataValidationError, match="'empty'"):
        infer_schema(df)
    assert infer_schema(df, {"empty": "drop"})["empty"].kind == "drop"


def test_categorical_override_on_integer_column() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"code": rng.choice([3, 17, 42, 99, 1000], 400), "x": rng.normal(size=400)})
    assert infer_schema(df)["code"].kind == "integer"
    schema = infer_schema(df, {"code": "categorical"})
    assert schema["code"].kind == "categorical"
    assert schema["code"].categories == [3, 17, 42, 99, 1000]
    fake = _fit(df, schema={"code": "categorical"}).sample(300, random_state=0)
    assert fake["code"].dtype == np.int64
    assert set(fake["code"]) <= {3, 17, 42, 99, 1000}


def test_override_wins_over_id_and_silences_its_warning() -> None:
    df = pd.DataFrame({"name": [f"n{i}" for i in range(40)], "x": np.arange(40.0) ** 0.5})
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthkitWarning)
        schema = infer_schema(df, {"name": "categorical"})
    assert schema["name"].kind == "categorical"


# ------------------------------------------------------------- special columns
def _special_frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "uid": pd.Series([f"cust-{i:05d}" for i in rng.permutation(n)], dtype="str"),
            "row": rng.permutation(np.arange(100, 100 + n)),  # a shuffled row number
            "const": pd.Series(["EU"] * n, dtype="str"),
            "zero": np.zeros(n, dtype=np.int64),
            "x": rng.normal(size=n),
            "c": pd.Series(rng.choice(["a", "b"], n), dtype="str"),
        }
    )


def test_id_and_constant_columns_warn_and_are_regenerated() -> None:
    df = _special_frame()
    with pytest.warns(SynthkitWarning) as record:
        schema = infer_schema(df)
    kinds = _kinds(schema)
    assert kinds == {
        "uid": "id",
        "row": "id",
        "const": "constant",
        "zero": "constant",
        "x": "numeric",
        "c": "categorical",
    }
    messages = " ".join(str(w.message) for w in record)
    for name in ("uid", "row", "const", "zero"):
        assert f"'{name}'" in messages

    with pytest.warns(SynthkitWarning):
        syn = _fit(df)
    fake = syn.sample(700, random_state=0)
    assert list(fake.columns) == list(df.columns)
    assert fake.dtypes.to_dict() == df.dtypes.to_dict()
    assert fake["uid"].is_unique and fake["row"].is_unique
    assert fake["uid"].notna().all() and fake["row"].notna().all()
    assert (fake["const"] == "EU").all() and (fake["zero"] == 0).all()
    # Ids and constants are not needed to score a row.
    assert np.isfinite(syn.score_samples(df[["x", "c"]])).all()


def test_unique_but_not_identifier_columns() -> None:
    rng = np.random.default_rng(0)
    n = 100
    df = pd.DataFrame(
        {
            "spread": rng.choice(10_000, n, replace=False),  # unique integers, not a range
            "measure": rng.normal(size=n),  # unique floats are measurements
        }
    )
    kinds = _kinds(infer_schema(df))
    assert kinds == {"spread": "integer", "measure": "numeric"}
    # Too few rows for "unique per row" to mean "identifier".
    tiny = pd.DataFrame({"s": [f"v{i}" for i in range(10)], "x": np.arange(10.0)})
    assert _kinds(infer_schema(tiny))["s"] == "categorical"


# --------------------------------------------------------- dtypes round trips
def _typed_frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    secs = pd.to_timedelta(rng.integers(0, 90 * 86_400, n), unit="s")
    df = pd.DataFrame(
        {
            "utc": pd.Timestamp("2023-03-01", tz="UTC") + secs,
            "local": pd.Timestamp("2023-03-01", tz="America/New_York") + secs,
            "naive_ns": (pd.Timestamp("2023-01-01") + secs).astype("datetime64[ns]"),
            "day": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D"),
            "flag": rng.random(n) < 0.3,
            "count": pd.array(rng.integers(0, 500, n), dtype="Int64"),
            "maybe": pd.array(rng.random(n) < 0.6, dtype="boolean"),
            "ratio": pd.array(rng.normal(size=n), dtype="Float64"),
            "x": rng.normal(size=n),
        }
    )
    for col, share in (("count", 0.1), ("maybe", 0.15), ("ratio", 0.05), ("day", 0.05)):
        df.loc[rng.random(n) < share, col] = None
    return df


def test_dtypes_survive_fit_and_sample() -> None:
    df = _typed_frame()
    schema = infer_schema(df)
    kinds = _kinds(schema)
    assert kinds == {
        "utc": "datetime",
        "local": "datetime",
        "naive_ns": "datetime",
        "day": "datetime",
        "flag": "boolean",
        "count": "integer",
        "maybe": "boolean",
        "ratio": "numeric",
        "x": "numeric",
    }
    assert schema["utc"].tz == "UTC" and schema["local"].tz == "America/New_York"
    assert schema["naive_ns"].tz is None
    syn = _fit(df)
    fake = syn.sample(2000, random_state=0)
    assert fake.dtypes.to_dict() == df.dtypes.to_dict()
    # Nullable columns keep nulls at about the training rate; the others get none.
    for col in df.columns:
        assert abs(fake[col].isna().mean() - df[col].isna().mean()) < 0.04, col
    # Date-only stays date-only, and every timestamp stays within the training range.
    day = fake["day"].dropna()
    assert (day == day.dt.normalize()).all()
    for col in ("utc", "local", "naive_ns", "day"):
        assert fake[col].min() >= df[col].min() and fake[col].max() <= df[col].max(), col
    assert str(fake["local"].dt.tz) == "America/New_York"
    # Whole seconds in, whole seconds out.
    assert (fake["naive_ns"].dt.nanosecond == 0).all()
    assert (fake["naive_ns"].dt.microsecond == 0).all()
    assert set(fake["maybe"].dropna().unique()) <= {True, False}
    assert (fake["count"].dropna() == fake["count"].dropna().round()).all()


def test_object_booleans_are_boolean() -> None:
    df = pd.DataFrame({"b": pd.Series([True, False, None] * 20, dtype=object), "x": 0.5})
    df["x"] = np.arange(60) % 7 / 2
    schema = infer_schema(df)
    assert schema["b"].kind == "boolean" and schema["b"].nullable


def test_datetime_strings_with_override() -> None:
    dates = pd.date_range("2021-01-01", periods=60, freq="D")
    df = pd.DataFrame({"when": dates.strftime("%Y-%m-%d"), "x": np.arange(60.0) ** 2})
    schema = infer_schema(df, {"when": "datetime"})
    assert schema["when"].kind == "datetime"
    assert schema["when"].min == dates[0].value and schema["when"].max == dates[-1].value
    assert schema["when"].tz is None
    fake = _fit(df, schema={"when": "datetime"}).sample(100, random_state=0)
    parsed = pd.to_datetime(fake["when"], format="%Y-%m-%d")  # text in, same text format out
    assert parsed.min() >= dates[0] and parsed.max() <= dates[-1]


# ------------------------------------------------------------------ bad overrides
def _mixed() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=100),
            "k": rng.integers(0, 5, 100),
            "city": pd.Series(rng.choice(["Oslo", "Rome", "Lima"], 100), dtype="str"),
        }
    )


@pytest.mark.parametrize(
    ("override", "error", "names"),
    [
        ({"nope": "numeric"}, SchemaError, ["nope"]),
        ({"nope": "numeric", "other": "drop"}, SchemaError, ["nope", "other"]),
        ({"x": "weird"}, SchemaError, ["'x'", "weird"]),
        ({"x": {"kind": "numeric", "bins": 3}}, SchemaError, ["'x'", "bins"]),
        ({"x": {"categories": [1, 2]}}, SchemaError, ["'x'", "kind"]),
        ({"x": 3}, SchemaError, ["'x'"]),
        (
            {"city": {"kind": "categorical", "categories": ["Oslo", "Rome"]}},
            SchemaError,
            ["'city'", "Lima"],
        ),
        ({"city": "numeric"}, DataValidationError, ["'city'", "text"]),
        ({"city": "integer"}, DataValidationError, ["'city'"]),
        ({"city": "boolean"}, DataValidationError, ["'city'"]),
        ({"k": "boolean"}, DataValidationError, ["'k'"]),
    ],
)
def test_bad_overrides(override: dict, error: type, names: list[str]) -> None:
    df = _mixed()
    with pytest.raises(error) as exc:
        infer_schema(df, override)
    for name in names:
        assert name in str(exc.value)
    assert exc.value.problems and all(isinstance(p, str) for p in exc.value.problems)
    # The same error, with the same message, through the estimator.
    with pytest.raises(error) as exc2:
        Synthesizer(schema=override, device="cpu").fit(df)
    assert str(exc2.value) == str(exc.value)


def test_text_as_datetime_is_rejected() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas' "could not infer format"
        with pytest.raises(DataValidationError, match=r"'city'.*dates"):
            infer_schema(_mixed(), {"city": "datetime"})


def test_every_problem_is_listed() -> None:
    df = _mixed().assign(a=np.nan, b=None, x=lambda d: d["x"].where(d.index != 3, np.inf))
    with pytest.raises(DataValidationError) as exc:
        infer_schema(df)
    problems = exc.value.problems
    assert len(problems) == 3
    for name in ("'a'", "'b'", "'x'"):
        assert sum(name in p for p in problems) == 1, name
    assert "3 problems" in str(exc.value)


def test_nothing_left_to_model() -> None:
    df = pd.DataFrame({"id": [f"r{i}" for i in range(30)], "k": ["same"] * 30})
    with pytest.warns(SynthkitWarning), pytest.raises(DataValidationError, match="no column left"):
        infer_schema(df)
    with pytest.raises(DataValidationError, match="no column left"):
        infer_schema(_mixed(), {"x": "drop", "k": "drop", "city": "drop"})


def test_unknown_kind_in_column_schema() -> None:
    with pytest.raises(SchemaError, match="'c'"):
        ColumnSchema(name="c", kind="text")
    assert "numeric" in KINDS and "drop" in KINDS


# ------------------------------------------------------------------ serialisation
def test_schema_json_round_trip_keeps_zero_values() -> None:
    # 0 == False in Python: a min or a constant of 0 must not be taken for a default.
    df = pd.DataFrame(
        {
            "x": np.linspace(0.0, 5.0, 50),
            "zero": np.zeros(50, dtype=np.int64),
            "off": np.zeros(50, dtype=bool),
            "size": pd.Categorical(
                ["S", "M", "L"] * 16 + ["S", "M"], ["S", "M", "L"], ordered=True
            ),
        }
    )
    with pytest.warns(SynthkitWarning):
        schema = infer_schema(df)
    back = TableSchema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert back == schema
    assert back["x"].min == 0.0 and back["zero"].constant == 0 and back["off"].constant is False
    assert back["size"].ordered and back["size"].categories == ["S", "M", "L"]


def test_real_schema_json_round_trip(adult: pd.DataFrame) -> None:
    schema = infer_schema(adult)
    assert TableSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
