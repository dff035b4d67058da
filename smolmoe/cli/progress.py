"""Rich progress bars and tables for the CLI edge (the library itself prints nothing)."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from ..pipelines.sequencer import Progress as PipelineProgress

console = Console(stderr=True)   # progress and status
out = Console()                  # results: tables the user may pipe or save


def _fmt(record: dict, keys) -> str:
    parts = []
    for k in keys:
        v = record.get(k)
        if isinstance(v, float):
            parts.append(f"{k} {v:.4f}")
        elif v is not None:
            parts.append(f"{k} {v}")
    return "  ".join(parts)


@contextlib.contextmanager
def step_progress(total: int, description: str,
                  keys=("loss",)) -> Iterator[Callable[[dict], None]]:
    """Yield an on_step(record) callback that advances a bar showing the chosen metrics.

    The bar appears at the first step, so an error while loading prints only its own line.
    """
    state: dict = {}

    def on_step(record: dict) -> None:
        if not state:
            state["progress"] = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                console=console)
            state["progress"].start()
            state["task"] = state["progress"].add_task(description, total=total, info="")
        state["progress"].update(state["task"], completed=record.get("step", 0),
                                 info=_fmt(record, keys))

    try:
        yield on_step
    finally:
        if state:
            state["progress"].stop()


@contextlib.contextmanager
def task_progress(total: int, description: str) -> Iterator[Callable[..., None]]:
    """Yield an advance(label) callback for work counted in items (domains, models...)."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[info]}"),
                  console=console) as progress:
        task = progress.add_task(description, total=total, info="")

        def advance(*labels) -> None:
            progress.update(task, advance=1, info=" ".join(str(x) for x in labels))

        yield advance


@contextlib.contextmanager
def status(message: str) -> Iterator[Callable[[str], None]]:
    """Yield an update(message) callback for a spinner line."""
    with console.status(message) as spinner:
        yield spinner.update


class Shown(PipelineProgress):
    """A pipeline's progress (stages.Progress) as rich bars and spinners."""
    steps = staticmethod(step_progress)
    items = staticmethod(task_progress)
    status = staticmethod(status)
