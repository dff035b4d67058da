"""The coder recipe on tiny fake archives: each source's file format, its checks, the foreign split."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from helpers.fake_fetch import FakeFetch

from smolmoe.data import recipes as data_recipes
from smolmoe.data.recipes import _coder_tasks, coder
from smolmoe.data.recipes import MixRules
from smolmoe.data.recipes.sources import SourceUnavailable

_STDLIB_MODULE = '''
def clip(x, low, high):
    """Limit x to the range from low to high."""
    if x < low:
        return low
    return min(x, high)


def first_word(text):
    """Return the first word of the text."""
    words = text.split()
    return words[0] if words else ""


class Box:
    def is_empty(self):
        """Tell whether the box holds nothing."""
        items = self.items
        return len(items) == 0
'''

_PYRIT_MODULE = '''
def normalize_name(name: str) -> str:
    """
    Normalize a target name.

    Returns:
        str: The name in lower case without surrounding spaces.
    """
    name = name.strip()
    return name.lower()


def undocumented(x):
    y = x + 1
    return y
'''

_RGYM_MODULE = '''
def count_ones(bits: list[int]) -> int:
    """Count the ones in a list of bits."""
    total = 0
    for b in bits:
        total += b
    return total


def verify_4c4377d9(I: Grid) -> Grid:
    x0 = hmirror(I)
    x1 = vconcat(x0, I)
    return x1


def half(x):
    y = x / 2
    return y
'''

_CHATTERBOT = """conversations:
- - can you write a function that reverses a string in Python?
  - "Sure:\\n\\n```\\ndef reverse(s):\\n    return s[::-1]\\n```\\n"
- - can you write hello world in javascript?
  - "```\\nconsole.log('hi')\\n```"
- - can you write a broken loop in Python?
  - "```\\nfor i in range(3)\\n    print(i)\\n```"
"""


def fake_files(tmp_path) -> dict:
    return {
        ("pyrit", "pyrit/common/names.py"): _PYRIT_MODULE,
        ("pyrit", "pyrit/tests/test_names.py"): _PYRIT_MODULE.replace("normalize", "other"),
        ("reasoning-gym", "reasoning_gym/utils/bits.py"): _RGYM_MODULE,
        ("chatterbot-corpus", "chatterbot_corpus/data/english/coding.yml"): _CHATTERBOT,
    }


def _stdlib(tmp_path) -> Path:
    root = tmp_path / "stdlib"
    (root / "test").mkdir(parents=True)
    (root / "shapes.py").write_text(_STDLIB_MODULE)
    (root / "test" / "test_shapes.py").write_text(_STDLIB_MODULE)  # test suites are skipped
    return root


def _records(source_name, fetch):
    [source] = [s for s in coder.SOURCES if s.name == source_name]
    return list(source.read(fetch))


def test_build_with_fake_archives(tmp_path):
    fetch = FakeFetch(fake_files(tmp_path), stdlib=_stdlib(tmp_path))
    report = data_recipes.build(tmp_path / "out", domains=["coder"], fetch=fetch, overwrite=True,
                                mix=MixRules(min_sources=7, min_share=0.0, max_share=1.0))
    assert report["coder"]["foreign_source"] == "chatterbot/coding"
    out = tmp_path / "out" / "coder"
    foreign = [json.loads(line) for line in (out / "foreign.jsonl").read_text().splitlines()]
    assert foreign and {r["source"] for r in foreign} == {"chatterbot/coding"}
    meta = json.loads((out / "meta.json").read_text())
    assert {s["name"]: s["licence"] for s in meta["sources"]}["pyrit/docstring"] == "MIT"
    assert meta["stats"]["dropped"]["not_python"] == 1
    assert meta["stats"]["dropped"]["python_does_not_parse"] == 1
    trained = set()
    for split in ("train", "val", "test"):
        for line in (out / f"{split}.jsonl").read_text().splitlines():
            trained.add(json.loads(line)["source"])
    assert "chatterbot/coding" not in trained
    assert {"stdlib/write", "pyrit/docstring", "reasoning-gym/typehints", "generator/tasks",
            "generator/trace"} <= trained


def test_stdlib_styles_and_bugfix(tmp_path):
    fetch = FakeFetch({}, stdlib=_stdlib(tmp_path))
    write = _records("stdlib/write", fetch)
    assert {r["group"] for r in write} == {"stdlib:shapes.clip", "stdlib:shapes.first_word",
                                           "stdlib:shapes.Box.is_empty"}
    bugfix = [r for r in _records("stdlib/bugfix", fetch) if "messages" in r]
    clip = [r for r in bugfix if r["group"] == "stdlib:shapes.clip"][0]
    assert "if x >= low:" in clip["messages"][0]["content"]
    assert "`if x >= low:` should be `if x < low:`" in clip["messages"][1]["content"]


def test_pyrit_docstring_source(tmp_path):
    recs = _records("pyrit/docstring", FakeFetch(fake_files(tmp_path)))
    kept = [r for r in recs if "messages" in r]
    assert [r["group"] for r in kept] == ["pyrit:pyrit.common.names.normalize_name"]  # tests skipped
    user, answer = (m["content"] for m in kept[0]["messages"])
    assert '"""' not in user and "Normalize a target name." in answer
    assert ast.parse(answer.split("```python\n")[1].split("```")[0])


