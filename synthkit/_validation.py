"""Declared parameter constraints, checked in ``fit`` and never written back.

Estimators declare ``_parameter_constraints = {"name": [constraint, ...]}``; a value is valid
when it satisfies any of the listed constraints (``None`` in the list allows ``None``).
This mirrors scikit-learn's ``_parameter_constraints`` without depending on its private API.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from synthkit.errors import ConfigError

__all__ = ["Interval", "Options", "validate_params"]


@dataclass(frozen=True)
class Interval:
    """A real or integer interval; ``None`` bounds are open-ended."""

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not isinstance(value, numbers.Real):
            return False
        lo_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        hi_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        return lo_ok and hi_ok

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.low is None else self.low
        hi = "inf" if self.high is None else self.high
        return f"{'an int' if self.kind is int else 'a float'} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: frozenset

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", frozenset(values))

    def is_satisfied_by(self, value: Any) -> bool:
        try:
            return value in self.values
        except TypeError:
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in sorted(self.values, key=str))


def _describe(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return str(constraint)


def _satisfies(constraint: Any, value: Any) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    if callable(getattr(constraint, "is_satisfied_by", None)):
        return constraint.is_satisfied_by(value)
    raise TypeError(f"unknown constraint {constraint!r}")


def validate_params(
    params: Mapping[str, Any], constraints: Mapping[str, list[Any]], owner: str
) -> None:
    """Check every parameter against its declared constraints.

    Args:
        params: parameter values, as returned by ``get_params(deep=False)``.
        constraints: ``{name: [constraint, ...]}``; names not listed are not checked.
        owner: the estimator's name, used in the message.

    Raises:
        ConfigError: naming every invalid parameter, its value and what is allowed.
    """
    problems = []
    for name, allowed in constraints.items():
        if name not in params:
            continue
        value = params[name]
        if not any(_satisfies(c, value) for c in allowed):
            expected = " or ".join(_describe(c) for c in allowed)
            problems.append(f"{owner}: parameter {name!r} must be {expected}, got {value!r}")
    if problems:
        raise ConfigError("; ".join(problems))
