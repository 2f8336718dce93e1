"""Table schemas: what kind each column is, inferred from data with user overrides winning."""

from synthkit.schema.infer import infer_schema
from synthkit.schema.types import KINDS, MODELED_KINDS, ColumnSchema, TableSchema
from synthkit.schema.validate import check_frame

__all__ = ["KINDS", "MODELED_KINDS", "ColumnSchema", "TableSchema", "check_frame", "infer_schema"]
