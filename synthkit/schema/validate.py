"""Check a frame against a fitted schema before encoding it, collecting every problem."""

from __future__ import annotations

from typing import Any

import pandas as pd

from synthkit.errors import DataValidationError
from synthkit.schema.types import TableSchema

__all__ = ["check_frame"]


def check_frame(df: Any, schema: TableSchema) -> pd.DataFrame:
    """Return ``df`` as a DataFrame if it has every modelled column; raise otherwise.

    Extra columns are allowed (they are ignored); id, constant and dropped columns are not
    required. Values are checked when they are encoded.

    Raises:
        DataValidationError: not a table, empty, or modelled columns missing (all listed).
    """
    if not isinstance(df, pd.DataFrame):
        to_pandas = getattr(df, "to_pandas", None)  # pyarrow.Table, polars.DataFrame
        if to_pandas is None:
            raise DataValidationError(f"expected a pandas DataFrame, got {type(df).__name__}")
        df = to_pandas()
    if len(df) == 0:
        raise DataValidationError("the table has no rows")
    present = {str(c) for c in df.columns}
    missing = [c.name for c in schema.modeled if c.name not in present]
    if missing:
        raise DataValidationError(
            [f"column {name!r} is missing (the model was fitted with it)" for name in missing]
        )
    return df
