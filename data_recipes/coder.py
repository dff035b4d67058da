"""Coder: write short Python functions from a description, and describe given code."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from ._common import (answered_examples, clean, clean_code, end_with_period, n_words, pick, record,
                      sentence_case)
from .sources import Source, bigbench_source

DOMAIN = "coder"
DESCRIPTION = ("Python programming: implementing small functions from a one-line spec, "
               "writing docstrings for given code, and reasoning about what code does.")
SOURCES = [
    Source("stdlib", f"Python {sys.version_info[0]}.{sys.version_info[1]} standard library "
           "(sysconfig stdlib path; other versions give other functions)",
           "*.py outside site-packages and test suites", "PSF License",
           "Functions and methods of at most 20 lines with a docstring, parsed with ast."),
    bigbench_source("code_line_description", "Short Python snippets and an English description."),
    bigbench_source("auto_debugging", "Questions about the state of a short program."),
]
NOTE = ""

MAX_LINES = 20
MAX_CODE_CHARS = 900
# Test suites, IDLE, the 2to3 grammar tools, demos and codec tables are not code a user
# would ask for; site-packages is not the standard library.
_SKIP_DIRS = {"site-packages", "test", "tests", "idle_test", "idlelib", "lib2to3", "turtledemo",
              "ensurepip", "__phello__", "encodings", "pydoc_data"}
_STUB = re.compile(r"^\s*(pass|\.\.\.|raise NotImplementedError(\(.*\))?)\s*$")

_WRITE = ["Write a Python function `{sig}`: {doc}", "Implement `{sig}` in Python. {doc}",
          "Can you write `{sig}`? It should do this: {doc}",
          "I need a Python function `{sig}`. Spec: {doc}"]
_WRITE_METHOD = ["Write the method `{cls}.{sig}` of a Python class: {doc}",
                 "Implement the method `{sig}` for the class `{cls}`. {doc}"]
_DESCRIBE = ["Write a one-line docstring for this function:\n\n```python\n{code}\n```",
             "What does this function do? Answer in one sentence.\n\n```python\n{code}\n```",
             "Summarize what this code does:\n\n```python\n{code}\n```"]


def examples(fetch):
    yield from _stdlib(Path(fetch.stdlib_dir()))
    yield from _code_line_description(fetch)
    yield from _auto_debugging(fetch)


def _python_files(root: Path):
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if _SKIP_DIRS.isdisjoint(rel.parts[:-1]) and not rel.parts[0].startswith("config-"):
            yield path, rel


def _summary(doc: str) -> str | None:
    """The docstring's first paragraph as one sentence, if it is a usable spec."""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    if not (3 <= n_words(para) <= 60) or ">>>" in para or "-->" in para or "->" in para:
        return None  # doctests and "f(x) -> y" signature lines are not prose specs
    if para.lower().startswith(("deprecated", "xxx", "[deprecated", "todo")):
        return None
    first = para.split()[0]
    # Capitalise prose, but never an identifier ("splittag(...)", "_foo", "getattr").
    return end_with_period(para if re.search(r"[_(.]", first) else sentence_case(para))


def _functions(tree: ast.Module):
    """(class name or None, function node) for module-level functions and class methods."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield None, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield node.name, item


def _stdlib(root: Path):
    for path, rel in _python_files(root):
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        lines = text.split("\n")
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        for cls, node in _functions(tree):
            yield from _function_examples(module, cls, node, lines)


def _function_examples(module, cls, node, lines):
    doc = ast.get_docstring(node)
    if not doc or node.name.startswith("__") or len(node.body) < 2:
        return  # no spec, a dunder, or nothing but the docstring
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    if node.end_lineno - start + 1 > MAX_LINES:
        return
    summary = _summary(doc)
    source = clean_code(_dedent(lines[start - 1:node.end_lineno]))
    if summary is None or len(source) > MAX_CODE_CHARS:
        return
    doc_node = node.body[0]
    body_wo_doc = lines[start - 1:doc_node.lineno - 1] + lines[doc_node.end_lineno:node.end_lineno]
    bare = clean_code(_dedent(body_wo_doc))
    if all(_STUB.match(ln) for ln in bare.split("\n")[1 + len(node.decorator_list):] if ln.strip()):
        return  # an abstract stub teaches nothing
    qual = f"{module}.{cls + '.' if cls else ''}{node.name}"
    sig = f"{node.name}({ast.unparse(node.args)})"
    key = ("coder", qual)
    if cls:
        user = pick(_WRITE_METHOD, *key).format(cls=cls, sig=sig, doc=summary)
    else:
        user = pick(_WRITE, *key).format(sig=sig, doc=summary)
    yield record(user, f"```python\n{source}\n```", "stdlib", f"stdlib:{qual}")
    yield record(pick(_DESCRIBE, *key, "describe").format(code=bare), summary, "stdlib",
                 f"stdlib:{qual}")


def _dedent(lines: list[str]) -> str:
    import textwrap
    return textwrap.dedent("\n".join(lines))


def _code_line_description(fetch):
    for sub, i, ex, answer in answered_examples(fetch, "code_line_description"):
        code = clean_code(ex["input"])
        user = pick(["What does this code do?", "Describe this Python snippet in a few words.",
                     "Explain what this code does."], "cld", i)
        yield record(f"{user}\n\n```python\n{code}\n```", end_with_period(sentence_case(answer.strip())),
                     "bigbench/code_line_description", f"cld:{code}")


def _auto_debugging(fetch):
    for sub, i, ex, answer in answered_examples(fetch, "auto_debugging"):
        yield record(clean_code(ex["input"]), clean(answer), "bigbench/auto_debugging",
                     f"autodebug:{i}")
