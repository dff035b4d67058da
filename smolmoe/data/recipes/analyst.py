"""Analyst: questions over databases and tables, answered with runnable SQL or a looked-up value.

Every SQL answer is run in sqlite3 against the schema the prompt shows (_checks.sql_problem).
Spider and CoSQL gold SQL (from OpenAI evals) is tidied (upper-case keywords, single-quoted
values) and dropped, with its reason counted, where it does not run. Questions over real
tables (Wikidata films from bokeh-sampledata, mendeleev's elements, Palmer penguins) are made
from templates whose literal values come from the tables; their SQL is also run on the real
rows, and table questions are answered with the value the query computes.
"""
from __future__ import annotations

import csv as _csv
import io
import json
import re
import sqlite3

from ._checks import run_sql, sql_problem
from ._common import clean, dialog, dropped, pick, record, sqlite_in, stable_hash
from ._tables import Column, Table, csv, inserts, questions, ranking_tie
from .sources import Source

DOMAIN = "analyst"
DESCRIPTION = ("Data analysis: writing runnable SQL for questions over a database schema, "
               "answering questions about a small table, follow-up questions in context.")

EVALS_SQL = "evals/registry/data/sql/"
MOVIES_DB = "bokeh_sampledata/_data/movies.db"
ELEMENTS_DB = "mendeleev/elements.db"
PENGUINS_CSV = "palmerpenguins/data/penguins.csv"

SOURCES = [
    Source("evals/spider_sql", "evals", EVALS_SQL + "spider_sql.jsonl", "CC-BY-SA-4.0 (Spider)",
           "Spider text-to-SQL questions over multi-table schemas (CREATE TABLE in the prompt), "
           "gold SQL tidied to upper-case keywords and checked to run.",
           read=lambda fetch: _spider(fetch), benchmark=True),
    Source("bokeh/films_sql", "bokeh-sampledata", MOVIES_DB, "CC0-1.0 (Wikidata films)",
           "SQL for template questions over the real omdb films table; literal values are "
           "taken from the table and every query is run on it.",
           read=lambda fetch: _films_sql(fetch)),
    Source("penguins/table_qa", "palmerpenguins", PENGUINS_CSV, "CC0-1.0 (data), MIT (package)",
           "A few rows of the Palmer penguins table as CSV and a question, answered in a "
           "sentence with the value the question's SQL computes on those rows.",
           read=lambda fetch: _penguins_qa(fetch)),
    Source("mendeleev/elements_qa", "mendeleev", ELEMENTS_DB, "MIT",
           "A few chemical elements (from mendeleev's elements table) as CSV and a question, "
           "answered in a sentence with the value the question's SQL computes on those rows.",
           read=lambda fetch: _elements_qa(fetch)),
    Source("evals/co_sql", "evals", EVALS_SQL + "co_sql.jsonl", "CC-BY-SA-4.0 (CoSQL)",
           "CoSQL conversations: follow-up questions (and clarifications) in context, each "
           "answered with SQL that runs (held out: foreign split).",
           read=lambda fetch: _co_sql(fetch), benchmark=True),
]
FOREIGN = "evals/co_sql"
HELPFUL_ONLY = True
NOTE = ""

_ASK = ["Write a SQL query to answer: {q}", "{q} Give me the SQL.",
        "How would I query this in SQL? {q}", "I need a SQL query for this question: {q}"]
_LEAD = ["Here is my schema:", "I have these tables:", "Schema:", "My database looks like this:"]
_TABLE_ASK = ["Here is my table:\n\n{t}\n\n{q}", "{t}\n\n{q}", "Using this data:\n\n{t}\n\n{q}",
              "Look at this CSV:\n\n{t}\n\nQuestion: {q}"]
# Variants per real table: each draws other rows and other columns into the templates.
FILMS_VARIANTS, PENGUIN_VARIANTS, ELEMENT_VARIANTS = 40, 40, 36


def sql_answer(query: str) -> str:
    return f"```sql\n{query}\n```"


# -- Spider / CoSQL (OpenAI evals) ---------------------------------------------------------
_SQL_KEYWORDS = re.compile(r"\b(select|from|where|group by|order by|having|limit|join|on|and|or|"
                           r"as|desc|asc|count|sum|avg|min|max|distinct|not|in|like|between|"
                           r"union|intersect|except|by|group|order|is|null|inner|left|outer)\b",
                           re.I)
