"""Dense views of an encoded table, for networks that read rows.

An :class:`~synthkit.encoding.EncodedTable` holds float features (with an ``observed`` mask)
and category codes. A network reads one dense vector per row: the continuous block (0 where
the value is not part of the row, e.g. a null or a spike, whose state says so) followed by
one-hot blocks of the categorical features, in layout order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from synthkit.encoding import EncodedTable, FeatureLayout

__all__ = ["TableVectorizer", "category_counts"]


def category_counts(codes: torch.Tensor, cardinalities: tuple[int, ...]) -> list[torch.Tensor]:
    """Float counts of every code of each categorical feature of ``codes`` ``(n, n_discrete)``."""
    return [torch.bincount(codes[:, j], minlength=k).float() for j, k in enumerate(cardinalities)]


class TableVectorizer:
    """Encoded table <-> dense row vectors for one :class:`FeatureLayout`.

    Attributes:
        n_continuous: width of the continuous block.
        cardinalities: widths of the one-hot blocks.
        dim: total width.
        offsets: start of each one-hot block in the dense vector.
    """

    def __init__(self, layout: FeatureLayout) -> None:
        self.n_continuous = layout.n_continuous
        self.cardinalities = tuple(layout.cardinalities)
        self.dim = self.n_continuous + sum(self.cardinalities)
        starts = [self.n_continuous]
        for k in self.cardinalities[:-1]:
            starts.append(starts[-1] + k)
        self.offsets = tuple(starts) if self.cardinalities else ()

    def dense(self, table: EncodedTable) -> torch.Tensor:
        """``(n, dim)`` float tensor: masked continuous values, then one-hot codes."""
        n = len(table)
        out = torch.zeros(n, self.dim, device=table.device)
        if self.n_continuous:
            out[:, : self.n_continuous] = table.continuous * table.observed
        if self.cardinalities:
            cols = table.discrete + torch.as_tensor(self.offsets, device=table.device)
            out.scatter_(1, cols, 1.0)
        return out
