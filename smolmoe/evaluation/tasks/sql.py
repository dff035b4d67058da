"""Analyst execution accuracy: run the reference and the predicted SQL on small databases
built from the prompt's schema and compare what they return. Rules in docs/eval.md."""
from __future__ import annotations

import random
import re
import sqlite3
from collections import Counter

DATABASES = 3          # a prediction must agree with the reference on every one
ROWS_PER_TABLE = 5
_MAX_STEPS = 200_000   # sqlite VM steps per query before it is abandoned (runaway joins)

_CREATE = re.compile(r"create\s+table\b.*?\)\s*;?", re.IGNORECASE | re.DOTALL)
_COMPACT = re.compile(r"^\s*([A-Za-z_][\w]*)\s*\(([^()]*)\)\s*$", re.MULTILINE)
_FENCE = re.compile(r"```(?:sql|sqlite)?\s*\n?(.*?)```", re.IGNORECASE | re.DOTALL)
_SQL_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE | re.MULTILINE)


class SchemaError(ValueError):
    """The prompt gives no schema this module can build."""


def schema_statements(prompt: str) -> list[str]:
    """CREATE TABLE statements from the prompt: as written, or made from `table(col, col)` lines."""
    creates = _CREATE.findall(prompt)
    if creates:
        return [c.rstrip(";") for c in creates]
    tables = []
    for name, cols in _COMPACT.findall(prompt):
        names = [c.strip().split()[0] for c in cols.split(",") if c.strip()]
        if names and all(re.fullmatch(r"\w+", c) for c in names):
            tables.append(f'CREATE TABLE "{name}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in names)})')
    if not tables:
        raise SchemaError("no CREATE TABLE statements or table(col, ...) lines in the prompt")
    return tables


def is_sql(text: str) -> bool:
    """Does this reference answer with a query (rather than a value)?"""
    return bool(_SQL_START.search(extract_sql(text)))


def extract_sql(reply: str) -> str:
    """The query in a reply: the first fenced block, else from the first SELECT/WITH on; cut at
    the first semicolon."""
    fenced = _FENCE.search(reply)
    text = fenced.group(1) if fenced else reply
    start = _SQL_START.search(text)
    if start:
        text = text[start.start():]
    return text.split(";")[0].strip()


def _column_kind(name: str, declared: str) -> str:
    declared, name = declared.upper(), name.lower()
    if "INT" in declared:
        return "int"
    if any(t in declared for t in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
        return "real"
    if "DATE" in declared or "TIME" in declared or re.search(r"date|time|day", name):
        return "date"
    if declared and any(t in declared for t in ("CHAR", "TEXT", "CLOB")):
        return "text"
    words = set(re.split(r"[_\W]+", name)) | {name}
    if words & _INT_WORDS or name.endswith("id"):
        return "int"
    if words & _REAL_WORDS:
        return "real"
    return "text"


_INT_WORDS = set("id count num number age year years population rank quantity total capacity "
                 "size height weight".split())
_REAL_WORDS = set("price amount rate percent percentage score salary cost budget ratio gnp "
                  "area surfacearea lifeexpectancy latitude longitude".split())


def _literals(sql: str) -> dict[str, list]:
    """The reference's literal values, so generated rows can satisfy its WHERE clauses."""
    strings = [a or b for a, b in re.findall(r"'((?:[^']|'')*)'|\"([^\"]*)\"", sql)]
    numbers = [float(n) if "." in n else int(n)
               for n in re.findall(r"(?<![\w.])(-?\d+(?:\.\d+)?)(?![\w.])", sql)]
    return {"text": strings, "date": strings, "int": [n for n in numbers if isinstance(n, int)],
            "real": numbers}


def _value(kind: str, name: str, rng: random.Random, literals: dict[str, list]):
    if name.lower() == "id" or name.lower().endswith("_id"):
        return rng.randint(1, 3)        # small keys, so joins on ids find partners
    if literals[kind] and rng.random() < 0.5:
        return rng.choice(literals[kind])
    if kind == "int":
        return rng.randint(0, 60)
    if kind == "real":
        return round(rng.uniform(0, 100), 2)
    if kind == "date":
        return f"20{rng.randint(10, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return f"{name[:8]}_{rng.randint(1, 4)}"


def build_database(statements: list[str], reference: str, seed: int) -> sqlite3.Connection:
    """An in-memory database with the schema and ROWS_PER_TABLE seeded rows per table."""
    db = sqlite3.connect(":memory:")
    for statement in statements:
        db.execute(statement)
    rng, literals = random.Random(seed), _literals(reference)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        columns = db.execute(f'PRAGMA table_info("{table}")').fetchall()  # cid, name, type, ...
        kinds = [_column_kind(c[1], c[2] or "") for c in columns]
        for row in range(ROWS_PER_TABLE):
            # A declared primary key gets 1, 2, ... so every row is kept.
            values = [row + 1 if c[5] and k == "int" else _value(k, c[1], rng, literals)
                      for k, c in zip(kinds, columns)]
            try:
                db.execute(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(values))})', values)
            except sqlite3.DatabaseError:
                pass                    # a constraint refused the row: the table gets fewer
    return db


def _run(db: sqlite3.Connection, sql: str) -> list[tuple]:
    steps = [0]

    def too_long():
        steps[0] += 1000
        return steps[0] > _MAX_STEPS
    db.set_progress_handler(too_long, 1000)
    rows = db.execute(sql).fetchall()
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows]


def execution_match(prompt: str, reference: str, reply: str) -> dict:
    """{"valid_reference": bool, "runs": bool, "correct": bool} for one analyst record."""
    try:
        statements = schema_statements(prompt)
    except SchemaError:
        return {"valid_reference": False, "runs": False, "correct": False}
    ref_sql, pred_sql = extract_sql(reference), extract_sql(reply)
    ordered = bool(re.search(r"\border\s+by\b", ref_sql, re.IGNORECASE))
    runs = correct = True
    for seed in range(DATABASES):
        try:
            db = build_database(statements, ref_sql, seed)
            expected = _run(db, ref_sql)
        except sqlite3.Error:
            return {"valid_reference": False, "runs": False, "correct": False}
        try:
            got = _run(db, pred_sql) if pred_sql else None
        except (sqlite3.Error, sqlite3.Warning, OverflowError):
            got = None
        if got is None:
            runs = correct = False
        elif correct:
            correct = got == expected if ordered else Counter(got) == Counter(expected)
        db.close()
    return {"valid_reference": True, "runs": runs, "correct": correct}
