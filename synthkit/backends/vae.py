"""``vae``: a conditional variational autoencoder with mixed-type decoder heads.

TVAE-class (Xu et al., 2019) and beyond: the decoder gives a full density per cell (a
Gaussian mixture per continuous feature: the mode-specific treatment made a density; a
softmax per categorical feature, with null and spike states as categories) and the KL weight
is annealed. The encoder reads any subset of a row's cells (it is trained on random visible
subsets, as in the Partial VAE and MIWAE), so ``sample(n, conditions=...)`` is conditioned
inside the model: the decoder factorises over cells given z, so p(x_rest | x_known) is the
decoder averaged over p(z | x_known), which is drawn by importance resampling with the encoder
as proposal. No rejection sampling, for any subset of columns.

``score_samples`` is an importance-weighted estimate (IWAE, Burda et al., 2016) of log p(x)
with ``n_importance`` samples from the encoder: a stochastic lower bound in expectation that
tightens as ``n_importance`` grows; with ``n_importance=1`` it is the ELBO.
``exact_log_prob`` is therefore False.

References:
    Kingma & Welling, Auto-Encoding Variational Bayes, 2014.
    Burda et al., Importance Weighted Autoencoders, 2016.
    Ma et al., EDDI: Efficient Dynamic Discovery of High-Value Information with Partial VAE, 2019.
    Mattei & Frellsen, MIWAE: Deep Generative Modelling and Imputation of Incomplete Data, 2019.
    Xu et al., Modeling Tabular Data using Conditional GAN (TVAE), 2019.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from synthkit._validation import Interval, Options
from synthkit.backends._neural import TRAINER_CONSTRAINTS, NeuralBackend
from synthkit.encoding import Conditions, EncodedTable, FeatureLayout
from synthkit.nn import MLP, ConditionEncoder, MixedHead
from synthkit.nn.heads import gumbel_like
from synthkit.training import Objective

__all__ = ["VAEBackend"]

_LOG_2PI = math.log(2 * math.pi)


def _gauss_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return (-0.5 * ((z - mu) ** 2 * torch.exp(-logvar) + logvar + _LOG_2PI)).sum(-1)


class VAENet(nn.Module):
    """Prior N(0, I), decoder p(x | z) and an encoder q(z | x_visible) that reads any subset."""

    def __init__(
        self,
        layout: FeatureLayout,
        latent_dim: int,
        hidden_dims: tuple[int, ...],
        continuous_head: str,
        n_modes: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.layout = layout
        self.visible = ConditionEncoder(layout)  # masked row + visibility flags
        self.head = MixedHead(layout, continuous_head, n_modes)
        self.latent_dim = latent_dim
        self.encoder = MLP(self.visible.dim, hidden_dims, 2 * latent_dim, dropout=dropout)
        self.decoder = MLP(
            latent_dim, tuple(reversed(hidden_dims)), self.head.n_outputs, dropout=dropout
        )

    def posterior(self, x: EncodedTable, known: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Mean and log-variance of q(z | the cells of x where ``known`` (n, n_groups))."""
        h = self.encoder(self.visible.encode(Conditions(x, known), len(x), x.device))
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def cell_log_prob(
        self, out: torch.Tensor, x: EncodedTable, known: torch.Tensor
    ) -> torch.Tensor:
        """``sum over known cells of log p(x_cell | z)``, shape ``(n,)``."""
        cont, disc = self.head.log_prob_terms(out, x)
        kc, kd = Conditions(x, known).feature_masks(self.layout)
        return (cont * kc).sum(1) + (disc * kd).sum(1)


def _all_known(n: int, net: VAENet, device: torch.device) -> torch.Tensor:
    return torch.ones(n, net.visible.n_groups, dtype=torch.bool, device=device)


