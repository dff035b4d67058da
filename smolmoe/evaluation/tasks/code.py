"""Coder: the reply's code parses, defines the function asked for, and passes the examples the
prompt or reference gives (run in a subprocess with a time limit). Rules in docs/eval.md."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tempfile

TIME_LIMIT_S = 5.0
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.IGNORECASE | re.DOTALL)
_CODE_START = re.compile(r"^(?:def|class|import|from|async def|@)\b", re.MULTILINE)
_ASKED = re.compile(r"`(?:[\w.]+\.)?(\w+)\(([^`]*)\)`")

# Runs in the child: the reply's code, then the doctest examples, then the asserts.
_RUNNER = """
import doctest, json, sys
spec = json.load(open(sys.argv[1]))
env = {"__name__": "__main__"}
exec(compile(spec["code"], "<reply>", "exec"), env)
if spec["doctest"]:
    test = doctest.DocTestParser().get_doctest(spec["doctest"], env, "examples", "<examples>", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=lambda _s: None)
    if runner.failures:
        sys.exit(1)
for check in spec["asserts"]:
    exec(check, env)
"""


def extract_code(text: str) -> str | None:
    """Python in a reply: its fenced blocks joined; else the reply itself if it parses; else
    from its first def/class/import line on, if that parses."""
    blocks = _FENCE.findall(text)
    candidates = ["\n".join(blocks)] if blocks else [text]
    start = _CODE_START.search(text)
    if not blocks and start:
        candidates.append(text[start.start():])
    for code in candidates:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        # Plain prose can parse ("Hello"): code has to do something.
        if any(isinstance(n, _CODE_NODES) for n in ast.walk(tree)):
            return code
    return None


_CODE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom,
               ast.Assign, ast.AugAssign, ast.Return, ast.For, ast.While, ast.If, ast.Call)


def _functions(tree: ast.AST) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _positional(fn) -> int:
    return len(fn.args.posonlyargs) + len(fn.args.args)


def asked_function(prompt: str, reference_code: str | None) -> tuple[str, int] | None:
    """(name, number of positional parameters) the task asks for: the reference's first
    function, else a `name(args)` in backticks in the prompt; None when neither names one."""
    if reference_code:
        for node in ast.walk(ast.parse(reference_code)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node.name, _positional(node)
    match = _ASKED.search(prompt)
    if match:
        args = [a for a in match.group(2).split(",") if a.strip() and not a.strip().startswith("*")]
        return match.group(1), len(args)
    return None


def examples(prompt: str, reference: str) -> tuple[str, list[str]]:
    """The `>>>` examples (with their expected output lines) and `assert` lines given."""
    doctest_lines, asserts = [], []
    for text in (prompt, reference):
        lines = text.splitlines()
        for i, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith(">>>"):
                doctest_lines.append(stripped)
                for follow in lines[i + 1:]:
                    f = follow.strip()
                    if not f or f.startswith((">>>", '"""', "'''", "```")):
                        break
                    doctest_lines.append(f)
            elif stripped.startswith("assert "):
                asserts.append(stripped)
    return "\n".join(doctest_lines) + ("\n" if doctest_lines else ""), asserts


def passes_examples(code: str, doctest_text: str, asserts: list[str],
                    time_limit: float = TIME_LIMIT_S) -> bool:
    """Run the code and the examples in a fresh isolated interpreter; pass = exit status 0."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = f"{tmp}/spec.json"
        with open(spec, "w") as f:
            json.dump({"code": code, "doctest": doctest_text, "asserts": asserts}, f)
        try:
            done = subprocess.run([sys.executable, "-I", "-c", _RUNNER, spec], cwd=tmp,
                                  capture_output=True, timeout=time_limit)
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def score_code(prompt: str, reference: str, reply: str) -> dict | None:
    """{"parses", "defines", "has_examples", "passes", "correct"}; None when the reference has
    no code (the task is not to write code, so it is not scored)."""
    reference_code = extract_code(reference)
    if reference_code is None:
        return None
    code = extract_code(reply)
    asked = asked_function(prompt, reference_code)
    doctest_text, asserts = examples(prompt, reference)
    has_examples = bool(doctest_text or asserts)
    result = {"parses": code is not None, "defines": False, "has_examples": has_examples,
              "passes": False, "correct": False}
    if code is None:
        return result
    defined = _functions(ast.parse(code))
    result["defines"] = asked is None or (asked[0] in defined
                                          and _positional(defined[asked[0]]) == asked[1])
    if result["defines"] and has_examples:
        result["passes"] = passes_examples(code, doctest_text, asserts)
    result["correct"] = result["defines"] and (result["passes"] or not has_examples)
    return result
