"""Arithmetic with exact answers: the verifiable tasks of the reward stages, one per kind of model.

Word problems for the scratch models (English and Chinese templates, addition / subtraction /
multiplication): `split_of` puts each (op, a, b) in train or test by a hash, so a held-out set
never shares a problem with training. The reward is exact-answer accuracy plus a small format
reward for `<think>...</think>` followed by "The answer is N." (or 答案是 N。): SCRATCH_TASK.

Answer-line problems for instruct models without thinking tokens (SmolLM2, experts, MoEs),
below: `task_problems(task, split)`, checked by ANSWER_LINE.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Callable

from ..core.errors import ConfigError
from ..inference.engine import THINK_CLOSE, THINK_OPEN
from .verifiable import VerifiableTask, verified_accuracy

# ---- word problems for the scratch models (thinking format)
NAMES_EN = ["Tom", "Lily", "Sam", "Anna", "Ben", "Mia", "Leo", "Zoe"]
ITEMS_EN = ["apples", "books", "pens", "cards", "coins", "stickers", "eggs", "shells"]
NAMES_ZH = ["小明", "小红", "小刚", "小丽", "小华", "小芳"]
ITEMS_ZH = ["苹果", "本书", "支笔", "张卡片", "个硬币", "颗糖"]

TEMPLATES = {
    ("en", "+"): "{n} has {a} {i}. {n} gets {b} more. How many {i} does {n} have now?",
    ("en", "-"): "{n} has {a} {i} and gives away {b}. How many {i} are left?",
    ("en", "*"): "{n} has {a} bags with {b} {i} in each bag. How many {i} are there in all?",
    ("zh", "+"): "{n}有{a}{i}，又得到了{b}{i}。现在一共有多少？",
    ("zh", "-"): "{n}有{a}{i}，送给别人{b}{i}。还剩多少？",
    ("zh", "*"): "{n}有{a}个袋子，每个袋子里有{b}{i}。一共有多少？",
}
ANSWER_RE = re.compile(r"(?:The answer is|答案是)\s*(-?\d+)")
FORMAT_RE = re.compile(r"\s*[^<]*?\n?" + re.escape(THINK_CLOSE) +
                       r"\n\n(?:The answer is -?\d+\.|答案是 -?\d+。)\s*", re.DOTALL)


@dataclass(frozen=True)
class Problem:
    question: str
    answer: int
    op: str
    a: int
    b: int
    lang: str

    @property
    def thinking(self) -> str:
        return f"{self.a} {self.op} {self.b} = {self.answer}"

    def reply(self, think: bool = True, answer: int | None = None,
              stated: int | None = None) -> str:
        """The assistant turn: worked thinking with result `answer`, then the answer line
        stating `stated` (defaults: the right answer, and the worked result)."""
        value = self.answer if answer is None else answer
        stated = value if stated is None else stated
        line = f"The answer is {stated}." if self.lang == "en" else f"答案是 {stated}。"
        if not think:
            return line
        work = f"{self.a} {self.op} {self.b} = {value}"
        return f"{THINK_OPEN}\n{work}\n{THINK_CLOSE}\n\n{line}"


def split_of(op: str, a: int, b: int, test_share: float = 0.2) -> str:
    h = int(hashlib.sha256(f"{op}|{a}|{b}".encode()).hexdigest()[:8], 16)
    return "test" if h / 0xFFFFFFFF < test_share else "train"


def make_problem(rng: random.Random, max_value: int = 20) -> Problem:
    op = rng.choice("++--*")
    if op == "+":
        a, b = rng.randint(1, max_value), rng.randint(1, max_value)
        answer = a + b
    elif op == "-":
        a = rng.randint(2, max_value)
        b = rng.randint(1, a - 1)
        answer = a - b
    else:
        top = max(2, min(9, max_value // 2))
        a, b = rng.randint(2, top), rng.randint(2, top)
        answer = a * b
    lang = rng.choice(["en", "en", "zh"])
    names, items = (NAMES_EN, ITEMS_EN) if lang == "en" else (NAMES_ZH, ITEMS_ZH)
    question = TEMPLATES[(lang, op)].format(n=rng.choice(names), i=rng.choice(items), a=a, b=b)
    return Problem(question, answer, op, a, b, lang)


def problems(n: int, split: str, seed: int = 0, max_value: int = 20) -> list[Problem]:
    """n problems of one split ("train" or "test"), distinct questions, seeded."""
    rng = random.Random(f"{seed}-{split}")
    out, seen = [], set()
    for _ in range(n * 200):
        p = make_problem(rng, max_value)
        if split_of(p.op, p.a, p.b) == split and p.question not in seen:
            seen.add(p.question)
            out.append(p)
            if len(out) == n:
                break
    return out


def parse_answer(text: str) -> int | None:
    """The number after the last "The answer is" in the answer part (after </think>)."""
    found = ANSWER_RE.findall(text.split(THINK_CLOSE)[-1])
    return int(found[-1]) if found else None


def format_ok(completion: str) -> bool:
    """Thinking (opened by the prompt) closed once, then exactly one answer line."""
    return FORMAT_RE.fullmatch(completion) is not None


WORK_RE = re.compile(r"(-?\d+)\s*[-+*]\s*(-?\d+)\s*=\s*(-?\d+)")


def consistent(completion: str) -> bool:
    """The answer line repeats the result of the worked line in the thinking."""
    thinking = completion.split(THINK_CLOSE)[0]
    work = WORK_RE.findall(thinking)
    return bool(work) and parse_answer(completion) == int(work[-1][2])


def reward(completion: str, answer: int, format_weight: float = 0.1,
           consistency_weight: float = 0.0) -> float:
    """Exact answer (1) + format + consistency between the thinking's result and the answer.

    Why a consistency term: without it, in a group where one sample is right, the tokens that
    copy a wrong result into the answer line are pushed down in the wrong samples, and a small
    model unlearns copying; rewarding consistency keeps that credit where it belongs.
    """
    return SCRATCH_TASK.reward(completion, answer, format_weight, consistency_weight)


# ---- records for each stage (formats in docs/scratch.md)
def sft_record(p: Problem, think: bool = True) -> dict:
    return {"messages": [{"role": "user", "content": p.question},
                         {"role": "assistant", "content": p.reply(think)}],
            "domain": "arithmetic", "source": "generated", "answer": p.answer}


def prompt_record(p: Problem) -> dict:
    return {"messages": [{"role": "user", "content": p.question}], "answer": p.answer,
            "domain": "arithmetic", "source": "generated"}


PREFERENCE_KINDS = ("wrong-number", "inconsistent", "language")


def preference_record(p: Problem, rng: random.Random, kind: str = "wrong-number") -> dict:
    """A chosen/rejected pair. chosen is always the right worked reply; rejected is
    wrong-number:  the same reply with a near-miss number (needs the arithmetic to tell apart),
    inconsistent:  right working, but an answer line that does not repeat its result,
    language:      right answer, but the answer line in the other language than the question."""
    wrong = p.answer + rng.choice([-3, -2, -1, 1, 2, 3, 10, -10])
    if wrong < 0:
        wrong = p.answer + 1
    if kind == "wrong-number":
        rejected = p.reply(True, answer=wrong)
    elif kind == "inconsistent":
        rejected = p.reply(True, stated=wrong)
    else:
        other = Problem(p.question, p.answer, p.op, p.a, p.b, "zh" if p.lang == "en" else "en")
        rejected = other.reply(True)
    return {"messages": [{"role": "user", "content": p.question}], "chosen": p.reply(True),
            "rejected": rejected, "kind": kind, "domain": "arithmetic", "source": "generated"}


def problem_from_record(record: dict) -> tuple[list[dict], int]:
    return record["messages"], int(record["answer"])


SCRATCH_TASK = VerifiableTask(parse_answer, format_ok, think=True, consistent=consistent)


def accuracy(model, tokenizer, records: list[dict], *, max_new_tokens: int = 48) -> dict:
    """Greedy exact-answer accuracy (and format rate) with thinking on, on prompt records."""
    return verified_accuracy(model, tokenizer, records, SCRATCH_TASK, max_new_tokens=max_new_tokens)


# ---- answer-line problems for instruct models
#
# A task enumerates its operand tuples, puts each tuple in train or test by a hash of it (so a
# held-out prompt never shares operands with training, whatever its wording), and words each
# problem from a few templates. Replies are checked by rule: the answer is the number after the
# last "The answer is" (the format the prompt asks for); the format reward wants the reply to
# end with exactly one such line.
#
# small-arithmetic: a + b (1..20), a - b (a in 2..20, 0 < b < a), a x b (2..12): 711 tuples.
# SmolLM2-135M-Instruct gets ~20-35 % of these right greedily (docs/rl.md), so RL has headroom
# and a signal; larger operands (2-3 digits) it gets ~0 %, which gives no signal to learn from.

ANSWER_LINE_RE = re.compile(r"[Tt]he answer is:?\s*\**\s*(-?\d[\d,]*)")
ANSWER_LINE_FORMAT_RE = re.compile(r".*[Tt]he answer is (-?\d+)\.\s*", re.DOTALL)
INSTRUCTION = ' End your reply with "The answer is N." where N is the number.'

ANSWER_LINE_TEMPLATES = {
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


def operand_split(task: str, operands: tuple, test_share: float) -> str:
    """train or test, from a hash of the task and its operands only (not the wording)."""
    h = int(hashlib.sha256(f"{task}|{operands}".encode()).hexdigest()[:8], 16)
    return "test" if h / 0xFFFFFFFF < test_share else "train"


def task_problems(task: str, split: str, *, test_share: float = 0.3, seed: int = 0) -> list[dict]:
    """Every prompt record of one split: {"messages", "answer", "operands"}, wording seeded."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    if split not in ("train", "test") or not 0 < test_share < 1:
        raise ConfigError("split must be train or test, and test_share in (0, 1)")
    rng = random.Random(f"{task}-{seed}")
    out = []
    for op, a, b in TASKS[task]():
        template = rng.choice(ANSWER_LINE_TEMPLATES[op])     # drawn for every tuple: wording is split-blind
        if operand_split(task, (op, a, b), test_share) != split:
            continue
        question = template.format(a=a, b=b) + INSTRUCTION
        out.append({"messages": [{"role": "user", "content": question}],
                    "answer": OPS[op](a, b), "operands": [op, a, b], "task": task})
    return out


def parse_answer_line(text: str) -> int | None:
    found = ANSWER_LINE_RE.findall(text)
    return int(found[-1].replace(",", "")) if found else None


def answer_line_ok(text: str) -> bool:
    """The reply ends with "The answer is N." and states an answer only there."""
    return ANSWER_LINE_FORMAT_RE.fullmatch(text) is not None and len(ANSWER_LINE_RE.findall(text)) == 1


ANSWER_LINE = VerifiableTask(parse_answer_line, answer_line_ok)
