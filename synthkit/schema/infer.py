"""Infer a :class:`TableSchema` from a DataFrame; user overrides win over inference."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import DataValidationError, SchemaError, SynthkitWarning
from synthkit.schema.types import KINDS, ColumnSchema, TableSchema
from synthkit.schema.values import coerce_column, to_jsonable

__all__ = ["infer_schema"]

# An id column must have at least this many rows before "unique per row" means "identifier".
_MIN_ROWS_FOR_ID = 20


def _auto_kind(s: pd.Series, n_rows: int) -> str:
    """The kind of a column from its dtype and values, before any override."""
    nonnull = s.dropna()
    n_unique = nonnull.nunique()
    if pd.api.types.is_bool_dtype(s.dtype):
        return "constant" if n_unique <= 1 else "boolean"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "constant" if n_unique <= 1 else "datetime"
    if pd.api.types.is_numeric_dtype(s.dtype):
        if n_unique <= 1:
            return "constant"
        values = nonnull.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(values)):
            return "numeric"  # the infinite values are reported by coerce_column
        integral = bool(np.all(values == np.round(values)))
        if integral and n_unique == n_rows >= _MIN_ROWS_FOR_ID and not s.hasnans:
            # A permutation of a contiguous range is a row number, not a measurement.
            if values.max() - values.min() + 1 == n_rows:
                return "id"
        return "integer" if integral else "numeric"
    # Strings, objects, categoricals.
    if n_unique <= 1:
        return "constant"
    if s.dtype == object and nonnull.map(type).isin([bool, np.bool_]).all():
        return "boolean"
    if not isinstance(s.dtype, pd.CategoricalDtype) and n_unique == n_rows >= _MIN_ROWS_FOR_ID:
        return "id"
    return "categorical"


def _parse_override(name: str, spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise SchemaError(
            f"schema override for column {name!r} must be a kind name or a dict with a 'kind' "
            f"key, got {spec!r}"
        )
    unknown = set(spec) - {"kind", "categories", "ordered"}
    if unknown:
        raise SchemaError(
            f"schema override for column {name!r} has unknown keys {sorted(unknown)}; "
            "allowed: kind, categories, ordered"
        )
    if spec["kind"] not in KINDS:
        raise SchemaError(
            f"column {name!r}: unknown kind {spec['kind']!r}; expected one of {KINDS}"
        )
    return dict(spec)


def _column_schema(s: pd.Series, kind: str, override: dict[str, Any]) -> ColumnSchema:
    name = str(s.name)
    col = ColumnSchema(name=name, kind=kind, dtype=str(s.dtype), nullable=bool(s.isna().any()))
    if kind in ("drop", "id"):
        return col
    if kind == "constant":
        nonnull = s.dropna()
        col.constant = to_jsonable(nonnull.iloc[0]) if len(nonnull) else None
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            col.constant = None if col.constant is None else str(col.constant)
        return col
    values = coerce_column(s, col)  # raises SchemaError when the values do not fit the kind
    if kind in ("numeric", "integer", "datetime"):
        finite = values[np.isfinite(values)]
        col.min, col.max = float(finite.min()), float(finite.max())
        if kind == "datetime":
            # Text declared as datetime has no ``.dt`` accessor (and no time zone).
            tz = getattr(s.dt, "tz", None) if pd.api.types.is_datetime64_any_dtype(s) else None
            col.tz = str(tz) if tz is not None else None
        return col
    # categorical / boolean
    if kind == "boolean":
        col.categories = [False, True]
        return col
    if override.get("categories") is not None:
        cats = [to_jsonable(v) for v in override["categories"]]
        seen = set(pd.Series(values).dropna().astype(object).tolist())
        missing = sorted(map(str, seen - set(cats)))
        if missing:
            raise SchemaError(
                f"column {name!r}: values {missing[:5]} are not in the declared categories"
            )
        col.categories = cats
    elif isinstance(s.dtype, pd.CategoricalDtype):
        col.categories = [to_jsonable(v) for v in s.cat.categories]
        col.ordered = bool(s.cat.ordered)
    else:
        uniques = pd.unique(pd.Series(values).dropna().astype(object))
        try:
            col.categories = sorted(uniques.tolist())
        except TypeError:  # mixed types do not sort
            col.categories = sorted(uniques.tolist(), key=str)
    if "ordered" in override:
        col.ordered = bool(override["ordered"])
    return col


def infer_schema(
    df: pd.DataFrame, overrides: Mapping[str, Any] | None = None, *, warn: bool = True
) -> TableSchema:
    """Infer each column's kind, nullability, bounds and categories.

    Args:
        df: the training table.
        overrides: ``{column: kind}`` or ``{column: {"kind": ..., "categories": [...],
            "ordered": True}}``; these win over inference. Kinds are listed in
            :data:`synthkit.schema.KINDS`.
        warn: emit a :class:`~synthkit.errors.SynthkitWarning` for id and constant columns.

    Returns:
        The table's schema.

    Raises:
        DataValidationError: the table is empty, has duplicate or all-null columns, infinite
            values, or values that do not fit a declared kind (every problem is listed).
        SchemaError: an override is malformed, names a missing column, or declares
            categories that miss seen values.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"x": [1.5, 2.0, None], "c": ["a", "b", "a"]})
        >>> [(c.name, c.kind, c.nullable) for c in infer_schema(df).columns]
        [('x', 'numeric', True), ('c', 'categorical', False)]
    """
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(f"expected a pandas DataFrame, got {type(df).__name__}")
    overrides = {str(k): _parse_override(str(k), v) for k, v in (overrides or {}).items()}
    problems = []
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataValidationError(f"the table is empty ({df.shape[0]} rows, {df.shape[1]} columns)")
    names = [str(c) for c in df.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"duplicate column names {dupes}")
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise SchemaError(f"schema overrides name columns that are not in the table: {unknown}")
    columns = []
    for name in names:
        s = df[name] if not dupes else df.iloc[:, names.index(name)]
        s = s.rename(name)
        override = overrides.get(name, {})
        if s.isna().all() and override.get("kind") not in ("drop", "constant"):
            problems.append(
                f"column {name!r} is entirely null; drop it or declare it "
                "schema={'%s': 'drop'}" % name
            )
            continue
        kind = override.get("kind") or _auto_kind(s, len(df))
        try:
            col = _column_schema(s, kind, override)
        except DataValidationError as exc:
            problems.extend(exc.problems)
            continue
        if warn and not override and kind in ("id", "constant"):
            what = (
                "is unique per row: treated as an identifier (not modelled, regenerated as "
                "fresh unique values when sampling)"
                if kind == "id"
                else "has a single value: not modelled, reproduced as it is when sampling"
            )
            warnings.warn(
                f"column {name!r} {what}; override with schema={{{name!r}: kind}}",
                SynthkitWarning,
                stacklevel=2,
            )
        columns.append(col)
    if problems:
        raise DataValidationError(problems)
    if not any(c.modeled for c in columns):
        raise DataValidationError(
            "no column left to model: every column is an id, constant or dropped"
        )
    return TableSchema(columns=columns, n_rows=len(df))
