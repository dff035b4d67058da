"""Coder: write short Python functions from a spec, explain given code, fix a bug, document
a function, add type hints, and solve small generated tasks.

Three styles from the standard library's own functions (one item = one function, so the
three never straddle splits); a docstring style from pyrit's functions, a type-hint style from
reasoning-gym's annotated functions (their library code only, not their tasks), and small
generated tasks whose solutions are run against a reference here (_coder_tasks). Held out:
chatterbot-corpus's conversational coding requests. Every Python answer is parsed with ast
(_checks.python_problem).
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml

from . import _coder_tasks
from ._chat import CHATTERBOT
from ._checks import python_problem
from ._common import (clean, clean_code, dropped, end_with_period, n_words, pick, record,
                      sentence_case, stable_hash)
from ._sample import sample_groups
from .sources import GENERATOR, STDLIB, Source

DOMAIN = "coder"
DESCRIPTION = ("Python programming: implementing small functions from a one-line spec, "
               "explaining what given code does, and finding and fixing a bug.")
_FILES = (f"Python {sys.version_info[0]}.{sys.version_info[1]}: *.py outside site-packages and "
          "test suites (other versions give other functions)")


def _stdlib_part(name: str):
    """Reader of one of the three styles made from one walk of the standard library."""
    def read(fetch):
        return (ex for ex in _stdlib_walk(Path(fetch.stdlib_dir())) if ex["source"] == name)
    return read


_LAST_WALK: list = []  # [(root, records)]: the three stdlib styles share one walk per build


def _stdlib_walk(root: Path) -> list[dict]:
    if not (_LAST_WALK and _LAST_WALK[0][0] == root):
        _LAST_WALK[:] = [(root, list(_stdlib(root)))]
    return _LAST_WALK[0][1]


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
    Source("pyrit/docstring", "pyrit", "pyrit/**/*.py (functions of at most 20 lines with a docstring)",
           "MIT", "Add a docstring to a function of the PyRIT library (docstring removed in the prompt).",
           read=lambda fetch: _pyrit_docstrings(fetch)),
    Source("reasoning-gym/typehints", "reasoning-gym",
           "reasoning_gym/**/*.py (fully annotated functions of 3-16 lines; library code, not its tasks)",
           "Apache-2.0", "Add type hints to a function of the reasoning-gym library (annotations "
           "removed in the prompt); the answer names the return type.",
           read=lambda fetch: _typehints(fetch)),
    Source("generator/tasks", GENERATOR, "smolmoe/data/recipes/_coder_tasks.py", "Apache-2.0 (smolmoe)",
           "Small programming tasks (counting, strings, lists, dicts, number theory, unit conversions) "
           "whose solution is run against a reference implementation on every example before use; "
           "asked plainly, with examples, or with asserts.",
           read=lambda fetch: _generated_tasks()),
    Source("generator/trace", GENERATOR, "smolmoe/data/recipes/_coder_tasks.py", "Apache-2.0 (smolmoe)",
           "Say what a call of a generated function returns (the result computed by running the "
           "verified solution here); same functions as generator/tasks, so the same groups.",
           read=lambda fetch: _generated_traces()),
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


# -- functions of other packages' code ----------------------------------------------------
# Tests, examples, docs and vendored code are not library code a user would ask about.
_PACKAGE_SKIP = re.compile(r"(^|/)(tests?|testing|examples?|docs?|_vendor|vendor|scripts)/")


def _package_functions(fetch, package: str, prefix: str):
    """(module, class or None, function node, source lines) of every .py file under prefix.
    The files are parsed with ast only: nothing from the package is imported or run."""
    for member in fetch.members(package, prefix):
        if not member.endswith(".py") or _PACKAGE_SKIP.search(member):
            continue
        try:
            text = fetch.read(package, member)
            tree = ast.parse(text)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        module = member.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        lines = text.split("\n")
        for cls, node in _functions(tree):
            yield module, cls, node, lines


_DOCUMENT = ["Add a docstring to this function:\n\n```python\n{code}\n```",
             "Please document this Python function with a docstring.\n\n```python\n{code}\n```",
             "Write a docstring for this function and show the function with it.\n\n```python\n{code}\n```"]
_DOCUMENT_METHOD = ["Add a docstring to this method of the class `{cls}`:\n\n```python\n{code}\n```",
                    "Please document this method of `{cls}` with a docstring.\n\n```python\n{code}\n```"]


def _pyrit_docstrings(fetch):
    """Document a function: the prompt is the function without its docstring, the answer the
    function with it (PyRIT's own, Google style). Only functions whose docstring opens with a
    usable one-sentence summary, at most 20 lines, not stubs."""
    yield from sample_groups(_pyrit_records(fetch), PYRIT_ITEMS, "pyrit/docstring")


# PyRIT has ~2,000 usable functions: as many as the standard library's styles keep in train,
# so that it cannot fill the split alone when another package is missing.
PYRIT_ITEMS = 900


def _pyrit_records(fetch):
    source = "pyrit/docstring"
    for module, cls, node, lines in _package_functions(fetch, "pyrit", "pyrit/"):
        doc = ast.get_docstring(node)
        if not doc or node.name.startswith("__") or len(node.body) < 2:
            continue
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        if node.end_lineno - start + 1 > MAX_LINES or _summary(doc) is None:
            continue
        full = clean_code(_dedent(lines[start - 1:node.end_lineno]))
        doc_node = node.body[0]
        bare = clean_code(_dedent(lines[start - 1:doc_node.lineno - 1] + lines[doc_node.end_lineno:node.end_lineno]))
        if len(full) > MAX_CODE_CHARS or python_problem(bare):
            yield dropped("docstring_unusable", source)
            continue
        if all(_STUB.match(ln) for ln in bare.split("\n")[1 + len(node.decorator_list):] if ln.strip()):
            continue
        qual = f"{module}.{cls + '.' if cls else ''}{node.name}"
        key = ("coder-doc", qual)
        user = (pick(_DOCUMENT_METHOD, *key).format(cls=cls, code=bare) if cls
                else pick(_DOCUMENT, *key).format(code=bare))
        lead = pick(["Here is the function with a docstring:", "Here it is, documented:",
                     "Sure, here's a docstring for it:"], *key, "lead")
        yield _checked(record(user, f"{lead}\n\n```python\n{full}\n```", source, f"pyrit:{qual}"))


_HINT = ["Add type hints to this function:\n\n```python\n{code}\n```",
         "Annotate this Python function with type hints.\n\n```python\n{code}\n```",
         "Can you add type annotations to this code?\n\n```python\n{code}\n```"]


def _fully_annotated(node) -> bool:
    a = node.args
    args = [x for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
    args += [x for x in (a.vararg, a.kwarg) if x is not None]
    return node.returns is not None and bool(args) and all(x.annotation is not None for x in args)


def _strip_annotations(node):
    """A copy of the function without argument or return annotations (body unchanged)."""
    import copy
    bare = copy.deepcopy(node)
    a = bare.args
    for x in a.posonlyargs + a.args + a.kwonlyargs + [v for v in (a.vararg, a.kwarg) if v]:
        x.annotation = None
    bare.returns = None
    return bare


_SIGNATURE = ["What should the type-annotated signature of this function be? Give just the `def` line.\n\n"
              "```python\n{code}\n```",
              "Write only the signature of this function, with type hints.\n\n```python\n{code}\n```"]
# re-arc's verifiers and generators are named by task id (verify_4c4377d9): nothing to learn.
_ID_NAMED = re.compile(r"^(verify|generate)_[0-9a-f]{8}$")


def _signature_only(node):
    """The function's def line with annotations, its body replaced by `...`."""
    import copy
    head = copy.deepcopy(node)
    head.body = [ast.Expr(ast.Constant(...))]
    head.decorator_list = []
    return head


def _typehints(fetch):
    """Add type hints: reasoning-gym's fully annotated short functions, shown without their
    signature annotations (ast.unparse for both sides, so only the annotations differ)."""
    source = "reasoning-gym/typehints"
    for module, cls, node, _lines in _package_functions(fetch, "reasoning-gym", "reasoning_gym/"):
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("__") or _ID_NAMED.match(node.name):
            continue
        if not (3 <= node.end_lineno - node.lineno + 1 <= 16) or not _fully_annotated(node):
            continue
        full, bare = ast.unparse(node), ast.unparse(_strip_annotations(node))
        if len(full) > MAX_CODE_CHARS:
            yield dropped("too_long_code", source)
            continue
        qual = f"{module}.{cls + '.' if cls else ''}{node.name}"
        key = ("coder-hints", qual)
        returns = ast.unparse(node.returns)
        tail = ("It returns nothing (`None`)." if returns == "None"
                else f"It returns `{returns}`.")
        answer = f"Here it is with type hints:\n\n```python\n{full}\n```\n\n{tail}"
        group = f"rgym:{qual}"
        yield _checked(record(pick(_HINT, *key).format(code=bare), answer, source, group))
        # The same item asked for the signature only (same group, so never split apart).
        header = ast.unparse(_signature_only(node))
        yield _checked(record(pick(_SIGNATURE, *key).format(code=bare),
                              f"```python\n{header}\n```\n\n{tail}", source, group))


def _verified(source: str):
    """(task, results) for every generated task whose solution agrees with its reference on
    every example and whose shown asserts pass (see _coder_tasks); failures are dropped whole."""
    for task in _coder_tasks.tasks():
        results = _coder_tasks.verify(task)
        if isinstance(results, str):
            yield dropped(results, source)
        elif not _coder_tasks.run_asserts(task, results):
            yield dropped("task_asserts_fail", source)
        else:
            yield task, results


def _generated(source: str, pairs, check: bool):
    """Records of the verified tasks: `pairs(task, results)` gives (request, answer) pairs;
    `check` parses the answer's Python (trace answers are sentences: their call was run)."""
    for item in _verified(source):
        if isinstance(item, dict):
            yield item
            continue
        task, results = item
        for user, answer in pairs(task, results):
            rec = record(user, answer, source, f"task:{task.key}")
            yield _checked(rec) if check else rec


def _generated_tasks():
    """Write a generated task's function: asked plainly, with examples, or with asserts."""
    return _generated("generator/tasks", _coder_tasks.requests, check=True)


def _generated_traces():
    """What a generated function returns on its (verified) examples: one record per call."""
    return _generated("generator/trace", _coder_tasks.traces, check=False)


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
