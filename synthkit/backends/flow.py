"""``flow``: an exact-likelihood mixed model, discrete MADE + conditional neural spline flow.

An encoded row is a set of category codes ``d`` (categorical columns and the null/spike
*states* of numeric columns) and a continuous block ``x`` whose entry ``i`` is part of the
row only where ``observed_i`` (the state is regular). The model factorises exactly as

    log p(d, x_obs) = log p(d) + log p(x_obs | d)

* ``p(d)``: an autoregressive categorical model over the codes, a MADE (Germain et al., 2015)
  built from :class:`zuko.nn.MaskedMLP` on one-hot inputs: one softmax per feature given
  the features before it. Normalised by construction, so the codes score a probability.
* ``p(x_obs | d)``: ``n_transforms`` masked autoregressive rational-quadratic spline layers
  (Durkan et al., 2019; zuko's :class:`~zuko.transforms.MonotonicRQSTransform` and
  :class:`~zuko.nn.MaskedMLP`) over a standard normal base, conditioned on the one-hot of
  ``d`` and the observed flags. All layers share one feature order, so the composition is
  autoregressive: ``z_i = g_i(x_i; x_<i, d)`` with ``g_i`` a strictly increasing bijection
  of R in ``x_i``, hence ``p(x_i | x_<i, d) = N(z_i) dg_i/dx_i`` is a normalised density.

Marginalising an unobserved entry is exact, not an imputation. Which entries are observed is
a function of ``d`` (state 0 = regular), so given ``d`` the unobserved entries do not exist:
they are set to 0 at the input of every layer (the conditioners read a constant) and
their terms are left out, which leaves ``p(x_obs | d) = prod over observed i of
p(x_i | x_<i observed, d)``: a product of normalised conditionals, i.e. a normalised density
over the observed entries for every ``d``. (Replacing unobserved entries by noise, or giving
them an N(0, 1) term, would not be.) The encoder's placeholder values are never read.

Sampling draws ``d`` feature by feature (Gumbel-max), then inverts each layer by
``n_continuous`` autoregressive passes. ``exact_log_prob`` is True. Conditioning on a subset
of columns, and per-column terms ``log p(x_g | x_rest)``, would need marginals of an
autoregressive model in a fixed order, which it does not give exactly: ``supports_conditions``
and ``supports_explain`` are False (``vae``, ``gan`` and ``transformer`` condition;
``gmm``, ``naive_bayes`` and ``transformer`` explain).

References:
    Germain et al., MADE: Masked Autoencoder for Distribution Estimation, 2015.
    Papamakarios et al., Masked Autoregressive Flow for Density Estimation, 2017.
    Durkan et al., Neural Spline Flows, 2019.
    Rozet et al., Zuko: Normalizing flows in PyTorch, 2022.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn
from zuko.nn import MaskedMLP
from zuko.transforms import MonotonicRQSTransform

from synthkit._validation import Interval
from synthkit.backends._neural import TRAINER_CONSTRAINTS, NeuralBackend
from synthkit.encoding import Conditions, EncodedTable, FeatureLayout
from synthkit.nn import TableVectorizer
from synthkit.nn.heads import gumbel_like
from synthkit.nn.tabular import category_counts
from synthkit.training import Objective

__all__ = ["FlowBackend"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class _SplineLayer(nn.Module):
    """One masked autoregressive RQS layer: ``y_i = spline_i(x_i; x_<i, context)``."""

    def __init__(self, features: int, context: int, bins: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.features, self.bins = features, bins
        self.total = 3 * bins - 1  # widths, heights, inner derivatives
        order = torch.arange(features)
        adjacency = torch.cat(
            [order[:, None] > order[None, :], torch.ones(features, context, dtype=torch.bool)], 1
        )
        self.hyper = MaskedMLP(
            adjacency.repeat_interleave(self.total, dim=0), hidden, activation=nn.SiLU
        )
        # Zero spline parameters are the identity: the flow starts as the N(0, 1) that the
        # encoder's quantile transform aims at.
        nn.init.zeros_(self.hyper[-1].weight)
        nn.init.zeros_(self.hyper[-1].bias)

    def spline(self, x: torch.Tensor, context: torch.Tensor) -> MonotonicRQSTransform:
        """The element-wise spline given the layer's input ``x`` (``(n, features)``)."""
        phi = self.hyper(torch.cat([x, context], 1)).float()  # float32 splines under AMP
        phi = phi.unflatten(-1, (self.features, self.total))
        b = self.bins
        return MonotonicRQSTransform(phi[..., :b], phi[..., b : 2 * b], phi[..., 2 * b :])


