"""What the neural backends share: Trainer settings, a seeded fit, and weights as state.

A neural backend builds its torch module in :meth:`NeuralBackend._build` (from the layout and
its hyper-parameters alone, so loading rebuilds the same shapes), trains it with the shared
:class:`~synthkit.training.Trainer`, and saves ``module.state_dict()`` plus the training
summary. Nothing else is stored, and nothing is pickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from synthkit._validation import Interval
from synthkit.backends.base import Backend
from synthkit.encoding import EncodedTable, FeatureLayout
from synthkit.errors import IncompatibleModelError

__all__ = ["TRAINER_CONSTRAINTS", "NeuralBackend"]

TRAINER_CONSTRAINTS: dict[str, list[Any]] = {
    "epochs": [Interval(int, 1, None)],
    "batch_size": [Interval(int, 2, None)],
    "lr": [Interval(float, 0, None, closed="neither")],
    "weight_decay": [Interval(float, 0, None)],
    "time_budget": [Interval(float, 0, None, closed="neither"), None],
    "patience": [Interval(int, 1, None), None],
    "validation_fraction": [Interval(float, 0, 0.5)],
}


class NeuralBackend(Backend):
    """Backend whose model is one ``nn.Module`` (``self.net_``) trained by the Trainer.

    Subclasses set the hyper-parameters named in :data:`TRAINER_CONSTRAINTS` (``epochs``,
    ``batch_size``, ``lr``, ``weight_decay``, ``time_budget``, ``patience``,
    ``validation_fraction``) and implement :meth:`_build` and :meth:`_objective`.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = dict(TRAINER_CONSTRAINTS)

    def _build(self, layout: FeatureLayout) -> nn.Module:
        """The untrained network for ``layout`` (same shapes at fit and at load)."""
        raise NotImplementedError

    def _objective(self, net: nn.Module, layout: FeatureLayout, data: EncodedTable) -> Any:
        """The :class:`~synthkit.training.Objective` that trains ``net`` on ``data``.

        ``data`` is the whole training table (on the device), for what is set from it once:
        marginals that initialise the network, a GAN's training-by-sampling index.
        """
        raise NotImplementedError

    def _trainer_kwargs(self) -> dict[str, Any]:
        return {}

    def _fit(
        self,
        data: EncodedTable,
        layout: FeatureLayout,
        *,
        generator: torch.Generator,
        callbacks: Sequence[Any] | None,
    ) -> None:
        from synthkit.training import Trainer, seeded

        with seeded(generator):
            self.net_ = self._build(layout).to(self.device_)
            objective = self._objective(self.net_, layout, data)
            trainer = Trainer(
                max_epochs=self.epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                weight_decay=self.weight_decay,
                time_budget=self.time_budget,
                patience=self.patience,
                validation_fraction=self.validation_fraction,
                callbacks=callbacks,
                desc=f"fit {self.name}",
                **self._trainer_kwargs(),
            )
            result = trainer.fit(objective, data, generator=generator, device=self.device_)
        self.net_.eval()
        self.fit_info_ = result.to_dict()
        self.history_ = result.history
        # A fixed stream for stochastic scores (importance samples, diffusion noise) so that
        # scoring the same rows twice gives the same numbers.
        self.score_seed_ = int(
            torch.randint(2**62, (1,), generator=generator, device=generator.device)
        )

    def _score_generator(self) -> torch.Generator:
        from synthkit._device import make_generator

        return make_generator(self.score_seed_, self.device_)

    def state_dict(self) -> dict[str, Any]:
        self._check_fitted()
        weights = {f"net.{k}": v.detach() for k, v in self.net_.state_dict().items()}
        return {**weights, "fit_info": self.fit_info_, "score_seed": self.score_seed_}

    def load_state_dict(self, state: dict[str, Any], layout: FeatureLayout, device: Any) -> None:
        net = self._build(layout)
        weights = {k[4:]: v for k, v in state.items() if k.startswith("net.")}
        try:
            net.load_state_dict(weights)
        except RuntimeError as exc:
            raise IncompatibleModelError(
                f"the saved {self.name} weights do not match the model built from its "
                f"parameters and feature layout: {str(exc).splitlines()[0]}"
            ) from exc
        self.net_ = net.to(device).eval()
        self.fit_info_ = dict(state.get("fit_info", {}))
        self.score_seed_ = int(state["score_seed"])
        self.layout_ = layout
        self.device_ = torch.device(device)
