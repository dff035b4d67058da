"""Summarizer: condense news articles and how-to guides; headline a science paper."""
from __future__ import annotations

from ._common import MAX_CHARS, clean, n_words, pick, record, sentences_within, targets
from .sources import bigbench_source

DOMAIN = "summarizer"
DESCRIPTION = ("Summarization: one-sentence summaries of news articles, short summaries of "
               "how-to guides, and plain-language titles for scientific papers.")
SOURCES = [
    bigbench_source("gem/xsum", "BBC articles with a one-sentence summary (GEM XSum test)."),
    bigbench_source("gem/wikilingua_en", "WikiHow guides with a short summary (GEM WikiLingua, "
                    "English)."),
    bigbench_source("scientific_press_release", "Paper titles and the press-release headline "
                    "written for them."),
]
NOTE = ""

# A document cut to fit the context must keep enough of itself for the summary to follow.
MIN_KEPT = 0.4

_XSUM = ["Summarize this article in one sentence:\n\n{d}", "{d}\n\nGive me a one-sentence summary.",
         "Can you sum up this news story in a single sentence?\n\n{d}",
         "What is this article about? Answer in one sentence.\n\n{d}"]
_WIKI = ["Summarize these instructions:\n\n{d}", "{d}\n\nSummarize the steps above briefly.",
         "Give me the short version of this guide:\n\n{d}", "TL;DR:\n\n{d}"]


def examples(fetch):
    yield from _documents(fetch, "gem/xsum", _XSUM)
    yield from _documents(fetch, "gem/wikilingua_en", _WIKI)
    yield from _press_release(fetch)


def _documents(fetch, name, templates):
    for task in fetch.bigbench(name).values():
        for i, ex in enumerate(task.get("examples", [])):
            refs = targets(ex)
            if not refs:
                continue
            summary = clean(refs[0])
            doc = clean(ex["input"])
            template = pick(templates, name, i)
            budget = MAX_CHARS - len(summary) - len(template.format(d=""))
            kept = sentences_within(doc, budget)
            if not kept or len(kept) < MIN_KEPT * len(doc) or n_words(summary) > 120:
                continue  # never cut the answer; drop items whose article would lose too much
            yield record(template.format(d=kept), summary, f"bigbench/{name}",
                         f"{name}:{ex.get('comment', i)}")


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
