"""Two-stream attention (XLNet) over column tokens: every order's conditionals in one pass.

For an order of the columns given as a rank per column, a *content* stream carries each
column's value and a *query* stream carries only which column is asked for. With shared
weights, the content token of rank ``r`` attends to the content tokens of rank ``<= r``; the
query token of rank ``r`` attends to the content tokens of rank ``< r`` and to itself. The
query stream's output at a column therefore depends only on the columns before it in the
order, so one forward pass gives every conditional ``p(x_i | x_<i)`` of the order: the
exact likelihood of a row, for any order, without a per-column loop.

Because the content stream is causal, decoding in a fixed order can keep its keys and values
(a KV cache): :meth:`TwoStreamTransformer.query_step` and :meth:`content_step` advance one
column at a time and reproduce the full pass exactly.

References:
    Yang et al., XLNet: Generalized Autoregressive Pretraining for Language Understanding, 2019.
    Uria et al., A Deep and Tractable Density Estimator (any-order NADE), 2014.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["KVCache", "TwoStreamTransformer", "two_stream_mask"]

KVCache = list[tuple[torch.Tensor, torch.Tensor] | None]


def two_stream_mask(rank: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor:
    """Attention mask ``(B or 1, 1, 2n, 2n)`` (True = may attend) for ranks ``(B, n)``.

    ``None`` means the columns' own order (one mask shared by every row).
    """
    if rank is None:
        rank = torch.arange(n, device=device).unsqueeze(0)
    ri, rj = rank.unsqueeze(2), rank.unsqueeze(1)
    eye = torch.eye(n, dtype=torch.bool, device=device).expand(rank.shape[0], n, n)
    top = torch.cat([rj <= ri, torch.zeros_like(eye)], 2)  # content -> content (<= own rank)
    bottom = torch.cat([rj < ri, eye], 2)  # query -> earlier content, and itself
    return torch.cat([top, bottom], 1).unsqueeze(1)


class _Block(nn.Module):
    """Pre-norm transformer block whose attention can also run one token at a time."""

    def __init__(self, d: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.drop = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.n_heads, d // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (b, heads, n, d_head)
        return q, k, v

    def _finish(self, x: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        b, _, n, _ = att.shape
        x = x + self.drop(self.proj(att.transpose(1, 2).reshape(b, n, -1)))
        return x + self.drop(self.ff(self.norm2(x)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Outputs of tokens ``start:`` (all of them by default), attending under ``mask``."""
        q, k, v = self._heads(x)
        q, mask, x = q[:, :, start:], mask[:, :, start:], x[:, start:]
        return self._finish(x, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))

    def step(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One token ``(B, 1, d)`` attending to ``past`` keys/values and itself.

        Returns:
            The block's output and the token's own key and value.
        """
        q, k, v = self._heads(x)
        keys, values = (
            (k, v) if past is None else (torch.cat([past[0], k], 2), torch.cat([past[1], v], 2))
        )
        return self._finish(x, F.scaled_dot_product_attention(q, keys, values)), k, v


class TwoStreamTransformer(nn.Module):
    """A stack of blocks shared by the content and the query stream.

    Args:
        d_model: token width.
        n_layers: number of blocks.
        n_heads: attention heads (must divide ``d_model``).
        dropout: dropout on the residual branches.
    """

    def __init__(self, d_model: int, n_layers: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_Block(d_model, n_heads, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self, content: torch.Tensor, query: torch.Tensor, rank: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Query-stream outputs ``(B, n, d)``: position ``i`` sees the columns ranked before it."""
        n = content.shape[1]
        x = torch.cat([content, query], 1)
        mask = two_stream_mask(rank, n, x.device)
        for block in self.blocks[:-1]:
            x = block(x, mask)
        return self.norm(self.blocks[-1](x, mask, start=n))  # the content output is not used

    def new_cache(self) -> KVCache:
        """An empty cache: no column decoded yet."""
        return [None] * len(self.blocks)

    def query_step(self, query: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Query output ``(B, 1, d)`` for the next column, given the cached columns."""
        x = query
        for block, past in zip(self.blocks, cache, strict=True):
            x, _, _ = block.step(x, past)
        return self.norm(x)

    def content_step(self, content: torch.Tensor, cache: KVCache) -> None:
        """Append the next column's content token ``(B, 1, d)`` to ``cache`` (in place)."""
        x = content
        for i, block in enumerate(self.blocks):
            past = cache[i]
            x_next, k, v = block.step(x, past)
            cache[i] = (
                (k, v) if past is None else (torch.cat([past[0], k], 2), torch.cat([past[1], v], 2))
            )
            x = x_next
