"""``transformer``: an any-order autoregressive transformer over columns, with exact likelihood.

One token per column (a :class:`~synthkit.encoding.ColumnGroup`): the column's embedding plus
its value's (a category code; a continuous value's quantile bin and position in the bin;
a null/spike state). The model is the chain rule ``p(x) = prod_i p(x_i | x_<i)`` for an
order of the columns, with every conditional a proper distribution in encoded space:

* categorical features: a softmax over the codes;
* continuous features: a categorical over fixed standard-normal quantile bins times a
  linear density inside the bin, with exponential tails (:mod:`synthkit.nn.binned`); where
  the column also has a state (null or spike), the state is scored first and the value only
  when the state is *regular* (``observed``).

Two-stream attention (XLNet; :mod:`synthkit.nn.two_stream`) gives all the conditionals of an
order in one forward pass. Training draws a random order for half of the rows and uses the
columns' own order for the other half (any-order autoregression, as in any-order NADE and
the ARDMs of Hoogeboom et al.): each step's loss is the exact NLL of the rows under their
order. So:

* ``log_prob``: exact, the columns' own order, one batched pass;
* ``column_log_prob``: ``log p(x_g | all other columns)``, an order ending with ``g``, one
  pass per column (stacked in one batch);
* ``sample``: column by column in the columns' own order with a KV cache; with
  ``conditions``, the known columns first and the others in a random order, so any subset
  conditions exactly, with no rejection.

References:
    Uria et al., A Deep and Tractable Density Estimator, 2014.
    Yang et al., XLNet: Generalized Autoregressive Pretraining for Language Understanding, 2019.
    Hoogeboom et al., Autoregressive Diffusion Models, 2022.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from synthkit._validation import Interval
from synthkit.backends._neural import TRAINER_CONSTRAINTS, NeuralBackend
from synthkit.encoding import Conditions, EncodedTable, FeatureLayout
from synthkit.errors import BackendError, ConfigError
from synthkit.nn.binned import (
    binned_edges,
    binned_log_prob,
    binned_n_params,
    binned_position,
    binned_sample,
)
from synthkit.nn.heads import gumbel_like
from synthkit.nn.two_stream import TwoStreamTransformer
from synthkit.training import Objective

__all__ = ["TransformerBackend"]

_FIXED_ORDER_SHARE = 0.5  # training rows that use the columns' own order (the scoring order)
_ROWS_PER_PASS = 8192


def _index(values: list[int]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long)


class ColumnTransformer(nn.Module):
    """Column tokens, the two-stream transformer and per-column output heads."""

    def __init__(
        self,
        layout: FeatureLayout,
        d_model: int,
        n_layers: int,
        n_heads: int,
        n_bins: int,
        dropout: float,
    ) -> None:
        super().__init__()
        groups = layout.groups
        if not groups:
            raise BackendError("transformer: the feature layout has no column groups")
        disc_group, cont_group, cont_state = [], [], []
        for gi, g in enumerate(groups):
            if len(g.continuous) > 1 or len(g.discrete) > 1 or not (g.continuous or g.discrete):
                raise BackendError(
                    f"transformer: column {g.name!r} has {len(g.continuous)} continuous and "
                    f"{len(g.discrete)} discrete features; expected at most one of each"
                )
            disc_group += [gi] * len(g.discrete)
            cont_group += [gi] * len(g.continuous)
            cont_state += [g.discrete[0] if g.discrete else -1] * len(g.continuous)
        order_d = [d for g in groups for d in g.discrete]
        order_c = [c for g in groups for c in g.continuous]
        if sorted(order_d) != list(range(layout.n_discrete)) or sorted(order_c) != list(
            range(layout.n_continuous)
        ):
            raise BackendError("transformer: the column groups must cover every feature once")
        # Feature j of the layout belongs to group disc_group[inverse j]: index by feature.
        self.n_groups = len(groups)
        self.register_buffer("disc_group", _index(disc_group)[_index(order_d).argsort()], False)
        self.register_buffer("cont_group", _index(cont_group)[_index(order_c).argsort()], False)
        self.register_buffer("cont_state", _index(cont_state)[_index(order_c).argsort()], False)
        self.register_buffer("edges", binned_edges(n_bins), False)
        self.n_bins = n_bins
        cards = list(layout.cardinalities)
        max_card = max(cards, default=1)
        offsets = [0]
        for k in cards[:-1]:
            offsets.append(offsets[-1] + k)
        self.register_buffer("disc_offset", _index(offsets[: len(cards)]), False)
        self.register_buffer(
            "card_mask", torch.arange(max_card).unsqueeze(0) < _index(cards).unsqueeze(1), False
        )
        n_cont, d = layout.n_continuous, d_model
        init = 0.02
        self.column = nn.Parameter(torch.randn(self.n_groups, d) * init)
        self.masked = nn.Parameter(torch.randn(d) * init)
        self.code = nn.Embedding(max(1, sum(cards)), d)
        self.bin = nn.Embedding(max(1, n_cont * (n_bins + 2)), d)
        self.position = nn.Parameter(torch.randn(n_cont, d) * init)
        nn.init.normal_(self.code.weight, std=init)
        nn.init.normal_(self.bin.weight, std=init)
        self.body = TwoStreamTransformer(d, n_layers, n_heads, dropout)
        n_par = binned_n_params(n_bins)
        self.disc_w = nn.Parameter(torch.randn(len(cards), d, max_card) * init)
        self.disc_b = nn.Parameter(torch.zeros(len(cards), max_card))
        self.cont_w = nn.Parameter(torch.randn(n_cont, d, n_par) * init)
        self.cont_b = nn.Parameter(torch.zeros(n_cont, n_par))

    # -------------------------------------------------------------- tokens
    def content(self, x: EncodedTable) -> torch.Tensor:
        """``(B, G, d)`` tokens holding each column's value."""
        tok = self.column.expand(len(x), -1, -1)
        if self.disc_group.numel():
            tok = tok.index_add(1, self.disc_group, self.code(x.discrete + self.disc_offset))
        if self.cont_group.numel():
            b, u = binned_position(x.continuous, self.edges)
            stride = torch.arange(self.cont_group.numel(), device=b.device) * (self.n_bins + 2)
            emb = self.bin(b + stride) + u.unsqueeze(-1) * self.position
            tok = tok.index_add(1, self.cont_group, emb * x.observed.unsqueeze(-1))
        return tok

    def query(self, n: int) -> torch.Tensor:
        """``(n, G, d)`` tokens that only name the column asked for."""
        return (self.column + self.masked).expand(n, -1, -1)

    # ------------------------------------------------------------- outputs
    def _disc_logits(self, h: torch.Tensor, j: Any) -> torch.Tensor:
        logits = torch.einsum("...d,...dk->...k", h.float(), self.disc_w[j]) + self.disc_b[j]
        return logits.masked_fill(~self.card_mask[j], float("-inf"))

    def _cont_params(self, h: torch.Tensor, c: Any) -> torch.Tensor:
        return torch.einsum("...d,...dk->...k", h.float(), self.cont_w[c]) + self.cont_b[c]

    def group_log_prob(self, h: torch.Tensor, x: EncodedTable) -> torch.Tensor:
        """``(B, G)``: each column's log-probability under the query outputs ``h``."""
        lp = torch.zeros(h.shape[:2], device=h.device)
        if self.disc_group.numel():
            logits = self._disc_logits(h[:, self.disc_group], slice(None))
            term = torch.log_softmax(logits, -1).gather(-1, x.discrete.unsqueeze(-1)).squeeze(-1)
            lp = lp.index_add(1, self.disc_group, term)
        if self.cont_group.numel():
            params = self._cont_params(h[:, self.cont_group], slice(None))
            term = binned_log_prob(params, x.continuous, self.edges)
            lp = lp.index_add(1, self.cont_group, torch.where(x.observed, term, 0.0))
        return lp

    def forward(self, x: EncodedTable, rank: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, G)`` log p(x_g | the columns ranked before g); ``None``: the columns' order."""
        return self.group_log_prob(self.body(self.content(x), self.query(len(x)), rank), x)

    def sample_group(
        self,
        h: torch.Tensor,
        g: int,
        x: EncodedTable,
        rows: torch.Tensor,
        generator: torch.Generator,
        temperature: float,
    ) -> None:
        """Draw column ``g`` of ``x`` (in place) at ``rows`` from query outputs ``h`` (m, d)."""
        for j in (self.disc_group == g).nonzero().flatten().tolist():
            lg = self._disc_logits(h, j)
            code = (lg / temperature + gumbel_like(lg, generator)).argmax(-1)
            x.discrete[rows, j] = code
        for c in (self.cont_group == g).nonzero().flatten().tolist():
            params = self._cont_params(h, c)
            x.continuous[rows, c] = binned_sample(params, self.edges, generator, temperature)
            s = int(self.cont_state[c])
            x.observed[rows, c] = x.discrete[rows, s] == 0 if s >= 0 else True


