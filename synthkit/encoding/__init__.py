"""Reversible encoding of tables into tensors for the backends."""

from synthkit.encoding.encoder import TableEncoder
from synthkit.encoding.layout import ColumnGroup, Conditions, EncodedTable, FeatureLayout

__all__ = ["ColumnGroup", "Conditions", "EncodedTable", "FeatureLayout", "TableEncoder"]
