"""Well-formedness checks recipes run on their answers before yielding them.

Each check returns None when the answer is well-formed, else a short reason; the recipe
then yields `dropped(reason, source)` and build() counts it in meta.json "stats".
"""
from __future__ import annotations

import ast
import operator
import re
import sqlite3

from ..refusal import is_refusal

_FENCE = re.compile(r"```(?:python|py)?\n(.*?)```", re.S)
# Normalised Spider SQL as some benchmarks ship it: a `value` placeholder, lower-case
# keywords, no FROM.
_PLACEHOLDER = re.compile(r"(=|<|>|\blike|\bin|\bbetween|\band)\s+value\b", re.I)
_KEYWORDS = re.compile(r"\b(select|from|where|group by|order by|having|limit|join|on|and|or|"
                       r"as|desc|asc|count|sum|avg|min|max|distinct|not|in|like|between|union|"
                       r"intersect|except)\b", re.I)


def sql_problem(schema: str, query: str) -> str | None:
    """Does `query` run in sqlite3 against `schema` (CREATE TABLE ...; INSERT ...) as written?

    Besides running, the query must look like SQL people write: upper-case keywords, a FROM
    clause when it names columns, and literal values rather than a `value` placeholder.
    """
    if _PLACEHOLDER.search(query):
        return "sql_placeholder"
    if any(m.group(0) != m.group(0).upper() for m in _KEYWORDS.finditer(_strip_literals(query))):
        return "sql_lowercase_keyword"
    if re.match(r"\s*SELECT\b", query) and " FROM " not in f" {query} ".replace("\n", " "):
        return "sql_no_from"
    con = sqlite3.connect(":memory:")
    try:
        try:
            con.executescript(schema)
        except sqlite3.Error:
            return "sql_bad_schema"
        try:
            con.execute(query).fetchall()
        except (sqlite3.Error, sqlite3.Warning):
            return "sql_does_not_run"
    finally:
        con.close()
    return None


def _strip_literals(sql: str) -> str:
    """The query without its quoted strings ('to be or not' may be lower-case)."""
    return re.sub(r"'(?:[^']|'')*'|\"[^\"]*\"", "''", sql)


def run_sql(schema: str, query: str) -> list[tuple]:
    """The rows `query` returns on a fresh in-memory database built from `schema`."""
    con = sqlite3.connect(":memory:")
    try:
        con.executescript(schema)
        return con.execute(query).fetchall()
    finally:
        con.close()


def python_problem(text: str) -> str | None:
    """Does every fenced Python block in `text` (or the whole text, if unfenced) parse?"""
    blocks = _FENCE.findall(text) if "```" in text else [text]
    if not blocks:
        return "python_unclosed_fence"
    for code in blocks:
        try:
            ast.parse(code)
        except (SyntaxError, ValueError):
            return "python_does_not_parse"
    return None


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def evaluate_arithmetic(expression: str):
    """The value of a plain arithmetic expression ("12 × 3 - 4 ÷ 2"); ValueError otherwise.

    Only numbers, + - * / // % ** and brackets: no names, so nothing but arithmetic runs.
    """
    text = expression.replace("×", "*").replace("÷", "/").replace("−", "-").replace(",", "")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None

    def ev(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            if isinstance(node.op, ast.Pow) and abs(ev(node.right)) > 100:
                raise ValueError("exponent too large")
            return _BINARY[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](ev(node.operand))
        raise ValueError(f"not an arithmetic expression: {expression!r}")
    try:
        return ev(tree.body)
    except ZeroDivisionError:
        raise ValueError(f"division by zero in {expression!r}") from None


def arithmetic_problem(expression: str, answer: str) -> str | None:
    """Is `answer` the value of `expression` (to 1e-6, so "2.5" matches 5 / 2)?"""
    try:
        value = evaluate_arithmetic(expression)
        given = float(answer.replace(",", "").replace("−", "-"))
    except ValueError:
        return "arithmetic_unreadable"
    return None if abs(value - given) <= 1e-6 * max(1.0, abs(value)) else "arithmetic_wrong"


def refusal_problem(reply: str, harmful: bool = False) -> str | None:
    """A reply to a harmful request must refuse; any other reply must not."""
    if harmful and not is_refusal(reply):
        return "harmful_not_refused"
    if not harmful and is_refusal(reply):
        return "helpful_refused"
    return None