class FlowNet(nn.Module):
    """MADE over the category codes and a conditional spline flow over the floats."""

    def __init__(
        self,
        layout: FeatureLayout,
        hidden_dims: tuple[int, ...],
        n_transforms: int,
        bins: int,
    ) -> None:
        super().__init__()
        self.vec = TableVectorizer(layout)
        self.n_continuous = layout.n_continuous
        self.cardinalities = tuple(layout.cardinalities)
        n_onehot = sum(self.cardinalities)
        self.discrete = None
        if self.cardinalities:
            owner = torch.repeat_interleave(
                torch.arange(len(self.cardinalities)), torch.tensor(self.cardinalities)
            )
            # Logits of feature j read the one-hots of features < j, plus a constant input.
            adjacency = torch.cat(
                [owner[:, None] > owner[None, :], torch.ones(n_onehot, 1, dtype=torch.bool)], 1
            )
            self.discrete = MaskedMLP(adjacency, hidden_dims, activation=nn.SiLU)
            nn.init.zeros_(self.discrete[-1].weight)  # starts at the marginals (init_marginals)
        # Context of the flow: one-hot codes, observed flags, a constant.
        context = n_onehot + self.n_continuous + 1
        self.layers = nn.ModuleList(
            _SplineLayer(self.n_continuous, context, bins, hidden_dims)
            for _ in range(n_transforms if self.n_continuous else 0)
        )
        # Which code makes each float unobserved: the state feature of the same column.
        state = [-1] * self.n_continuous
        for g in layout.groups:
            for c in g.continuous:
                state[c] = g.discrete[0] if g.discrete else -1
        self.register_buffer("state_of", torch.tensor(state, dtype=torch.long), persistent=False)

    # ------------------------------------------------------------- discrete
    def _onehot(self, codes: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(len(codes), sum(self.cardinalities), device=codes.device)
        if self.cardinalities:
            offsets = torch.as_tensor(self.vec.offsets, device=codes.device) - self.n_continuous
            out.scatter_(1, codes + offsets, 1.0)
        return out

    def _logits(self, onehot: torch.Tensor) -> list[torch.Tensor]:
        ones = torch.ones(len(onehot), 1, device=onehot.device)
        out = self.discrete(torch.cat([onehot, ones], 1)).float()
        return list(out.split(self.cardinalities, dim=1))

    def discrete_log_prob(self, codes: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """``log p(d)``, shape ``(n,)``."""
        total = torch.zeros(len(codes), device=codes.device)
        if self.discrete is None:
            return total
        for j, lg in enumerate(self._logits(onehot)):
            total = total + torch.log_softmax(lg, 1).gather(1, codes[:, j : j + 1]).squeeze(1)
        return total

    @torch.no_grad()
    def init_marginals(self, codes: torch.Tensor) -> None:
        """Set the MADE's output biases to the log-frequencies of ``codes`` (smoothed).

        With zero output weights the model starts at the product of the marginals, and codes
        never seen in training start (and usually stay) improbable.
        """
        if self.discrete is None:
            return
        bias = []
        for counts in category_counts(codes, self.cardinalities):
            counts = counts + 0.01
            bias.append(torch.log(counts / counts.sum()))
        self.discrete[-1].bias.copy_(torch.cat(bias))

    # ----------------------------------------------------------- continuous
    def _context(self, onehot: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        ones = torch.ones(len(onehot), 1, device=onehot.device)
        return torch.cat([onehot, observed.float(), ones], 1)

    def continuous_log_prob(
        self, x: torch.Tensor, observed: torch.Tensor, context: torch.Tensor
    ) -> torch.Tensor:
        """``log p(x_obs | d)``, shape ``(n,)``: unobserved entries marginalised out."""
        h = torch.where(observed, x.float(), torch.zeros_like(x, dtype=torch.float32))
        ladj = torch.zeros_like(h)
        for layer in self.layers:
            y, term = layer.spline(h, context).call_and_ladj(h)
            ladj = ladj + term
            h = torch.where(observed, y, torch.zeros_like(y))
        per_dim = ladj - 0.5 * h * h - _LOG_SQRT_2PI
        return (per_dim * observed).sum(1)

    def log_prob(self, table: EncodedTable) -> torch.Tensor:
        """Exact ``log p(d) + log p(x_obs | d)`` of each row, shape ``(n,)``."""
        onehot = self._onehot(table.discrete)
        lp = self.discrete_log_prob(table.discrete, onehot)
        if self.n_continuous:
            ctx = self._context(onehot, table.observed)
            lp = lp + self.continuous_log_prob(table.continuous, table.observed, ctx)
        return lp

    # ------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> EncodedTable:
        """Draw ``n`` rows: codes feature by feature, then the floats by inverting the flow."""
        dev = self.state_of.device
        codes = torch.zeros(n, len(self.cardinalities), dtype=torch.long, device=dev)
        for j in range(len(self.cardinalities)):
            lg = self._logits(self._onehot(codes))[j]
            codes[:, j] = (lg + gumbel_like(lg, generator)).argmax(1)
        c = self.n_continuous
        noise = torch.randn(n, c, generator=generator, device=dev)
        has_state = self.state_of >= 0
        observed = torch.ones(n, c, dtype=torch.bool, device=dev)
        if has_state.any():
            state = codes[:, self.state_of.clamp(min=0)]
            observed = torch.where(has_state, state == 0, observed)
        ctx = self._context(self._onehot(codes), observed)
        h = torch.where(observed, noise, torch.zeros_like(noise))
        for layer in reversed(self.layers):
            y, x = h, torch.zeros_like(h)
            for _ in range(c):  # one more correct feature per pass (autoregressive)
                x = layer.spline(x, ctx).inv(y)
                x = torch.where(observed, x, torch.zeros_like(x))
            h = x
        # Unobserved entries get a random regular value (ignored on decode), as in training.
        cont = torch.where(observed, h, torch.randn(n, c, generator=generator, device=dev))
        return EncodedTable(cont, codes, torch.ones_like(cont, dtype=torch.bool))


class _FlowObjective(Objective):
    def __init__(self, net: FlowNet) -> None:
        super().__init__()
        self.net = net
        self.scale = 1.0 / max(1, net.n_continuous + len(net.cardinalities))

    def loss(self, batch: EncodedTable) -> torch.Tensor:
        # Negative log-likelihood per row and feature (keeps the step size table-independent).
        return -self.net.log_prob(batch).mean() * self.scale


class FlowBackend(NeuralBackend):
    """Exact-likelihood flow for mixed-type tables: MADE for codes, spline flow for floats.

    Args:
        hidden_dims: hidden widths of the MADE over the category codes and of each flow
            layer's masked conditioner.
        n_transforms: number of autoregressive spline layers (same feature order).
        bins: spline bins per layer (on [-5, 5]; identity outside).
        epochs: maximum training epochs.
        batch_size: rows per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        time_budget: wall-clock training limit in seconds (``None``: none).
        patience: epochs without validation improvement before stopping.
        validation_fraction: rows held out for early stopping.

    Attributes:
        net_: the trained :class:`FlowNet`.
        fit_info_: the training summary (epochs, best epoch, stop reason, seconds).

    Example:
        >>> import numpy as np, pandas as pd
        >>> from synthkit import Synthesizer
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b"], 400)})
        >>> syn = Synthesizer("flow", {"epochs": 5}, random_state=0).fit(df)
        >>> bool(np.isfinite(syn.score_samples(df)).all()), len(syn.sample(3))
        (True, 3)
    """

    name = "flow"
    has_log_prob = True
    exact_log_prob = True
    supports_explain = False
    supports_conditions = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TRAINER_CONSTRAINTS,
        "hidden_dims": [tuple, list],
        "n_transforms": [Interval(int, 1, None)],
        "bins": [Interval(int, 2, None)],
    }

    def __init__(
        self,
        hidden_dims: tuple[int, ...] = (128, 128),
        n_transforms: int = 2,
        bins: int = 8,
        epochs: int = 300,
        batch_size: int = 512,
        lr: float = 2e-3,
        weight_decay: float = 1e-5,
        time_budget: float | None = None,
        patience: int | None = 20,
        validation_fraction: float = 0.1,
    ) -> None:
        self.hidden_dims = hidden_dims
        self.n_transforms = n_transforms
        self.bins = bins
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.time_budget = time_budget
        self.patience = patience
        self.validation_fraction = validation_fraction

    def _build(self, layout: FeatureLayout) -> FlowNet:
        return FlowNet(
            layout,
            tuple(self.hidden_dims),
            self.n_transforms,
            self.bins,
        )

    def _objective(self, net: nn.Module, layout: FeatureLayout, data: EncodedTable) -> Objective:
        net.init_marginals(data.discrete)  # start the MADE at the training marginals
        return _FlowObjective(net)

    def _sample(
        self, n: int, *, generator: torch.Generator, conditions: Conditions | None
    ) -> EncodedTable:
        chunk = 65_536
        parts = [self.net_.sample(min(chunk, n - s), generator) for s in range(0, n, chunk)]
        if not parts:
            return self.net_.sample(0, generator)
        return EncodedTable(
            torch.cat([p.continuous for p in parts]),
            torch.cat([p.discrete for p in parts]),
            torch.cat([p.observed for p in parts]),
        )

    @torch.no_grad()
    def _log_prob(self, data: EncodedTable) -> torch.Tensor:
        chunk = 65_536
        parts = [
            self.net_.log_prob(data.rows(slice(s, s + chunk))) for s in range(0, len(data), chunk)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, device=self.device_)
