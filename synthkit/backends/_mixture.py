"""Mixture models over mixed data, in torch: the shared engine of ``gmm`` and ``naive_bayes``.

A component ``k`` has a weight, a Gaussian over the continuous block (full or diagonal
covariance) and one categorical distribution per discrete feature, all independent given the
component. Fitting is batched EM on the device; every function here works on whole tensors
(no Python loop over rows), chunked over rows to bound memory.

Unobserved continuous entries (nulls, spikes: ``EncodedTable.observed == False``) are
marginalised out exactly, pattern by pattern; the same mechanism, applied to one column at a
time, gives ``log p(x_g | x_rest)`` for explanations.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from synthkit._device import cpu_threads
from synthkit.callbacks import notify
from synthkit.encoding import Conditions, EncodedTable, FeatureLayout
from synthkit.errors import BackendError, SynthkitWarning

__all__ = ["MixtureParams", "column_log_prob", "fit_em", "log_prob", "n_free_params", "sample"]

_LOG_2PI = math.log(2 * math.pi)
_CHUNK = 1 << 16
# Below this many rows, work on the CPU runs on one torch thread (see _device.cpu_threads):
# measured on Adult (26k rows), EM took 2.5 s on one thread against 2-14 s on two,
# depending on machine load; scoring 1M rows is as fast either way.
_SINGLE_THREAD_ROWS = 100_000

_F = TypeVar("_F", bound=Callable[..., Any])


def _single_thread_when_small(fn: _F) -> _F:
    """Run ``fn(data, ...)`` on one CPU thread when ``data`` is small."""

    @functools.wraps(fn)
    def wrapper(data: EncodedTable, *args: Any, **kwargs: Any) -> Any:
        small = data.device.type == "cpu" and len(data) < _SINGLE_THREAD_ROWS
        with cpu_threads(1 if small else None):
            return fn(data, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass
class MixtureParams:
    """Parameters of a fitted mixture (float64 unless the device lacks it).

    Attributes:
        log_weights: ``(K,)``.
        means: ``(K, d)``.
        scale: ``(K, d, d)`` Cholesky factors of the covariances (full) or ``(K, d)``
            variances (diag).
        log_probs: ``(K, C)`` log-probabilities of every category of every discrete feature,
            concatenated (``C = sum(cardinalities)``).
        covariance_type: ``"full"`` or ``"diag"``.
    """

    log_weights: torch.Tensor
    means: torch.Tensor
    scale: torch.Tensor
    log_probs: torch.Tensor
    covariance_type: str

    @property
    def n_components(self) -> int:
        return int(self.log_weights.shape[0])

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            "log_weights": self.log_weights,
            "means": self.means,
            "scale": self.scale,
            "log_probs": self.log_probs,
        }


def _offsets(layout: FeatureLayout, device: torch.device) -> torch.Tensor:
    cards = torch.tensor((0, *layout.cardinalities), dtype=torch.long, device=device)
    return torch.cumsum(cards, 0)[:-1]


def _segment_ids(layout: FeatureLayout, device: torch.device) -> torch.Tensor:
    cards = torch.tensor(layout.cardinalities, dtype=torch.long, device=device)
    return torch.repeat_interleave(torch.arange(len(cards), device=device), cards)


def float_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device has it: EM with full covariances needs the precision."""
    return torch.float32 if device.type == "mps" else torch.float64