class _VAEObjective(Objective):
    def __init__(self, net: VAENet, backend: VAEBackend) -> None:
        super().__init__()
        self.net = net
        self.beta = backend.beta
        self.warmup = backend.beta_warmup
        self.rate = backend.condition_rate
        self.trainer: Any = None

    def _elbo(self, batch: EncodedTable, known: torch.Tensor, beta: float) -> torch.Tensor:
        # ELBO of the visible cells: log p(x_known) >= E_q[log p(x_known | z)] - KL(q || p).
        # The decoder factorises over cells given z, so every subset shares one joint model.
        net = self.net
        mu, logvar = net.posterior(batch, known)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        rec = net.cell_log_prob(net.decoder(z), batch, known)
        kl = 0.5 * (torch.exp(logvar) + mu * mu - 1.0 - logvar).sum(1)
        return rec - beta * kl

    def loss(self, batch: EncodedTable) -> torch.Tensor:
        progress = self.trainer.progress if self.trainer is not None else 1.0
        beta = self.beta * min(1.0, progress / self.warmup) if self.warmup > 0 else self.beta
        known = _all_known(len(batch), self.net, batch.device)
        if self.rate > 0:
            partial = self.net.visible.random(batch, self.rate).known
            masked = partial.any(1, keepdim=True)
            known = torch.where(masked, partial, known)
        return -self._elbo(batch, known, beta).mean()

    def validation_loss(self, batch: EncodedTable) -> torch.Tensor:
        known = _all_known(len(batch), self.net, batch.device)
        return -self._elbo(batch, known, 1.0).mean()  # the full-row ELBO, un-annealed

    def train_step(self, batch: EncodedTable, trainer: Any) -> dict[str, torch.Tensor]:
        self.trainer = trainer
        return super().train_step(batch, trainer)


