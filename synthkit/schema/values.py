"""Turn a pandas column into the plain values its kind needs, or say clearly why it cannot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthkit.errors import DataValidationError

if TYPE_CHECKING:
    from synthkit.schema.types import ColumnSchema

__all__ = ["coerce_column", "coerce_rows", "problem_messages", "to_jsonable"]

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def to_jsonable(value: Any) -> Any:
    """A JSON-able Python scalar for a numpy / pandas scalar."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


# Each coercer returns (values, problems): ``problems`` is a list of (rows, message) pairs,
# ``rows`` a boolean mask of the rows with that problem (their values are set to null) and
# ``message`` naming the column without counting rows, so it can label each row.
# coerce_column raises on any problem; coerce_rows lets batch jobs route bad rows instead.
Problems = list[tuple[np.ndarray, str]]


def _examples(values: pd.Series) -> str:
    return ", ".join(repr(v) for v in values.unique()[:3])


def _numeric(s: pd.Series, col: ColumnSchema) -> tuple[Any, Problems]:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64").to_numpy(), []
    problems: Problems = []
    if pd.api.types.is_numeric_dtype(s.dtype):
        out = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        parsed = pd.to_numeric(s, errors="coerce")
        text = (parsed.isna() & s.notna()).to_numpy()
        if text.any():
            problems.append(
                (
                    text,
                    f"column {col.name!r}: expected numbers ({col.kind}), found text such "
                    f"as {_examples(s[text])}",
                )
            )
        out = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    inf = np.isinf(out)
    if inf.any():
        out = np.where(inf, np.nan, out)
        problems.append(
            (inf, f"column {col.name!r}: infinite value; replace it with a null or a finite number")
        )
    return out, problems


def _datetime(s: pd.Series, col: ColumnSchema) -> tuple[Any, Problems]:
    problems: Problems = []
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        parsed = s
    else:
        import warnings

        with warnings.catch_warnings():
            # pandas warns when it cannot infer one format; bad values are reported below.
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(s, errors="coerce", utc=col.tz is not None)
        bad = (parsed.isna() & s.notna()).to_numpy()
        if bad.any():
            problems.append(
                (bad, f"column {col.name!r}: expected dates/times, found {_examples(s[bad])}")
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    ns = parsed.astype("datetime64[ns]").to_numpy().astype(np.int64).astype(np.float64)
    ns[parsed.isna().to_numpy()] = np.nan
    return ns, problems


def _boolean(s: pd.Series, col: ColumnSchema) -> tuple[Any, Problems]:
    out = np.empty(len(s), dtype=object)
    null = s.isna().to_numpy()
    out[null] = None
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        vals = s.to_numpy()
        bad = np.zeros(len(s), dtype=bool)
        if not pd.api.types.is_bool_dtype(s.dtype):
            bad = ~null & ~np.isin(vals, [0, 1])
        ok = ~null & ~bad
        out[ok] = vals[ok].astype(bool)
        message = (
            f"column {col.name!r}: expected booleans, found numbers such as {_examples(s[bad])}"
        )
        return out, [(bad, message)] if bad.any() else []
    text = s.astype(str).str.strip().str.lower().to_numpy()
    is_true, is_false = np.isin(text, list(_TRUE)), np.isin(text, list(_FALSE))
    bad = ~null & ~(is_true | is_false)
    out[~null & is_true] = True
    out[~null & is_false] = False
    message = f"column {col.name!r}: expected booleans, found {_examples(s[bad])}"
    return out, [(bad, message)] if bad.any() else []


def _categorical(s: pd.Series, col: ColumnSchema) -> tuple[Any, Problems]:
    # Kept as a Series: looking codes up on Arrow-backed strings is much faster than on
    # Python objects (see CategoricalTransform). Any value fits: unseen ones are scored.
    return s, []


_COERCE = {
    "numeric": _numeric,
    "integer": _numeric,
    "datetime": _datetime,
    "boolean": _boolean,
    "categorical": _categorical,
}


def coerce_rows(s: pd.Series, col: ColumnSchema) -> tuple[Any, Problems]:
    """Like :func:`coerce_column`, but marks the rows that do not fit instead of raising.

    Returns:
        ``(values, problems)``: values with bad entries set to null, and a list of
        ``(rows, message)`` pairs, ``rows`` a boolean mask and ``message`` naming the column.
    """
    return _COERCE[col.kind](s, col)


def problem_messages(problems: Problems) -> list[str]:
    """One message per problem, with its row count, for an error."""
    return [f"{msg} ({int(rows.sum())} rows)" for rows, msg in problems if rows.any()]


def coerce_column(s: pd.Series, col: ColumnSchema) -> np.ndarray | pd.Series:
    """Plain values for a modelled column.

    Numeric, integer and datetime columns give float64 (datetimes as ns since the epoch, UTC)
    with NaN for nulls; boolean columns an object array with None for nulls; categorical
    columns the Series itself.

    Raises:
        DataValidationError: the values do not fit the column's kind (named in the message).
    """
    values, problems = _COERCE[col.kind](s, col)
    if problems:
        raise DataValidationError(problem_messages(problems))
    return values
