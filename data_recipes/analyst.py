"""Analyst: questions over databases and tables, answered with SQL or a looked-up value."""
from __future__ import annotations

import re

from ._common import best_answer, clean, pick, record, stable_hash, targets
from .sources import bigbench_source

DOMAIN = "analyst"
DESCRIPTION = ("Data analysis: writing SQL for questions over a database schema (including "
               "follow-up questions in context) and answering questions about a small table.")
SOURCES = [
    bigbench_source("semantic_parsing_spider", "Spider text-to-SQL: question + columns -> SQL "
                    "(literal values replaced by the placeholder `value`)."),
    bigbench_source("semantic_parsing_in_context_sparc", "SParC: follow-up questions in a "
                    "dialogue -> SQL for the latest one."),
    bigbench_source("penguins_in_a_table", "Questions about a small CSV table of penguins."),
]
NOTE = ""

_ASK = ["Write a SQL query to answer: {q}", "{q} Give me the SQL.",
        "How would I query this in SQL? {q}", "I need a SQL query for this question: {q}"]
_PLACEHOLDER = "Use `value` as a placeholder for literal values."


def examples(fetch):
    yield from _spider(fetch)
    yield from _sparc(fetch)
    yield from _penguins(fetch)


def _schema(columns: list[str]) -> str:
    """'t.a | t.b | u.c' -> 't(a, b)\\nu(c)': the compact form people write schemas in."""
    tables: dict[str, list[str]] = {}
    for col in columns:
        col = col.strip()
        if col == "*" or col.endswith(".*") or "." not in col:
            continue
        table, name = col.split(".", 1)
        tables.setdefault(table, []).append(name)
    return "\n".join(f"{t}({', '.join(cols)})" for t, cols in tables.items())


def _tidy_sql(sql: str) -> str:
    sql = re.sub(r"\(\s+", "(", sql.strip())
    sql = re.sub(r"\s+\)", ")", sql)
    sql = re.sub(r"\b(count|sum|avg|min|max)\s+\(", r"\1(", sql)
    return re.sub(r"\s+", " ", sql)


def _split_input(text: str) -> tuple[list[str], str]:
    """Questions before the '*' column marker, then the schema."""
    parts = [p.strip() for p in text.split(" | ")]
    if "*" not in parts:
        return [], ""
    star = parts.index("*")
    return parts[:star], _schema(parts[star:])


def _spider(fetch):
    for task in fetch.bigbench("semantic_parsing_spider").values():
        for i, ex in enumerate(task.get("examples", [])):
            questions, schema = _split_input(ex["input"])
            sql = targets(ex)
            if len(questions) != 1 or not schema or not sql:
                continue
            q = clean(questions[0])
            ask = pick(_ASK, "spider", q).format(q=q)
            user = f"{ask}\n\nTables:\n{schema}\n\n{_PLACEHOLDER}"
            yield record(user, _tidy_sql(sql[0]), "bigbench/semantic_parsing_spider", f"spider:{q}")


def _sparc(fetch):
    for task in fetch.bigbench("semantic_parsing_in_context_sparc").values():
        for i, ex in enumerate(task.get("examples", [])):
            questions, schema = _split_input(ex["input"])
            sql = targets(ex)
            if not questions or not schema or not sql:
                continue
            current, history = clean(questions[0]), [clean(q) for q in questions[1:]]
            if history:
                earlier = "\n".join(f"{n}. {q}" for n, q in enumerate(history, 1))
                ask = f"Earlier questions:\n{earlier}\n\nNow: {current}\nWrite the SQL for this last question."
            else:
                ask = pick(_ASK, "sparc", current).format(q=current)
            user = f"{ask}\n\nTables:\n{schema}\n\n{_PLACEHOLDER}"
            # One dialogue = one source item: its first question on its database.
            first = history[0] if history else current
            yield record(user, _tidy_sql(sql[0]), "bigbench/semantic_parsing_in_context_sparc",
                         f"sparc:{stable_hash(schema):016x}:{first}")


def _penguins(fetch):
    for sub, task in fetch.bigbench("penguins_in_a_table").items():
        table = clean(task.get("task_prefix", ""))
        for i, ex in enumerate(task.get("examples", [])):
            answer = best_answer(ex)
            if answer is None or not table:
                continue
            user = f"{table}\n\n{clean(ex['input'])}"
            yield record(user, answer.strip(), "bigbench/penguins_in_a_table", f"penguins:{i}")
