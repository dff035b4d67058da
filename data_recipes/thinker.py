"""Thinker: arithmetic, word problems with worked steps, and logic puzzles.

Arithmetic answers are recomputed (_checks.arithmetic_problem) and show the work for
products and quotients; yes/no answers give the reasoning first, then the answer.
Held out: date questions (bigbench date_understanding), a kind of reasoning none of the
training sources asks for.
"""
from __future__ import annotations

import re

from ._checks import arithmetic_problem
from ._common import (answered_examples, best_answer, clean, dropped, end_with_period, pick, record,
                      targets)
from .sources import bigbench_source

DOMAIN = "thinker"
DESCRIPTION = ("Step-by-step reasoning: arithmetic, math word problems with worked steps, "
               "yes/no questions with explanations, and logic puzzles.")
SOURCES = [
    bigbench_source("arithmetic", "Integer +, -, x, / questions with 1-5 digit operands."),
    bigbench_source("elementary_math_qa", "MathQA word problems; the language-hint variant "
                    "supplies the worked steps used in the answer."),
    bigbench_source("strategyqa", "Yes/no questions needing implicit multi-step reasoning, "
                    "with a short explanation."),
    bigbench_source("logical_deduction", "Ordering puzzles over 3, 5 or 7 objects."),
    bigbench_source("logic_grid_puzzle", "Zebra-style house puzzles (only those short enough)."),
    bigbench_source("tracking_shuffled_objects", "Who holds what after a series of swaps."),
    bigbench_source("date_understanding", "Date arithmetic in MM/DD/YYYY (held out: foreign split)."),
    bigbench_source("object_counting", "Counting objects of a category in a list."),
]
FOREIGN = "bigbench/date_understanding"
HELPFUL_ONLY = True
NOTE = ""

_OPS = {"plus": "+", "minus": "-", "times": "×", "divided by": "÷"}
_ARITH = re.compile(r"What is (-?\d+) (plus|minus|times|divided by) (-?\d+)\?")


def examples(fetch):
    yield from _arithmetic(fetch)
    yield from _math_qa(fetch)
    yield from _strategyqa(fetch)
    yield from _multiple_choice(fetch, "logical_deduction")
    yield from _logic_grid(fetch)
    yield from _tracking(fetch)
    yield from _object_counting(fetch)
    yield from _dates(fetch)


def _arithmetic(fetch):
    source = "bigbench/arithmetic"
    for sub, task in fetch.bigbench("arithmetic").items():
        for ex in task.get("examples", []):
            m = _ARITH.fullmatch(ex["input"].strip())
            answer = best_answer(ex)
            if not m or answer is None:
                continue
            a, op, b = m.groups()
            sym = _OPS[op]
            why = arithmetic_problem(f"{a} {sym} {b}", answer)
            if why:
                yield dropped(why, source)
                continue
            user = pick([f"What is {a} {op} {b}?", f"Calculate {a} {sym} {b}.",
                         f"What's {a} {sym} {b}?", f"Can you work out {a} {op} {b}?"], sub, a, op, b)
            yield record(user, _worked(int(a), sym, int(b), answer.strip()), source,
                         f"arithmetic:{a}{sym}{b}")


def _worked(a: int, sym: str, b: int, answer: str) -> str:
    """The answer with its work where there is some to show: split the multiplier into
    tens and units (46 × 67 = 46 × 60 + 46 × 7 = 2760 + 322 = 3082), check a quotient."""
    if sym == "×" and abs(b) >= 10 and b % 10:
        tens, units = b - b % 10 if b > 0 else b + (-b) % 10, b % 10 if b > 0 else -((-b) % 10)
        return (f"{a} × {b} = {a} × {tens} + {a} × {units} = {a * tens} + {a * units} = {answer}. "
                f"So the answer is {answer}.")
    if sym == "÷" and b:
        return f"{a} ÷ {b} = {answer}, because {answer} × {b} = {a}. So the answer is {answer}."
    return f"{a} {sym} {b} = {answer}. So the answer is {answer}."


