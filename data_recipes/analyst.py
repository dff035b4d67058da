"""Analyst: questions over databases and tables, answered with runnable SQL or a looked-up value.

Every SQL answer is run in sqlite3 against the schema the prompt shows (_checks.sql_problem);
bigbench's normalised Spider/SParC SQL is restored to runnable SQL where that is reliable
(_spider.py) and dropped, with its reason counted, where it is not.
"""
from __future__ import annotations

from ._checks import run_sql, sql_problem
from ._common import best_answer, clean, dropped, pick, record, stable_hash, targets
from ._spider import create_tables, parse_input, restore
from ._tables import TABLES, csv, inserts, questions, rows
from .sources import Source, bigbench_source

DOMAIN = "analyst"
DESCRIPTION = ("Data analysis: writing runnable SQL for questions over a database schema, "
               "answering questions about a small table, follow-up questions in context.")
SOURCES = [
    bigbench_source("semantic_parsing_spider", "Spider text-to-SQL, restored to runnable SQL "
                    "(single-table queries only; placeholders, joins and subqueries dropped)."),
    Source("generated/sql", "made by this recipe (data_recipes/_tables.py)", "-", "CC0-1.0",
           "Questions over small made-up schemas (CREATE TABLE in the prompt) with SQL "
           "answers that run on them."),
    Source("generated/table_qa", "made by this recipe (data_recipes/_tables.py)", "-", "CC0-1.0",
           "A small CSV table and a question, answered in a sentence with the value the "
           "question's SQL computes on that table."),
    bigbench_source("penguins_in_a_table", "Questions about a small CSV table of penguins."),
    bigbench_source("semantic_parsing_in_context_sparc", "SParC: follow-up questions in a "
                    "dialogue -> runnable SQL for the latest one (held out: foreign split)."),
]
FOREIGN = "bigbench/semantic_parsing_in_context_sparc"
HELPFUL_ONLY = True
NOTE = ""

# Made-up tables per schema (~10 questions each): sized so that the 137 usable Spider and
# 115 penguin items each stay over 10% of the train split.
SQL_VARIANTS, TABLE_QA_VARIANTS = 16, 10
_ASK = ["Write a SQL query to answer: {q}", "{q} Give me the SQL.",
        "How would I query this in SQL? {q}", "I need a SQL query for this question: {q}"]
_TABLE_ASK = ["Here is my table:\n\n{t}\n\n{q}", "{t}\n\n{q}", "Using this data:\n\n{t}\n\n{q}",
              "Look at this CSV:\n\n{t}\n\nQuestion: {q}"]


def examples(fetch):
    spider_questions: set[str] = set()
    yield from _spider(fetch, spider_questions)
    yield from _generated_sql()
    yield from _table_qa()
    yield from _penguins(fetch)
    yield from _sparc(fetch, spider_questions)


def sql_answer(query: str) -> str:
    return f"```sql\n{query}\n```"


def _spider_style(fetch, task: str, source: str, ask_for, seen: set[str], train: bool):
    """Restore each item's first target; yield it when it runs on the prompt's schema.

    SParC reuses Spider's databases and some of its questions: `seen` collects the Spider
    questions (train=True) so the held-out SParC items drop those (train=False).
    """
    for sub in fetch.bigbench(task).values():
        for ex in sub.get("examples", []):
            questions_, tables = parse_input(ex["input"])
            sql = targets(ex)
            if not questions_ or not tables or not sql:
                continue
            questions_ = [clean(q) for q in questions_]
            if train:
                seen.add(questions_[0].lower())
            elif questions_[0].lower() in seen:
                yield dropped("foreign_question_in_train", source)
                continue
            query, why = restore(sql[0], questions_[0], tables)
            schema = create_tables(tables)
            why = why or sql_problem(schema, query)
            if why:
                yield dropped(why, source)
                continue
            ask, group = ask_for(questions_, schema)
            yield record(f"{ask}\n\n```sql\n{schema}\n```", sql_answer(query + ";"), source, group)


def _spider(fetch, seen):
    def ask(qs, schema):
        return pick(_ASK, "spider", qs[0]).format(q=qs[0]), f"spider:{qs[0]}"
    yield from _spider_style(fetch, "semantic_parsing_spider", "bigbench/semantic_parsing_spider",
                             ask, seen, train=True)


def _sparc(fetch, seen):
    def ask(qs, schema):
        current, history = qs[0], qs[1:]
        if history:
            earlier = "\n".join(f"{n}. {q}" for n, q in enumerate(history, 1))
            text = f"Earlier questions:\n{earlier}\n\nNow: {current}\nWrite the SQL for this last question."
        else:
            text = pick(_ASK, "sparc", current).format(q=current)
        first = history[0] if history else current  # one dialogue = one source item
        return text, f"sparc:{stable_hash(schema):016x}:{first}"
    yield from _spider_style(fetch, "semantic_parsing_in_context_sparc",
                             "bigbench/semantic_parsing_in_context_sparc", ask, seen, train=False)


def _generated_sql():
    source = "generated/sql"
    for table in TABLES:
        schema = table.create()
        for variant in range(SQL_VARIANTS):
            data = rows(table, 8, "sql", variant)
            for n, (q, query, _) in enumerate(questions(table, data, "sql", variant)):
                why = sql_problem(schema, query)
                if why:
                    yield dropped(why, source)
                    continue
                lead = pick(["Here is my table:", "I have this table:", "Schema:"], table.name, variant, n)
                user = f"{lead}\n\n```sql\n{schema}\n```\n\n" + pick(_ASK, "gen", q).format(q=q)
                yield record(user, sql_answer(query), source, f"sql:{table.name}:{q}")


def _table_qa():
    source = "generated/table_qa"
    for table in TABLES:
        for variant in range(TABLE_QA_VARIANTS):
            data = rows(table, 6 + variant % 3, "qa", variant)
            db = f"{table.create()}\n{inserts(table, data)}"
            for n, (q, query, template) in enumerate(questions(table, data, "qa", variant)):
                if template is None:
                    continue
                try:
                    result = run_sql(db, query)
                except Exception:  # noqa: BLE001  (a template bug: count it, never crash)
                    yield dropped("sql_does_not_run", source)
                    continue
                value = _render([r[0] for r in result])
                if value is None:
                    yield dropped("table_qa_empty_result", source)
                    continue
                user = pick(_TABLE_ASK, table.name, variant, n).format(t=csv(table, data), q=q)
                answer = template.format(r=value)
                yield record(user, answer[:1].upper() + answer[1:], source,
                             f"table_qa:{table.name}:{variant}")


def _render(values: list) -> str | None:
    """A query result as prose: '3', '51,250.5', 'Ana Ito, Ben Brown and Jo Lopez'."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    text = [f"{v:,}" if isinstance(v, int) else f"{v:,.2f}".rstrip("0").rstrip(".")
            if isinstance(v, float) else str(v) for v in values]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " and " + text[-1]


def _penguins(fetch):
    for sub, task in fetch.bigbench("penguins_in_a_table").items():
        table = clean(task.get("task_prefix", ""))
        for i, ex in enumerate(task.get("examples", [])):
            answer = best_answer(ex)
            if answer is None or not table:
                continue
            user = f"{table}\n\n{clean(ex['input'])}"
            yield record(user, answer.strip(), "bigbench/penguins_in_a_table", f"penguins:{i}")