class _AnyOrderObjective(Objective):
    """Exact NLL of each row under its order: random, or the columns' own (the scoring one)."""

    def __init__(self, net: ColumnTransformer) -> None:
        super().__init__()
        self.net = net

    def loss(self, batch: EncodedTable) -> torch.Tensor:
        n, g, dev = len(batch), self.net.n_groups, batch.device
        rank = torch.arange(g, device=dev).expand(n, g)
        shuffled = torch.rand(n, g, device=dev).argsort(1)
        rank = torch.where(torch.rand(n, 1, device=dev) < _FIXED_ORDER_SHARE, rank, shuffled)
        return -self.net(batch, rank).sum(1).mean()

    def validation_loss(self, batch: EncodedTable) -> torch.Tensor:
        return -self.net(batch).sum(1).mean()  # the scoring order's exact NLL


class TransformerBackend(NeuralBackend):
    """Any-order autoregressive transformer over columns.

    Args:
        d_model: token width.
        n_layers: transformer blocks.
        n_heads: attention heads (must divide ``d_model``).
        n_bins: interior quantile bins per continuous feature (two tail bins are added).
        dropout: dropout on the residual branches.
        temperature: sampling temperature of every categorical choice (codes, states, bins);
            1 samples the model, lower values sharpen it.
        epochs: maximum training epochs.
        batch_size: rows per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        time_budget: wall-clock training limit in seconds (``None``: none).
        patience: epochs without validation improvement before stopping.
        validation_fraction: rows held out for early stopping.

    Attributes:
        net_: the fitted :class:`ColumnTransformer`.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from synthkit import Synthesizer
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
        >>> params = {"epochs": 3, "d_model": 16, "n_layers": 1}
        >>> syn = Synthesizer("transformer", params, random_state=0).fit(df)
        >>> syn.sample(3, conditions={"c": "a"})["c"].tolist()
        ['a', 'a', 'a']
    """

    name = "transformer"
    has_log_prob = True
    exact_log_prob = True
    supports_explain = True
    supports_conditions = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TRAINER_CONSTRAINTS,
        "d_model": [Interval(int, 1, None)],
        "n_layers": [Interval(int, 1, None)],
        "n_heads": [Interval(int, 1, None)],
        "n_bins": [Interval(int, 2, None)],
        "dropout": [Interval(float, 0, 1, closed="left")],
        "temperature": [Interval(float, 0, None, closed="neither")],
    }

    def __init__(
        self,
        d_model: int = 64,
        n_layers: int = 3,
        n_heads: int = 4,
        n_bins: int = 64,
        dropout: float = 0.1,
        temperature: float = 1.0,
        epochs: int = 300,
        batch_size: int = 512,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        time_budget: float | None = None,
        patience: int | None = 20,
        validation_fraction: float = 0.1,
    ) -> None:
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.n_bins = n_bins
        self.dropout = dropout
        self.temperature = temperature
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.time_budget = time_budget
        self.patience = patience
        self.validation_fraction = validation_fraction

    def _build(self, layout: FeatureLayout) -> ColumnTransformer:
        if self.d_model % self.n_heads:
            raise ConfigError(
                f"transformer: n_heads={self.n_heads} must divide d_model={self.d_model}; "
                "change one of them"
            )
        return ColumnTransformer(
            layout, self.d_model, self.n_layers, self.n_heads, self.n_bins, self.dropout
        )

    def _objective(self, net: nn.Module, layout: FeatureLayout, data: EncodedTable) -> Objective:
        return _AnyOrderObjective(net)

    # ------------------------------------------------------------- scoring
    @torch.no_grad()
    def _log_prob(self, data: EncodedTable) -> torch.Tensor:
        parts = [
            self.net_(data.rows(slice(s, s + _ROWS_PER_PASS))).sum(1)
            for s in range(0, len(data), _ROWS_PER_PASS)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, device=self.device_)

    @torch.no_grad()
    def _column_log_prob(self, data: EncodedTable) -> torch.Tensor:
        g, dev = self.net_.n_groups, self.device_
        # Order k: the columns' own order with column k moved to the end.
        base = torch.arange(g, device=dev)
        ranks = torch.stack([torch.where(base > k, base - 1, base) for k in range(g)])
        ranks[torch.arange(g), torch.arange(g)] = g - 1
        out = []
        step = max(1, _ROWS_PER_PASS // g)
        for s in range(0, len(data), step):
            x = data.rows(slice(s, s + step))
            m = len(x)
            xr = EncodedTable(
                x.continuous.repeat(g, 1), x.discrete.repeat(g, 1), x.observed.repeat(g, 1)
            )
            lp = self.net_(xr, ranks.repeat_interleave(m, 0)).reshape(g, m, g)
            out.append(lp.diagonal(dim1=0, dim2=2))  # (m, g): pass k's term of column k
        return torch.cat(out) if out else torch.zeros(0, g, device=dev)

    # ------------------------------------------------------------ sampling
    @torch.no_grad()
    def _sample(
        self, n: int, *, generator: torch.Generator, conditions: Conditions | None
    ) -> EncodedTable:
        parts = []
        for s in range(0, n, _ROWS_PER_PASS):
            m = min(_ROWS_PER_PASS, n - s)
            if conditions is None:
                x = self._decode_cached(m, generator)
            else:
                x = self._decode_masked(conditions.rows(slice(s, s + m)), generator)
            parts.append(x)
        return EncodedTable(
            torch.cat([p.continuous for p in parts]),
            torch.cat([p.discrete for p in parts]),
            torch.ones_like(torch.cat([p.observed for p in parts])),
        )

    def _blank(self, n: int) -> EncodedTable:
        lay, dev = self.layout_, self.device_
        return EncodedTable(
            torch.zeros(n, lay.n_continuous, device=dev),
            torch.zeros(n, lay.n_discrete, dtype=torch.long, device=dev),
            torch.ones(n, lay.n_continuous, dtype=torch.bool, device=dev),
        )

    def _decode_cached(self, n: int, generator: torch.Generator) -> EncodedTable:
        """Columns in their own order, keeping the content stream's keys and values."""
        net = self.net_
        x = self._blank(n)
        rows = torch.arange(n, device=self.device_)
        cache = net.body.new_cache()
        query = net.query(n)
        for g in range(net.n_groups):
            h = net.body.query_step(query[:, g : g + 1], cache)[:, 0]
            net.sample_group(h, g, x, rows, generator, self.temperature)
            if g + 1 < net.n_groups:
                net.body.content_step(net.content(x)[:, g : g + 1], cache)
        return x

    def _decode_masked(self, cond: Conditions, generator: torch.Generator) -> EncodedTable:
        """Known columns first, the others one at a time in a random order per row."""
        net, n, dev = self.net_, len(cond), self.device_
        known = cond.known
        g_all = net.n_groups
        x = EncodedTable(
            cond.table.continuous.clone(), cond.table.discrete.clone(), cond.table.observed.clone()
        )
        key = torch.rand(n, g_all, generator=generator, device=dev) + (~known).float() * 2.0
        rank = key.argsort(1).argsort(1)
        query = net.query(n)
        for r in range(int(known.sum(1).min()), g_all):
            h = net.body(net.content(x), query, rank)
            for g in range(g_all):
                rows = ((rank[:, g] == r) & ~known[:, g]).nonzero().flatten()
                if rows.numel():
                    net.sample_group(h[rows, g], g, x, rows, generator, self.temperature)
        return x
