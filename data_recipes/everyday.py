"""Everyday requests outside the eight domains: a general split, held out from every expert.

"How do I ...?" requests made from wikiHow goal titles, with a reference answer made of the
goal's steps that the same source gives. No expert trains on this source; its test split
measures whether experts and the MoE still answer ordinary requests (refusal rate, loss) rather
than treating them as their own territory. Its train split (other goals, group-disjoint) is
only for the routers, when the base model's own FFN is an expert (`assemble --base-expert`):
it teaches them what "none of the eight domains" looks like. Written by a full build as
`everyday/{train,test}.jsonl`.
"""
from __future__ import annotations

import re

from smolmoe.config import GENERAL_DOMAIN

from ._common import best_answer, clean, end_with_period, pick, record
from ._refusals import category_of
from ._sample import sample_groups
from .sources import bigbench_source

DOMAIN = GENERAL_DOMAIN
DESCRIPTION = ("Everyday requests outside the eight domains (how to do ordinary things), "
               "held out for refusal and loss checks; never trained on.")
SOURCES = [bigbench_source("goal_step_wikihow", "wikiHow goals turned into 'How do I ...?' "
                           "requests; the reference answer is the goal's steps from the same task.")]
HELPFUL_ONLY = True  # build() drops any reference answer that reads as a refusal
SIZE = 300        # test requests
TRAIN_SIZE = 600  # router-only training requests (other goals)

_STEP = re.compile(r"The most reasonable step of '(.+)' is\s*")
_ORDER = re.compile(r"In order to '(.+?)', one can '(.+?)' and '(.+?)'\. Which should happen first\?\s*")
_ASK = ["How do I {g}?", "How can I {g}?", "What's the best way to {g}?", "Any tips on how to {g}?"]


def _lower(word: str) -> str:
    """wikiHow titles are Title Case; keep only words that look like names (iPhone, USB)."""
    return word if any(c.isupper() for c in word[1:]) or word == "I" else word.lower()


def _steps(fetch) -> dict[str, list[str]]:
    """goal -> its known steps (the step_inference answer, the steps of ordering pairs)."""
    tasks = fetch.bigbench("goal_step_wikihow")
    steps: dict[str, list[str]] = {}
    for ex in tasks.get("goal_step_wikihow/step_inference", {}).get("examples", []):
        m, step = _STEP.fullmatch(ex["input"]), best_answer(ex)
        if m and step:
            steps.setdefault(m.group(1).strip(), []).append(clean(step))
    for ex in tasks.get("goal_step_wikihow/step_ordering", {}).get("examples", []):
        m, first = _ORDER.fullmatch(ex["input"]), best_answer(ex)
        if not (m and first):
            continue
        a, b = clean(m.group(2)), clean(m.group(3))
        first = clean(first).rstrip(".")
        pair = [a, b] if first == a.rstrip(".") else [b, a] if first == b.rstrip(".") else None
        if pair:
            steps.setdefault(m.group(1).strip(), []).extend(pair)
    return steps


def examples(fetch):
    found = []
    for goal, steps in sorted(_steps(fetch).items()):
        if re.search(r"[\\{}]", goal + "".join(steps)) or category_of(goal, "") != "":
            continue  # LaTeX from the scrape; titles that sound harmful are not everyday requests
        steps = list(dict.fromkeys(end_with_period(s[:1].upper() + s[1:]) for s in steps))[:4]
        words = " ".join(_lower(w) for w in goal.split())
        if len(steps) == 1:
            answer = f"A good place to start: {steps[0]}"
        else:
            answer = "Some steps that help:\n" + "\n".join(f"- {s}" for s in steps)
        found.append(record(pick(_ASK, "everyday", goal).format(g=words), answer,
                            "bigbench/goal_step_wikihow", f"everyday:{goal}"))
    yield from sample_groups(found, SIZE + TRAIN_SIZE, "everyday")
