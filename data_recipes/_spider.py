"""Turning bigbench's normalised Spider/SParC SQL back into SQL a database runs.

bigbench writes `select count ( singer.* ) where singer.country = value`: lower case, no
FROM, join conditions gone, literals replaced by `value`. Only single-table queries without
placeholders, subqueries or set operations can be restored reliably (add `FROM table`, drop
the `table.` prefixes, upper-case the keywords); everything else is rejected with a reason.
"""
from __future__ import annotations

import re

_CLAUSES = ("where", "group", "order", "having", "limit")
_UPPER = {"select", "from", "where", "group", "by", "order", "having", "limit", "and", "or",
          "not", "in", "like", "between", "desc", "asc", "distinct", "count", "sum", "avg",
          "min", "max", "as", "is", "null"}
_COLUMN = re.compile(r"\b(\w+)\.(\w+|\*)")


def parse_input(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """'q_now | q_earlier... | * | t.a | t.b | u.c' -> ([q_now, ...], {t: [a, b], u: [c]})."""
    parts = [p.strip() for p in text.split(" | ")]
    if "*" not in parts:
        return [], {}
    star = parts.index("*")
    tables: dict[str, list[str]] = {}
    for col in parts[star + 1:]:
        if "." in col and not col.endswith(".*"):
            table, name = col.split(".", 1)
            tables.setdefault(table, []).append(name)
    return parts[:star], tables


def create_tables(tables: dict[str, list[str]]) -> str:
    """The schema as CREATE TABLE statements (Spider gives no column types; sqlite needs none)."""
    return "\n".join(f"CREATE TABLE {t} ({', '.join(cols)});" for t, cols in tables.items())


def restore(sql: str, question: str, tables: dict[str, list[str]]) -> tuple[str | None, str]:
    """(runnable SQL, "") or (None, reason it cannot be restored reliably)."""
    sql = " ".join(sql.split())
    if re.search(r"\bvalue\b", sql):
        return None, "sql_placeholder"
    if re.search(r"\b(intersect|union|except|join)\b|\(\s*select", sql):
        return None, "spider_set_or_subquery"
    if "( * )" in sql.replace("(*)", "( * )"):
        return None, "spider_hidden_join"  # bigbench writes count(*) bare only where a join was
    used = {t for t, _ in _COLUMN.findall(sql)}
    if len(used) != 1:
        return None, "spider_multi_table"
    (table,) = used
    if table not in tables:
        return None, "spider_unknown_table"
    words = set(re.findall(r"[a-z]+", question.lower()))
    if any(_mentions(words, other) for other in tables if other != table):
        return None, "spider_other_table_mentioned"  # the lost join probably filtered rows
    body = _COLUMN.sub(lambda m: "*" if m.group(2) == "*" else m.group(2), sql)
    tokens = body.split(" ")
    for i, tok in enumerate(tokens):
        if tok in _CLAUSES:
            tokens.insert(i, f"FROM {table}")
            break
    else:
        tokens.append(f"FROM {table}")
    out = " ".join(t.upper() if t in _UPPER else t for t in tokens)
    out = re.sub(r"\(\s+", "(", out)
    out = re.sub(r"\s+\)", ")", out)
    out = re.sub(r"\b(COUNT|SUM|AVG|MIN|MAX)\s+\(", r"\1(", out)
    return re.sub(r"\s+,", ",", out), ""


def _mentions(words: set[str], table: str) -> bool:
    names = {table.lower(), table.lower().rstrip("s")}
    names |= {n + "s" for n in set(names)} | {n + "es" for n in set(names)}
    return "_" not in table and len(table) > 3 and bool(words & names)
