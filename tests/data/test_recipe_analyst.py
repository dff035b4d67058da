"""The analyst recipe on tiny fake archives: each source's real file format, the SQL checks,
and the foreign split."""
from __future__ import annotations

import json
from pathlib import Path

from smolmoe.data import recipes as data_recipes
from smolmoe.data.recipes import MixRules
from smolmoe.data.recipes.analyst import parse_spider, render, tidy_sql
from helpers.fake_fetch import FakeFetch, sqlite_bytes

EVALS_SQL = "evals/registry/data/sql/"
MIX = MixRules(min_sources=3, min_share=0.0, max_share=1.0)


def _spider_line(question: str, sql: str) -> str:
    content = ("Answer the following question with syntactically correct SQLite SQL.\n"
               "Use only the following tables and columns:\n"
               "Table: singer. Columns: Singer_ID (number), Name (text), Country (text), Age (number)\n"
               "Table: concert. Columns: concert_ID (number), Year (text)\n\n"
               f"Question: {question}\n")
    return json.dumps({"ideal": sql, "input": [{"role": "system", "content": content}]})


def _cosql_line(n: int, last_sql: str) -> str:
    schema = ("TASK: Answer with SQLite SQL.\nTable singer, columns = [*,Singer_ID,Name,Age]\n"
              "Foreign_keys = []\n")
    return json.dumps({"input": [
        {"role": "system", "content": schema},
        {"role": "system", "content": f"Q: how many singers are older than {n}"},
        {"role": "system", "content": f"A: SELECT count ( * ) FROM singer WHERE age  >  {n}"},
        {"role": "user", "content": "Q: and their names? | do you mean all of them? | yes"}],
        "ideal": [f"A: {last_sql}"]})


def fake_files(tmp_path: Path) -> dict:
    spider = [_spider_line(f"How many singers are older than {i}?",
                           f"SELECT count(*) FROM singer WHERE age  >  {i}") for i in range(30)]
    spider += [_spider_line("Which singers come from France?",
                            'SELECT name FROM singer WHERE country  =  "France"'),
               _spider_line("Broken one?", "SELECT nosuchcolumn FROM singer"),
               _spider_line("Placeholder?", "select name from singer where age = value")]
    cosql = [_cosql_line(i, f"SELECT name FROM singer WHERE age > {i}") for i in range(12)]
    cosql.append(_cosql_line(99, "SELECT missing FROM nowhere"))
    films = "\n".join(
        f"INSERT INTO omdb VALUES ({i}, 'Film {i}', {1990 + i % 7}, {90.0 + i}, "
        f"'Director {i % 5}', 'English', 'France', {40 + i}, {i % 3}, 'x');" for i in range(40))
    movies = sqlite_bytes(tmp_path, "movies.db", (
        'CREATE TABLE omdb ("ID" INTEGER, "Title" TEXT, "Year" INTEGER, "Runtime" REAL, '
        '"Director" TEXT, "Language" TEXT, "Country" TEXT, "Metacritic" INTEGER, '
        '"Oscars" INTEGER, "Cast" TEXT);\n' + films))
    elements = "\n".join(
        f"INSERT INTO elements VALUES ({i}, 'El{i}', 'Element{i}', '{'spdf'[i % 4]}', {1 + i % 7}, "
        f"{2.0 * i + 0.5}, {1.5 + i / 3}, {1700 + 7 * i}, {1 + i % 3});" for i in range(1, 30))
    mendeleev = sqlite_bytes(tmp_path, "elements.db", (
        "CREATE TABLE elements (atomic_number INTEGER, symbol TEXT, name TEXT, block TEXT, "
        "period INTEGER, atomic_weight REAL, density REAL, discovery_year INTEGER, "
        "series_id INTEGER);\nCREATE TABLE series (id INTEGER, name TEXT);\n"
        "INSERT INTO series VALUES (1, 'Noble gases'), (2, 'Transition metals'), (3, 'Halogens');\n"
        + elements))
    penguins = ["species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year"]
    penguins += [f"{['Adelie', 'Gentoo', 'Chinstrap'][i % 3]},{['Biscoe', 'Dream'][i % 2]},"
                 f"{35 + i / 2},{18},{180 + i},{3000 + 25 * i},{['male', 'female'][i % 2]},2008"
                 for i in range(30)]
    penguins.append("Adelie,Torgersen,NA,NA,NA,NA,NA,2007")
    return {("evals", EVALS_SQL + "spider_sql.jsonl"): "\n".join(spider),
            ("evals", EVALS_SQL + "co_sql.jsonl"): "\n".join(cosql),
            ("bokeh-sampledata", "bokeh_sampledata/_data/movies.db"): movies,
            ("mendeleev", "mendeleev/elements.db"): mendeleev,
            ("palmerpenguins", "palmerpenguins/data/penguins.csv"): "\n".join(penguins)}


