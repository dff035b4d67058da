"""Encyclopedia: short factual questions about people, places, things and science.

Answers are sentences, not bare tokens. Held out: chatterbot-corpus trivia, quiz questions
written by people rather than made from a knowledge base.
"""
from __future__ import annotations

import re

from ._chat import CHATTERBOT, chatterbot
from ._common import (answered_examples, best_answer, clean, dropped, end_with_period, pick,
                      record, sentence_case, targets)
from .sources import Source, bigbench_source

DOMAIN = "encyclopedia"
DESCRIPTION = ("Factual knowledge: Wikidata facts about people, places and works, checking "
               "encyclopedic claims, chemical elements and general knowledge.")
SOURCES = [
    bigbench_source("qa_wikidata", "Wikidata relation facts as cloze sentences."),
    bigbench_source("fact_checker", "FEVER claims about Wikipedia entities, true or false "
                    "(only the fever subtask is used)."),
    bigbench_source("periodic_elements", "Questions about chemical elements, answered in a sentence."),
    Source("chatterbot/trivia", f"PyPI {CHATTERBOT[0]}=={CHATTERBOT[1]} wheel",
           "chatterbot_corpus/data/english/trivia.yml", "BSD-3-Clause",
           "Trivia questions written by people (held out: foreign split)."),
]
# bigbench general_knowledge (70 items) and misconceptions (219) were dropped: too small to
# be 10% of the train split beside the others.
FOREIGN = "chatterbot/trivia"
HELPFUL_ONLY = True
NOTE = ""

_WHAT_IS = re.compile(r"The (.+) is")
_FEVER = re.compile(r"On .*?, the following claim was made: (.+)\nQ: Was this claim true or false\?", re.S)


def examples(fetch):
    yield from _wikidata(fetch)
    yield from _fever(fetch)
    yield from _periodic(fetch)
    yield from _trivia(fetch)


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
        reply = pick(["Yes, that's true.", "That's correct: {c}", "True: {c}"] if answer == "true"
                     else ["No, that's false.", "That's not correct.", "False: that claim is wrong."],
                     "fever-reply", claim).format(c=claim)
        yield record(user, reply, "bigbench/fact_checker", f"fever:{ex.get('id', claim)}")


_ELEMENT_QUESTIONS = [
    (re.compile(r"What is the name of the (.+)\?"), "The {q} is {a}."),
    (re.compile(r"(?:What|Which) element (.+)\?"), "{A} {q}."),
]


def _periodic(fetch):
    """'What element contains one more proton than Hydrogen?' -> 'Helium contains one more ...'."""
    for sub, i, ex, answer in answered_examples(fetch, "periodic_elements"):
        question = clean(ex["input"])
        for pattern, template in _ELEMENT_QUESTIONS:
            m = pattern.fullmatch(question)
            if m:
                a = answer.strip()
                reply = template.format(q=m.group(1), a=a, A=sentence_case(a))
                yield record(question, reply, "bigbench/periodic_elements", f"{sub}:{question}")
                break
        else:
            yield dropped("periodic_unrecognised_question", "bigbench/periodic_elements")


def _trivia(fetch):
    """Quiz answers as written ("Richard Nixon", "1963"), with a capital and a full stop like
    every other answer of the domain."""
    for rec in chatterbot(fetch, ["trivia"], "chatterbot/trivia"):
        last = rec["messages"][-1]
        last["content"] = end_with_period(sentence_case(last["content"]))
        yield rec
