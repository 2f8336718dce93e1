"""Schema data types: one :class:`ColumnSchema` per column, gathered in a :class:`TableSchema`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from synthkit.errors import SchemaError

__all__ = ["KINDS", "MODELED_KINDS", "ColumnSchema", "TableSchema"]

#: Kinds a column can have. ``id`` columns are unique per row: not modelled, regenerated as
#: fresh unique values when sampling. ``constant`` columns are reproduced as they were.
#: ``drop`` columns are ignored altogether (absent from samples).
KINDS = ("numeric", "integer", "boolean", "categorical", "datetime", "id", "constant", "drop")
MODELED_KINDS = ("numeric", "integer", "boolean", "categorical", "datetime")


@dataclass
class ColumnSchema:
    """What synthkit knows about one column.

    Attributes:
        name: column name.
        kind: one of :data:`KINDS`.
        dtype: the pandas dtype seen at fit time (``str(series.dtype)``), restored on decode.
        nullable: whether nulls were seen (or declared); nulls are modelled as their own state.
        categories: category values in order (categorical / boolean), JSON-able.
        ordered: whether the categories are ordered (e.g. ``Fair < Good < Ideal``).
        min: smallest non-null value seen (numeric, integer, datetime as ns since epoch).
        max: largest non-null value seen.
        constant: the value of a ``constant`` column (``None`` when it was all null).
        tz: the time zone of a datetime column, if any.
    """

    name: str
    kind: str
    dtype: str = "object"
    nullable: bool = False
    categories: list[Any] | None = None
    ordered: bool = False
    min: float | None = None
    max: float | None = None
    constant: Any = None
    tz: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SchemaError(
                f"column {self.name!r}: unknown kind {self.kind!r}; expected one of {KINDS}"
            )

    @property
    def modeled(self) -> bool:
        """True when the generative model sees this column."""
        return self.kind in MODELED_KINDS

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (default-valued fields left out)."""
        # Leave out defaults, but by identity: ``0 in (None, False)`` is True, and a min or a
        # constant of 0 (or a constant False) must survive a save/load round trip.
        return {
            k: v
            for k, v in asdict(self).items()
            if v is not None and not (k in ("nullable", "ordered") and v is False)
        } | {
            "name": self.name,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSchema:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


@dataclass
class TableSchema:
    """The columns of a table, in their original order.

    Attributes:
        columns: one :class:`ColumnSchema` per input column.
        n_rows: number of rows the schema was inferred from.
    """

    columns: list[ColumnSchema] = field(default_factory=list)
    n_rows: int = 0

    def __getitem__(self, name: str) -> ColumnSchema:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(col.name == name for col in self.columns)

    @property
    def names(self) -> list[str]:
        """All column names, in order."""
        return [c.name for c in self.columns]

    @property
    def modeled(self) -> list[ColumnSchema]:
        """Columns the generative model sees, in order."""
        return [c for c in self.columns if c.modeled]

    def summary(self) -> dict[str, int]:
        """Number of columns of each kind, e.g. ``{"numeric": 3, "categorical": 5}``."""
        out: dict[str, int] = {}
        for col in self.columns:
            out[col.kind] = out.get(col.kind, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (default-valued fields left out)."""
        return {"n_rows": self.n_rows, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableSchema:
        """Inverse of :meth:`to_dict`."""
        return cls(
            columns=[ColumnSchema.from_dict(c) for c in data["columns"]],
            n_rows=int(data.get("n_rows", 0)),
        )
