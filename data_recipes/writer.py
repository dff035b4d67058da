"""Writer: stories and fables, rewriting the user's own text more simply, sentences from
keywords and prose from data; a headline for a paper is held out."""
from __future__ import annotations

import re

from ._common import (MAX_CHARS, best_answer, clean, end_with_period, pick, record, sentence_case,
                      targets)
from ._sample import sample_groups
from .sources import bigbench_source

DOMAIN = "writer"
DESCRIPTION = ("Writing: short stories and fables, rewriting a user's text more simply, "
               "sentences from keywords, prose from facts and attribute lists, and the moral of "
               "a fable.")
ROPES = "natural_instructions/subtask059_ropes_story_generation"
SOURCES = [
    bigbench_source(ROPES, "ROPES stories: a short fictional story written to use the idea of a "
                    "science background paragraph (Natural Instructions task 059)."),
    bigbench_source("understanding_fables", "Aesop-style fables and their moral: write a fable "
                    "for a moral, or state a fable's moral."),
    bigbench_source("gem/asset", "ASSET: Wikipedia sentences and crowd-written simplifications "
                    "(the user's text, rewritten simpler)."),
    bigbench_source("gem/common_gen", "CommonGen: a set of concepts and human sentences using "
                    "all of them (several references per set)."),
    bigbench_source("gem/e2e_nlg", "E2E NLG: restaurant attributes and a human description."),
    bigbench_source("gem/webnlg_en", "WebNLG: DBpedia triples and human verbalisations."),
    bigbench_source("scientific_press_release", "Paper titles and the press-release headline "
                    "written for them (held out: never trained on)."),
]
FOREIGN = "bigbench/scientific_press_release"
NOTE = ""

PER_SOURCE = 150  # items kept from each data-to-text source (2 references each), so that
                  # stories, fables and rewrites keep their share
MAX_REFS = 2  # references per item: more would let one item dominate its split


def examples(fetch):
    yield from _ropes_stories(fetch)
    yield from _fables(fetch)
    yield from _simplify(fetch)
    yield from sample_groups(_common_gen(fetch), PER_SOURCE, "writer")
    yield from sample_groups(_e2e(fetch), PER_SOURCE, "writer")
    yield from sample_groups(_webnlg(fetch), PER_SOURCE, "writer")
    yield from _press_release(fetch)


_STORY = ["Write a short story that uses this idea:\n\n{b}",
          "Here's some background:\n\n{b}\n\nWrite a short fictional story built around it.",
          "Can you turn this into a little story with characters?\n\n{b}"]


def _ropes_stories(fetch):
    for task in fetch.bigbench(ROPES).values():
        for i, ex in enumerate(task.get("examples", [])):
            background = clean(ex["input"]).removeprefix("Background Paragraph:").strip()
            stories = targets(ex)
            if not background or not stories:
                continue
            story = clean(stories[0])
            prompt = pick(_STORY, "ropes", i).format(b=background)
            if len(prompt) + len(story) > MAX_CHARS:  # long backgrounds: keep the story whole
                continue
            yield record(prompt, story, f"bigbench/{ROPES}", f"ropes:{background[:200]}")


_SIMPLER = ["Rewrite this sentence so it's simpler and easier to read: {t}",
            "Can you make this simpler? {t}", "Simplify this for a general reader:\n\n{t}",
            "Please say this in plainer words: {t}"]


def _simplify(fetch):
    """The shortest reference that is clearly shorter than the original but keeps its gist."""
    for task in fetch.bigbench("gem/asset").values():
        for i, ex in enumerate(task.get("examples", [])):
            original = clean(ex["input"])
            refs = sorted((clean(t) for t in targets(ex)), key=len)
            simpler = [r for r in refs if 0.4 * len(original) <= len(r) <= 0.9 * len(original)]
            if not simpler:
                continue
            yield record(pick(_SIMPLER, "asset", i).format(t=original), end_with_period(simpler[0]),
                         "bigbench/gem/asset", f"asset:{original}")


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
    refs_of: dict[str, int] = {}
    for task in fetch.bigbench("gem/e2e_nlg").values():
        for i, ex in enumerate(task.get("examples", [])):
            mr = clean(ex["input"])
            ref = sentence_case(clean(ex.get("target") or ""))
            if not ref or refs_of.get(mr, 0) >= MAX_REFS:
                continue
            refs_of[mr] = refs_of.get(mr, 0) + 1
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
    """A fable gives two tasks: state its moral, or write a fable for that moral (one group)."""
    for task in fetch.bigbench("understanding_fables").values():
        for i, ex in enumerate(task.get("examples", [])):
            moral = best_answer(ex)
            story = clean(ex["input"]).removesuffix("What is the moral of this story?").strip()
            if moral is None or not story:
                continue
            moral = end_with_period(moral.strip())
            ask = pick(["What is the moral of this story?", "What lesson does this fable teach?",
                        "Sum up the moral of this fable in one line."], "fable", i)
            yield record(f"{story}\n\n{ask}", moral, "bigbench/understanding_fables", f"fable:{i}")
            write = pick(["Write a short fable with this moral: {m}",
                          "Tell me a fable, with animals, that teaches: {m}",
                          "Write an Aesop-style fable whose lesson is \"{m}\""], "fable-w", i)
            yield record(write.format(m=moral), story, "bigbench/understanding_fables", f"fable:{i}")


def _press_release(fetch):
    for task in fetch.bigbench("scientific_press_release").values():
        for i, ex in enumerate(task.get("examples", [])):
            refs = targets(ex)
            if not refs:
                continue
            title = clean(ex["input"])
            user = pick(["Write a press-release headline for this paper: \"{t}\"",
                         "Turn this scientific title into a catchy headline for the public: {t}",
                         "How would a press release title this paper? {t}"], "spr", i).format(t=title)
            yield record(user, clean(refs[0]), "bigbench/scientific_press_release", f"spr:{title}")
