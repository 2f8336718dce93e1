"""A binned density on the real line: a categorical over fixed bins times a density in each.

Encoded continuous values are roughly standard normal, so the bin edges are fixed standard
normal quantiles: ``n_bins`` interior bins of equal N(0, 1) mass between the two outermost
edges, and two open tail bins beyond them. One parameter vector per value holds

* ``n_bins + 2`` bin logits (left tail, interior bins, right tail);
* ``n_bins`` slopes: within interior bin ``b`` of width ``w_b`` the density is
  ``(1 + s_b (2u - 1)) / w_b`` at relative position ``u`` in ``[0, 1]``, a linear density
  with ``|s_b| < 1`` (so it stays positive and integrates to 1 over the bin);
* 2 tail rates: beyond the outer edges an exponential density with a learned rate, so values
  far outside the training range keep finite, low densities.

``log_prob`` is therefore a proper density (bin probability times the within-bin density,
whose ``1 / w_b`` is the bin-width Jacobian) and integrates to 1 over the real line.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["binned_edges", "binned_log_prob", "binned_n_params", "binned_position", "binned_sample"]

_MAX_SLOPE = 0.95  # keeps the within-bin density at least 5 % of its mean
_MIN_RATE = 0.05  # the heaviest tail allowed
_RATE_SHIFT = math.log(math.expm1(2.0 - _MIN_RATE))  # raw 0 -> rate 2 (about N(0, 1)'s tail)


def binned_n_params(n_bins: int) -> int:
    """Parameters per value: ``n_bins + 2`` logits, ``n_bins`` slopes, 2 tail rates."""
    return 2 * n_bins + 4


def binned_edges(n_bins: int) -> torch.Tensor:
    """``n_bins + 1`` edges at standard normal quantiles; every bin holds ``1 / (n_bins + 2)``."""
    p = torch.linspace(1.0 / (n_bins + 2), 1.0 - 1.0 / (n_bins + 2), n_bins + 1)
    return torch.special.ndtri(p.double()).float()


def binned_position(z: torch.Tensor, edges: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin index in ``0..n_bins+1`` and a position in ``[0, 1)`` within it.

    In the tails the position is ``1 - exp(-distance beyond the edge)``.
    """
    k = edges.numel() - 1
    b = torch.bucketize(z.contiguous(), edges, right=True)
    j = (b - 1).clamp(0, k - 1)
    lo, hi = edges[j], edges[j + 1]
    u = ((z - lo) / (hi - lo)).clamp(0.0, 1.0)
    left = -torch.expm1(-(edges[0] - z).clamp_min(0.0))
    right = -torch.expm1(-(z - edges[-1]).clamp_min(0.0))
    u = torch.where(b == 0, left, torch.where(b == k + 1, right, u))
    return b, u


def _split(params: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    logits = params[..., : k + 2]
    slopes = _MAX_SLOPE * torch.tanh(params[..., k + 2 : 2 * k + 2])
    rates = F.softplus(params[..., 2 * k + 2 :] + _RATE_SHIFT) + _MIN_RATE
    return logits, slopes, rates


def binned_log_prob(params: torch.Tensor, z: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Log-density of ``z`` (shape ``S``) under ``params`` (shape ``S + (n_params,)``)."""
    k = edges.numel() - 1
    logits, slopes, rates = _split(params.float(), k)
    b = torch.bucketize(z.contiguous(), edges, right=True)
    log_bin = torch.log_softmax(logits, -1).gather(-1, b.unsqueeze(-1)).squeeze(-1)
    j = (b - 1).clamp(0, k - 1)
    lo, width = edges[j], edges[j + 1] - edges[j]
    u = ((z - lo) / width).clamp(0.0, 1.0)
    s = slopes.gather(-1, j.unsqueeze(-1)).squeeze(-1)
    inner = torch.log1p(s * (2.0 * u - 1.0)) - torch.log(width)
    rate_l, rate_r = rates[..., 0], rates[..., 1]
    left = torch.log(rate_l) - rate_l * (edges[0] - z).clamp_min(0.0)
    right = torch.log(rate_r) - rate_r * (z - edges[-1]).clamp_min(0.0)
    within = torch.where(b == 0, left, torch.where(b == k + 1, right, inner))
    return log_bin + within


def binned_sample(
    params: torch.Tensor,
    edges: torch.Tensor,
    generator: torch.Generator | None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """One value per parameter vector (``temperature`` scales the bin logits)."""
    k = edges.numel() - 1
    logits, slopes, rates = _split(params.float(), k)
    u01 = torch.rand(logits.shape, generator=generator, device=logits.device)
    gumbel = -torch.log(-torch.log(u01.clamp(1e-10, 1.0 - 1e-7)))
    b = (logits / temperature + gumbel).argmax(-1)
    r = torch.rand(b.shape, generator=generator, device=b.device)
    j = (b - 1).clamp(0, k - 1)
    s = slopes.gather(-1, j.unsqueeze(-1)).squeeze(-1)
    # Inverse CDF of the linear density: s u^2 + (1 - s) u = r, in a form stable at s = 0.
    u = 2.0 * r / ((1.0 - s) + torch.sqrt((1.0 - s) ** 2 + 4.0 * s * r))
    inner = edges[j] + u * (edges[j + 1] - edges[j])
    expo = -torch.log1p(-r.clamp(max=1.0 - 1e-7))  # Exp(1)
    left = edges[0] - expo / rates[..., 0]
    right = edges[-1] + expo / rates[..., 1]
    return torch.where(b == 0, left, torch.where(b == k + 1, right, inner))
