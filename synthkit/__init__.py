"""synthkit: learn a table's distribution, then sample synthetic rows or flag improbable ones.

Example:
    >>> from synthkit import Synthesizer  # doctest: +SKIP
    >>> syn = Synthesizer(backend="gmm", random_state=0).fit(df)  # doctest: +SKIP
    >>> fake = syn.sample(1000)  # doctest: +SKIP

The public names are imported lazily so ``import synthkit`` (and ``synthkit --help``) stays
fast: torch and scikit-learn load only when a model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthkit._version import __version__

if TYPE_CHECKING:
    from synthkit.anomaly import AnomalyDetector
    from synthkit.persistence import load
    from synthkit.synthesizer import Synthesizer

__all__ = ["AnomalyDetector", "Synthesizer", "__version__", "load"]

_LAZY = {
    "Synthesizer": "synthkit.synthesizer",
    "AnomalyDetector": "synthkit.anomaly",
    "load": "synthkit.persistence",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'synthkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