_LITERAL = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SPIDER_TYPES = {"number": "NUMERIC", "text": "TEXT", "time": "TEXT", "others": "TEXT",
                 "millions": "NUMERIC", "boolean": "BOOLEAN"}


def _ident(name: str) -> str:
    return name if _IDENT.match(name) else '"' + name.replace('"', '""') + '"'


def create_tables(tables: list[tuple[str, list[tuple[str, str]]]]) -> str:
    """CREATE TABLE statements for [(table, [(column, sql type or "")])]."""
    out = []
    for name, cols in tables:
        if name.lower().startswith("sqlite_"):  # sqlite's own bookkeeping, made for it
            continue
        body = ", ".join(f"{_ident(c)} {t}".rstrip() for c, t in cols)
        out.append(f"CREATE TABLE {_ident(name)} ({body});")
    return "\n".join(out)


def tidy_sql(query: str, columns: set[str]) -> str:
    """Spider's gold SQL as people write it: one space between tokens, upper-case keywords,
    COUNT(*) without inner spaces, string values in single quotes, one closing semicolon.

    A double-quoted word that names a column stays an identifier; any other double-quoted
    text is a value (Spider writes values either way).
    """
    parts, last = [], 0
    for m in _LITERAL.finditer(query):
        parts.append(("code", query[last:m.start()]))
        text = m.group(0)
        if text.startswith('"'):
            inner = text[1:-1]
            text = text if inner.lower() in columns else "'" + inner.replace("'", "''") + "'"
        parts.append(("lit", text))
        last = m.end()
    parts.append(("code", query[last:]))
    out = []
    for kind, text in parts:
        if kind == "code":
            text = re.sub(r"\s+", " ", text)
            text = _SQL_KEYWORDS.sub(lambda k: re.sub(r"\s+", " ", k.group(0).upper()), text)
            text = re.sub(r"\b(COUNT|SUM|AVG|MIN|MAX)\s*\(\s*", r"\1(", text)
            text = re.sub(r"\(\s+", "(", text)
            text = re.sub(r"\s+\)", ")", text)
            text = re.sub(r"\s*,\s*", ", ", text)
        out.append(text)
    sql = "".join(out).strip().rstrip(";").strip()
    return sql + ";"


def _evals_lines(fetch, name: str):
    for line in fetch.read("evals", EVALS_SQL + name).splitlines():
        if line.strip():
            yield json.loads(line)


_SPIDER_TABLE = re.compile(r"^Table: (\S+)\. Columns: (.*)$", re.M)
_SPIDER_COLUMN = re.compile(r"\s*(.+?) \((\w+)\)\s*$")


def parse_spider(content: str) -> tuple[list, str] | None:
    """([(table, [(column, type)])], question) of one evals spider_sql prompt."""
    if "Question:" not in content:
        return None
    tables = []
    for m in _SPIDER_TABLE.finditer(content):
        cols = []
        for part in m.group(2).split(", "):
            c = _SPIDER_COLUMN.fullmatch(part)
            if not c:
                return None
            cols.append((c.group(1), _SPIDER_TYPES.get(c.group(2), "TEXT")))
        tables.append((m.group(1), cols))
    question = clean(content.split("Question:", 1)[1])
    return (tables, question) if tables and question else None


def _columns(tables) -> set[str]:
    return {c.lower() for _, cols in tables for c, _ in cols} | {t.lower() for t, _ in tables}


def _spider(fetch):
    source = "evals/spider_sql"
    for ex in _evals_lines(fetch, "spider_sql.jsonl"):
        parsed = parse_spider(ex["input"][0]["content"])
        gold = ex.get("ideal")
        if parsed is None or not isinstance(gold, str):
            yield dropped("spider_unparsed", source)
            continue
        tables, question = parsed
        schema = create_tables(tables)
        query = tidy_sql(gold, _columns(tables))
        why = sql_problem(schema, query)
        if why:
            yield dropped(why, source)
            continue
        # Spider asks each query twice in other words: one group per (schema, query).
        group = f"spider:{stable_hash(schema):016x}:{query}"
        user = (pick(_ASK, "spider", question).format(q=question) + "\n\n"
                + f"```sql\n{schema}\n```")
        yield record(user, sql_answer(query), source, group)


