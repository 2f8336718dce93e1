"""Backend registry: a name maps to ``"module:Class"``, imported only when used.

Third-party backends register explicitly (no silent plugin loading)::

    from synthkit.backends import register
    register("my_model", "my_package.models:MyBackend")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from synthkit.errors import BackendError

if TYPE_CHECKING:
    from synthkit.backends.base import Backend

__all__ = ["available", "get_backend_class", "make_backend", "register"]

_REGISTRY: dict[str, str] = {
    "diffusion": "synthkit.backends.diffusion:DiffusionBackend",
    "flow": "synthkit.backends.flow:FlowBackend",
    "gmm": "synthkit.backends.gmm:GMMBackend",
    "naive_bayes": "synthkit.backends.naive_bayes:NaiveBayesBackend",
    "transformer": "synthkit.backends.transformer:TransformerBackend",
    "vae": "synthkit.backends.vae:VAEBackend",
    "gan": "synthkit.backends.gan:GANBackend",
}


def register(name: str, target: str, *, overwrite: bool = False) -> None:
    """Register a backend class under ``name``.

    Args:
        name: the name users pass as ``backend=``.
        target: ``"package.module:ClassName"`` of a :class:`~synthkit.backends.base.Backend`.
        overwrite: replace an existing registration.
    """
    if ":" not in target:
        raise BackendError(f"backend target must look like 'module:Class', got {target!r}")
    if name in _REGISTRY and not overwrite:
        raise BackendError(f"backend {name!r} is already registered; pass overwrite=True")
    _REGISTRY[name] = target


def available() -> list[str]:
    """Registered backend names."""
    return sorted(_REGISTRY)


def get_backend_class(name: str) -> type[Backend]:
    """The class registered under ``name``.

    Raises:
        BackendError: the name is unknown (the message lists the known ones).
    """
    try:
        target = _REGISTRY[name]
    except (KeyError, TypeError):
        raise BackendError(
            f"unknown backend {name!r}; available: {', '.join(available())}"
        ) from None
    module, _, cls = target.partition(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"backend {name!r} ({target}) cannot be imported: {exc}") from exc


def make_backend(name: str, params: dict | None = None) -> Backend:
    """A new, unfitted backend ``name`` with hyper-parameters ``params``."""
    cls = get_backend_class(name)
    try:
        return cls(**(params or {}))
    except TypeError as exc:
        import inspect

        allowed = [p for p in inspect.signature(cls).parameters if p != "self"]
        raise BackendError(
            f"backend {name!r} got invalid parameters {sorted(params or {})}: allowed {allowed}"
        ) from exc
