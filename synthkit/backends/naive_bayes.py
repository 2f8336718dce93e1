"""``naive_bayes``: columns independent given a class; exact likelihood and per-column terms.

The class is a named categorical column (supervised: fitted in closed form from the labels)
or, by default, a latent class fitted by EM (a latent class model: a diagonal mixture). Given
the class every feature is independent, which makes ``log p(x_j | x_rest)`` cheap and easy to
read: :meth:`synthkit.AnomalyDetector.explain` reports the columns that drive a row's score.

References:
    Lazarsfeld & Henry (1968), Latent Structure Analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from synthkit._validation import Interval
from synthkit.backends import _mixture
from synthkit.backends._mixture_backend import MixtureBackend
from synthkit.callbacks import notify
from synthkit.encoding import EncodedTable, FeatureLayout
from synthkit.errors import ConfigError

__all__ = ["NaiveBayesBackend"]


class NaiveBayesBackend(MixtureBackend):
    """Class-conditional independence (latent or named class); exact log-likelihood.

    Args:
        class_column: a categorical column to use as the class; ``None`` fits a latent class
            with ``n_classes`` values by EM.
        n_classes: latent classes (ignored with ``class_column``).
        max_iter: EM iterations.
        tol: EM tolerance on the mean log-likelihood per row.
        var_smoothing: added to every variance (normalised units).
        alpha: pseudo-count per category (smoothing; probability of unseen categories).

    Attributes:
        params_: the fitted mixture (diagonal covariances).
        fit_info_: ``log_likelihood``, ``n_iter``, ``converged``.
    """

    name = "naive_bayes"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "class_column": [str, None],
        "n_classes": [Interval(int, 1, None)],
        "max_iter": [Interval(int, 1, None)],
        "tol": [Interval(float, 0, None)],
        "var_smoothing": [Interval(float, 0, None)],
        "alpha": [Interval(float, 0, None, closed="neither")],
    }

    def __init__(
        self,
        class_column: str | None = None,
        *,
        n_classes: int = 8,
        max_iter: int = 100,
        tol: float = 1e-3,
        var_smoothing: float = 1e-4,
        alpha: float = 0.5,
    ) -> None:
        self.class_column = class_column
        self.n_classes = n_classes
        self.max_iter = max_iter
        self.tol = tol
        self.var_smoothing = var_smoothing
        self.alpha = alpha

    def _fit(
        self,
        data: EncodedTable,
        layout: FeatureLayout,
        *,
        generator: torch.Generator,
        callbacks: Sequence[Any] | None,
    ) -> None:
        if self.class_column is None:
            self.params_, self.fit_info_ = _mixture.fit_em(
                data,
                layout,
                min(self.n_classes, len(data)),
                covariance_type="diag",
                max_iter=self.max_iter,
                tol=self.tol,
                reg_covar=self.var_smoothing,
                alpha=self.alpha,
                generator=generator,
                callbacks=callbacks,
                desc="naive_bayes",
            )
            return
        j, k = self._class_feature(layout)
        notify(callbacks, "on_fit_start", 1, "naive_bayes")
        dtype = _mixture.float_dtype(data.device)
        resp = torch.nn.functional.one_hot(data.discrete[:, j], k).to(dtype)
        # Component c *is* class c: the class feature is deterministic given the component.
        fixed = torch.full((k, k), -torch.inf, dtype=dtype, device=data.device)
        fixed.fill_diagonal_(0.0)
        self.params_ = _mixture._m_step(
            data.continuous.to(dtype),
            data.discrete,
            resp,
            layout,
            "diag",
            self.var_smoothing,
            self.alpha,
            fixed_log_probs={j: fixed},
        )
        ll = float(_mixture.log_prob(data, self.params_, layout).mean())
        self.fit_info_ = {"log_likelihood": ll, "n_iter": 1, "converged": True}
        notify(callbacks, "on_step", 1, {"log_lik": ll})
        notify(callbacks, "on_fit_end", {"log_lik": ll})

    def _class_feature(self, layout: FeatureLayout) -> tuple[int, int]:
        names = [g.name for g in layout.groups]
        if self.class_column not in names:
            raise ConfigError(
                f"naive_bayes: class_column {self.class_column!r} is not a modelled column; "
                f"choose one of {names}"
            )
        g = layout.group(self.class_column)
        if g.continuous or len(g.discrete) != 1:
            raise ConfigError(
                f"naive_bayes: class_column {self.class_column!r} must be categorical "
                "(or an integer column with few values)"
            )
        j = g.discrete[0]
        return j, layout.cardinalities[j]
