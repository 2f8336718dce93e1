"""Mixed-type diffusion: a cosine noise schedule, masked discrete diffusion and one denoiser.

The continuous block follows variance-preserving Gaussian diffusion in continuous time
(Kingma et al., 2021): ``z_t = alpha_t x + sigma_t eps`` with ``alpha^2 = sigmoid(lambda)``,
``sigma^2 = sigmoid(-lambda)`` and the log-SNR ``lambda(t)`` of the cosine schedule, truncated
to ``[LAMBDA_MIN, LAMBDA_MAX]``. The network predicts ``v = alpha eps - sigma x`` (Salimans &
Ho, 2022), so ``x_hat = alpha z - sigma v``; ``v = 0`` is the exact denoiser of N(0, 1) data,
which makes the standard normal both the network's starting point and the control variate of
the likelihood bound. Categorical features use absorbing-state ("masked") diffusion (MDLM,
Sahoo et al., 2024): at time ``t`` each code is replaced by ``[MASK]`` with probability ``t``.

Both parts share ``t``. Training and scoring draw ``t = u^2`` (``u`` uniform, stratified), an
importance proposal under which the masked-diffusion ELBO weight ``1 / t`` becomes ``2 / u``
and every estimator has finite variance.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from synthkit.nn.conditions import ConditionEncoder
from synthkit.nn.heads import gumbel_like
from synthkit.nn.mlp import ResidualMLP
from synthkit.nn.tabular import category_counts

if TYPE_CHECKING:
    from synthkit.encoding import FeatureLayout

__all__ = ["LAMBDA_MAX", "LAMBDA_MIN", "CosineSchedule", "DiffusionNet", "gaussian_terms"]

LAMBDA_MAX = 8.0
LAMBDA_MIN = -12.0
_LOG_2PI = math.log(2 * math.pi)


class CosineSchedule:
    """Cosine log-SNR schedule ``lambda(t) = -2 log tan(pi/2 * s(t))`` on ``t`` in [0, 1].

    ``s(t)`` maps [0, 1] linearly onto the angles where ``lambda`` spans
    ``[lambda_max, lambda_min]``: ``t = 0`` is (almost) clean data, ``t = 1`` (almost) pure
    noise.
    """

    def __init__(self, lambda_min: float = LAMBDA_MIN, lambda_max: float = LAMBDA_MAX) -> None:
        self.lambda_min = lambda_min
        self.lambda_max = lambda_max
        self.a0 = math.atan(math.exp(-lambda_max / 2))
        self.a1 = math.atan(math.exp(-lambda_min / 2))

    def _angle(self, t: torch.Tensor) -> torch.Tensor:
        return self.a0 + (self.a1 - self.a0) * t

    def log_snr(self, t: torch.Tensor) -> torch.Tensor:
        """``lambda(t)``."""
        return -2.0 * torch.log(torch.tan(self._angle(t)))

    def neg_dlog_snr(self, t: torch.Tensor) -> torch.Tensor:
        """``-d lambda / d t`` (positive)."""
        return 4.0 * (self.a1 - self.a0) / torch.sin(2.0 * self._angle(t))

    def alpha_sigma(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``alpha_t`` and ``sigma_t``."""
        lam = self.log_snr(t)
        return torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam).sqrt()


def gaussian_terms(x: torch.Tensor, schedule: CosineSchedule) -> torch.Tensor:
    """Per entry, the negative ELBO of N(0, 1) data under its exact denoiser ``v = 0``.

    Prior KL at ``lambda_min`` + Gaussian reconstruction at ``lambda_max`` + the diffusion
    integral ``1/2 int alpha^2 E||v*||^2 d lambda`` in closed form
    (``alpha^2 sigma^2 = d sigmoid / d lambda``, ``alpha^4 = d (softplus - sigmoid)``). Adding
    the Monte-Carlo difference between the network's and this denoiser's integrands gives
    the network's bound with a control variate. Tends to ``-log N(x; 0, 1)`` as the interval
    widens.
    """
    lo = torch.tensor(schedule.lambda_min)
    hi = torch.tensor(schedule.lambda_max)
    a1, s1 = torch.sigmoid(lo), torch.sigmoid(-lo)
    prior = 0.5 * (a1 * x * x + s1 - 1.0 - torch.log(s1))
    recon = 0.5 * (_LOG_2PI - hi + 1.0)
    sq = (F.softplus(hi) - torch.sigmoid(hi)) - (F.softplus(lo) - torch.sigmoid(lo))
    integral = 0.5 * (x * x * (torch.sigmoid(hi) - torch.sigmoid(lo)) + sq)
    return prior + recon + integral


