"""Loading stays safe: no pickle, no torch.load without weights_only=True, no remote code."""
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "smolmoe"   # the recipes included (smolmoe/data/recipes)


def _sources():
    yield from sorted(PACKAGE.rglob("*.py"))


def test_no_unsafe_loading():
    offenders = []
    for f in _sources():
        for i, line in enumerate(f.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"\bimport pickle\b|\bpickle\.loads?\(|\bcloudpickle\b", code):
                offenders.append(f"{f}:{i}: pickle")
            if "torch.load(" in code and "weights_only=True" not in code:
                offenders.append(f"{f}:{i}: torch.load without weights_only=True")
            if re.search(r"trust_remote_code\s*=\s*True", code):
                offenders.append(f"{f}:{i}: trust_remote_code=True")
    assert not offenders, offenders
    assert any(_sources())
