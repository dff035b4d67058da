"""Verifiable tasks for instruct models without thinking tokens (SmolLM2, experts, MoEs).

A task enumerates its operand tuples, puts each tuple in train or test by a hash of it (so a
held-out prompt never shares operands with training, whatever its wording), and words each
problem from a few templates. Replies are checked by rule: the answer is the number after the
last "The answer is" (the format the prompt asks for); the format reward wants the reply to
end with exactly one such line.

small-arithmetic: a + b (1..20), a - b (a in 2..20, 0 < b < a), a x b (2..12): 711 tuples.
SmolLM2-135M-Instruct gets ~20-35 % of these right greedily (docs/rl.md), so RL has headroom
and a signal; larger operands (2-3 digits) it gets ~0 %, which gives no signal to learn from.
"""
from __future__ import annotations

import hashlib
import random
import re
from typing import Callable

from ..core.errors import ConfigError
from .verifiable import VerifiableTask

ANSWER_RE = re.compile(r"[Tt]he answer is:?\s*\**\s*(-?\d[\d,]*)")
FORMAT_RE = re.compile(r".*[Tt]he answer is (-?\d+)\.\s*", re.DOTALL)
INSTRUCTION = ' End your reply with "The answer is N." where N is the number.'

TEMPLATES = {
    "+": ["What is {a} + {b}?", "Compute {a} plus {b}.", "Add {a} and {b}.",
          "Sam has {a} apples and buys {b} more. How many apples does Sam have?"],
    "-": ["What is {a} - {b}?", "Compute {a} minus {b}.", "Subtract {b} from {a}.",
          "Sam has {a} apples and eats {b}. How many apples are left?"],
    "*": ["What is {a} x {b}?", "Compute {a} times {b}.", "Multiply {a} by {b}.",
          "There are {a} boxes with {b} apples in each. How many apples are there?"],
}
OPS: dict[str, Callable[[int, int], int]] = {"+": lambda a, b: a + b, "-": lambda a, b: a - b,
                                             "*": lambda a, b: a * b}


def small_arithmetic_operands() -> list[tuple[str, int, int]]:
    return ([("+", a, b) for a in range(1, 21) for b in range(1, 21)]
            + [("-", a, b) for a in range(2, 21) for b in range(1, a)]
            + [("*", a, b) for a in range(2, 13) for b in range(2, 13)])


TASKS: dict[str, Callable[[], list[tuple[str, int, int]]]] = {
    "small-arithmetic": small_arithmetic_operands}


def split_of(task: str, operands: tuple, test_share: float) -> str:
    """train or test, from a hash of the task and its operands only (not the wording)."""
    h = int(hashlib.sha256(f"{task}|{operands}".encode()).hexdigest()[:8], 16)
    return "test" if h / 0xFFFFFFFF < test_share else "train"


def problems(task: str, split: str, *, test_share: float = 0.3, seed: int = 0) -> list[dict]:
    """Every prompt record of one split: {"messages", "answer", "operands"}, wording seeded."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    if split not in ("train", "test") or not 0 < test_share < 1:
        raise ConfigError("split must be train or test, and test_share in (0, 1)")
    rng = random.Random(f"{task}-{seed}")
    out = []
    for op, a, b in TASKS[task]():
        template = rng.choice(TEMPLATES[op])     # drawn for every tuple: wording is split-blind
        if split_of(task, (op, a, b), test_share) != split:
            continue
        question = template.format(a=a, b=b) + INSTRUCTION
        out.append({"messages": [{"role": "user", "content": question}],
                    "answer": OPS[op](a, b), "operands": [op, a, b], "task": task})
    return out


def parse_answer(text: str) -> int | None:
    found = ANSWER_RE.findall(text)
    return int(found[-1].replace(",", "")) if found else None


def format_ok(text: str) -> bool:
    """The reply ends with "The answer is N." and states an answer only there."""
    return FORMAT_RE.fullmatch(text) is not None and len(ANSWER_RE.findall(text)) == 1


ANSWER_LINE = VerifiableTask(parse_answer, format_ok)
