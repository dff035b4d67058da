"""A verifiable task's rules, in the shape the RL stages ask of one (grpo, rl.selfpairs).

A task is its answer parser and format check (plus, for the scratch task, a consistency check
between the worked thinking and the answer line) and whether its prompts open a thinking block.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class VerifiableTask:
    parse_answer: Callable[[str], int | None]
    format_ok: Callable[[str], bool]
    think: bool | None = None                  # prompt_ids' thinking mode (None: template's own)
    consistent: Callable[[str], bool] | None = None

    def correct(self, completion: str, answer) -> bool:
        return self.parse_answer(completion) == int(answer)

    def formatted(self, completion: str) -> bool:
        return self.format_ok(completion)

    def reward(self, completion: str, answer, format_weight: float = 0.1,
               consistency_weight: float = 0.0) -> float:
        """Exact answer (1) + format_weight x format + consistency_weight x consistency."""
        r = float(self.correct(completion, answer)) + format_weight * float(self.formatted(completion))
        if self.consistent is not None and consistency_weight:
            r += consistency_weight * float(self.consistent(completion))
        return r
