"""Turn a pandas column into the plain values its kind needs, or say clearly why it cannot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthkit.errors import DataValidationError

if TYPE_CHECKING:
    from synthkit.schema.types import ColumnSchema

__all__ = ["coerce_column", "to_jsonable"]

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


def _numeric(s: pd.Series, col: ColumnSchema) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64").to_numpy()
    if pd.api.types.is_numeric_dtype(s.dtype):
        out = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        parsed = pd.to_numeric(s, errors="coerce")
        bad = parsed.isna() & s.notna()
        if bad.any():
            raise DataValidationError(
                f"column {col.name!r}: expected numbers ({col.kind}), found text "
                f"({_examples(s[bad])})"
            )
        out = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(out).any():
        raise DataValidationError(
            f"column {col.name!r}: {int(np.isinf(out).sum())} infinite values; "
            "replace them with nulls or finite numbers"
        )
    return out


def _datetime(s: pd.Series, col: ColumnSchema) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        parsed = s
    else:
        import warnings

        with warnings.catch_warnings():
            # pandas warns when it cannot infer one format; bad values are reported below.
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(s, errors="coerce", utc=col.tz is not None)
        bad = parsed.isna() & s.notna()
        if bad.any():
            raise DataValidationError(
                f"column {col.name!r}: expected dates/times, found ({_examples(s[bad])})"
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    ns = parsed.astype("datetime64[ns]").to_numpy().astype(np.int64).astype(np.float64)
    ns[parsed.isna().to_numpy()] = np.nan
    return ns


def _boolean(s: pd.Series, col: ColumnSchema) -> np.ndarray:
    out = np.empty(len(s), dtype=object)
    null = s.isna().to_numpy()
    out[null] = None
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        vals = s[~null].to_numpy()
        if pd.api.types.is_numeric_dtype(s.dtype) and not np.isin(vals, [0, 1]).all():
            raise DataValidationError(
                f"column {col.name!r}: expected booleans, found numbers other than 0 and 1"
            )
        out[~null] = vals.astype(bool)
        return out
    text = s[~null].astype(str).str.strip().str.lower()
    is_true, is_false = text.isin(_TRUE), text.isin(_FALSE)
    unknown = ~(is_true | is_false)
    if unknown.any():
        raise DataValidationError(
            f"column {col.name!r}: expected booleans, found ({_examples(s[~null][unknown])})"
        )
    out[~null] = is_true.to_numpy()
    return out


def _categorical(s: pd.Series, col: ColumnSchema) -> pd.Series:
    # Kept as a Series: looking codes up on Arrow-backed strings is much faster than on
    # Python objects (see CategoricalTransform).
    return s


_COERCE = {
    "numeric": _numeric,
    "integer": _numeric,
    "datetime": _datetime,
    "boolean": _boolean,
    "categorical": _categorical,
}


def coerce_column(s: pd.Series, col: ColumnSchema) -> np.ndarray | pd.Series:
    """Plain values for a modelled column.

    Numeric, integer and datetime columns give float64 (datetimes as ns since the epoch, UTC)
    with NaN for nulls; boolean columns an object array with None for nulls; categorical
    columns the Series itself.

    Raises:
        DataValidationError: the values do not fit the column's kind (named in the message).
    """
    return _COERCE[col.kind](s, col)
