"""Summarizer: condense news articles, how-to guides and technical documentation; the point of
a short story (as a saying) is held out."""
from __future__ import annotations

import ast
from pathlib import Path

from ._common import MAX_CHARS, best_answer, clean, end_with_period, n_words, pick, record, \
    sentences_within, targets
from ._sample import sample_groups
from .sources import Source, bigbench_source

DOMAIN = "summarizer"
DESCRIPTION = ("Summarization: one-sentence summaries of news articles, short summaries of "
               "how-to guides, and one-line summaries of technical documentation.")
STDLIB_DOCS = "python/stdlib-docs"
SOURCES = [
    bigbench_source("gem/xsum", "BBC articles with a one-sentence summary (GEM XSum test)."),
    bigbench_source("gem/wikilingua_en", "WikiHow guides with a short summary (GEM WikiLingua, "
                    "English)."),
    Source(STDLIB_DOCS, "the running Python's standard library", "<stdlib>/**/*.py",
           "PSF-2.0", "Module and class docstrings (and those of long functions): the body of "
           "the docstring -> its own one-line summary (PEP 257)."),
    bigbench_source("abstract_narrative_understanding", "Short everyday stories and the proverb "
                    "that sums up their point (held out: never trained on)."),
]
FOREIGN = "bigbench/abstract_narrative_understanding"
NOTE = ""

# A document cut to fit the context must keep enough of itself for the summary to follow.
MIN_KEPT = 0.4
PER_SOURCE = 600  # articles kept from each news/how-to source, so docs keep their share
MIN_DOC_BODY = 300  # characters of docstring body below which there is nothing to summarise
LONG_FUNCTION = 20  # coder trains on functions of at most this many lines: use only longer ones
_SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "turtledemo", "site-packages", "ensurepip",
              "__pycache__"}

_XSUM = ["Summarize this article in one sentence:\n\n{d}", "{d}\n\nGive me a one-sentence summary.",
         "Can you sum up this news story in a single sentence?\n\n{d}",
         "What is this article about? Answer in one sentence.\n\n{d}"]
_WIKI = ["Summarize these instructions:\n\n{d}", "{d}\n\nSummarize the steps above briefly.",
         "Give me the short version of this guide:\n\n{d}", "TL;DR:\n\n{d}"]
_DOCS = ["Summarize what this documentation of `{n}` says in one sentence:\n\n{d}",
         "Here is the documentation for `{n}`. Give me a one-line summary.\n\n{d}",
         "{d}\n\nSum up in one sentence what `{n}` is for, based on the text above."]
_STORY = ["{d}\n\nWhat's the point of this story? Sum it up in a well-known saying.",
          "Which proverb sums up this story?\n\n{d}",
          "Summarize the lesson of this story as a common saying:\n\n{d}"]


def examples(fetch):
    yield from sample_groups(_documents(fetch, "gem/xsum", _XSUM), PER_SOURCE, "summarizer")
    yield from sample_groups(_documents(fetch, "gem/wikilingua_en", _WIKI), PER_SOURCE, "summarizer")
    yield from _stdlib_docs(Path(fetch.stdlib_dir()))
    yield from _story_points(fetch)


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


def doc_summary(doc: str) -> tuple[str, str] | None:
    """(summary line, body) of a PEP 257 docstring whose body is prose worth summarising."""
    paras = [p.strip() for p in doc.strip().split("\n\n") if p.strip()]
    if len(paras) < 2:
        return None
    summary = " ".join(paras[0].split())
    body = "\n\n".join(" ".join(p.split()) for p in paras[1:])
    if not (4 <= n_words(summary) <= 40) or not summary.endswith(".") or not summary[0].isupper():
        return None  # fragments, signatures ("f(x) -> y") and notes are not summaries
    if len(body) < MIN_DOC_BODY or ">>>" in body or body.count("::") > 1:
        return None  # doctests and reST tables are code, not prose
    return summary, body


def _documented(tree: ast.Module):
    """(dotted name suffix, node) for the module, its classes and its long functions."""
    yield "", tree
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield node.name, node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                not node.name.startswith("_") and \
                (node.end_lineno or node.lineno) - node.lineno + 1 > LONG_FUNCTION:
            yield node.name, node


def _stdlib_docs(root: Path):
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if not _SKIP_DIRS.isdisjoint(rel.parts[:-1]) or rel.parts[0].startswith("config-"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        for suffix, node in _documented(tree):
            found = doc_summary(ast.get_docstring(node) or "")
            if found is None:
                continue
            summary, body = found
            name = f"{module}.{suffix}" if suffix else module
            template = pick(_DOCS, "docs", name)
            kept = sentences_within(body, MAX_CHARS - len(summary) - len(template) - len(name))
            if not kept or len(kept) < MIN_KEPT * len(body):
                continue
            yield record(template.format(n=name, d=kept), summary, STDLIB_DOCS, f"docs:{name}")


def _story_points(fetch):
    """One subtask: the three hold the same stories with more or fewer distractor proverbs."""
    tasks = fetch.bigbench("abstract_narrative_understanding")
    task = tasks.get("abstract_narrative_understanding/4_distractors", {})
    for i, ex in enumerate(task.get("examples", [])):
        saying = best_answer(ex)
        story = clean(ex["input"])
        if saying is None or not story:
            continue
        yield record(pick(_STORY, "story", i).format(d=story), end_with_period(saying.strip()),
                     "bigbench/abstract_narrative_understanding", f"story:{story[:200]}")

