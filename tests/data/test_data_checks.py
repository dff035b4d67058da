"""The recipes' well-formedness checks, each on tiny hand-made inputs."""
from __future__ import annotations

import pytest

from smolmoe.data.recipes._checks import (arithmetic_problem, evaluate_arithmetic, python_problem,
                                  refusal_problem, run_sql, sql_problem)

SCHEMA = ("CREATE TABLE singer (singer_id INTEGER, name TEXT, country TEXT, age INTEGER);"
          "INSERT INTO singer VALUES (1, 'Joe', 'France', 52), (2, 'Ann', 'Spain', 31);")


def test_runnable_sql_passes_and_returns_rows():
    query = "SELECT name FROM singer WHERE country = 'France' ORDER BY age DESC"
    assert sql_problem(SCHEMA, query) is None
    assert run_sql(SCHEMA, query) == [("Joe",)]
    assert sql_problem(SCHEMA, "SELECT COUNT(*) FROM singer WHERE name = 'to be or not'") is None


@pytest.mark.parametrize("query, reason", [
    ("select count(singer.*) where singer.country = value", "sql_placeholder"),
    ("SELECT COUNT(*) FROM singer WHERE country = value", "sql_placeholder"),
    ("select name from singer", "sql_lowercase_keyword"),
    ("SELECT singer.name ORDER BY singer.age DESC", "sql_no_from"),
    ("SELECT name FROM singers", "sql_does_not_run"),          # no such table
    ("SELECT nationality FROM singer", "sql_does_not_run"),    # no such column
    ("SELECT name FROM singer WHERE", "sql_does_not_run"),
])
def test_sql_that_would_not_run_or_is_not_conventional_is_caught(query, reason):
    assert sql_problem(SCHEMA, query) == reason


def test_a_broken_schema_is_its_own_reason():
    assert sql_problem("CREATE TABLE (", "SELECT 1 FROM x") == "sql_bad_schema"


def test_python_answers_must_parse():
    assert python_problem("```python\ndef f(x):\n    return x + 1\n```") is None
    assert python_problem("Here:\n```python\nx = 1\n```\nand\n```python\ny = 2\n```") is None
    assert python_problem("```python\ndef f(x)\n    return x\n```") == "python_does_not_parse"
    assert python_problem("print('a'") == "python_does_not_parse"
    assert python_problem("```python\nx = 1\n") == "python_unclosed_fence"


def test_arithmetic_is_recomputed():
    assert evaluate_arithmetic("12 × 3 - 4 ÷ 2") == 34
    assert arithmetic_problem("348 + 977", "1325") is None
    assert arithmetic_problem("5 / 2", "2.5") is None
    assert arithmetic_problem("1,000 * 3", "3,000") is None
    assert arithmetic_problem("348 + 977", "1335") == "arithmetic_wrong"
    assert arithmetic_problem("348 + x", "1") == "arithmetic_unreadable"
    assert arithmetic_problem("__import__('os')", "0") == "arithmetic_unreadable"
    assert arithmetic_problem("1 / 0", "0") == "arithmetic_unreadable"


def test_refusals_must_refuse_and_helpful_answers_must_not():
    refusal = "I'm sorry, but I can't help with that request."
    helpful = "Steep the tea for two minutes in water at about 80 °C."
    assert refusal_problem(helpful) is None and refusal_problem(refusal, harmful=True) is None
    assert refusal_problem(refusal) == "helpful_refused"
    assert refusal_problem(helpful, harmful=True) == "harmful_not_refused"