def _read(out: Path, split: str) -> list[dict]:
    path = out / "analyst" / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _build(tmp_path, **kw):
    fetch = FakeFetch(fake_files(tmp_path), **kw)
    out = tmp_path / "out"
    report = data_recipes.build(out, domains=["analyst"], fetch=fetch, max_eval=20, mix=MIX)
    return out, report, json.loads((out / "analyst" / "meta.json").read_text())


def test_analyst_builds_every_source_and_holds_out_cosql(tmp_path):
    out, report, meta = _build(tmp_path)
    train = [r for s in ("train", "val", "test") for r in _read(out, s)]
    assert {r["source"] for r in train} == {"evals/spider_sql", "bokeh/films_sql",
                                           "penguins/table_qa", "mendeleev/elements_qa"}
    foreign = _read(out, "foreign")
    assert foreign and {r["source"] for r in foreign} == {"evals/co_sql"}
    # the clarification question became turns: user, assistant asks back, user answers, SQL
    turns = foreign[0]["messages"]
    assert [m["role"] for m in turns][-4:] == ["user", "assistant", "user", "assistant"]
    assert turns[-3]["content"] == "do you mean all of them?"
    dropped = meta["stats"]["dropped"]
    assert dropped.get("sql_does_not_run", 0) >= 2      # spider's broken one, CoSQL's last
    assert dropped.get("sql_placeholder", 0) == 1
    benchmark = {s["name"] for s in meta["sources"] if s["benchmark"]}
    assert benchmark == {"evals/spider_sql", "evals/co_sql"}
    assert all(s["licence"] for s in meta["sources"])


def test_every_sql_answer_runs_on_the_schema_in_its_prompt(tmp_path):
    from smolmoe.data.recipes._checks import sql_problem
    out, _, _ = _build(tmp_path)
    n = 0
    for split in ("train", "val", "test", "foreign"):
        for r in _read(out, split):
            if r["source"] in ("evals/spider_sql", "bokeh/films_sql", "evals/co_sql"):
                schema = r["messages"][0]["content"].split("```sql\n")[1].split("```")[0]
                for m in r["messages"]:
                    if m["role"] == "assistant" and m["content"].startswith("```sql"):
                        assert sql_problem(schema, m["content"][7:-4]) is None
                        n += 1
    assert n > 20


def test_table_answers_are_recomputed_from_the_csv_in_the_prompt(tmp_path):
    out, _, _ = _build(tmp_path)
    checked = 0
    for r in _read(out, "train"):
        if r["source"] != "penguins/table_qa":
            continue
        user, answer = r["messages"][0]["content"], r["messages"][1]["content"]
        if user.endswith("How many penguins are there?"):
            rows = [ln for ln in user.split("\n") if ln.count(",") >= 5 and ln[0].isupper()]
            assert answer == f"There are {len(rows)} penguins."
            checked += 1
    assert checked


def test_losing_one_package_keeps_the_others(tmp_path):
    fetch = FakeFetch(fake_files(tmp_path))
    for src in data_recipes.get_recipe("analyst").SOURCES:
        if src.package == "palmerpenguins":
            assert list(src.read(fetch))
    fetch = FakeFetch(fake_files(tmp_path), unavailable={"palmerpenguins"})
    kept = [src for src in data_recipes.get_recipe("analyst").SOURCES if src.package != "palmerpenguins"]
    assert len([s for s in kept if s.name != "evals/co_sql"]) >= 3
    assert all(any("messages" in r for r in s.read(fetch)) for s in kept)


def test_tidy_sql_and_spider_parsing():
    assert tidy_sql('SELECT count ( * )  FROM singer WHERE name  =  "Joe\'s"', {"name"}) == \
        "SELECT COUNT(*) FROM singer WHERE name = 'Joe''s';"
    assert tidy_sql('select "name" from t', {"name"}) == 'SELECT "name" FROM t;'
    tables, q = parse_spider("Table: t. Columns: a (number), b c (text)\n\nQuestion: How many?\n")
    assert tables == [("t", [("a", "NUMERIC"), ("b c", "TEXT")])] and q == "How many?"
    assert render([1234, 2.5]) == "1,234 and 2.5"
    assert render([1885.75], grouping=False) == "1885.75"
    assert render([0.000179]) == "0.00018"
