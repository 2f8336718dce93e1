"""``gmm``: a mixture over mixed data, fitted by EM, with exact likelihood.

Each component has a Gaussian over the continuous features (full or diagonal covariance) and
one categorical distribution per discrete feature. On quantile-normalised features a mixture
is a Gaussian-copula-like model whose components also capture multi-modal dependence between
numeric and categorical columns.

References:
    Dempster, Laird & Rubin (1977), Maximum likelihood from incomplete data via the EM
    algorithm. Arthur & Vassilvitskii (2007), k-means++.

Example:
    >>> from synthkit import Synthesizer  # doctest: +SKIP
    >>> Synthesizer("gmm", {"n_components": "auto"}).fit(df)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from synthkit._validation import Interval, Options
from synthkit.backends import _mixture
from synthkit.backends._mixture_backend import MixtureBackend
from synthkit.encoding import EncodedTable, FeatureLayout

__all__ = ["GMMBackend"]


class GMMBackend(MixtureBackend):
    """Mixture of Gaussians x categoricals, EM on the device; exact log-likelihood.

    Args:
        n_components: number of components, or ``"auto"`` to choose it by BIC among
            ``candidates``.
        covariance_type: ``"full"`` (correlations within a component) or ``"diag"``.
        max_iter: EM iterations per start.
        tol: stop when the mean log-likelihood per row improves by less than this.
        reg_covar: added to covariance diagonals (in normalised units).
        alpha: pseudo-count added to every category of every component (smoothing, and the
            probability left for categories never seen in training).
        n_init: k-means++ starts; the best log-likelihood wins.
        candidates: component counts tried when ``n_components="auto"``.

    Attributes:
        params_: the fitted :class:`~synthkit.backends._mixture.MixtureParams`.
        n_components_: components used.
        fit_info_: ``log_likelihood``, ``n_iter``, ``converged`` (and ``bic`` per candidate).
    """

    name = "gmm"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_components": [Interval(int, 1, None), Options({"auto"})],
        "covariance_type": [Options({"full", "diag"})],
        "max_iter": [Interval(int, 1, None)],
        "tol": [Interval(float, 0, None)],
        "reg_covar": [Interval(float, 0, None)],
        "alpha": [Interval(float, 0, None, closed="neither")],
        "n_init": [Interval(int, 1, None)],
        "candidates": [tuple, list],
    }

    def __init__(
        self,
        n_components: int | str = 10,
        *,
        covariance_type: str = "full",
        max_iter: int = 100,
        tol: float = 1e-3,
        reg_covar: float = 1e-4,
        alpha: float = 0.5,
        n_init: int = 1,
        candidates: Sequence[int] = (1, 2, 4, 8, 12, 16, 24, 32),
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.alpha = alpha
        self.n_init = n_init
        self.candidates = candidates

    def _fit_one(
        self,
        data: EncodedTable,
        layout: FeatureLayout,
        k: int,
        generator: torch.Generator,
        callbacks: Sequence[Any] | None,
    ) -> tuple[_mixture.MixtureParams, dict[str, Any]]:
        return _mixture.fit_em(
            data,
            layout,
            min(k, len(data)),
            covariance_type=self.covariance_type,
            max_iter=self.max_iter,
            tol=self.tol,
            reg_covar=self.reg_covar,
            alpha=self.alpha,
            n_init=self.n_init,
            generator=generator,
            callbacks=callbacks,
            desc=f"gmm k={k}",
        )

    def _fit(
        self,
        data: EncodedTable,
        layout: FeatureLayout,
        *,
        generator: torch.Generator,
        callbacks: Sequence[Any] | None,
    ) -> None:
        if self.n_components != "auto":
            self.params_, self.fit_info_ = self._fit_one(
                data, layout, int(self.n_components), generator, callbacks
            )
            return
        n = len(data)
        best = None
        bics = {}
        for k in sorted({int(c) for c in self.candidates if 1 <= int(c) <= n}):
            params, info = self._fit_one(data, layout, k, generator, callbacks)
            bic = -2 * info["log_likelihood"] * n + _mixture.n_free_params(
                params, layout
            ) * math.log(n)
            bics[k] = bic
            if best is None or bic < best[2]:
                best = (params, info, bic)
        assert best is not None
        self.params_, self.fit_info_ = best[0], {**best[1], "bic": bics}
