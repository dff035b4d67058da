"""A verifiable task's rules, in the shape the RL stages ask of one (grpo, rl.selfpairs), and
the accuracy of a model on one (greedy answers, checked by the rules).

A task is its answer parser and format check (plus, for the scratch task, a consistency check
between the worked thinking and the answer line) and whether its prompts open a thinking block.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..core.precision import autocast
from ..evaluation.tasks.metrics import wilson_interval
from ..inference.completions import generate_ids
from ..inference.generate import prompt_ids


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


def verified_accuracy(model, tokenizer, records: list[dict], task: VerifiableTask, *,
                      max_new_tokens: int = 48, precision: str = "auto",
                      batch_size: int = 32) -> dict:
    """Greedy accuracy (answer right by the task's rule) and format rate on prompt records."""
    correct = formatted = 0
    for i in range(0, len(records), batch_size):
        chunk = records[i:i + batch_size]
        prompts = [prompt_ids(tokenizer, r["messages"], think=task.think) for r in chunk]
        with autocast(precision):
            outs = generate_ids(model, tokenizer, prompts, max_new_tokens=max_new_tokens)
        for r, out in zip(chunk, outs):
            text = tokenizer.decode(out, skip_special_tokens=True)
            correct += task.correct(text, r["answer"])
            formatted += task.formatted(text)
    n = len(records)
    return {"accuracy": correct / n, "format": formatted / n, "n": n,
            "interval": wilson_interval(correct, n)}


