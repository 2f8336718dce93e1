"""Fit callbacks: how long steps report progress without printing from library code.

A callback is any object with some of these methods (all optional):
``on_fit_start(total, desc)``, ``on_step(step, metrics)``, ``on_fit_end(metrics)``.
Backends call them through :func:`notify`; the CLI passes a :class:`RichProgress`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Callback", "RichProgress", "notify"]


class Callback:
    """Base class with no-op hooks; subclass and override what you need."""

    def on_fit_start(self, total: int | None, desc: str) -> None:
        """Called once before training; ``total`` is the maximum number of steps."""

    def on_step(self, step: int, metrics: Mapping[str, float]) -> None:
        """Called after each training step (EM iteration, epoch) with its metrics."""

    def on_fit_end(self, metrics: Mapping[str, float]) -> None:
        """Called once when training stops (converged, budget spent or max steps)."""


def notify(callbacks: Iterable[Any] | None, hook: str, *args: Any) -> None:
    """Call ``hook`` on every callback that defines it."""
    for cb in callbacks or ():
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(*args)


class RichProgress(Callback):
    """A progress bar on stderr (rich) showing the step and the latest metrics.

    Use it as a context manager (or call :meth:`close`) so the bar is stopped even when the
    fit fails::

        with RichProgress() as bar:
            syn.fit(df, callbacks=[bar])
    """

    def __init__(self, transient: bool = False) -> None:
        self.transient = transient
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the bar if it is running (safe to call twice)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def on_fit_start(self, total: int | None, desc: str) -> None:
        """Start a bar for ``total`` steps (a fit may start several, e.g. BIC candidates)."""
        self.close()
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=Console(stderr=True),
            transient=self.transient,
        )
        self._progress.start()
        self._task = self._progress.add_task(desc, total=total, info="")

    def on_step(self, step: int, metrics: Mapping[str, float]) -> None:
        """Advance the bar and show the metrics."""
        if self._progress is None:
            return
        info = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        self._progress.update(self._task, completed=step, info=info)

    def on_fit_end(self, metrics: Mapping[str, float]) -> None:
        """Fill the bar (training may stop early) and stop it."""
        if self._progress is None:
            return
        done = self._progress.tasks[0].completed or 1
        self._progress.update(self._task, total=done, completed=done)
        self.close()
