"""Arithmetic word problems with exact answers: the verifiable task of the reward stages.

Problems are generated (English and Chinese templates, addition / subtraction /
multiplication); `split_of` puts each (op, a, b) in train or test by a hash, so a held-out
set never shares a problem with training. The reward is exact-answer accuracy plus a small
format reward for `<think>...</think>` followed by "The answer is N." (or 答案是 N。).
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from ..inference.engine import THINK_CLOSE, THINK_OPEN
from .verifiable import VerifiableTask, verified_accuracy

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