_COSQL_TABLE = re.compile(r"^Table (\S+), columns = \[\*,(.*)\]$", re.M)


def _co_sql(fetch):
    """One CoSQL conversation: schema and first question, then follow-ups; a question with
    clarifications ("how many cars in usa | do you mean car makers? | yes") becomes turns."""
    source = "evals/co_sql"
    for ex in _evals_lines(fetch, "co_sql.jsonl"):
        msgs = ex.get("input") or []
        ideal = ex.get("ideal")
        ideal = ideal[0] if isinstance(ideal, list) and ideal else ideal
        tables = [(m.group(1), [(c, "") for c in m.group(2).split(",")])
                  for m in _COSQL_TABLE.finditer(msgs[0]["content"] if msgs else "")]
        if not tables or not isinstance(ideal, str):
            yield dropped("cosql_unparsed", source)
            continue
        schema, columns = create_tables(tables), _columns(tables)
        pairs, question = [], None
        for m in msgs[1:] + [{"content": ideal}]:
            text = clean(m["content"])
            if text.startswith("Q:"):
                question = text[2:].strip()
            elif text.startswith("A:") and question:
                pairs.append((question, tidy_sql(text[2:].strip(), columns)))
                question = None
        if not pairs or question is not None:
            yield dropped("cosql_unparsed", source)
            continue
        why = next((w for w in (sql_problem(schema, q) for _, q in pairs) if w), None)
        if why:
            yield dropped(why, source)
            continue
        turns = []
        for n, (q, sql) in enumerate(pairs):
            asked = [p.strip() for p in q.split("|")]
            if len(asked) % 2 == 0 or not all(asked):
                asked = [" ".join(asked)]
            if n == 0:
                asked[0] = f"{pick(_LEAD, 'cosql', schema)}\n\n```sql\n{schema}\n```\n\n{asked[0]}"
            turns += asked[:1]
            for clar, answer in zip(asked[1::2], asked[2::2]):
                turns += [clar, answer]
            turns.append(sql_answer(sql))
        yield dialog(turns, source, f"cosql:{stable_hash(schema):016x}:{pairs[0][0]}")


# -- real tables ---------------------------------------------------------------------------
FILMS = Table("omdb", "film", "films", (
    Column("Title", "label", "title"),
    Column("Director", "text", "director", "were directed by {v}"),
    Column("Language", "text", "language", "are in {v}"),
    Column("Country", "text", "country", "were made in {v}"),
    Column("Year", "int", "release year", least="earliest", most="latest", year=True),
    Column("Runtime", "real", "runtime", additive=True),
    Column("Metacritic", "int", "Metacritic score"),
    Column("Oscars", "int", "number of Oscars", additive=True),
))


def _films_sql(fetch):
    """SQL over the films table's real columns: literals come from real rows, and each query
    must return rows on the real table (17,472 films) as well as run on the schema shown."""
    source = "bokeh/films_sql"
    with sqlite_in(fetch, "bokeh-sampledata", MOVIES_DB) as con:
        names = ", ".join(c.name for c in FILMS.columns)
        rows = con.execute(
            f"SELECT {names} FROM omdb WHERE Director NOT LIKE '%,%' AND Director != '' "
            "AND Language NOT LIKE '%,%' AND Language != '' AND Country NOT LIKE '%,%' "
            "AND Country != '' AND Metacritic IS NOT NULL AND Runtime IS NOT NULL "
            "ORDER BY ID").fetchall()
        if not rows:
            yield dropped("films_no_rows", source)
            return
        schema = FILMS.create()
        for variant in range(FILMS_VARIANTS):
            picked = sorted(rows, key=lambda r: stable_hash("films", variant, r[0]))[:3]
            for n, (q, query, _) in enumerate(questions(FILMS, picked, "films", variant)):
                why = sql_problem(schema, query)
                if why is None:
                    try:
                        if not con.execute(query).fetchall():
                            why = "sql_empty_result"
                    except sqlite3.Error:
                        why = "sql_does_not_run"
                if why:
                    yield dropped(why, source)
                    continue
                user = (f"{pick(_LEAD, 'films', variant, n)}\n\n```sql\n{schema}\n```\n\n"
                        + pick(_ASK, "films", q).format(q=q))
                yield record(user, sql_answer(query), source, f"films:{q}")


