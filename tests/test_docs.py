"""The README and docs/ stay short and true: the README's length and section order, every
relative link (and its #anchor) resolves, and every script, bench or study they name exists."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PATH = re.compile(r"(?<![\w./$-])((?:scripts|bench|studies)/[\w./-]*\w)")
MODULE = re.compile(r"python -m ((?:bench|studies)\.\w+)")


def _prose(path: Path) -> str:
    """The file's text without its fenced code blocks."""
    return re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings (code blocks skipped)."""
    out = set()
    for line in _prose(path).splitlines():
        if m := re.match(r"#{1,6}\s+(.*)", line):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def test_the_readme_is_short_and_its_layout_follows_the_set_up():
    lines = README.read_text().splitlines()
    assert len(lines) <= 250
    sections = [line for line in lines if line.startswith("## ")]
    assert sections[0].startswith("## Set-up") and sections[1] == "## Layout"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(doc):
    broken = []
    for target in LINK.findall(_prose(doc)):
        if re.match(r"[a-z]+:", target):   # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)}: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_script_bench_and_study_named_exists(doc):
    text = doc.read_text()
    missing = [p for p in PATH.findall(text) if not (ROOT / p).exists()]
    missing += [m for m in MODULE.findall(text) if not m.split(".")[1].isupper()
                and not (ROOT / (m.replace(".", "/") + ".py")).is_file()]
    assert not missing, f"{doc.relative_to(ROOT)}: {missing}"