def _time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), half, device=t.device))
    args = t[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class DiffusionNet(nn.Module):
    """One denoiser for a mixed row: ``(z_t, masked codes, t, condition) -> (v, logits)``.

    Input: the noisy continuous block, one-hot codes with a ``[MASK]`` slot per categorical
    feature, a sinusoidal embedding of ``t`` and a :class:`ConditionEncoder` vector (zeros
    without conditions). Output: ``v`` per continuous feature and the clean-category logits of
    every categorical feature. Buffers hold the training marginals (log-frequencies of the
    categories, range of the continuous features): the likelihood's control variates and the
    sampler's clamp.

    Args:
        layout: the table's feature layout.
        width: width of the residual stream.
        depth: number of residual blocks.
        dropout: dropout inside the blocks.
        time_dim: width of the time embedding.
    """

    def __init__(
        self, layout: FeatureLayout, width: int, depth: int, dropout: float, time_dim: int = 32
    ) -> None:
        super().__init__()
        self.layout = layout
        self.n_cont = layout.n_continuous
        self.cards = tuple(layout.cardinalities)
        self.time_dim = time_dim
        self.cond = ConditionEncoder(layout)
        self.in_offsets = tuple(sum(k + 1 for k in self.cards[:i]) for i in range(len(self.cards)))
        self.out_offsets = tuple(sum(self.cards[:i]) for i in range(len(self.cards)))
        d_in = self.n_cont + sum(k + 1 for k in self.cards) + time_dim + self.cond.dim
        self.body = ResidualMLP(d_in, width, depth, self.n_cont + sum(self.cards), dropout=dropout)
        self.register_buffer("log_pi", torch.zeros(sum(self.cards)))
        self.register_buffer("lo", torch.full((self.n_cont,), -10.0))
        self.register_buffer("hi", torch.full((self.n_cont,), 10.0))

    @property
    def mask_codes(self) -> torch.Tensor:
        """The ``[MASK]`` code of each categorical feature (its cardinality)."""
        return torch.as_tensor(self.cards, dtype=torch.long, device=self.log_pi.device)

    def set_marginals(self, continuous: torch.Tensor, observed: torch.Tensor, codes: torch.Tensor):
        """Store the training marginals (category log-frequencies, continuous ranges)."""
        for j, counts in enumerate(category_counts(codes, self.cards)):
            counts = counts + 0.5
            o = self.out_offsets[j]
            self.log_pi[o : o + len(counts)] = torch.log(counts / counts.sum())
        for d in range(self.n_cont):
            vals = continuous[observed[:, d], d]
            if len(vals):
                self.lo[d], self.hi[d] = vals.min(), vals.max()

    def forward(
        self, z: torch.Tensor, codes: torch.Tensor, t: torch.Tensor, cond: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``v`` ``(n, n_continuous)`` and flat logits ``(n, sum(cardinalities))``."""
        n = z.shape[0]
        onehot = z.new_zeros(n, sum(k + 1 for k in self.cards))
        if self.cards:
            offs = torch.as_tensor(self.in_offsets, device=z.device)
            onehot.scatter_(1, codes + offs, 1.0)
        h = torch.cat([z, onehot, _time_embedding(t, self.time_dim), cond], dim=1)
        out = self.body(h)
        return out[:, : self.n_cont], out[:, self.n_cont :]

    def category_log_prob(self, logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """``log p(code_j | z_t)`` per categorical feature, ``(n, n_discrete)``."""
        cols = []
        for j, k in enumerate(self.cards):
            o = self.out_offsets[j]
            lp = torch.log_softmax(logits[:, o : o + k].float(), dim=1)
            cols.append(lp.gather(1, codes[:, j : j + 1]))
        return torch.cat(cols, 1) if cols else logits.new_zeros(len(logits), 0)

    def marginal_log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        """Training log-frequency of each code, ``(n, n_discrete)``."""
        if not self.cards:
            return codes.new_zeros(codes.shape, dtype=torch.float32)
        offs = torch.as_tensor(self.out_offsets, device=codes.device)
        return self.log_pi[codes + offs]

    def sample_categories(self, logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One code per categorical feature by Gumbel-max, ``(n, n_discrete)``."""
        cols = []
        for j, k in enumerate(self.cards):
            o = self.out_offsets[j]
            lg = logits[:, o : o + k].float()
            cols.append((lg + gumbel_like(lg, generator)).argmax(1, keepdim=True))
        if not cols:
            return torch.zeros(len(logits), 0, dtype=torch.long, device=logits.device)
        return torch.cat(cols, 1)
