"""Condition vectors: the known cells of a row as a network input.

A condition vector is the row's dense vector (see :class:`~synthkit.nn.TableVectorizer`) with
the unknown columns zeroed, followed by one known/unknown flag per column. The all-zero vector
means "no condition", so one network serves unconditional and conditional sampling. Training
draws random known subsets (:meth:`ConditionEncoder.random`), which is what lets a model
condition on ANY subset of columns at sampling time.
"""

from __future__ import annotations

import torch

from synthkit.encoding import Conditions, EncodedTable, FeatureLayout
from synthkit.nn.tabular import TableVectorizer

__all__ = ["ConditionEncoder", "Conditions"]


class ConditionEncoder:
    """Build condition vectors for one :class:`FeatureLayout`.

    Attributes:
        dim: width of a condition vector.
    """

    def __init__(self, layout: FeatureLayout) -> None:
        self.layout = layout
        self.vec = TableVectorizer(layout)
        self.n_groups = len(layout.groups)
        self.dim = self.vec.dim + self.n_groups
        owner = torch.zeros(self.vec.dim, dtype=torch.long)
        for gi, g in enumerate(layout.groups):
            for c in g.continuous:
                owner[c] = gi
            for d in g.discrete:
                start = self.vec.offsets[d]
                owner[start : start + layout.cardinalities[d]] = gi
        self._owner = owner

    def encode(self, cond: Conditions | None, n: int, device: torch.device) -> torch.Tensor:
        """``(n, dim)`` condition vectors (zeros when ``cond`` is None)."""
        if cond is None or self.n_groups == 0:
            return torch.zeros(n, self.dim, device=device)
        known = cond.known.to(device)
        dense = self.vec.dense(cond.table.to(device)) * known[:, self._owner.to(device)]
        return torch.cat([dense, known.float()], dim=1)

    def random(
        self, table: EncodedTable, rate: float, generator: torch.Generator | None = None
    ) -> Conditions:
        """Random known subsets of ``table``'s own cells, for training.

        A share ``rate`` of the rows get conditions; each of them keeps every column with a
        probability drawn uniformly per row, so small and large subsets are both seen.
        """
        n, dev = len(table), table.device
        keep_p = torch.rand(n, 1, generator=generator, device=dev)
        known = torch.rand(n, self.n_groups, generator=generator, device=dev) < keep_p
        active = torch.rand(n, 1, generator=generator, device=dev) < rate
        return Conditions(table, known & active)
