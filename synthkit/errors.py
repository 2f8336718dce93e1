"""Typed errors raised by synthkit.

Every error says what was expected, what was found and, where it can, what to change.
Catch :class:`SynthkitError` to handle all of them; the CLI turns them into a one-line
message and a non-zero exit code.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "BackendError",
    "ConfigError",
    "DataValidationError",
    "IncompatibleModelError",
    "InputFileError",
    "NotFittedError",
    "SchemaError",
    "SynthkitError",
    "SynthkitWarning",
]


class SynthkitError(Exception):
    """Base class of every error synthkit raises on purpose."""


class SynthkitWarning(UserWarning):
    """Warnings about the data or the model that do not stop the work (dropped columns...)."""


class _ProblemsError(SynthkitError):
    """An error that carries every problem found, not just the first one."""

    def __init__(self, problems: str | Iterable[str], *, prefix: str = "") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        head = f"{prefix}: " if prefix else ""
        if len(self.problems) == 1:
            message = head + self.problems[0]
        else:
            message = head + f"{len(self.problems)} problems: " + "; ".join(self.problems)
        super().__init__(message)


class SchemaError(_ProblemsError, ValueError):
    """The schema (inferred or given) cannot describe the table: bad override, unknown kind."""


class DataValidationError(_ProblemsError, ValueError):
    """A table does not match what is expected (missing column, wrong type, NaN, empty...).

    Attributes:
        problems: one message per problem, each naming the column.
    """


class NotFittedError(SynthkitError, ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``.

    Subclasses ``ValueError`` and ``AttributeError`` like scikit-learn's ``NotFittedError``.
    """


class IncompatibleModelError(SynthkitError):
    """A saved model cannot be read by this version of synthkit (or is not a synthkit model)."""


class ConfigError(_ProblemsError, ValueError):
    """A parameter or configuration value is invalid; the message names it.

    Attributes:
        problems: one message per invalid parameter or key.
    """


class BackendError(SynthkitError):
    """A backend is unknown, cannot do what was asked, or failed numerically."""


class InputFileError(SynthkitError, OSError):
    """An input or output file is missing, unreadable or of an unsupported format."""
