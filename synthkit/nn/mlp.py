"""Multi-layer perceptrons."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP", "ResidualMLP"]


class MLP(nn.Sequential):
    """``Linear -> (LayerNorm) -> SiLU -> (Dropout)`` blocks, then a linear output.

    Args:
        d_in: input width.
        widths: hidden widths.
        d_out: output width.
        dropout: dropout after each hidden block.
        norm: LayerNorm in each hidden block.
        activation: activation module class.
    """

    def __init__(
        self,
        d_in: int,
        widths: Sequence[int],
        d_out: int,
        *,
        dropout: float = 0.0,
        norm: bool = False,
        activation: type[nn.Module] = nn.SiLU,
    ) -> None:
        layers: list[nn.Module] = []
        d = d_in
        for w in widths:
            layers.append(nn.Linear(d, w))
            if norm:
                layers.append(nn.LayerNorm(w))
            layers.append(activation())
            if dropout:
                layers.append(nn.Dropout(dropout))
            d = w
        layers.append(nn.Linear(d, d_out))
        super().__init__(*layers)


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(width),
            nn.Linear(width, width * 2),
            nn.SiLU(),
            nn.Dropout(dropout) if dropout else nn.Identity(),
            nn.Linear(width * 2, width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class ResidualMLP(nn.Module):
    """Pre-norm residual MLP (the tabular ResNet of Gorishniy et al., 2021).

    Args:
        d_in: input width.
        width: width of the residual stream.
        depth: number of residual blocks.
        d_out: output width.
        dropout: dropout inside each block.
    """

    def __init__(
        self, d_in: int, width: int, depth: int, d_out: int, *, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.inp = nn.Linear(d_in, width)
        self.blocks = nn.Sequential(*(_ResidualBlock(width, dropout) for _ in range(depth)))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, d_in) -> (n, d_out)``."""
        return self.out(self.blocks(self.inp(x)))
