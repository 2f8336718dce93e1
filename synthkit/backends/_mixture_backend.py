"""The part of ``gmm`` and ``naive_bayes`` that is the same: likelihood, sampling, state."""

from __future__ import annotations

from typing import Any

import torch

from synthkit.backends import _mixture
from synthkit.backends.base import Backend
from synthkit.encoding import Conditions, EncodedTable, FeatureLayout
from synthkit.errors import IncompatibleModelError

__all__ = ["MixtureBackend"]


class MixtureBackend(Backend):
    """A backend whose fitted state is a :class:`~synthkit.backends._mixture.MixtureParams`."""

    exact_log_prob = True
    supports_explain = True
    supports_conditions = True

    def _log_prob(self, data: EncodedTable) -> torch.Tensor:
        return _mixture.log_prob(data, self.params_, self.layout_)

    def _column_log_prob(self, data: EncodedTable) -> torch.Tensor:
        return _mixture.column_log_prob(data, self.params_, self.layout_)

    def _sample(
        self, n: int, *, generator: torch.Generator, conditions: Conditions | None
    ) -> EncodedTable:
        if conditions is not None:
            return _mixture.sample_conditional(conditions, self.params_, self.layout_, generator)
        return _mixture.sample(n, self.params_, self.layout_, generator)

    @property
    def n_components_(self) -> int:
        """Number of mixture components (after BIC selection, if asked)."""
        self._check_fitted()
        return self.params_.n_components

    def state_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            **self.params_.tensors(),
            "covariance_type": self.params_.covariance_type,
            "fit_info": self.fit_info_,
        }

    def load_state_dict(self, state: dict[str, Any], layout: FeatureLayout, device: Any) -> None:
        dtype = _mixture.float_dtype(torch.device(device))
        t = {
            k: state[k].to(device=device, dtype=dtype)
            for k in ("log_weights", "means", "scale", "log_probs")
        }
        _check_shapes(t, state["covariance_type"], layout)
        self.params_ = _mixture.MixtureParams(covariance_type=state["covariance_type"], **t)
        self.fit_info_ = dict(state.get("fit_info", {}))
        self.layout_ = layout
        self.device_ = torch.device(device)


def _check_shapes(t: dict[str, torch.Tensor], covariance_type: str, layout: FeatureLayout) -> None:
    """Fail at load time, not with a torch shape error at the first sample or score."""
    k, d, c = t["log_weights"].shape[0], layout.n_continuous, sum(layout.cardinalities)
    scale = {"full": (k, d, d), "diag": (k, d)}.get(covariance_type)
    expected = {"log_weights": (k,), "means": (k, d), "scale": scale, "log_probs": (k, c)}
    wrong = [
        f"{name} has shape {tuple(t[name].shape)}, expected {shape}"
        for name, shape in expected.items()
        if tuple(t[name].shape) != shape
    ]
    if wrong:
        raise IncompatibleModelError(
            f"the saved mixture does not match its feature layout ({covariance_type!r} "
            f"covariance, {d} continuous features, {c} category codes): " + "; ".join(wrong)
        )
