"""The Backend contract: what every generative model in synthkit implements.

A backend sees only tensors (:class:`~synthkit.encoding.EncodedTable`) and a
:class:`~synthkit.encoding.FeatureLayout`; the encoder handles pandas and column kinds.
Capabilities are class flags, as in ``torch.distributions`` (``has_rsample``):

* ``has_log_prob``: :meth:`log_prob` works (a GAN's does not).
* ``exact_log_prob``: the log-probability is exact, not a bound or an estimate.
* ``supports_explain``: :meth:`column_log_prob` gives per-column conditional terms.
* ``supports_conditions``: :meth:`sample` accepts ``conditions`` (known cells), and samples
  the other columns from the model's conditional, not by rejection.

Hyper-parameters are constructor arguments stored as given (scikit-learn style, so
``get_params``/``set_params``/``clone`` work); they are validated in :meth:`fit` against
``_parameter_constraints`` and never written back. Learned state ends in ``_``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sklearn.base import BaseEstimator

from synthkit._validation import validate_params
from synthkit.errors import BackendError, NotFittedError

if TYPE_CHECKING:
    import torch

    from synthkit.encoding import Conditions, EncodedTable, FeatureLayout

__all__ = ["Backend"]


class Backend(BaseEstimator, ABC):
    """Abstract generative model over encoded tables.

    Subclasses implement :meth:`_fit`, :meth:`_sample`, :meth:`state_dict` and
    :meth:`load_state_dict`, and :meth:`_log_prob` when ``has_log_prob``.
    """

    name: ClassVar[str] = ""
    has_log_prob: ClassVar[bool] = True
    exact_log_prob: ClassVar[bool] = True
    supports_explain: ClassVar[bool] = False
    supports_conditions: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    def fit(
        self,
        data: EncodedTable,
        layout: FeatureLayout,
        *,
        device: torch.device,
        generator: torch.Generator,
        callbacks: Sequence[Any] | None = None,
    ) -> Backend:
        """Fit the model.

        Args:
            data: the encoded training table (any device; moved to ``device``).
            layout: the feature layout of ``data``.
            device: where to train and keep the parameters.
            generator: random generator on ``device`` (the only source of randomness).
            callbacks: progress callbacks (see :mod:`synthkit.callbacks`).

        Returns:
            self
        """
        validate_params(
            self.get_params(deep=False), self._parameter_constraints, type(self).__name__
        )
        if len(data) == 0:
            raise BackendError(f"{type(self).__name__}: cannot fit on an empty table")
        self.layout_ = layout
        self.device_ = device
        self._fit(data.to(device), layout, generator=generator, callbacks=callbacks)
        return self

    @abstractmethod
    def _fit(
        self,
        data: EncodedTable,
        layout: FeatureLayout,
        *,
        generator: torch.Generator,
        callbacks: Sequence[Any] | None,
    ) -> None:
        """Learn the parameters from ``data`` (already on ``self.device_``)."""

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator,
        conditions: Conditions | None = None,
    ) -> EncodedTable:
        """Draw ``n`` encoded rows.

        Args:
            n: number of rows.
            generator: the only source of randomness (on the model's device).
            conditions: known cells, one row per sampled row; those cells are returned as
                given and the others drawn from the model's conditional distribution.

        Raises:
            BackendError: conditions were given to a backend that cannot condition.
        """
        self._check_fitted()
        if conditions is not None:
            if not self.supports_conditions:
                from synthkit.backends import available, get_backend_class

                able = [b for b in available() if get_backend_class(b).supports_conditions]
                raise BackendError(
                    f"backend {self.name!r} cannot sample conditionally; use one of {able}"
                )
            if len(conditions) != n:
                raise BackendError(f"{len(conditions)} condition rows for {n} samples")
            conditions = conditions.to(self.device_)
            return conditions.apply(
                self._sample(n, generator=generator, conditions=conditions), self.layout_
            )
        return self._sample(n, generator=generator, conditions=None)

    @abstractmethod
    def _sample(
        self, n: int, *, generator: torch.Generator, conditions: Conditions | None
    ) -> EncodedTable:
        """Draw ``n`` rows (every continuous entry observed), given ``conditions`` if any."""

    def log_prob(self, data: EncodedTable) -> torch.Tensor:
        """Log-density of each row in encoded space, shape ``(n,)``.

        Continuous entries with ``observed == False`` are marginalised out.

        Raises:
            BackendError: the backend has no likelihood (``has_log_prob`` is False).
        """
        self._check_fitted()
        if not self.has_log_prob:
            from synthkit.backends import available, get_backend_class

            with_lp = [n for n in available() if get_backend_class(n).has_log_prob]
            raise BackendError(
                f"backend {self.name!r} has no likelihood; use one of {with_lp} to score rows"
            )
        return self._log_prob(data.to(self.device_))

    def _log_prob(self, data: EncodedTable) -> torch.Tensor:
        raise NotImplementedError

    def normality(self, data: EncodedTable) -> torch.Tensor:
        """Anomaly-ranking score, higher = more normal.

        :meth:`log_prob` unless overridden (a GAN returns its critic's score, which is not a
        log-probability).
        """
        return self.log_prob(data)

    def column_log_prob(self, data: EncodedTable) -> torch.Tensor:
        """Per column group, ``log p(x_g | x_rest)`` in encoded space: shape ``(n, n_groups)``.

        Low values mark the cells that are surprising given the rest of the row.

        Raises:
            BackendError: the backend cannot compute per-column terms.
        """
        self._check_fitted()
        if not self.supports_explain:
            from synthkit.backends import available, get_backend_class

            able = [n for n in available() if get_backend_class(n).supports_explain]
            raise BackendError(
                f"backend {self.name!r} gives no per-column terms; use one of {able} to explain"
            )
        return self._column_log_prob(data.to(self.device_))

    def _column_log_prob(self, data: EncodedTable) -> torch.Tensor:
        raise NotImplementedError

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Learned state: tensors and JSON-able values only (saved without pickle)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any], layout: FeatureLayout, device: Any) -> None:
        """Restore the learned state produced by :meth:`state_dict`."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "layout_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")
