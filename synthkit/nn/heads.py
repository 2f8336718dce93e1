"""Mixed-type output heads: one network output -> a distribution over an encoded row.

The output vector holds, in order, the continuous part's parameters and one logit block per
categorical feature. Continuous features are modelled as

* ``"gaussian"``: one Gaussian per feature (mean, log-std);
* ``"mixture"``: a mixture of ``n_modes`` Gaussians per feature, the mode-specific
  treatment of CTGAN/TVAE made a density (logits, means, log-stds);
* ``"point"``: a value with no density (a GAN generator's output).

Given the network output, :meth:`MixedHead.log_prob` is the exact log-density of a row in
encoded space; continuous entries that are not observed (null or spike states) contribute
nothing, because their state is already scored by its categorical feature.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from synthkit.nn.tabular import TableVectorizer

if TYPE_CHECKING:
    from synthkit.encoding import EncodedTable, FeatureLayout

__all__ = ["MixedHead", "gumbel_like"]

_LOG_2PI = math.log(2 * math.pi)


def gumbel_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard Gumbel noise shaped like ``x``, from ``generator``."""
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return -torch.log(-torch.log(u.clamp(1e-10, 1.0 - 1e-7)))


class MixedHead:
    """Distribution head for a :class:`FeatureLayout`.

    Args:
        layout: the table's feature layout.
        continuous: ``"gaussian"``, ``"mixture"`` or ``"point"``.
        n_modes: mixture components per continuous feature (``"mixture"`` only).
        min_log_std: floor of the predicted log standard deviation (keeps densities finite).
    """

    def __init__(
        self,
        layout: FeatureLayout,
        continuous: str = "gaussian",
        n_modes: int = 4,
        min_log_std: float = -5.0,
    ) -> None:
        if continuous not in ("gaussian", "mixture", "point"):
            raise ValueError(f"continuous head must be gaussian, mixture or point: {continuous}")
        self.continuous = continuous
        self.n_modes = n_modes if continuous == "mixture" else 1
        self.min_log_std = min_log_std
        self.vec = TableVectorizer(layout)
        self.n_continuous = layout.n_continuous
        self.cardinalities = tuple(layout.cardinalities)
        per = {"gaussian": 2, "mixture": 3 * self.n_modes, "point": 1}[continuous]
        self.n_cont_params = per * self.n_continuous
        self.n_outputs = self.n_cont_params + sum(self.cardinalities)

    # ----------------------------------------------------------- splitting
    def _logit_blocks(self, out: torch.Tensor) -> list[torch.Tensor]:
        blocks, s = [], self.n_cont_params
        for k in self.cardinalities:
            blocks.append(out[:, s : s + k])
            s += k
        return blocks

    def _cont_params(self, out: torch.Tensor) -> tuple[torch.Tensor, ...]:
        c, p = self.n_continuous, out[:, : self.n_cont_params]
        if self.continuous == "point":
            return (p,)
        if self.continuous == "gaussian":
            return p[:, :c], self._log_std(p[:, c:])
        m = self.n_modes
        p = p.reshape(-1, c, 3, m)
        return p[:, :, 0], p[:, :, 1], self._log_std(p[:, :, 2])

    def _log_std(self, raw: torch.Tensor) -> torch.Tensor:
        # A soft floor: gradients stay alive near the bound, unlike clamp.
        return self.min_log_std + F.softplus(raw - self.min_log_std)

    # ---------------------------------------------------------- likelihood
    def log_prob_terms(
        self, out: torch.Tensor, table: EncodedTable
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-feature log-probabilities: ``(n, n_continuous)`` and ``(n, n_discrete)``.

        Unobserved continuous entries are 0.
        """
        out = out.float()
        n = out.shape[0]
        cont = torch.zeros(n, self.n_continuous, device=out.device)
        if self.n_continuous:
            if self.continuous == "point":
                raise ValueError("a point head has no density")
            x = table.continuous
            if self.continuous == "gaussian":
                mean, log_std = self._cont_params(out)
                z = (x - mean) * torch.exp(-log_std)
                cont = -0.5 * (z * z + _LOG_2PI) - log_std
            else:
                logits, mean, log_std = self._cont_params(out)
                z = (x.unsqueeze(-1) - mean) * torch.exp(-log_std)
                comp = -0.5 * (z * z + _LOG_2PI) - log_std + torch.log_softmax(logits, -1)
                cont = torch.logsumexp(comp, dim=-1)
            cont = torch.where(table.observed, cont, torch.zeros_like(cont))
        disc = torch.zeros(n, len(self.cardinalities), device=out.device)
        for j, logits in enumerate(self._logit_blocks(out)):
            lp = torch.log_softmax(logits, dim=-1)
            disc[:, j] = lp.gather(1, table.discrete[:, j : j + 1]).squeeze(1)
        return cont, disc

    def log_prob(self, out: torch.Tensor, table: EncodedTable) -> torch.Tensor:
        """Log-density of each row, shape ``(n,)``."""
        cont, disc = self.log_prob_terms(out, table)
        return cont.sum(1) + disc.sum(1)

    # ------------------------------------------------------------ sampling
    def sample(
        self,
        out: torch.Tensor,
        generator: torch.Generator | None,
        temperature: float = 1.0,
    ) -> EncodedTable:
        """Draw one row per output row (every continuous entry observed)."""
        from synthkit.encoding import EncodedTable

        out = out.float()
        n, dev = out.shape[0], out.device
        if self.continuous == "point":
            (cont,) = self._cont_params(out)
        elif self.continuous == "gaussian":
            mean, log_std = self._cont_params(out)
            noise = torch.randn(mean.shape, generator=generator, device=dev)
            cont = mean + noise * torch.exp(log_std) * temperature
        else:
            logits, mean, log_std = self._cont_params(out)
            mode = (logits / temperature + gumbel_like(logits, generator)).argmax(-1, keepdim=True)
            m = mean.gather(-1, mode).squeeze(-1)
            s = torch.exp(log_std.gather(-1, mode).squeeze(-1))
            cont = m + torch.randn(m.shape, generator=generator, device=dev) * s * temperature
        codes = [
            (lg / temperature + gumbel_like(lg, generator)).argmax(-1)
            for lg in self._logit_blocks(out)
        ]
        disc = torch.stack(codes, 1) if codes else torch.zeros(n, 0, dtype=torch.long, device=dev)
        return EncodedTable(cont, disc, torch.ones_like(cont, dtype=torch.bool))

    def relaxed(
        self, out: torch.Tensor, tau: float, generator: torch.Generator | None
    ) -> torch.Tensor:
        """A differentiable dense row for adversarial training.

        Continuous values, then Gumbel-softmax relaxations of the categorical features, in
        :class:`TableVectorizer` order.
        """
        parts = []
        if self.n_continuous:
            parts.append(self._cont_params(out)[0] if self.continuous != "mixture" else None)
            if parts[-1] is None:
                raise ValueError("relaxed() needs a gaussian or point head")
        for lg in self._logit_blocks(out):
            parts.append(torch.softmax((lg + gumbel_like(lg, generator)) / tau, dim=-1))
        return torch.cat(parts, dim=1)

    def discrete_cross_entropy(
        self, out: torch.Tensor, codes: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean cross-entropy of the categorical features selected by ``mask`` ``(n, D)``."""
        total = out.new_zeros(())
        for j, lg in enumerate(self._logit_blocks(out)):
            ce = F.cross_entropy(lg.float(), codes[:, j], reduction="none")
            total = total + (ce * mask[:, j]).sum()
        return total / out.shape[0]
