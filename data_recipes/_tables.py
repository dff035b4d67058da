"""Small made-up tables for the analyst recipe: typed schemas, seeded rows, question templates.

Every question comes with the SQL that answers it; the recipe runs that SQL on the rows to
check it and to compute the value a table question is answered with. Nothing here is read
from a source: names and numbers are drawn from short lists by a stable hash.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._common import stable_hash

_FIRST = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kemal",
          "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Victor"]
_LAST = ["Alvarez", "Brown", "Chowdhury", "Dubois", "Evans", "Fischer", "Garcia", "Hughes",
         "Ito", "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str          # "text" (a category), "name" (a person), "code", "int" or "real"
    values: tuple = ()  # categories for "text"; (low, high) for numbers
    noun: str = ""      # how a question names it ("salary", "department")


@dataclass(frozen=True)
class Table:
    name: str
    singular: str
    plural: str
    columns: tuple[Column, ...]

    def create(self) -> str:
        types = {"text": "TEXT", "name": "TEXT", "code": "TEXT", "int": "INTEGER", "real": "REAL"}
        cols = ", ".join(f"{c.name} {types[c.kind]}" for c in self.columns)
        return f"CREATE TABLE {self.name} (id INTEGER PRIMARY KEY, {cols});"

    def of(self, kind: str) -> list[Column]:
        return [c for c in self.columns if c.kind == kind]


TABLES = [
    Table("employees", "employee", "employees", (
        Column("name", "name"), Column("department", "text", ("Sales", "Engineering", "Support", "Finance", "Marketing"), "department"),
        Column("city", "text", ("Lisbon", "Toronto", "Osaka", "Nairobi", "Denver"), "city"),
        Column("salary", "int", (32000, 98000), "salary"), Column("hire_year", "int", (2008, 2024), "hire year"))),
    Table("products", "product", "products", (
        Column("name", "text", ("Desk Lamp", "Kettle", "Backpack", "Notebook", "Headphones", "Water Bottle",
                                "Umbrella", "Blender", "Chair", "Mug", "Keyboard", "Toaster"), "name"),
        Column("category", "text", ("Kitchen", "Office", "Outdoor", "Electronics"), "category"),
        Column("price", "real", (3, 250), "price"), Column("stock", "int", (0, 400), "stock"))),
    Table("students", "student", "students", (
        Column("name", "name"), Column("grade", "int", (9, 12), "grade"),
        Column("club", "text", ("Chess", "Drama", "Robotics", "Choir", "Soccer"), "club"),
        Column("score", "int", (40, 100), "test score"), Column("age", "int", (14, 18), "age"))),
    Table("books", "book", "books", (
        Column("title", "text", ("Blue River", "The Long Night", "Paper Moons", "Salt and Stone", "Quiet Hours",
                                 "North Wind", "Glass Garden", "Small Fires", "Open Roads", "Iron Bell"), "title"),
        Column("genre", "text", ("Mystery", "Fantasy", "History", "Poetry", "Science"), "genre"),
        Column("year", "int", (1950, 2023), "publication year"), Column("pages", "int", (90, 720), "page count"),
        Column("rating", "real", (2, 5), "rating"))),
    Table("flights", "flight", "flights", (
        Column("flight_no", "code", ("FL",), "flight number"), Column("airline", "text", ("SkyJet", "AeroNord", "Pacifica", "BlueWing"), "airline"),
        Column("origin", "text", ("Paris", "Chicago", "Seoul", "Lima", "Cairo"), "origin city"),
        Column("destination", "text", ("Madrid", "Boston", "Tokyo", "Quito", "Dubai"), "destination"),
        Column("distance_km", "int", (300, 9500), "distance"), Column("delay_min", "int", (0, 180), "delay"))),
]


def rows(table: Table, n: int, *key) -> list[tuple]:
    """n seeded rows of `table` (id first), distinct in their label column."""
    out, labels = [], set()
    for i in range(n * 4):
        row = [len(out) + 1]
        for c in table.columns:
            h = stable_hash(*key, table.name, c.name, i)
            if c.kind == "name":
                row.append(f"{_FIRST[h % len(_FIRST)]} {_LAST[(h >> 8) % len(_LAST)]}")
            elif c.kind == "code":
                row.append(f"{c.values[0]}{100 + h % 900}")
            elif c.kind == "text":
                row.append(c.values[h % len(c.values)])
            elif c.kind == "int":
                lo, hi = c.values
                step = 1000 if hi > 20000 else 1
                row.append(lo + (h % ((hi - lo) // step + 1)) * step)
            else:
                lo, hi = c.values
                row.append(round(lo + (h % 1000) / 999 * (hi - lo), 1 if hi <= 5 else 2))
        if row[1] in labels:
            continue
        labels.add(row[1])
        out.append(tuple(row))
        if len(out) == n:
            break
    return out


def inserts(table: Table, data: list[tuple]) -> str:
    def lit(v):
        return "'" + v.replace("'", "''") + "'" if isinstance(v, str) else repr(v)
    values = ",\n  ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in data)
    return f"INSERT INTO {table.name} VALUES\n  {values};"


def csv(table: Table, data: list[tuple]) -> str:
    header = ",".join(c.name for c in table.columns)
    return "\n".join([header] + [",".join(str(v) for v in r[1:]) for r in data])


def label(table: Table) -> Column:
    """The column that names a row ("name", "title", or the first category)."""
    return table.columns[0]


def questions(table: Table, data: list[tuple], *key) -> list[tuple[str, str, str | None]]:
    """(question, SQL, answer template or None) over `table`; literals come from `data`.

    The template turns the query's result `{r}` into a sentence; None marks questions whose
    result is itself a table (asked for as SQL only).
    """
    lab, cats = label(table), [c for c in table.of("text") if c is not table.columns[0]]
    nums = table.of("int") + table.of("real")
    P, S, T = table.plural, table.singular, table.name
    h = stable_hash(*key)
    cat = cats[h % len(cats)]
    num = nums[(h >> 4) % len(nums)]
    row = data[(h >> 8) % len(data)]
    v = row[1 + table.columns.index(cat)]
    x = row[1 + table.columns.index(num)]
    k = 2 + (h >> 12) % 3
    what = lab.noun or lab.name
    return [
        (f"How many {P} are there?", f"SELECT COUNT(*) FROM {T};", f"There are {{r}} {P}."),
        (f"How many {P} have {cat.noun} {v}?", f"SELECT COUNT(*) FROM {T} WHERE {cat.name} = '{v}';",
         f"{{r}} of the {P} have {cat.noun} {v}."),
        (f"List the {what} of every {S} whose {num.noun} is above {x}.",
         f"SELECT {lab.name} FROM {T} WHERE {num.name} > {x};",
         f"The {P} with {num.noun} above {x}: {{r}}."),
        (f"What is the average {num.noun} of {P} by {cat.noun}?",
         f"SELECT {cat.name}, AVG({num.name}) FROM {T} GROUP BY {cat.name};", None),
        (f"Which {k} {P} have the highest {num.noun}?",
         f"SELECT {lab.name} FROM {T} ORDER BY {num.name} DESC LIMIT {k};",
         f"The {k} {P} with the highest {num.noun} are {{r}}."),
        (f"Which {S} has the lowest {num.noun}?",
         f"SELECT {lab.name} FROM {T} ORDER BY {num.name} ASC LIMIT 1;",
         f"{{r}} has the lowest {num.noun}."),
        (f"What is the total {num.noun} of {P} with {cat.noun} {v}?",
         f"SELECT SUM({num.name}) FROM {T} WHERE {cat.name} = '{v}';",
         f"The total {num.noun} of {P} with {cat.noun} {v} is {{r}}."),
        (f"Which {cat.noun} values have more than {k - 1} {P}?",
         f"SELECT {cat.name} FROM {T} GROUP BY {cat.name} HAVING COUNT(*) > {k - 1};",
         f"These {cat.noun} values have more than {k - 1} {P}: {{r}}."),
        (f"What is the highest {num.noun} among {P} with {cat.noun} {v}?",
         f"SELECT MAX({num.name}) FROM {T} WHERE {cat.name} = '{v}';",
         f"The highest {num.noun} among {P} with {cat.noun} {v} is {{r}}."),
        (f"What is the average {num.noun} of all {P}?", f"SELECT AVG({num.name}) FROM {T};",
         f"The average {num.noun} is {{r}}."),
    ]
