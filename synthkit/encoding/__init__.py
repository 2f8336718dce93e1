"""Reversible encoding of tables into tensors for the backends."""

from synthkit.encoding.encoder import TableEncoder
from synthkit.encoding.layout import ColumnGroup, EncodedTable, FeatureLayout

__all__ = ["ColumnGroup", "EncodedTable", "FeatureLayout", "TableEncoder"]
