"""``diffusion``: joint Gaussian + masked diffusion over the encoded table (TabDiff-class).

One residual MLP denoises a whole row: the continuous block (about N(0, 1) after the
quantile transform) by variance-preserving Gaussian diffusion with a cosine log-SNR schedule
and ``v``-prediction, the categorical codes (including null and spike states) by
absorbing-state masked diffusion, where a code is replaced by ``[MASK]`` with probability
``t`` and the network predicts the clean category. Both share the time ``t``, so one network
call per step serves both; see :mod:`synthkit.nn.diffusion` for the schedule.

Sampling is ancestral over ``n_steps`` (default 50) steps of ``t`` from 1 to 0: the
continuous block moves by the Gaussian posterior ``q(z_s | z_t, x_hat)``, each masked code is
revealed with probability ``(t - s) / t`` to a category drawn from the network's softmax.
Every draw comes from the given generator. Conditions (any subset of columns): the network
reads a :class:`~synthkit.nn.ConditionEncoder` vector (it is trained with random known subsets
for a share ``condition_rate`` of rows), known codes are never masked, and known continuous
entries are replaced at every step by their forward-noised values (RePaint-style inpainting).

``score_samples`` is the continuous-time ELBO (a lower bound on log p(x), so
``exact_log_prob = False``): the Gaussian diffusion bound with prior and reconstruction terms,
plus the masked-diffusion bound, estimated with ``n_score_draws`` stratified draws of
``(t, noise, masks)`` per row from a fixed stream (repeatable scores). Control variates keep
the estimate tight: the closed-form bound of N(0, 1) data for the continuous part, the
training marginals for the categorical part. A continuous entry whose state is null or a
spike is not part of the row: it is filled with an N(0, 1) draw both in training and when
scoring, and that draw's density is divided out (importance sampling with a standard normal
proposal), so the score stays a bound on the marginal of the observed cells.

References:
    Kotelnikov et al., TabDDPM: Modelling Tabular Data with Diffusion Models, 2023.
    Shi et al., TabDiff: a Mixed-type Diffusion Model for Tabular Data Generation, 2025.
    Sahoo et al., Simple and Effective Masked Diffusion Language Models (MDLM), 2024.
    Lou et al., Discrete Diffusion Modeling by Estimating the Ratios of the Data
    Distribution (SEDD), 2024.
    Karras et al., Elucidating the Design Space of Diffusion-Based Generative Models
    (EDM), 2022.
    Kingma et al., Variational Diffusion Models, 2021.
    Lugmayr et al., RePaint: Inpainting using Denoising Diffusion Probabilistic Models, 2022.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from synthkit._validation import Interval
from synthkit.backends._neural import TRAINER_CONSTRAINTS, NeuralBackend
from synthkit.encoding import Conditions, EncodedTable, FeatureLayout
from synthkit.nn.diffusion import CosineSchedule, DiffusionNet, gaussian_terms
from synthkit.training import Objective

__all__ = ["DiffusionBackend"]

_U_MIN = 1e-3  # t >= 1e-6: keeps the ELBO weights finite


@dataclass
class _Terms:
    """Per-row pieces of the loss and of the bound at one draw of ``(t, noise, masks)``."""

    dv: torch.Tensor  # (n, C) squared error of v
    dv0: torch.Tensor  # (n, C) squared error of the N(0, 1) denoiser (v = 0)
    lp: torch.Tensor  # (n, D) log p(clean code | z_t)
    masked: torch.Tensor  # (n, D) float, 1 where the code was masked
    t: torch.Tensor  # (n,)
    inv_q: torch.Tensor  # (n,) 1 / proposal density of t
    alpha2: torch.Tensor  # (n,)
    neg_dlam: torch.Tensor  # (n,)

    def disc_weight(self) -> torch.Tensor:
        """ELBO weight of a masked code: ``(1 / t) / q(t)``."""
        return self.masked * (self.inv_q / self.t)[:, None]

    def training_loss(self) -> torch.Tensor:
        """v-MSE plus the masked-diffusion ELBO, per row, averaged over the features."""
        width = max(1, self.dv.shape[1] + self.lp.shape[1])
        return (self.dv.sum(1) - (self.disc_weight() * self.lp).sum(1)) / width

    def cont_weight(self) -> torch.Tensor:
        """ELBO weight of the v-error: ``1/2 alpha^2 (-d lambda/dt) / q(t)``."""
        return 0.5 * self.neg_dlam * self.inv_q * self.alpha2

    def nll_mc(self, log_pi: torch.Tensor) -> torch.Tensor:
        """The Monte-Carlo part of the negative bound (control-variate differences)."""
        # Gaussian part: 1/2 int alpha^2 (||v - v*||^2 - ||v*||^2) d lambda; d lambda/dt and
        # the proposal density q(t) = 1 / (2u) turn it into an expectation over u.
        cont = self.cont_weight() * (self.dv - self.dv0).sum(1)
        disc = (self.disc_weight() * (log_pi - self.lp)).sum(1)
        return cont + disc


def _draw_terms(
    net: DiffusionNet,
    schedule: CosineSchedule,
    xc: torch.Tensor,
    codes: torch.Tensor,
    t: torch.Tensor,
    inv_q: torch.Tensor,
    generator: torch.Generator | None,
    cond: torch.Tensor,
    keep: torch.Tensor | None = None,
    antithetic: bool = False,
) -> _Terms:
    """Noise ``(xc, codes)`` at time ``t`` (proposal density ``1 / inv_q``), run the network.

    With ``antithetic``, the second half of the rows repeats the first (same values, times
    and masks) and gets the negated Gaussian noise: at high SNR the noise's first-order effect
    on the bound cancels within each pair.
    """
    alpha, sigma = schedule.alpha_sigma(t)
    shape, dev = xc.shape, xc.device
    if antithetic:
        half = (shape[0] // 2, shape[1])
        eps = torch.randn(half, generator=generator, device=dev)
        eps = torch.cat([eps, -eps])
        half_t = t[: shape[0] // 2, None]
        masked = torch.rand(half[0], codes.shape[1], generator=generator, device=dev) < half_t
        masked = torch.cat([masked, masked])
    else:
        eps = torch.randn(shape, generator=generator, device=dev)
        masked = torch.rand(codes.shape, generator=generator, device=dev) < t[:, None]
    z = alpha[:, None] * xc + sigma[:, None] * eps
    if keep is not None:
        masked &= ~keep
    y = torch.where(masked, net.mask_codes, codes)
    v, logits = net(z, y, t, cond)
    v_star = alpha[:, None] * eps - sigma[:, None] * xc
    return _Terms(
        dv=(v.float() - v_star) ** 2,
        dv0=v_star**2,
        lp=net.category_log_prob(logits, codes),
        masked=masked.float(),
        t=t,
        inv_q=inv_q,
        alpha2=alpha * alpha,
        neg_dlam=schedule.neg_dlog_snr(t),
    )


def _filled(table: EncodedTable, generator: torch.Generator | None) -> torch.Tensor:
    """The continuous block with unobserved entries replaced by N(0, 1) draws."""
    noise = torch.randn(table.continuous.shape, generator=generator, device=table.device)
    return torch.where(table.observed, table.continuous, noise)


def _stratified_u(n: int, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
    u = (torch.arange(n, device=device) + torch.rand(1, generator=generator, device=device)) / n
    return u.clamp(_U_MIN, 1.0)


class _DiffusionObjective(Objective):
    def __init__(self, net: DiffusionNet, rate: float) -> None:
        super().__init__()
        self.net = net
        self.rate = rate
        self.schedule = CosineSchedule()

    def _loss(
        self, batch: EncodedTable, generator: torch.Generator | None, rate: float
    ) -> torch.Tensor:
        net, n, dev = self.net, len(batch), batch.device
        keep, cond = None, torch.zeros(n, net.cond.dim, device=dev)
        if rate > 0:
            known = net.cond.random(batch, rate, generator)
            cond = net.cond.encode(known, n, dev)
            keep = known.feature_masks(net.layout)[1]
        # t: half the rows uniform (the high-noise levels that set the modes' weights), half
        # u^2 (low noise); the ELBO weights use the mixture's density.
        u = _stratified_u(n, dev, generator)[torch.randperm(n, generator=generator, device=dev)]
        t = torch.where(torch.arange(n, device=dev) % 2 == 0, u, u * u).clamp_min(_U_MIN**2)
        inv_q = 1.0 / (0.5 + 0.25 / t.sqrt())
        xc = _filled(batch, generator)
        terms = _draw_terms(net, self.schedule, xc, batch.discrete, t, inv_q, generator, cond, keep)
        return terms.training_loss().mean()

    def loss(self, batch: EncodedTable) -> torch.Tensor:
        return self._loss(batch, None, self.rate)

    def validation_loss(self, batch: EncodedTable) -> torch.Tensor:
        # The same noise every epoch (common random numbers): epochs compare fairly.
        gen = torch.Generator(device=batch.device).manual_seed(12345)
        return self._loss(batch, gen, 0.0)


class DiffusionBackend(NeuralBackend):
    """Mixed-type diffusion model (Gaussian + masked diffusion, one denoiser).

    Args:
        width: width of the denoiser's residual stream.
        depth: number of residual blocks.
        n_steps: sampling steps.
        n_score_draws: draws of ``(t, noise, masks)`` per row in ``score_samples``.
        condition_rate: share of training rows that get a random subset of their own cells
            as a condition (teaches conditional sampling).
        dropout: dropout inside the residual blocks.
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
        >>> params = {"epochs": 5, "width": 32, "depth": 1, "n_steps": 10}
        >>> syn = Synthesizer("diffusion", params, random_state=0).fit(df)
        >>> syn.sample(3, conditions={"c": "a"})["c"].tolist()
        ['a', 'a', 'a']
    """

    name = "diffusion"
    has_log_prob = True
    exact_log_prob = False
    supports_conditions = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TRAINER_CONSTRAINTS,
        "width": [Interval(int, 1, None)],
        "depth": [Interval(int, 1, None)],
        "n_steps": [Interval(int, 1, None)],
        "n_score_draws": [Interval(int, 1, None)],
        "condition_rate": [Interval(float, 0, 1)],
        "dropout": [Interval(float, 0, 1, closed="left")],
    }

    def __init__(
        self,
        width: int = 512,
        depth: int = 4,
        n_steps: int = 50,
        n_score_draws: int = 16,
        condition_rate: float = 0.2,
        dropout: float = 0.0,
        epochs: int = 2000,
        batch_size: int = 1024,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        time_budget: float | None = None,
        patience: int | None = 50,
        validation_fraction: float = 0.1,
    ) -> None:
        self.width = width
        self.depth = depth
        self.n_steps = n_steps
        self.n_score_draws = n_score_draws
        self.condition_rate = condition_rate
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.time_budget = time_budget
        self.patience = patience
        self.validation_fraction = validation_fraction

    def _build(self, layout: FeatureLayout) -> DiffusionNet:
        return DiffusionNet(layout, self.width, self.depth, self.dropout)

    def _objective(self, net: nn.Module, layout: FeatureLayout, data: EncodedTable) -> Objective:
        # Set once from the training table; loading restores these buffers from the weights.
        net.set_marginals(data.continuous, data.observed, data.discrete)
        return _DiffusionObjective(net, self.condition_rate)

    @torch.no_grad()
    def _sample(
        self, n: int, *, generator: torch.Generator, conditions: Conditions | None
    ) -> EncodedTable:
        chunk = 16_384
        parts = [
            self._sample_chunk(
                min(chunk, n - s),
                generator,
                None if conditions is None else conditions.rows(slice(s, s + chunk)),
            )
            for s in range(0, n, chunk)
        ]
        if not parts:
            return self._sample_chunk(0, generator, None)
        return EncodedTable(
            torch.cat([p.continuous for p in parts]),
            torch.cat([p.discrete for p in parts]),
            torch.cat([p.observed for p in parts]),
        )

    def _sample_chunk(
        self, n: int, generator: torch.Generator, conditions: Conditions | None
    ) -> EncodedTable:
        net, dev = self.net_, self.device_
        schedule = CosineSchedule()
        z = torch.randn(n, net.n_cont, generator=generator, device=dev)
        codes = net.mask_codes.expand(n, -1).clone()
        cond = torch.zeros(n, net.cond.dim, device=dev)
        kc = known = None
        if conditions is not None:
            cond = net.cond.encode(conditions, n, dev)
            kc, kd = conditions.feature_masks(self.layout_)
            codes = torch.where(kd, conditions.table.discrete, codes)
            known = _filled(conditions.table, generator)
        ts = torch.linspace(1.0, 0.0, self.n_steps + 1, device=dev)
        for i in range(self.n_steps):
            t, s = ts[i].expand(n), ts[i + 1].expand(n)
            alpha_t, sigma_t = schedule.alpha_sigma(t)
            if kc is not None:  # inpainting: the known entries, noised to the current level
                noise = torch.randn(z.shape, generator=generator, device=dev)
                z = torch.where(kc, alpha_t[:, None] * known + sigma_t[:, None] * noise, z)
            v, logits = net(z, codes, t, cond)
            x_hat = (alpha_t[:, None] * z - sigma_t[:, None] * v.float()).clamp(net.lo, net.hi)
            if i + 1 < self.n_steps:
                z = self._ancestral(schedule, z, x_hat, t, s, generator)
            else:
                z = x_hat
            # Reveal each masked code with probability (t - s) / t.
            draw = net.sample_categories(logits, generator)
            reveal = torch.rand(codes.shape, generator=generator, device=dev)
            reveal = reveal < ((t - s) / t)[:, None]
            codes = torch.where((codes == net.mask_codes) & reveal, draw, codes)
        return EncodedTable(z, codes, torch.ones_like(z, dtype=torch.bool))

    @staticmethod
    def _ancestral(
        schedule: CosineSchedule,
        z: torch.Tensor,
        x_hat: torch.Tensor,
        t: torch.Tensor,
        s: torch.Tensor,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """A draw of ``q(z_s | z_t, x = x_hat)`` (Kingma et al., 2021, eq. 33)."""
        lam_t, lam_s = schedule.log_snr(t), schedule.log_snr(s)
        c = -torch.expm1(lam_t - lam_s)[:, None]
        alpha_t, _ = schedule.alpha_sigma(t)
        alpha_s, sigma_s = schedule.alpha_sigma(s)
        mean = alpha_s[:, None] * (z * (1.0 - c) / alpha_t[:, None] + c * x_hat)
        std = (sigma_s[:, None] ** 2 * c).sqrt()
        return mean + std * torch.randn(z.shape, generator=generator, device=z.device)

    @torch.no_grad()
    def _log_prob(self, data: EncodedTable) -> torch.Tensor:
        net, dev = self.net_, self.device_
        h = (self.n_score_draws + 1) // 2  # antithetic pairs
        k = 2 * h
        schedule = CosineSchedule()
        gen = self._score_generator()
        chunk = max(1, 65_536 // k)
        out = []
        for s in range(0, len(data), chunk):
            x = data.rows(slice(s, s + chunk))
            m = len(x)
            xh = EncodedTable(
                x.continuous.repeat(h, 1), x.discrete.repeat(h, 1), x.observed.repeat(h, 1)
            )
            xc = _filled(xh, gen).repeat(2, 1)
            xr = EncodedTable(xc, xh.discrete.repeat(2, 1), xh.observed.repeat(2, 1))
            # Stratified u: pair j of every row lies in [j/h, (j+1)/h), offset per row; the
            # two draws of a pair share u, masks and the filled values, and negate the noise.
            offset = torch.rand(1, m, generator=gen, device=dev)
            u = ((torch.arange(h, device=dev)[:, None] + offset) / h).clamp(_U_MIN, 1.0)
            u = u.reshape(-1).repeat(2)
            cond = torch.zeros(k * m, net.cond.dim, device=dev)
            terms = _draw_terms(
                net, schedule, xc, xr.discrete, u * u, 2.0 * u, gen, cond, antithetic=True
            )
            log_pi = net.marginal_log_prob(xr.discrete)
            nll = terms.nll_mc(log_pi) + gaussian_terms(xc, schedule).sum(1) - log_pi.sum(1)
            # Unobserved entries: divide out the N(0, 1) proposal of the filled value.
            proposal = -0.5 * (xc * xc + 1.8378770664093453)
            nll = nll + (proposal * ~xr.observed).sum(1)
            # exp(mean) overstates exp(bound) by about exp(var / 2) (lognormal noise); the
            # pairs' spread estimates that variance, and subtracting it keeps exp(score) an
            # about unbiased estimate of exp(bound) and the score a bound in expectation.
            pairs = 0.5 * (nll[: h * m] + nll[h * m :]).reshape(h, m)
            var = pairs.var(0) / h if h > 1 else torch.zeros(m, device=dev)
            out.append(-pairs.mean(0) - 0.5 * var)
        return torch.cat(out) if out else torch.zeros(0, device=dev)