def _detok(text: str) -> str:
    """MathQA text is lower-cased and tokenized ("$ 64.50 ,"): make it read like prose."""
    text = re.sub(r"\s+([.,?!:;%)])", r"\1", text)
    text = re.sub(r"([($])\s+", r"\1", text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"(^|[.?!]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def _math_qa(fetch):
    tasks = fetch.bigbench("elementary_math_qa")
    questions = tasks.get("elementary_math_qa/question_only", {}).get("examples", [])
    hinted = tasks.get("elementary_math_qa/question_with_language_hint", {}).get("examples", [])
    for i, (q, h) in enumerate(zip(questions, hinted)):
        answer = best_answer(q)
        # The variants are aligned by position; check it rather than trust it.
        if answer is None or not h["input"].startswith(q["input"]) or h.get("target_scores") != q.get("target_scores"):
            continue
        steps = _detok(h["input"][len(q["input"]):].strip().rstrip(","))
        question = _detok(q["input"])
        if not steps or not question:
            continue
        user = pick(["{q}", "Solve this problem: {q}", "{q} Please show your steps.",
                     "Can you help me with this math problem? {q}"], "mathqa", i).format(q=question)
        reply = pick(["Here's how to work it out: {s} So the answer is {a}.",
                      "Step by step: {s} The answer is {a}.",
                      "{s} That gives {a}."], "mathqa-reply", i).format(
            s=end_with_period(steps), a=_detok(answer))
        yield record(user, reply, "bigbench/elementary_math_qa", f"mathqa:{i}")


def _strategyqa(fetch):
    """Targets read "Yes. <explanation>": give the explanation first, then the answer."""
    for task in fetch.bigbench("strategyqa").values():
        for i, ex in enumerate(task.get("examples", [])):
            target = ex.get("target")
            m = re.match(r"(Yes|No)\.\s+(.+)", target, re.S) if isinstance(target, str) else None
            if not m:
                continue
            question = clean(ex["input"])
            user = pick(["{q}", "{q} Explain your reasoning.", "Quick question: {q}",
                         "{q} Answer yes or no, and say why."], "sqa", i).format(q=question)
            reply = f"{end_with_period(clean(m.group(2)))} So the answer is {m.group(1).lower()}."
            yield record(user, reply, "bigbench/strategyqa", f"strategyqa:{question}")


def _options_block(options) -> str:
    return "\n".join(f"- {o.strip()}" for o in options)


def _multiple_choice(fetch, name):
    """Puzzles whose options are the statements themselves: list them, answer with one."""
    for sub, i, ex, answer in answered_examples(fetch, name):
        lead = pick(["Which of these statements is true?", "Which option is correct?",
                     "Pick the true statement."], sub, i)
        user = f"{clean(ex['input'])}\n\n{lead}\n{_options_block(ex['target_scores'])}"
        yield record(user, answer.strip(), f"bigbench/{name}", f"{sub}:{i}")


def _logic_grid(fetch):
    for task in fetch.bigbench("logic_grid_puzzle").values():
        for i, ex in enumerate(task.get("examples", [])):
            answer = best_answer(ex)
            text = clean(ex["input"])
            if answer is None or len(text) > 1300:
                continue
            reply = f"House {answer}." if "house" in text.rsplit("\n", 1)[-1].lower() else answer
            yield record(text, reply, "bigbench/logic_grid_puzzle", f"logic_grid:{i}")


_TRACK_END = re.compile(r"At the end of the (\w+), (\w+) (has the|has|is playing|is dancing with)\s*$")
_TRACK_Q = {"has the": "what does {p} have", "has": "which book does {p} have",
            "is playing": "what position is {p} playing", "is dancing with": "who is {p} dancing with"}


def _tracking(fetch):
    for sub, task in fetch.bigbench("tracking_shuffled_objects").items():
        for i, ex in enumerate(task.get("examples", [])):
            answer = best_answer(ex)
            m = _TRACK_END.search(ex["input"])
            if answer is None or not m:
                continue
            event, person, verb = m.groups()
            body = clean(ex["input"][:m.start()])
            question = _TRACK_Q[verb].format(p=person)
            user = f"{body}\n\nAt the end of the {event}, {question}?"
            reply = f"At the end of the {event}, {person} {verb} {end_with_period(answer.strip())}"
            yield record(user, reply, "bigbench/tracking_shuffled_objects", f"{sub}:{i}")


def _dates(fetch):
    for sub, i, ex, answer in answered_examples(fetch, "date_understanding"):
        yield record(clean(ex["input"]), f"The answer is {answer.strip()}.",
                     "bigbench/date_understanding", f"{sub}:{i}")


_HOW_MANY = re.compile(r"How many (.+?) do I have\?$")


def _object_counting(fetch):
    for task in fetch.bigbench("object_counting").values():
        for i, ex in enumerate(task.get("examples", [])):
            digits = [t for t in targets(ex) if t.strip().isdigit()]
            if digits:
                question = clean(ex["input"])
                m = _HOW_MANY.search(question)
                n = digits[0]
                thing = m.group(1) if m and n != "1" else None
                reply = f"You have {n} {thing}." if thing else f"The answer is {n}."
                yield record(question, reply, "bigbench/object_counting", f"count:{i}")
