"""Turn a pandas column into the plain values its kind needs, or say clearly why it cannot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthkit.errors import DataValidationError

if TYPE_CHECKING:
    from synthkit.schema.types import ColumnSchema

__all__ = ["coerce_column", "coerce_rows", "to_jsonable"]

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def to_jsonable(value: Any) -> Any:
    """A JSON-able Python scalar for a numpy / pandas scalar."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _examples(values: pd.Series) -> str:
    shown = ", ".join(repr(v) for v in values.unique()[:3])
    return f"{len(values)} rows, e.g. {shown}"


# Each coercer returns (values, bad, reason): ``bad`` marks rows whose value does not fit the
# kind (those values are set to null), ``reason`` says why, naming the column. coerce_column
# raises on any bad row; coerce_rows lets batch jobs route bad rows instead.
_Coerced = tuple[Any, np.ndarray, str]


def _no_problem(n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool)


def _numeric(s: pd.Series, col: ColumnSchema) -> _Coerced:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64").to_numpy(), _no_problem(len(s)), ""
    if pd.api.types.is_numeric_dtype(s.dtype):
        out = s.to_numpy(dtype=np.float64, na_value=np.nan)
        bad, reason = _no_problem(len(s)), ""
    else:
        parsed = pd.to_numeric(s, errors="coerce")
        bad = (parsed.isna() & s.notna()).to_numpy()
        reason = (
            f"column {col.name!r}: expected numbers ({col.kind}), found text ({_examples(s[bad])})"
            if bad.any()
            else ""
        )
        out = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    inf = np.isinf(out)
    if inf.any():
        out = np.where(inf, np.nan, out)
        bad = bad | inf
        reason = (reason + "; " if reason else "") + (
            f"column {col.name!r}: {int(inf.sum())} infinite values; "
            "replace them with nulls or finite numbers"
        )
    return out, bad, reason


def _datetime(s: pd.Series, col: ColumnSchema) -> _Coerced:
    bad, reason = _no_problem(len(s)), ""
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
            reason = f"column {col.name!r}: expected dates/times, found ({_examples(s[bad])})"
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    ns = parsed.astype("datetime64[ns]").to_numpy().astype(np.int64).astype(np.float64)
    ns[parsed.isna().to_numpy()] = np.nan
    return ns, bad, reason


def _boolean(s: pd.Series, col: ColumnSchema) -> _Coerced:
    out = np.empty(len(s), dtype=object)
    null = s.isna().to_numpy()
    out[null] = None
    bad = _no_problem(len(s))
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        vals = s.to_numpy()
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            bad = ~null & ~np.isin(vals, [0, 1])
        ok = ~null & ~bad
        out[ok] = vals[ok].astype(bool)
        reason = (
            f"column {col.name!r}: expected booleans, found numbers other than 0 and 1"
            f" ({_examples(s[bad])})"
            if bad.any()
            else ""
        )
        return out, bad, reason
    text = s.astype(str).str.strip().str.lower().to_numpy()
    is_true, is_false = np.isin(text, list(_TRUE)), np.isin(text, list(_FALSE))
    bad = ~null & ~(is_true | is_false)
    out[~null & is_true] = True
    out[~null & is_false] = False
    reason = (
        f"column {col.name!r}: expected booleans, found ({_examples(s[bad])})" if bad.any() else ""
    )
    return out, bad, reason


def _categorical(s: pd.Series, col: ColumnSchema) -> _Coerced:
    # Kept as a Series: looking codes up on Arrow-backed strings is much faster than on
    # Python objects (see CategoricalTransform). Any value fits: unseen ones are scored.
    return s, _no_problem(len(s)), ""


_COERCE = {
    "numeric": _numeric,
    "integer": _numeric,
    "datetime": _datetime,
    "boolean": _boolean,
    "categorical": _categorical,
}


def coerce_rows(s: pd.Series, col: ColumnSchema) -> _Coerced:
    """Like :func:`coerce_column`, but marks the rows that do not fit instead of raising.

    Returns:
        ``(values, bad, reason)``: values with bad entries set to null, a boolean mask of the
        bad rows, and a message naming the column ("" when no row is bad).
    """
    return _COERCE[col.kind](s, col)


def coerce_column(s: pd.Series, col: ColumnSchema) -> np.ndarray | pd.Series:
    """Plain values for a modelled column.

    Numeric, integer and datetime columns give float64 (datetimes as ns since the epoch, UTC)
    with NaN for nulls; boolean columns an object array with None for nulls; categorical
    columns the Series itself.

    Raises:
        DataValidationError: the values do not fit the column's kind (named in the message).
    """
    values, bad, reason = _COERCE[col.kind](s, col)
    if bad.any():
        raise DataValidationError(reason)
    return values
