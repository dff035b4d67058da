"""Coder: write short Python functions from a spec, explain given code, fix a bug.

Three styles from the standard library's own functions (one item = one function, so the
three never straddle splits); held out: chatterbot-corpus's conversational coding requests.
Every Python answer is parsed with ast (_checks.python_problem).
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml

from ._chat import CHATTERBOT
from ._checks import python_problem
from ._common import (clean, clean_code, dropped, end_with_period, n_words, pick, record,
                      sentence_case, stable_hash)
from .sources import STDLIB, Source

DOMAIN = "coder"
DESCRIPTION = ("Python programming: implementing small functions from a one-line spec, "
               "explaining what given code does, and finding and fixing a bug.")
_FILES = (f"Python {sys.version_info[0]}.{sys.version_info[1]}: *.py outside site-packages and "
          "test suites (other versions give other functions)")


def _stdlib_part(name: str):
    """Reader of one of the three styles made from one walk of the standard library."""
    def read(fetch):
        return (ex for ex in _stdlib(Path(fetch.stdlib_dir())) if ex["source"] == name)
    return read


SOURCES = [
    Source("stdlib/write", STDLIB, _FILES, "PSF License",
           "Write a function or method (at most 20 lines) from its signature and docstring summary.",
           read=_stdlib_part("stdlib/write")),
    Source("stdlib/explain", STDLIB, _FILES, "PSF License",
           "Say in one sentence what a function (docstring removed) does.",
           read=_stdlib_part("stdlib/explain")),
    Source("stdlib/bugfix", STDLIB, _FILES, "PSF License",
           "A function with one comparison inverted by this recipe: name the bug, give the fix.",
           read=_stdlib_part("stdlib/bugfix")),
    Source("chatterbot/coding", CHATTERBOT, "chatterbot_corpus/data/english/coding.yml",
           "BSD-3-Clause",
           "Conversational Python coding requests (held out: foreign split; other languages dropped).",
           read=lambda fetch: _chatterbot_coding(fetch)),
]
FOREIGN = "chatterbot/coding"
HELPFUL_ONLY = True
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
    group = f"stdlib:{qual}"
    if cls:
        user = pick(_WRITE_METHOD, *key).format(cls=cls, sig=sig, doc=summary)
    else:
        user = pick(_WRITE, *key).format(sig=sig, doc=summary)
    lead = pick(["Here is `{n}`:", "Here's one way to write `{n}`:", "Sure:", "Here's the function:"],
                *key, "lead")
    # The spec is already in the prompt: half the answers leave the docstring out, as people
    # often do in a quick answer.
    code = source if stable_hash(*key, "docstring") % 2 else bare
    answer = f"{lead.format(n=node.name)}\n\n```python\n{code}\n```"
    yield _checked(record(user, answer, "stdlib/write", group))
    yield record(pick(_DESCRIBE, *key, "describe").format(code=bare), summary, "stdlib/explain", group)
    bug = _invert_one_comparison(source)
    if bug is None:
        yield dropped("bugfix_no_single_comparison", "stdlib/bugfix")
        return
    buggy, wrong, right = bug
    user = pick(_FIX, *key, "fix").format(code=buggy)
    answer = (f"The comparison is inverted: `{wrong}` should be `{right}`. "
              f"Here is the corrected function:\n\n```python\n{source}\n```")
    yield _checked(record(user, answer, "stdlib/bugfix", group))


_FIX = ["This function doesn't do what its docstring says. Can you find the bug?\n\n```python\n{code}\n```",
        "There's a bug in this code. Please fix it.\n\n```python\n{code}\n```",
        "Why does this function give wrong results?\n\n```python\n{code}\n```"]
# Each comparison and its opposite, spaced as code is written (so "a<b" in strings is skipped).
_OPPOSITE = {" == ": " != ", " != ": " == ", " < ": " >= ", " >= ": " < ", " > ": " <= ",
             " <= ": " > ", " is not ": " is ", " is ": " is not ", " not in ": " in ", " in ": " not in "}
_CONDITION = re.compile(r"^\s*(if|elif|while|return)\b")


def _invert_one_comparison(source: str) -> tuple[str, str, str] | None:
    """(buggy source, buggy line, correct line): the first condition line with exactly one
    comparison outside strings and comments, inverted; None when no line qualifies or the
    result does not parse."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if not _CONDITION.match(line):
            continue
        # Blank string contents (same length, so positions match) and cut the comment.
        code = _STRINGS.sub(lambda m: '"' + "_" * (len(m.group(0)) - 2) + '"', line).split("#")[0]
        hits = [(m.start(), op) for op in _OPPOSITE for m in re.finditer(re.escape(op), code)]
        # " is not " contains " is " and " not in " contains " in ": keep the longest match.
        hits = [(at, op) for at, op in hits
                if not any(o != op and a <= at and at + len(op) <= a + len(o) for a, o in hits)]
        if len(hits) != 1:
            continue
        [(at, op)] = hits
        wrong = line[:at] + _OPPOSITE[op] + line[at + len(op):]
        buggy = "\n".join(lines[:i] + [wrong] + lines[i + 1:])
        if python_problem(buggy) is None:
            return buggy, wrong.strip(), line.strip()
    return None


_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def _checked(rec: dict) -> dict:
    """The record, or a drop marker when its Python does not parse."""
    why = python_problem(rec["messages"][-1]["content"])
    return dropped(why, rec["source"]) if why else rec


def _dedent(lines: list[str]) -> str:
    import textwrap
    return textwrap.dedent("\n".join(lines))


# Other languages and tools a request may name: the coder domain is Python programming.
_OTHER_LANGUAGE = re.compile(r"\b(javascript|typescript|java|c\+\+|c#|golang|rust|ruby|php|sql|bash|"
                             r"shell|kubernetes|terraform|docker|yaml|react|node|jest|graphql|html|"
                             r"css|swift|kotlin|npm|git)\b", re.I)


def _chatterbot_coding(fetch):
    """Requests like "can you write a heap in Python?": only Python ones, and they must parse."""
    source = "chatterbot/coding"
    data = yaml.safe_load(fetch.read(CHATTERBOT, "chatterbot_corpus/data/english/coding.yml")) or {}
    for j, conv in enumerate(data.get("conversations") or []):
        if not isinstance(conv, list) or len(conv) != 2 or not all(isinstance(t, str) for t in conv):
            continue
        question, answer = clean(conv[0]), clean_code(conv[1])
        question = sentence_case(question if question[-1:] in "?.!" else question + "?")
        lead = answer.split("```")[0]
        if "python" not in question.lower() and (_OTHER_LANGUAGE.search(question) or _OTHER_LANGUAGE.search(lead)):
            yield dropped("not_python", source)
            continue
        yield _checked(record(question, _label_fences(answer), source, f"coding:{j}"))


def _label_fences(text: str) -> str:
    """Bare opening fences become ```python: the domain's convention, as in every training
    answer (the code is checked to be Python afterwards)."""
    lines, inside = text.split("\n"), False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            if not inside and line.strip() == "```":
                lines[i] = "```python"
            inside = not inside
    return "\n".join(lines)
