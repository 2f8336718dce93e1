"""FeatureLayout and EncodedTable: the only things a backend sees of a table.

The layout follows TabDDPM's: a block of ``n_continuous`` float features, then categorical
features with ``cardinalities = (K1, ..., Km)``. It is built once from the schema by the
encoder and never recounted from data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["ColumnGroup", "Conditions", "EncodedTable", "FeatureLayout"]


@dataclass(frozen=True)
class ColumnGroup:
    """Which encoded features hold one original column.

    Attributes:
        name: original column name.
        continuous: indices into the continuous block.
        discrete: indices into the categorical block.
    """

    name: str
    continuous: tuple[int, ...] = ()
    discrete: tuple[int, ...] = ()


@dataclass(frozen=True)
class FeatureLayout:
    """Shape of an encoded table.

    Attributes:
        n_continuous: number of float features.
        cardinalities: number of categories of each categorical feature.
        groups: per modelled column, the features that encode it (for explanations).
    """

    n_continuous: int
    cardinalities: tuple[int, ...]
    groups: tuple[ColumnGroup, ...] = field(default=())

    @property
    def n_discrete(self) -> int:
        """Number of categorical features."""
        return len(self.cardinalities)

    def group(self, name: str) -> ColumnGroup:
        """The features of column ``name``."""
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "n_continuous": self.n_continuous,
            "cardinalities": list(self.cardinalities),
            "groups": [
                {"name": g.name, "continuous": list(g.continuous), "discrete": list(g.discrete)}
                for g in self.groups
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureLayout:
        """Inverse of :meth:`to_dict`."""
        return cls(
            n_continuous=int(data["n_continuous"]),
            cardinalities=tuple(int(c) for c in data["cardinalities"]),
            groups=tuple(
                ColumnGroup(g["name"], tuple(g["continuous"]), tuple(g["discrete"]))
                for g in data["groups"]
            ),
        )


@dataclass
class EncodedTable:
    """An encoded table as tensors.

    Attributes:
        continuous: float32 ``(n, n_continuous)``.
        discrete: int64 ``(n, n_discrete)`` category codes.
        observed: bool ``(n, n_continuous)``; False where the continuous value is not part of
            the row (the column is null or at a spike value). Such entries hold a placeholder,
            and likelihoods marginalise them out.
    """

    continuous: torch.Tensor
    discrete: torch.Tensor
    observed: torch.Tensor

    def __len__(self) -> int:
        return int(self.continuous.shape[0])

    @property
    def device(self) -> torch.device:
        """Device of the tensors."""
        return self.continuous.device

    def to(self, device: Any) -> EncodedTable:
        """The same table on ``device``."""
        return EncodedTable(
            self.continuous.to(device), self.discrete.to(device), self.observed.to(device)
        )

    def rows(self, index: Any) -> EncodedTable:
        """A subset of rows (slice, index tensor or boolean mask)."""
        return EncodedTable(self.continuous[index], self.discrete[index], self.observed[index])


@dataclass
class Conditions:
    """Known cells for conditional sampling: per row, which columns are fixed and to what.

    Attributes:
        table: encoded values, one row per row to sample (entries of free columns are
            placeholders).
        known: bool ``(n, n_groups)``; True where the column (a :class:`ColumnGroup`) is given.
    """

    table: EncodedTable
    known: torch.Tensor

    def __len__(self) -> int:
        return len(self.table)

    @property
    def device(self) -> torch.device:
        """Device of the tensors."""
        return self.table.device

    def to(self, device: Any) -> Conditions:
        """The same conditions on ``device``."""
        return Conditions(self.table.to(device), self.known.to(device))

    def rows(self, index: Any) -> Conditions:
        """A subset of rows."""
        return Conditions(self.table.rows(index), self.known[index])

    def feature_masks(self, layout: FeatureLayout) -> tuple[torch.Tensor, torch.Tensor]:
        """Known masks per feature: ``(n, n_continuous)`` and ``(n, n_discrete)``."""
        import torch

        cont_group = torch.zeros(layout.n_continuous, dtype=torch.long)
        disc_group = torch.zeros(layout.n_discrete, dtype=torch.long)
        for i, g in enumerate(layout.groups):
            cont_group[list(g.continuous)] = i
            disc_group[list(g.discrete)] = i
        dev = self.known.device
        return self.known[:, cont_group.to(dev)], self.known[:, disc_group.to(dev)]

    def apply(self, sampled: EncodedTable, layout: FeatureLayout) -> EncodedTable:
        """``sampled`` with the known features overwritten by the given values."""
        import torch

        kc, kd = self.feature_masks(layout)
        t = self.table.to(sampled.device)
        return EncodedTable(
            torch.where(kc, t.continuous, sampled.continuous),
            torch.where(kd, t.discrete, sampled.discrete),
            torch.where(kc, t.observed, sampled.observed),
        )
