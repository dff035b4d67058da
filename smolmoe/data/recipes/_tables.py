"""Question templates over real tables for the analyst recipe (films, elements, penguins).

A `Table` describes the columns of a table read from a package (which column names a row,
which are categories, which are numbers, and how a question names each). `questions()` gives,
for rows of that table, questions with the SQL that answers them and a sentence template for
the result; literal values in the questions come from the rows, so every query finds them.
The recipe runs each query (on the schema, and on the rows) to check it and to compute the
value a table question is answered with.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._common import stable_hash


@dataclass(frozen=True)
class Column:
    name: str
    kind: str           # "label" (names a row), "text" (a category), "int" or "real"
    noun: str = ""      # how a question names it ("body mass", "island")
    where: str = ""     # how a question selects a value: "live on {v}" (default "have {noun} {v}")
    least: str = "lowest"    # superlatives for numbers ("earliest" for a year)
    most: str = "highest"
    additive: bool = False   # does a total make sense (body mass: yes; density, a year: no)
    year: bool = False       # a year: written without a thousands separator

    def sql_type(self) -> str:
        return {"int": "INTEGER", "real": "REAL"}.get(self.kind, "TEXT")

    def condition(self, value) -> str:
        return (self.where or f"have {self.noun} {{v}}").format(v=value)


@dataclass(frozen=True)
class Table:
    name: str
    singular: str
    plural: str
    columns: tuple[Column, ...]

    def create(self) -> str:
        cols = ", ".join(f"{c.name} {c.sql_type()}" for c in self.columns)
        return f"CREATE TABLE {self.name} ({cols});"

    def of(self, *kinds: str) -> list[Column]:
        return [c for c in self.columns if c.kind in kinds]

    @property
    def label(self) -> Column | None:
        labels = self.of("label")
        return labels[0] if labels else None


def literal(v) -> str:
    return "'" + v.replace("'", "''") + "'" if isinstance(v, str) else repr(v)


def inserts(table: Table, data: list[tuple]) -> str:
    values = ",\n  ".join("(" + ", ".join(literal(v) for v in r) + ")" for r in data)
    return f"INSERT INTO {table.name} VALUES\n  {values};"


def csv(table: Table, data: list[tuple]) -> str:
    header = ",".join(c.name for c in table.columns)
    return "\n".join([header] + [",".join(_cell(v) for v in r) for r in data])


def _cell(v) -> str:
    text = str(v)
    return f'"{text}"' if "," in text else text


def questions(table: Table, data: list[tuple], *key) -> list[tuple[str, str, str | None]]:
    """(question, SQL, answer template or None) over `table`; literals come from `data`.

    The template turns the query's result `{r}` into a sentence; None marks questions whose
    result is itself a table (asked for as SQL only). Tables without a label column get no
    questions that name single rows.
    """
    cats, nums = table.of("text"), table.of("int", "real")
    lab = table.label
    P, S, T = table.plural, table.singular, table.name
    h = stable_hash(*key)
    cat = cats[h % len(cats)]
    num = nums[(h >> 4) % len(nums)]
    row = data[(h >> 8) % len(data)]
    v = row[table.columns.index(cat)]
    x = row[table.columns.index(num)]
    k = 2 + (h >> 12) % 2
    out = [
        (f"How many {P} are there?", f"SELECT COUNT(*) FROM {T};", f"There are {{r}} {P}."),
        (f"How many {P} {cat.condition(v)}?",
         f"SELECT COUNT(*) FROM {T} WHERE {cat.name} = {literal(v)};",
         f"The number of {P} that {cat.condition(v)} is {{r}}."),
        (f"What is the average {num.noun} of {P} by {cat.noun}?",
         f"SELECT {cat.name}, AVG({num.name}) FROM {T} GROUP BY {cat.name};", None),
        (f"What is the total {num.noun} of the {P} that {cat.condition(v)}?",
         f"SELECT SUM({num.name}) FROM {T} WHERE {cat.name} = {literal(v)};",
         f"The total {num.noun} of the {P} that {cat.condition(v)} is {{r}}.")
        if num.additive else
        (f"What is the {num.least} {num.noun} among the {P} that {cat.condition(v)}?",
         f"SELECT MIN({num.name}) FROM {T} WHERE {cat.name} = {literal(v)};",
         f"The {num.least} {num.noun} among the {P} that {cat.condition(v)} is {{r}}."),
        (f"Which {cat.noun} values have at least {k} {P}?",
         f"SELECT {cat.name} FROM {T} GROUP BY {cat.name} HAVING COUNT(*) >= {k};",
         f"These {cat.noun} values have at least {k} {P}: {{r}}."),
        (f"What is the {num.most} {num.noun} among the {P} that {cat.condition(v)}?",
         f"SELECT MAX({num.name}) FROM {T} WHERE {cat.name} = {literal(v)};",
         f"The {num.most} {num.noun} among the {P} that {cat.condition(v)} is {{r}}."),
        (f"What is the average {num.noun} of all {P}?", f"SELECT AVG({num.name}) FROM {T};",
         f"The average {num.noun} of the {P} is {{r}}."),
        (f"How many {P} have {_a(num.noun)} above {x}?",
         f"SELECT COUNT(*) FROM {T} WHERE {num.name} > {x};",
         f"The number of {P} with {_a(num.noun)} above {x} is {{r}}."),
    ]
    if lab is not None:
        what = lab.noun or lab.name
        out += [
            (f"List the {what} of every {S} whose {num.noun} is above {x}.",
             f"SELECT {lab.name} FROM {T} WHERE {num.name} > {x};",
             f"These {P} have {_a(num.noun)} above {x}: {{r}}."),
            (f"Which {k} {P} have the {num.most} {num.noun}?",
             f"SELECT {lab.name} FROM {T} ORDER BY {num.name} DESC LIMIT {k};",
             f"The {k} {P} with the {num.most} {num.noun} are {{r}}."),
            (f"Which {S} has the {num.least} {num.noun}?",
             f"SELECT {lab.name} FROM {T} ORDER BY {num.name} ASC LIMIT 1;",
             f"{{r}} has the {num.least} {num.noun}."),
        ]
    return out


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def ranking_tie(table: Table, data: list[tuple], query: str) -> bool:
    """Would a `ORDER BY ... LIMIT k` question have a different answer on a tie?

    The answer names the top k rows; when the k-th and the next value are equal, the
    question has no single answer and the example is dropped.
    """
    import re
    m = re.search(r"ORDER BY (\w+) (ASC|DESC) LIMIT (\d+)", query)
    if not m:
        return False
    col = [c.name for c in table.columns].index(m.group(1))
    values = sorted((r[col] for r in data if r[col] is not None), reverse=m.group(2) == "DESC")
    k = int(m.group(3))
    return len(values) > k and values[k - 1] == values[k]
