"""``gan``: a conditional Wasserstein GAN for mixed-type tables (CTGAN-class and beyond).

The generator maps noise and a condition vector to a row: continuous values directly (the
encoder's quantile-normal transform already gives them a Gaussian-like scale, which replaces
CTGAN's mode-specific normalisation) and Gumbel-softmax relaxations of every categorical
feature (null and spike states included). The critic sees PacGAN packs of ``pac`` rows with
their conditions and is trained with the WGAN-GP penalty.

Training-by-sampling, generalised: each training row is conditioned on one categorical value
chosen CTGAN's way (a feature uniformly, a value by log-frequency, then a real row holding
it), plus, for a share of rows, a random subset of that row's other columns (categorical or
continuous). The generator is penalised for not reproducing the condition, so
``sample(n, conditions=...)`` is conditioned inside the model for any subset of columns, with
no rejection sampling; unconditional samples draw the condition from the training
frequencies, as CTGAN does.

A GAN has no likelihood: ``has_log_prob = False`` and ``score_samples`` raises an error naming
the backends that have one. :meth:`GANBackend.normality` is the critic's score of a row
(higher = more like the training data), which ``AnomalyDetector(backend="gan")`` uses; it is
not a log-probability and is not comparable across models.

References:
    Xu et al., Modeling Tabular Data using Conditional GAN, NeurIPS 2019 (CTGAN).
    Gulrajani et al., Improved Training of Wasserstein GANs, 2017 (WGAN-GP).
    Lin et al., PacGAN: The power of two samples in generative adversarial networks, 2018.
    Jang et al., Categorical Reparameterization with Gumbel-Softmax, 2017.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from synthkit._validation import Interval
from synthkit.backends._neural import TRAINER_CONSTRAINTS, NeuralBackend
from synthkit.encoding import Conditions, EncodedTable, FeatureLayout
from synthkit.nn import MLP, ConditionEncoder, MixedHead
from synthkit.nn.tabular import category_counts
from synthkit.training import Objective

__all__ = ["GANBackend"]


class GANNet(nn.Module):
    """Generator G(z, c) and PacGAN critic D(x_1..x_pac, c_1..c_pac)."""

    def __init__(
        self,
        layout: FeatureLayout,
        noise_dim: int,
        generator_dims: tuple[int, ...],
        critic_dims: tuple[int, ...],
        pac: int,
    ) -> None:
        super().__init__()
        self.layout = layout
        self.cond = ConditionEncoder(layout)
        self.head = MixedHead(layout, "point")
        self.noise_dim = noise_dim
        self.pac = pac
        self.generator = MLP(
            noise_dim + self.cond.dim, generator_dims, self.head.n_outputs, norm=True
        )
        self.critic = MLP(
            (self.cond.vec.dim + self.cond.dim) * pac,
            critic_dims,
            1,
            dropout=0.5,
            activation=lambda: nn.LeakyReLU(0.2),
        )
        # Training-frequency log-probabilities of each categorical value (for unconditional
        # sampling) and their log-frequency sampling weights (training-by-sampling).
        n_codes = sum(layout.cardinalities)
        self.register_buffer("log_freq", torch.zeros(n_codes))
        self.register_buffer("feature_weight", torch.zeros(layout.n_discrete))

    def critic_score(self, dense: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """``(n,)`` rows (n a multiple of ``pac``) -> ``(n // pac,)`` critic values."""
        x = torch.cat([dense, c], 1)
        return self.critic(x.reshape(-1, x.shape[1] * self.pac)).squeeze(1)


class _GANObjective(Objective):
    has_validation = False

    def __init__(self, net: GANNet, backend: GANBackend, data: EncodedTable) -> None:
        super().__init__()
        self.net = net
        self.tau = 0.2
        self.gp_weight = backend.gp_weight
        self.cond_weight = 1.0
        self.extra_rate = backend.condition_rate
        self.n_critic = backend.critic_steps
        self._index = _CodeIndex(data, net.layout)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "critic": list(self.net.critic.parameters()),
            "generator": list(self.net.generator.parameters()),
        }

    def _conditions(self, n: int, device: torch.device) -> tuple[EncodedTable, Conditions]:
        rows, group = self._index.draw(n, device)
        real = self._index.data.rows(rows)
        known = torch.zeros(n, self.net.cond.n_groups, dtype=torch.bool, device=device)
        if group is not None:
            known[torch.arange(n, device=device), group] = True
        if self.extra_rate > 0:
            extra = self.net.cond.random(real, self.extra_rate).known
            known |= extra
        return real, Conditions(real, known)

    def _fake(self, cond: Conditions) -> torch.Tensor:
        net, n = self.net, len(cond)
        c = net.cond.encode(cond, n, cond.known.device)
        z = torch.randn(n, net.noise_dim, device=c.device)
        out = net.generator(torch.cat([z, c], 1))
        return out, c

    def train_step(self, batch: EncodedTable, trainer: Any) -> dict[str, torch.Tensor]:
        net = self.net
        n = (len(batch) // net.pac) * net.pac
        dev = batch.device
        for _ in range(self.n_critic):
            real, cond = self._conditions(n, dev)
            with trainer.autocast():
                out, c = self._fake(cond)
                fake = net.head.relaxed(out, self.tau, None).detach()
                real_dense = net.cond.vec.dense(real)
                d_loss = net.critic_score(fake, c).mean() - net.critic_score(real_dense, c).mean()
            gp = self._gradient_penalty(real_dense, fake, c)
            trainer.backward_step(d_loss + self.gp_weight * gp, "critic")
        real, cond = self._conditions(n, dev)
        with trainer.autocast():
            out, c = self._fake(cond)
            fake = net.head.relaxed(out, self.tau, None)
            g_loss = -net.critic_score(fake, c).mean()
            kc, kd = cond.feature_masks(net.layout)
            ce = net.head.discrete_cross_entropy(out, real.discrete, kd.float())
            cont = out[:, : net.layout.n_continuous].float()
            mse = (((cont - real.continuous) ** 2) * (kc & real.observed)).sum() / n
            loss = g_loss + self.cond_weight * (ce + mse)
        trainer.backward_step(loss, "generator")
        return {
            "critic": d_loss.detach(),
            "generator": g_loss.detach(),
            "cond": (ce + mse).detach(),
        }

    def _gradient_penalty(
        self, real: torch.Tensor, fake: torch.Tensor, c: torch.Tensor
    ) -> torch.Tensor:
        pac = self.net.pac
        alpha = torch.rand(real.shape[0] // pac, 1, 1, device=real.device)
        alpha = alpha.expand(-1, pac, real.shape[1]).reshape(real.shape)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        score = self.net.critic_score(mixed, c)
        (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
        norm = grad.reshape(-1, pac * real.shape[1]).norm(2, dim=1)
        return ((norm - 1.0) ** 2).mean()


class _CodeIndex:
    """Training-by-sampling: draw (feature, value) by log-frequency, then a real row holding it."""

    def __init__(self, data: EncodedTable, layout: FeatureLayout) -> None:
        self.data = data
        self.layout = layout
        dev = data.device
        self.features = [j for j, k in enumerate(layout.cardinalities) if k > 1]
        self.group_of = torch.zeros(layout.n_discrete, dtype=torch.long, device=dev)
        for gi, g in enumerate(layout.groups):
            self.group_of[list(g.discrete)] = gi
        self.order, self.starts, self.counts, self.logw = [], [], [], []
        for j in self.features:
            codes = data.discrete[:, j]
            k = layout.cardinalities[j]
            counts = torch.bincount(codes, minlength=k)
            self.order.append(torch.argsort(codes, stable=True))
            self.starts.append(torch.cumsum(counts, 0) - counts)
            self.counts.append(counts)
            w = torch.log1p(counts.double()) * (counts > 0)
            self.logw.append((w / w.sum()).float())

    def draw(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` row indices and the group each row is conditioned on (None: no features)."""
        if not self.features:
            return torch.randint(len(self.data), (n,), device=device), None
        feat = torch.randint(len(self.features), (n,), device=device)
        rows = torch.empty(n, dtype=torch.long, device=device)
        for fi in range(len(self.features)):
            sel = (feat == fi).nonzero().squeeze(1)
            if not len(sel):
                continue
            value = torch.multinomial(self.logw[fi], len(sel), replacement=True)
            u = torch.rand(len(sel), device=device)
            pos = self.starts[fi][value] + (u * self.counts[fi][value]).long()
            rows[sel] = self.order[fi][pos]
        feat_idx = torch.as_tensor(self.features, device=device)[feat]
        return rows, self.group_of[feat_idx]


class GANBackend(NeuralBackend):
    """Conditional WGAN-GP with PacGAN and training-by-sampling.

    Args:
        noise_dim: width of the generator's noise input.
        generator_dims: hidden widths of the generator.
        critic_dims: hidden widths of the critic.
        pac: rows per critic pack (PacGAN); batches are cut to a multiple of it.
        gp_weight: weight of the gradient penalty.
        critic_steps: critic updates per generator update.
        condition_rate: share of training rows conditioned on extra random columns besides
            the training-by-sampling value (teaches multi-column conditions).
        epochs: maximum training epochs (a GAN has no validation loss: no early stopping).
        batch_size: rows per step.
        lr: Adam learning rate of both networks.
        weight_decay: AdamW weight decay.
        time_budget: wall-clock training limit in seconds.
        patience: unused by GANs (kept for a uniform interface).
        validation_fraction: unused by GANs.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from synthkit import Synthesizer
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b"], 400)})
        >>> syn = Synthesizer("gan", {"epochs": 3}, random_state=0).fit(df)
        >>> syn.sample(3, conditions={"c": "b"})["c"].tolist()
        ['b', 'b', 'b']
    """

    name = "gan"
    has_log_prob = False
    exact_log_prob = False
    supports_conditions = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TRAINER_CONSTRAINTS,
        "noise_dim": [Interval(int, 1, None)],
        "generator_dims": [tuple, list],
        "critic_dims": [tuple, list],
        "pac": [Interval(int, 1, None)],
        "gp_weight": [Interval(float, 0, None)],
        "critic_steps": [Interval(int, 1, None)],
        "condition_rate": [Interval(float, 0, 1)],
    }

    def __init__(
        self,
        noise_dim: int = 128,
        generator_dims: tuple[int, ...] = (256, 256),
        critic_dims: tuple[int, ...] = (256, 256),
        pac: int = 10,
        gp_weight: float = 10.0,
        critic_steps: int = 1,
        condition_rate: float = 0.3,
        epochs: int = 300,
        batch_size: int = 500,
        lr: float = 2e-4,
        weight_decay: float = 1e-6,
        time_budget: float | None = None,
        patience: int | None = None,
        validation_fraction: float = 0.0,
    ) -> None:
        self.noise_dim = noise_dim
        self.generator_dims = generator_dims
        self.critic_dims = critic_dims
        self.pac = pac
        self.gp_weight = gp_weight
        self.critic_steps = critic_steps
        self.condition_rate = condition_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.time_budget = time_budget
        self.patience = patience
        self.validation_fraction = validation_fraction

    def _build(self, layout: FeatureLayout) -> GANNet:
        return GANNet(
            layout, self.noise_dim, tuple(self.generator_dims), tuple(self.critic_dims), self.pac
        )

    def _trainer_kwargs(self) -> dict[str, Any]:
        return {"betas": (0.5, 0.9), "grad_clip": None}

    def _objective(self, net: nn.Module, layout: FeatureLayout, data: EncodedTable) -> Objective:
        counts = category_counts(data.discrete, layout.cardinalities)
        freq = torch.cat(counts) if counts else torch.zeros(0)
        net.log_freq.copy_(torch.log(freq.to(net.log_freq.device) / len(data)))
        net.feature_weight.copy_(
            torch.tensor([float(k > 1) for k in layout.cardinalities], device=net.log_freq.device)
        )
        # Training-by-sampling draws real rows from the whole table, not from the batch.
        return _GANObjective(net, self, data)

    def _unconditional(self, n: int, generator: torch.Generator) -> Conditions:
        """CTGAN's unconditional sampling: condition on one feature drawn from the data."""
        net, dev, layout = self.net_, self.device_, self.layout_
        table = EncodedTable(
            torch.zeros(n, layout.n_continuous, device=dev),
            torch.zeros(n, layout.n_discrete, dtype=torch.long, device=dev),
            torch.ones(n, layout.n_continuous, dtype=torch.bool, device=dev),
        )
        known = torch.zeros(n, len(layout.groups), dtype=torch.bool, device=dev)
        if net.feature_weight.sum() > 0:
            feat = torch.multinomial(net.feature_weight, n, replacement=True, generator=generator)
            start = 0
            for j, k in enumerate(layout.cardinalities):
                sel = (feat == j).nonzero().squeeze(1)
                if len(sel):
                    p = net.log_freq[start : start + k].exp()
                    table.discrete[sel, j] = torch.multinomial(
                        p, len(sel), replacement=True, generator=generator
                    )
                    gi = next(i for i, g in enumerate(layout.groups) if j in g.discrete)
                    known[sel, gi] = True
                start += k
        return Conditions(table, known)

    @torch.no_grad()
    def _sample(
        self, n: int, *, generator: torch.Generator, conditions: Conditions | None
    ) -> EncodedTable:
        net = self.net_
        cond = conditions if conditions is not None else self._unconditional(n, generator)
        c = net.cond.encode(cond, n, self.device_)
        z = torch.randn(n, net.noise_dim, generator=generator, device=self.device_)
        out = net.generator(torch.cat([z, c], 1))
        sampled = net.head.sample(out, generator)
        if conditions is None:  # the drawn condition is part of the row, as in CTGAN
            sampled = cond.apply(sampled, self.layout_)
        return sampled

    @torch.no_grad()
    def normality(self, data: EncodedTable) -> torch.Tensor:
        """Critic score of each row: higher = more like the training data. Not a log-probability.

        The critic saw real rows conditioned on one of their own categorical values, so a row
        is scored the same way, averaged over its categorical features; each row is packed
        with copies of itself to fill a PacGAN pack.
        """
        self._check_fitted()
        net, dev, layout = self.net_, self.device_, self.layout_
        data = data.to(dev)
        groups = sorted(
            {
                i
                for i, g in enumerate(layout.groups)
                for j in g.discrete
                if layout.cardinalities[j] > 1
            }
        )
        out = []
        for s in range(0, len(data), 4096):
            part = data.rows(slice(s, s + 4096))
            m = len(part)
            dense = net.cond.vec.dense(part).repeat_interleave(net.pac, 0)
            total = torch.zeros(m, device=dev)
            for gi in groups or [None]:
                known = torch.zeros(m, len(layout.groups), dtype=torch.bool, device=dev)
                if gi is not None:
                    known[:, gi] = True
                c = net.cond.encode(Conditions(part, known), m, dev)
                total += net.critic_score(dense, c.repeat_interleave(net.pac, 0))
            out.append(total / max(1, len(groups)))
        return torch.cat(out)
