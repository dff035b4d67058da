"""The stage sequencer both pipelines share (moe.py for the MoE, scratch.py):
stages run in order, each timed, each announced to the caller and its result kept for the
report. The pipelines return data; the edge (scripts/demo.py, `smolmoe scratch run`) prints."""
from __future__ import annotations

import contextlib
import time
from typing import Callable, ContextManager, Iterator


def _nothing(*_args, **_kwargs) -> ContextManager:
    return contextlib.nullcontext(lambda *a, **k: None)


class Progress:
    """How a pipeline shows progress; the default shows nothing. Each method returns a context
    manager yielding a callback: steps -> on_step(record), items -> advance(*labels),
    status -> update(message)."""
    steps: Callable[..., ContextManager] = staticmethod(_nothing)   # (total, label, keys)
    items: Callable[..., ContextManager] = staticmethod(_nothing)   # (total, label)
    status: Callable[..., ContextManager] = staticmethod(_nothing)  # (message)


class Stages:
    """Times named stages; on_stage(name) when one starts, on_result(name, result, seconds) when
    it ends.

    `timings` holds each stage's seconds (rounded to 0.1 s), in the order they ran.
    """

    def __init__(self, on_stage: Callable[[str], None] | None = None,
                 on_result: Callable[[str, dict, float], None] | None = None):
        self.on_stage = on_stage or (lambda name: None)
        self.on_result = on_result or (lambda name, result, seconds: None)
        self.timings: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        """Run a stage: the body fills the yielded dict, which on_result receives."""
        self.on_stage(name)
        t = time.perf_counter()
        result: dict = {}
        yield result
        self.timings[name] = round(time.perf_counter() - t, 1)
        self.on_result(name, result, self.timings[name])

    def elapsed(self) -> float:
        return time.perf_counter() - self.started