# ----------------------------------------------------------------- log-densities
def _precision_factor(chol: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(P, logdet)`` with ``P_k = L_k^{-1}``, so the Mahalanobis term is a plain GEMM."""
    eye = torch.eye(chol.shape[1], dtype=chol.dtype, device=chol.device).expand_as(chol)
    prec = torch.linalg.solve_triangular(chol, eye, upper=False)
    return prec, torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)


def _gauss_full(
    x: torch.Tensor, means: torch.Tensor, prec: torch.Tensor, logdet: torch.Tensor
) -> torch.Tensor:
    """``(n, K)`` log N(x; mu_k, Sigma_k) given ``P_k = chol(Sigma_k)^{-1}``."""
    d = x.shape[1]
    y = torch.einsum("nd,ked->nke", x, prec) - torch.einsum("kd,ked->ke", means, prec)
    return -0.5 * (torch.einsum("nke,nke->nk", y, y) + d * _LOG_2PI) - logdet


def _pattern_ids(obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique observation patterns ``(P, d)`` and each row's pattern index ``(n,)``."""
    d = obs.shape[1]
    if d <= 62:  # pack the pattern into one integer: 1-D unique is much faster than dim=0
        bits = 2 ** torch.arange(d, device=obs.device, dtype=torch.long)
        uniq, inverse = torch.unique((obs.long() * bits).sum(1), return_inverse=True)
        return (uniq.unsqueeze(1) & bits).bool(), inverse
    return torch.unique(obs, dim=0, return_inverse=True)


# Marginal factors kept per call, for patterns that recur across chunks. Bounded: a table
# with many spike columns has about one pattern per row, times one per column in explain,
# and each factor holds K x d x d floats.
_CACHE_LIMIT = 256


def _marginal_factors(
    p: MixtureParams, pattern: torch.Tensor, cache: dict
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Observed indices, precision factor and log-det of the marginal over ``pattern``."""
    key = tuple(pattern.tolist())
    hit = cache.get(key)
    if hit is not None:
        return hit
    idx = pattern.nonzero().squeeze(1)
    if idx.numel() == pattern.numel():
        chol = p.scale
    else:
        if "cov" not in cache:
            cache["cov"] = p.scale @ p.scale.transpose(1, 2)
        chol, info = torch.linalg.cholesky_ex(cache["cov"][:, idx][:, :, idx])
        if bool((info > 0).any()):
            raise BackendError("covariance is not positive definite; increase reg_covar")
    value = (idx, *_precision_factor(chol))
    if len(cache) < _CACHE_LIMIT:
        cache[key] = value
    return value


def _cont_log_prob(
    x: torch.Tensor, obs: torch.Tensor, p: MixtureParams, cache: dict | None = None
) -> torch.Tensor:
    """``(n, K)`` log-density of the observed continuous entries of each row.

    Unobserved entries are marginalised out: dropped terms for diagonal covariances, the
    marginal Gaussian of each observation pattern for full ones.
    """
    n, d = x.shape
    K = p.n_components
    if d == 0:
        return x.new_zeros(n, K)
    if p.covariance_type == "diag":
        m = obs.to(x.dtype)
        inv = 1.0 / p.scale  # (K, d)
        const = p.means.pow(2) * inv + torch.log(p.scale) + _LOG_2PI
        quad = (m * x * x) @ inv.T - 2 * (m * x) @ (p.means * inv).T + m @ const.T
        return -0.5 * quad
    cache = {} if cache is None else cache
    patterns, inverse = _pattern_ids(obs)
    if patterns.shape[0] == 1 and bool(patterns[0].all()):
        _, prec, logdet = _marginal_factors(p, patterns[0], cache)
        return _gauss_full(x, p.means, prec, logdet)
    out = x.new_zeros(n, K)
    order = torch.argsort(inverse)
    counts = torch.bincount(inverse, minlength=patterns.shape[0]).tolist()
    for i, rows in enumerate(torch.split(order, counts)):
        if not rows.numel() or not bool(patterns[i].any()):
            continue  # nothing observed: the marginal density is 1
        idx, prec, logdet = _marginal_factors(p, patterns[i], cache)
        out[rows] = _gauss_full(x[rows][:, idx], p.means[:, idx], prec, logdet)
    return out


def _disc_log_prob(
    codes: torch.Tensor, p: MixtureParams, offsets: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """``(n, K)`` sum over discrete features of log p(code | k); ``mask`` drops features."""
    if codes.shape[1] == 0:
        return p.log_probs.new_zeros(codes.shape[0], p.n_components)
    # embedding_bag gathers and sums in one kernel, without the (n, m, K) intermediate; in
    # float32 it is ~15x faster on CPU than in float64, and a sum of a few dozen
    # log-probabilities needs no more precision. A masked-out impossible category (-inf) must
    # add 0, not 0 * -inf = NaN, hence the clamp.
    table = p.log_probs.T.float().contiguous()  # a strided table takes a slow path (4x)
    if mask is not None:
        table = table.clamp_min(torch.finfo(table.dtype).min)
    weights = None if mask is None else mask.to(table.dtype)
    out = torch.nn.functional.embedding_bag(
        codes + offsets, table, per_sample_weights=weights, mode="sum"
    )
    return out.to(p.log_probs.dtype)


def _joint(
    data: EncodedTable,
    p: MixtureParams,
    offsets: torch.Tensor,
    cat_mask: torch.Tensor | None = None,
    cache: dict | None = None,
) -> torch.Tensor:
    x = data.continuous.to(p.means.dtype)
    return (
        p.log_weights
        + _cont_log_prob(x, data.observed, p, cache)
        + _disc_log_prob(data.discrete, p, offsets, cat_mask)
    )


@_single_thread_when_small
def log_prob(data: EncodedTable, p: MixtureParams, layout: FeatureLayout) -> torch.Tensor:
    """``(n,)`` log-density of each row (unobserved continuous entries marginalised)."""
    offsets = _offsets(layout, p.means.device)
    cache: dict = {}
    out = [
        torch.logsumexp(_joint(data.rows(slice(s, s + _CHUNK)), p, offsets, cache=cache), dim=1)
        for s in range(0, len(data), _CHUNK)
    ]
    return torch.cat(out) if out else p.means.new_zeros(0)


@_single_thread_when_small
def column_log_prob(data: EncodedTable, p: MixtureParams, layout: FeatureLayout) -> torch.Tensor:
    """``(n, G)``: per column group g, ``log p(x_g | x_rest) = log p(x) - log p(x_rest)``."""
    offsets = _offsets(layout, p.means.device)
    cache: dict = {}
    cols = []
    for s in range(0, len(data), _CHUNK):
        chunk = data.rows(slice(s, s + _CHUNK))
        full = torch.logsumexp(_joint(chunk, p, offsets, cache=cache), dim=1)
        terms = []
        for g in layout.groups:
            obs = chunk.observed.clone()
            obs[:, list(g.continuous)] = False
            cat_mask = torch.ones_like(chunk.discrete, dtype=torch.bool)
            cat_mask[:, list(g.discrete)] = False
            rest = EncodedTable(chunk.continuous, chunk.discrete, obs)
            rest_lp = torch.logsumexp(_joint(rest, p, offsets, cat_mask, cache), dim=1)
            terms.append(full - rest_lp)
        cols.append(torch.stack(terms, dim=1))
    return torch.cat(cols)


# ----------------------------------------------------------------------- sampling
def sample(
    n: int,
    p: MixtureParams,
    layout: FeatureLayout,
    generator: torch.Generator,
    comp: torch.Tensor | None = None,
) -> EncodedTable:
    """Draw ``n`` rows: a component (unless given), then its Gaussian and its categoricals."""
    device = p.means.device
    if comp is None:
        comp = torch.multinomial(p.log_weights.exp(), n, replacement=True, generator=generator)
    d = layout.n_continuous
    eps = torch.randn(n, d, generator=generator, device=device, dtype=p.means.dtype)
    if p.covariance_type == "diag":
        x = p.means[comp] + eps * p.scale[comp].sqrt()
    else:
        x = p.means[comp] + torch.einsum("nij,nj->ni", p.scale[comp], eps)
    codes = torch.empty(n, layout.n_discrete, dtype=torch.long, device=device)
    if layout.n_discrete:
        # Gumbel-max over each feature's segment of the chosen component's log-probabilities.
        u = torch.rand(n, p.log_probs.shape[1], generator=generator, device=device)
        scores = p.log_probs[comp] - torch.log(-torch.log(u.clamp_min(1e-20)).to(p.means.dtype))
        start = 0
        for j, c in enumerate(layout.cardinalities):
            codes[:, j] = scores[:, start : start + c].argmax(1)
            start += c
    observed = torch.ones(n, d, dtype=torch.bool, device=device)
    return EncodedTable(x.float(), codes, observed)


@_single_thread_when_small
def sample_conditional(
    cond: Conditions, p: MixtureParams, layout: FeatureLayout, generator: torch.Generator
) -> EncodedTable:
    """Exact conditional sampling given known cells.

    A component is drawn from its posterior given the known cells, then the unknown cells
    from that component (continuous ones from its Gaussian conditioned on the known
    continuous values). The caller writes the known cells back.
    """
    device = p.means.device
    n = len(cond)
    kc, kd = cond.feature_masks(layout)
    t = cond.table
    known_obs = t.observed & kc
    post = _joint(
        EncodedTable(t.continuous, t.discrete, known_obs), p, _offsets(layout, device), kd
    )
    u = torch.rand(post.shape, generator=generator, device=device, dtype=post.dtype)
    comp = (post - torch.log(-torch.log(u.clamp_min(1e-20)))).argmax(1)
    free = sample(n, p, layout, generator, comp=comp)
    if p.covariance_type == "diag" or not bool(known_obs.any()):
        return free  # diagonal: the unknown entries do not depend on the known ones
    x = free.continuous.to(p.means.dtype)
    patterns, inverse = torch.unique(known_obs, dim=0, return_inverse=True)
    cov = p.scale @ p.scale.transpose(1, 2)  # (K, d, d)
    for i, pattern in enumerate(patterns):
        if not bool(pattern.any()) or bool(pattern.all()):
            continue
        rows = (inverse == i).nonzero().squeeze(1)
        k_idx, u_idx = pattern.nonzero().squeeze(1), (~pattern).nonzero().squeeze(1)
        c = comp[rows]
        s_kk = cov[:, k_idx][:, :, k_idx]
        s_uk = cov[:, u_idx][:, :, k_idx]
        gain = torch.linalg.solve(s_kk, s_uk.transpose(1, 2)).transpose(1, 2)  # (K, u, k)
        chol = torch.linalg.cholesky(cov[:, u_idx][:, :, u_idx] - gain @ s_uk.transpose(1, 2))
        diff = t.continuous[rows][:, k_idx].to(x.dtype) - p.means[c][:, k_idx]
        mean = p.means[c][:, u_idx] + torch.einsum("nuk,nk->nu", gain[c], diff)
        eps = torch.randn(len(rows), len(u_idx), generator=generator, device=device, dtype=x.dtype)
        x[rows[:, None], u_idx] = mean + torch.einsum("nij,nj->ni", chol[c], eps)
    return EncodedTable(x.float(), free.discrete, free.observed)


# ---------------------------------------------------------------------------- EM
def _kmeanspp_resp(
    feats: torch.Tensor, K: int, generator: torch.Generator, n_lloyd: int = 10
) -> torch.Tensor:
    """Hard responsibilities ``(n, K)`` from k-means++ seeding and a few Lloyd steps."""
    n = feats.shape[0]
    device = feats.device
    sub_n = min(n, 20_000)
    sub = feats[torch.randperm(n, generator=generator, device=device)[:sub_n]]
    centers = sub[torch.randint(sub_n, (1,), generator=generator, device=device)]
    closest = torch.cdist(sub, centers).squeeze(1).pow(2)
    for _ in range(1, K):
        probs = closest / closest.sum() if closest.sum() > 0 else torch.ones_like(closest)
        new = sub[torch.multinomial(probs, 1, generator=generator)]
        centers = torch.cat([centers, new])
        closest = torch.minimum(closest, torch.cdist(sub, new).squeeze(1).pow(2))
    for _ in range(n_lloyd):
        assign = torch.cdist(sub, centers).argmin(1)
        for k in range(K):
            members = sub[assign == k]
            if members.shape[0]:
                centers[k] = members.mean(0)
    assign = torch.cat(
        [torch.cdist(feats[s : s + _CHUNK], centers).argmin(1) for s in range(0, n, _CHUNK)]
    )
    return torch.nn.functional.one_hot(assign, K).to(feats.dtype)


def _init_features(data: EncodedTable, layout: FeatureLayout, dtype: torch.dtype) -> torch.Tensor:
    parts = [data.continuous.to(dtype)]
    if layout.n_discrete:
        # One-hot codes scaled so a category mismatch weighs like one standard deviation.
        onehot = [
            torch.nn.functional.one_hot(data.discrete[:, j], c).to(dtype) * math.sqrt(0.5)
            for j, c in enumerate(layout.cardinalities)
        ]
        parts.extend(onehot)
    return torch.cat(parts, dim=1)


def _m_step(
    x: torch.Tensor,
    codes: torch.Tensor,
    resp: torch.Tensor,
    layout: FeatureLayout,
    covariance_type: str,
    reg_covar: float,
    alpha: float,
    fixed_log_probs: dict[int, torch.Tensor] | None = None,
) -> MixtureParams:
    n, d = x.shape
    K = resp.shape[1]
    device, dtype = x.device, x.dtype
    nk = resp.sum(0)
    # A weak prior (one pseudo-row at the origin with unit variance, in the normalised space)
    # keeps empty or tiny components proper instead of NaN.
    prior = 1.0
    log_weights = torch.log((nk + 1e-3) / (n + 1e-3 * K))
    means = (resp.T @ x) / (nk + prior).unsqueeze(1)
    if covariance_type == "diag":
        var = (resp.T @ (x * x) + prior) / (nk + prior).unsqueeze(1) - means.pow(2)
        scale = var.clamp_min(0) + reg_covar
    else:
        eye = torch.eye(d, device=device, dtype=dtype)
        cov = torch.empty(K, d, d, device=device, dtype=dtype)
        for k in range(K):
            diff = x - means[k]
            cov[k] = (diff * resp[:, k : k + 1]).T @ diff
            cov[k] = (cov[k] + prior * (eye + torch.outer(means[k], means[k]))) / (nk[k] + prior)
        cov = cov + reg_covar * eye
        scale, info = torch.linalg.cholesky_ex(cov)
        if bool((info > 0).any()):
            raise BackendError(
                "a component's covariance is not positive definite; increase reg_covar, use "
                "covariance_type='diag' or fewer components"
            )
    C = sum(layout.cardinalities)
    counts = torch.zeros(K, C, device=device, dtype=dtype)
    offsets = _offsets(layout, device)
    for j in range(layout.n_discrete):
        counts.index_add_(1, codes[:, j] + offsets[j], resp.T)
    counts = counts + alpha
    seg = _segment_ids(layout, device)
    totals = torch.zeros(K, layout.n_discrete, device=device, dtype=dtype)
    totals.index_add_(1, seg, counts)
    log_probs = torch.log(counts) - torch.log(totals[:, seg])
    for j, lp in (fixed_log_probs or {}).items():
        start = int(offsets[j])
        log_probs[:, start : start + lp.shape[1]] = lp
    return MixtureParams(log_weights, means, scale, log_probs, covariance_type)


@_single_thread_when_small
def fit_em(
    data: EncodedTable,
    layout: FeatureLayout,
    n_components: int,
    *,
    covariance_type: str,
    max_iter: int,
    tol: float,
    reg_covar: float,
    alpha: float,
    generator: torch.Generator,
    n_init: int = 1,
    callbacks: Sequence[Any] | None = None,
    desc: str = "EM",
) -> tuple[MixtureParams, dict[str, Any]]:
    """Fit a mixture by EM from k-means++ starts; keep the best of ``n_init``.

    Returns:
        ``(params, info)`` with ``info = {"log_likelihood", "n_iter", "converged"}``
        (mean log-likelihood per row in encoded space).
    """
    dtype = float_dtype(data.device)
    x = data.continuous.to(dtype)
    offsets = _offsets(layout, data.device)
    # The M-step fits the completed rows (unobserved entries hold random regular values), so
    # the E-step scores the same completed rows: one GEMM per iteration. Marginalising per
    # observation pattern instead would cost a Cholesky per pattern per iteration (hundreds
    # of patterns on tables with many spike columns); scoring still marginalises exactly.
    completed = EncodedTable(x, data.discrete, torch.ones_like(data.observed))
    best: tuple[MixtureParams, dict[str, Any]] | None = None
    notify(callbacks, "on_fit_start", max_iter * n_init, desc)
    step = 0
    for _ in range(n_init):
        resp = _kmeanspp_resp(_init_features(data, layout, dtype), n_components, generator)
        prev = -math.inf
        converged = False
        for it in range(1, max_iter + 1):  # noqa: B007 (it is reported after the loop)
            params = _m_step(x, data.discrete, resp, layout, covariance_type, reg_covar, alpha)
            joint = _joint(completed, params, offsets)
            norm = torch.logsumexp(joint, dim=1, keepdim=True)
            resp = torch.exp(joint - norm)
            ll = float(norm.mean())
            step += 1
            notify(callbacks, "on_step", step, {"log_lik": ll})
            if abs(ll - prev) < tol:
                converged = True
                break
            prev = ll
        info = {"log_likelihood": ll, "n_iter": it, "converged": converged}
        if best is None or ll > best[1]["log_likelihood"]:
            best = (params, info)
    assert best is not None  # n_init >= 1 is validated by the caller
    if not best[1]["converged"]:
        warnings.warn(
            f"{desc}: EM did not converge in {max_iter} iterations (tol={tol}); "
            "increase max_iter or tol",
            SynthkitWarning,
            stacklevel=3,
        )
    notify(callbacks, "on_fit_end", {"log_lik": best[1]["log_likelihood"]})
    return best


def n_free_params(p: MixtureParams, layout: FeatureLayout) -> int:
    """Free parameters, for BIC."""
    K, d = p.n_components, layout.n_continuous
    cov = d * (d + 1) // 2 if p.covariance_type == "full" else d
    return (K - 1) + K * (d + cov) + K * sum(c - 1 for c in layout.cardinalities)
