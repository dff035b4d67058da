"""Encyclopedia: short factual questions about people, places, things and science."""
from __future__ import annotations

import re

from ._chat import CHATTERBOT, chatterbot
from ._common import (answered_examples, best_answer, clean, end_with_period, pick, record,
                      sentence_case, targets)
from .sources import Source, bigbench_source

DOMAIN = "encyclopedia"
DESCRIPTION = ("Factual knowledge: Wikidata facts about people, places and works, checking "
               "encyclopedic claims, chemical elements and general knowledge.")
SOURCES = [
    bigbench_source("qa_wikidata", "Wikidata relation facts as cloze sentences."),
    bigbench_source("fact_checker", "FEVER claims about Wikipedia entities, true or false "
                    "(only the fever subtask is used)."),
    bigbench_source("periodic_elements", "Questions about chemical elements."),
    bigbench_source("general_knowledge", "Everyday general-knowledge questions."),
    bigbench_source("misconceptions", "Common misconceptions stated as true/false claims."),
    Source("chatterbot/trivia", f"PyPI {CHATTERBOT[0]}=={CHATTERBOT[1]} wheel",
           "chatterbot_corpus/data/english/trivia.yml", "BSD-3-Clause", "Trivia questions."),
]
NOTE = ""

_WHAT_IS = re.compile(r"The (.+) is")
_FEVER = re.compile(r"On .*?, the following claim was made: (.+)\nQ: Was this claim true or false\?", re.S)


def examples(fetch):
    yield from _wikidata(fetch)
    yield from _fever(fetch)
    for name in ("periodic_elements", "general_knowledge"):
        yield from _questions(fetch, name)
    yield from _misconceptions(fetch)
    yield from chatterbot(fetch, ["trivia"], "chatterbot/trivia")


def _wikidata(fetch):
    for task in fetch.bigbench("qa_wikidata").values():
        for i, ex in enumerate(task.get("examples", [])):
            stem = clean(ex["input"])
            answers = targets(ex)
            if not answers:
                continue
            # Several targets are alternatives ("comedy", "parody") except for flag colours,
            # where all of them are the answer.
            answer = " and ".join(answers) if "color" in stem and len(answers) <= 4 else answers[0]
            m = _WHAT_IS.fullmatch(stem)
            if m:
                user = pick(["What is the {x}?", "Do you know the {x}?", "Tell me the {x}.",
                             "What's the {x}?"], "wd", i).format(x=m.group(1))
            else:
                user = pick(["Complete this sentence: {s} ...", "Fill in the blank: {s} ___."],
                            "wd", i).format(s=stem)
            yield record(user, f"{stem} {answer}.", "bigbench/qa_wikidata", f"wikidata:{stem}")


def _fever(fetch):
    task = fetch.bigbench("fact_checker").get("fact_checker/fever", {})
    for ex in task.get("examples", []):
        m = _FEVER.fullmatch(ex["input"].strip())
        answer = best_answer(ex)
        if not m or answer not in ("true", "false"):
            continue
        claim = end_with_period(clean(m.group(1)))
        user = pick(["True or false: {c}", "Is this true? {c}", "Fact check: {c}",
                     "Someone told me: \"{c}\" Is that correct?"], "fever", claim).format(c=claim)
        reply = pick(["True.", "Yes, that's true."] if answer == "true"
                     else ["False.", "No, that's false."], "fever-reply", claim)
        yield record(user, reply, "bigbench/fact_checker", f"fever:{ex.get('id', claim)}")


def _questions(fetch, name):
    for sub, i, ex, answer in answered_examples(fetch, name):
        yield record(clean(ex["input"]), end_with_period(sentence_case(answer.strip())),
                     f"bigbench/{name}", f"{sub}:{clean(ex['input'])}")


def _misconceptions(fetch):
    for task in fetch.bigbench("misconceptions").values():
        for ex in task.get("examples", []):
            answer = best_answer(ex)
            claim = end_with_period(clean(ex["input"]))
            if answer not in ("T", "F"):
                continue
            user = pick(["True or false: {c}", "Is it true that {l}", "Is this right? {c}"],
                        "misc", claim).format(c=claim, l=claim[:1].lower() + claim[1:-1] + "?")
            reply = "True." if answer == "T" else "False, that's a common misconception."
            yield record(user, reply, "bigbench/misconceptions", f"misconception:{claim}")
