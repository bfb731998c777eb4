"""Rich progress bars shared by the stages (one look, one place)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

console = Console(stderr=True)


def progress_bar(transient: bool = False) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        # a transient bar in a log file is only noise; a lasting one still prints its end state
        disable=transient and not console.is_terminal,
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar on stderr."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)

# tables and results go to stdout; progress and status lines to stderr
stdout = Console()


def status(message: str) -> None:
    console.print(f"[bold cyan]recsys[/] {message}")


def warn(message: str) -> None:
    """One warning line on stderr."""
    from rich.markup import escape

    console.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)
