"""The progress bar of ``strangler etl run``: rows, rows/s, elapsed and, when known, ETA.

On a terminal it is a live ``rich`` bar (on standard error, so standard output
stays the run's one-line result); elsewhere (a log file, a scheduler) it
prints nothing until the run ends.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from strangler.etl.run import Progress as RunProgress

__all__ = ["ProgressBar"]


class _Rate(ProgressColumn):
    """Rows per second since the run started (rows an earlier, interrupted run
    staged are not counted)."""

    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        return Text(f"{rate:,.0f} rows/s" if rate else "- rows/s", style="progress.data.speed")


class ProgressBar:
    """A context manager whose :meth:`update` takes :class:`~strangler.etl.run.Progress`."""

    def __init__(self, view: str, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            _Rate(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
            disable=not self.console.is_terminal,
        )
        self._task = self._bar.add_task(view, total=None, rate=0.0)

    def update(self, progress: RunProgress) -> None:
        self._bar.update(
            self._task,
            completed=progress.rows,
            total=progress.total,
            rate=progress.rows_per_s,
        )

    def __enter__(self) -> ProgressBar:
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.stop()