def test_typehint_source_strips_annotations(tmp_path):
    recs = [r for r in _records("reasoning-gym/typehints", FakeFetch(fake_files(tmp_path)))
            if "messages" in r]
    assert {r["group"] for r in recs} == {"rgym:reasoning_gym.utils.bits.count_ones"}  # no ids, no hints
    full, signature = recs
    assert "def count_ones(bits):" in full["messages"][0]["content"]
    assert "def count_ones(bits: list[int]) -> int:" in full["messages"][1]["content"]
    assert full["messages"][1]["content"].endswith("It returns `int`.")
    assert "    ...\n```" in signature["messages"][1]["content"]


def test_generated_tasks_are_verified():
    tasks = list(_coder_tasks.tasks())
    assert len(tasks) >= 200 and len({t.key for t in tasks}) == len(tasks)
    for task in tasks:
        results = _coder_tasks.verify(task)
        assert not isinstance(results, str), task.key
        assert _coder_tasks.run_asserts(task, results), task.key


def test_wrong_generated_solution_is_dropped(monkeypatch):
    good = _coder_tasks._single("double", "double", "n", "returns twice n",
                                "def double(n):\n    return n * 2", lambda n: 2 * n, [(3,)])
    wrong = _coder_tasks._single("triple", "triple", "n", "returns three times n",
                                 "def triple(n):\n    return n + 3", lambda n: 3 * n, [(1,), (3,)])
    crash = _coder_tasks._single("crash", "crash", "n", "returns n",
                                 "def crash(n):\n    return open(n)", lambda n: n, [(1,)])
    monkeypatch.setattr(_coder_tasks, "tasks", lambda: iter([good, wrong, crash]))
    recs = _records("generator/tasks", FakeFetch({}))
    assert [r["dropped"] for r in recs if "dropped" in r] == ["task_solution_wrong", "task_solution_fails"]
    kept = [r for r in recs if "messages" in r]
    assert len(kept) == 3 and all(r["group"] == "task:single:double" for r in kept)
    assert "assert double(3) == 6" in kept[2]["messages"][1]["content"]
    traces = [r for r in _records("generator/trace", FakeFetch({})) if "messages" in r]
    assert [r["messages"][1]["content"] for r in traces] == ["`double(3)` returns `6`."]


@pytest.mark.parametrize("package", ["stdlib", "pyrit", "reasoning-gym", "chatterbot-corpus"])
def test_losing_a_package_leaves_other_sources(tmp_path, package):
    fetch = FakeFetch(fake_files(tmp_path), stdlib=_stdlib(tmp_path), unavailable=[package])
    left = []
    for source in coder.SOURCES:
        try:
            recs = [r for r in source.read(fetch) if "messages" in r]
        except SourceUnavailable as e:
            assert e.package == package == source.package or source.package == "stdlib"
            continue
        assert source.package != package
        if recs and source.name != coder.FOREIGN:
            left.append(source.name)
    assert len(left) >= 3