PENGUINS = Table("penguins", "penguin", "penguins", (
    Column("species", "text", "species", "are {v} penguins"),
    Column("island", "text", "island", "live on {v}"),
    Column("sex", "text", "sex", "are {v}"),
    Column("bill_length_mm", "real", "bill length (mm)"),
    Column("flipper_length_mm", "int", "flipper length (mm)"),
    Column("body_mass_g", "int", "body mass (g)", additive=True),
))


def _penguins_rows(fetch) -> list[tuple]:
    reader = _csv.DictReader(io.StringIO(fetch.read("palmerpenguins", PENGUINS_CSV)))
    out = []
    for row in reader:
        values = [row.get(c.name, "NA") for c in PENGUINS.columns]
        if any(v in ("NA", "", None) for v in values):
            continue
        out.append(tuple(float(v) if c.kind == "real" else int(float(v)) if c.kind == "int" else v
                         for c, v in zip(PENGUINS.columns, values)))
    return out


ELEMENTS = Table("elements", "element", "elements", (
    Column("name", "label", "name"),
    Column("block", "text", "block", "are in the {v} block"),
    Column("series", "text", "series", "are {v}"),
    Column("period", "text", "period", "are in period {v}"),
    Column("atomic_weight", "real", "atomic weight"),
    Column("density", "real", "density (g/cm3)"),
    Column("discovery_year", "int", "discovery year", least="earliest", most="latest", year=True),
))


def _elements_rows(fetch) -> list[tuple]:
    with sqlite_in(fetch, "mendeleev", ELEMENTS_DB) as con:
        rows = con.execute(
            "SELECT e.name, e.block, lower(s.name), e.period, round(e.atomic_weight, 3), "
            "round(e.density, 5), e.discovery_year FROM elements e JOIN series s "
            "ON e.series_id = s.id WHERE e.density IS NOT NULL AND e.atomic_weight IS NOT NULL "
            "AND e.discovery_year IS NOT NULL ORDER BY e.atomic_number").fetchall()
    return [tuple(r) for r in rows]


def _table_qa(table: Table, rows: list[tuple], source: str, variants: int, key: str):
    """A few rows as CSV and each template question answered with its query's value."""
    if len(rows) < 8:
        yield dropped("table_too_small", source)
        return
    for variant in range(variants):
        n_rows = 6 + variant % 3
        data = sorted(rows, key=lambda r: stable_hash(key, variant, r))[:n_rows]
        db = f"{table.create()}\n{inserts(table, data)}"
        for n, (q, query, template) in enumerate(questions(table, data, key, variant)):
            if template is None:
                continue
            if ranking_tie(table, data, query):
                yield dropped("table_qa_tie", source)
                continue
            try:
                result = run_sql(db, query)
            except sqlite3.Error:
                yield dropped("sql_does_not_run", source)
                continue
            years = any(c.year and c.name in query for c in table.columns)
            value = render([r[0] for r in result], grouping=not years)
            if value is None:
                yield dropped("table_qa_empty_result", source)
                continue
            user = pick(_TABLE_ASK, key, variant, n).format(t=csv(table, data), q=q)
            answer = template.format(r=value)
            yield record(user, answer[:1].upper() + answer[1:], source, f"{key}:{variant}")


def render(values: list, grouping: bool = True) -> str | None:
    """A query result as prose: '3', '51,250.5', 'Argon, Neon and Xenon' (years: '1885.75')."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    text = [(f"{v:,}" if grouping else str(v)) if isinstance(v, int)
            else _number(v, grouping) if isinstance(v, float) else str(v) for v in values]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " and " + text[-1]


def _number(v: float, grouping: bool = True) -> str:
    """2 decimals, or 2 significant digits below 1 (a gas's density, 0.00018)."""
    if v != 0 and abs(v) < 1:
        return f"{v:.2g}" if abs(v) >= 1e-4 else f"{v:.2e}"
    return (f"{v:,.2f}" if grouping else f"{v:.2f}").rstrip("0").rstrip(".")


def _penguins_qa(fetch):
    yield from _table_qa(PENGUINS, _penguins_rows(fetch), "penguins/table_qa",
                         PENGUIN_VARIANTS, "penguins")


def _elements_qa(fetch):
    yield from _table_qa(ELEMENTS, _elements_rows(fetch), "mendeleev/elements_qa",
                         ELEMENT_VARIANTS, "elements")