class VAEBackend(NeuralBackend):
    """Conditional VAE for mixed-type tables.

    Args:
        latent_dim: width of the latent code.
        hidden_dims: hidden widths of the encoder (the decoder mirrors them).
        continuous_head: ``"mixture"`` (``n_modes`` Gaussians per continuous feature) or
            ``"gaussian"``.
        n_modes: mixture components per continuous feature.
        beta: weight of the KL term during training (1: the ELBO). Below 1 the decoder keeps
            more of each row (sharper dependencies); TVAE's loss weights amount to 0.5.
            Scores are unaffected in kind: IWAE estimates the fitted model's log p(x).
        beta_warmup: share of training over which the KL weight ramps up from 0.
        condition_rate: share of training rows whose encoder sees a random subset of cells
            (teaches the encoder to propose z from partial rows for conditional sampling).
        n_importance: importance samples per row in ``score_samples`` (1: the ELBO) and
            proposals per row in conditional sampling.
        dropout: dropout in the encoder and decoder.
        epochs: maximum training epochs.
        batch_size: rows per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        time_budget: wall-clock training limit in seconds (``None``: none).
        patience: epochs without validation improvement before stopping.
        validation_fraction: rows held out for early stopping.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from synthkit import Synthesizer
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b"], 400)})
        >>> syn = Synthesizer("vae", {"epochs": 5}, random_state=0).fit(df)
        >>> syn.sample(3, conditions={"c": "a"})["c"].tolist()
        ['a', 'a', 'a']
    """

    name = "vae"
    has_log_prob = True
    exact_log_prob = False
    supports_conditions = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TRAINER_CONSTRAINTS,
        "latent_dim": [Interval(int, 1, None)],
        "hidden_dims": [tuple, list],
        "continuous_head": [Options({"mixture", "gaussian"})],
        "n_modes": [Interval(int, 1, None)],
        "beta": [Interval(float, 0, None, closed="neither")],
        "beta_warmup": [Interval(float, 0, 1)],
        "condition_rate": [Interval(float, 0, 1)],
        "n_importance": [Interval(int, 1, None)],
        "dropout": [Interval(float, 0, 1, closed="left")],
    }

    def __init__(
        self,
        latent_dim: int = 32,
        hidden_dims: tuple[int, ...] = (256, 256),
        continuous_head: str = "mixture",
        n_modes: int = 4,
        beta: float = 0.5,
        beta_warmup: float = 0.1,
        condition_rate: float = 0.3,
        n_importance: int = 32,
        dropout: float = 0.0,
        epochs: int = 300,
        batch_size: int = 512,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        time_budget: float | None = None,
        patience: int | None = 30,
        validation_fraction: float = 0.1,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.continuous_head = continuous_head
        self.n_modes = n_modes
        self.beta = beta
        self.beta_warmup = beta_warmup
        self.condition_rate = condition_rate
        self.n_importance = n_importance
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.time_budget = time_budget
        self.patience = patience
        self.validation_fraction = validation_fraction

    def _build(self, layout: FeatureLayout) -> VAENet:
        return VAENet(
            layout,
            self.latent_dim,
            tuple(self.hidden_dims),
            self.continuous_head,
            self.n_modes,
            self.dropout,
        )

    def _objective(self, net: nn.Module, layout: FeatureLayout, data: EncodedTable) -> Objective:
        return _VAEObjective(net, self)

    @torch.no_grad()
    def _sample(
        self, n: int, *, generator: torch.Generator, conditions: Conditions | None
    ) -> EncodedTable:
        net, dev = self.net_, self.device_
        if conditions is None:
            z = torch.randn(n, net.latent_dim, generator=generator, device=dev)
            return net.head.sample(net.decoder(z), generator)
        # p(z | known cells) by sampling-importance-resampling: k proposals from the encoder
        # (trained on random visible subsets), weighted by p(z) p(x_known | z) / q(z | x_known),
        # one kept per row by Gumbel-max. Exact as k grows; no rejection.
        k = self.n_importance
        chunk = max(1, 65_536 // k)
        parts = []
        for s in range(0, n, chunk):
            cond = conditions.rows(slice(s, s + chunk))
            x, known, m = cond.table, cond.known, len(cond)
            mu, logvar = net.posterior(x, known)
            eps = torch.randn((k, *mu.shape), generator=generator, device=dev)
            z = mu + eps * torch.exp(0.5 * logvar)
            log_w = _gauss_log_prob(z, torch.zeros_like(mu), torch.zeros_like(mu))
            log_w = log_w - _gauss_log_prob(z, mu, logvar)
            out = net.decoder(z.reshape(k * m, -1))
            xr = EncodedTable(
                x.continuous.repeat(k, 1), x.discrete.repeat(k, 1), x.observed.repeat(k, 1)
            )
            log_w = log_w + net.cell_log_prob(out, xr, known.repeat(k, 1)).reshape(k, m)
            pick = (log_w + gumbel_like(log_w, generator)).argmax(0)
            chosen = z[pick, torch.arange(m, device=dev)]
            parts.append(net.head.sample(net.decoder(chosen), generator))
        return EncodedTable(
            torch.cat([p.continuous for p in parts]),
            torch.cat([p.discrete for p in parts]),
            torch.cat([p.observed for p in parts]),
        )

    @torch.no_grad()
    def _log_prob(self, data: EncodedTable) -> torch.Tensor:
        net, k = self.net_, self.n_importance
        gen = self._score_generator()
        chunk = max(1, 65_536 // k)
        out = []
        for s in range(0, len(data), chunk):
            x = data.rows(slice(s, s + chunk))
            m = len(x)
            mu_q, logvar_q = net.posterior(x, _all_known(m, net, self.device_))
            eps = torch.randn((k, *mu_q.shape), generator=gen, device=self.device_)
            z = mu_q + eps * torch.exp(0.5 * logvar_q)  # (k, m, L)
            zeros = torch.zeros_like(mu_q)
            log_w = _gauss_log_prob(z, zeros, zeros) - _gauss_log_prob(z, mu_q, logvar_q)
            xr = EncodedTable(
                x.continuous.repeat(k, 1), x.discrete.repeat(k, 1), x.observed.repeat(k, 1)
            )
            rec = net.head.log_prob(net.decoder(z.reshape(k * m, -1)), xr)
            log_w = log_w + rec.reshape(k, m)
            out.append(torch.logsumexp(log_w, 0) - math.log(k))
        return torch.cat(out)
