"""Writer: compose fluent sentences and short descriptions, rephrase, and find a fable's moral."""
from __future__ import annotations

import re

from ._common import best_answer, clean, end_with_period, pick, record, sentence_case, targets
from .sources import bigbench_source

DOMAIN = "writer"
DESCRIPTION = ("Writing: turning keywords, facts and attribute lists into fluent prose, "
               "rephrasing sentences, and stating the moral of a fable.")
SOURCES = [
    bigbench_source("gem/common_gen", "CommonGen: a set of concepts and human sentences using "
                    "all of them (several references per set)."),
    bigbench_source("gem/e2e_nlg", "E2E NLG: restaurant attributes and a human description."),
    bigbench_source("gem/webnlg_en", "WebNLG: DBpedia triples and human verbalisations."),
    bigbench_source("understanding_fables", "Aesop-style fables and their moral."),
    bigbench_source("rephrase", "Sentences rephrased to include a given keyword."),
]
NOTE = ""

MAX_REFS = 3  # references per item: more would let one item dominate its split


def examples(fetch):
    yield from _common_gen(fetch)
    yield from _e2e(fetch)
    yield from _webnlg(fetch)
    yield from _fables(fetch)
    yield from _rephrase(fetch)


def _common_gen(fetch):
    for task in fetch.bigbench("gem/common_gen").values():
        for ex in task.get("examples", []):
            words = ex["input"].split()
            listed = ", ".join(words)
            for j, ref in enumerate(targets(ex)[:MAX_REFS]):
                user = pick(["Write a sentence using the words: {w}.",
                             "Make a sentence that includes all of these words: {w}.",
                             "Use these words in one natural sentence: {w}.",
                             "Can you write a sentence with {w}?"], "cg", listed, j).format(w=listed)
                yield record(user, end_with_period(clean(ref)), "bigbench/gem/common_gen",
                             f"common_gen:{' '.join(sorted(words))}")


def _e2e(fetch):
    for task in fetch.bigbench("gem/e2e_nlg").values():
        for i, ex in enumerate(task.get("examples", [])):
            mr = clean(ex["input"])
            ref = sentence_case(clean(ex.get("target") or ""))
            if not ref:
                continue
            facts = "\n".join(f"- {part.strip()}" for part in mr.split(", "))
            user = pick(["Write a short description of a restaurant with these details:\n{f}",
                         "Describe this place in a sentence or two:\n{f}",
                         "Turn this information into a short restaurant blurb:\n{f}"],
                        "e2e", i).format(f=facts)
            # The same attribute list comes with several references: it is one source item.
            yield record(user, ref, "bigbench/gem/e2e_nlg", f"e2e:{mr}")


def _triple(text: str) -> str:
    parts = [p.strip().strip('"').replace("_", " ") for p in text.split(" | ")]
    if len(parts) == 3:  # camelCase relation names read badly: "deathDate" -> "death date"
        parts[1] = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", parts[1]).lower()
    return " | ".join(parts)


def _webnlg(fetch):
    for task in fetch.bigbench("gem/webnlg_en").values():
        for ex in task.get("examples", []):
            triples = re.findall(r"\(([^()]*(?:\([^()]*\)[^()]*)*)\)", ex["input"])
            if not triples:
                continue
            facts = "\n".join(f"- {_triple(t)}" for t in triples)
            for j, ref in enumerate(targets(ex)[:MAX_REFS]):
                user = pick(["Write a sentence that states these facts:\n{f}",
                             "Turn these facts into fluent English:\n{f}",
                             "Express the following information as a short text:\n{f}"],
                            "webnlg", ex["input"], j).format(f=facts)
                yield record(user, clean(ref), "bigbench/gem/webnlg_en", f"webnlg:{ex['input']}")


def _fables(fetch):
    for task in fetch.bigbench("understanding_fables").values():
        for i, ex in enumerate(task.get("examples", [])):
            moral = best_answer(ex)
            story = clean(ex["input"]).removesuffix("What is the moral of this story?").strip()
            if moral is None or not story:
                continue
            ask = pick(["What is the moral of this story?", "What lesson does this fable teach?",
                        "Sum up the moral of this fable in one line."], "fable", i)
            yield record(f"{story}\n\n{ask}", moral.strip(), "bigbench/understanding_fables",
                         f"fable:{i}")


def _rephrase(fetch):
    for task in fetch.bigbench("rephrase").values():
        for i, ex in enumerate(task.get("examples", [])):
            m = re.fullmatch(r"(.*?)\s*Keyword:\s*(.+)", ex["input"].strip(), re.S)
            refs = targets(ex)
            if not m or not refs:
                continue
            sentence, keyword = clean(m.group(1)), clean(m.group(2))
            user = f"Rephrase this so it keeps its meaning but uses the word \"{keyword}\": {sentence}"
            yield record(user, end_with_period(clean(refs[0])), "bigbench/rephrase", f"rephrase:{i}")
