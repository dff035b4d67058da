"""The encyclopedia recipe on tiny fake archives: each source's file format, sentences as
answers, dropped items counted, and the foreign split."""
from __future__ import annotations

import json
from pathlib import Path

from smolmoe.data import recipes as data_recipes
from smolmoe.data.recipes import MixRules
from smolmoe.data.recipes.encyclopedia import name_origin
from helpers.fake_fetch import FakeFetch, sqlite_bytes

MIX = MixRules(min_sources=3, min_share=0.0, max_share=1.0)


def _country(i: int, neighbours: list[str]) -> str:
    return json.dumps({"name": f"Country{i}", "capital": f"City{i}", "region": "Europe",
                       "subregion": "Western Europe", "area": 1000 + i, "population": 2_500_000 + i,
                       "borders": neighbours, "demonym": f"Countrian{i}",
                       "ISO": {"alpha2": f"C{i}", "alpha3": f"C{i:02d}"}})


def fake_files(tmp_path: Path) -> dict:
    rows = []
    for i in range(1, 25):
        origin = "Greek: neos (new)." if i % 3 else "Named for the planet Uranus."
        who = "'Known to the ancients.'" if i % 5 == 0 else f"'Ann Lab, Bo Chem'"
        rows.append(f"INSERT INTO elements VALUES ({i}, 'E{i}', 'Elem{i}', "
                    f"'A soft metal. It reacts with water.', 'Used in lamps.', {who}, "
                    f"{1800 + i}, '{origin}');")
    rows.append("INSERT INTO elements VALUES (99, 'Zz', 'Oddium', NULL, NULL, NULL, NULL, "
                "'Unknown form of origin.');")
    elements = sqlite_bytes(tmp_path, "elements.db", (
        "CREATE TABLE elements (atomic_number INTEGER, symbol TEXT, name TEXT, description TEXT, "
        "uses TEXT, discoverers TEXT, discovery_year INTEGER, name_origin TEXT);\n" + "\n".join(rows)))
    films = "\n".join(f"INSERT INTO omdb VALUES ({i}, 'Film {i}', {1960 + i}, 'Dir {i}', {100.0 + i}, "
                      f"{i % 3});" for i in range(30))
    movies = sqlite_bytes(tmp_path, "movies.db", (
        'CREATE TABLE omdb ("ID" INTEGER, "Title" TEXT, "Year" INTEGER, "Director" TEXT, '
        '"Runtime" REAL, "Oscars" INTEGER);\n' + films))
    files = {("mendeleev", "mendeleev/elements.db"): elements,
             ("bokeh-sampledata", "bokeh_sampledata/_data/movies.db"): movies}
    for i in range(30):
        files[("countryinfo", f"countryinfo/data/country{i}.json")] = _country(
            i, [f"C{(i + 1) % 30:02d}"] if i % 2 else [])
    files[("countryinfo", "countryinfo/data/broken.json")] = "not json"
    born = [json.dumps({"input": [{"role": "system", "content": "You are a helpful assistant."},
                                  {"role": "user", "content": f"Was Person {i} born before Person "
                                   f"{i + 1}? Answer Y or N."}], "ideal": "Y" if i % 2 else "N"})
            for i in range(20)]
    born.append(json.dumps({"input": [{"role": "user", "content": "Who?"}], "ideal": "Y"}))
    largest = [json.dumps({"input": [{"role": "system", "content": "Which is the largest?"},
                                     {"role": "user", "content": f"Aland {i}, Bland {i}, Cland {i}"}],
                           "ideal": f"Bland {i}"}) for i in range(20)]
    largest.append(json.dumps({"input": [{"role": "user", "content": "A, B"}], "ideal": "Z"}))
    files[("evals", "evals/registry/data/born_first/born_first.jsonl")] = "\n".join(born)
    files[("evals", "evals/registry/data/largest_country/samples.jsonl")] = "\n".join(largest)
    trivia = "conversations:\n" + "".join(
        f"- - Who painted picture {i}?\n  - painter {i}\n" for i in range(50))
    files[("chatterbot-corpus", "chatterbot_corpus/data/english/trivia.yml")] = trivia
    return files


def _read(out: Path, split: str) -> list[dict]:
    path = out / "encyclopedia" / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_encyclopedia_builds_sentences_from_every_source(tmp_path):
    out = tmp_path / "out"
    data_recipes.build(out, domains=["encyclopedia"], fetch=FakeFetch(fake_files(tmp_path)),
                       max_eval=20, mix=MIX)
    meta = json.loads((out / "encyclopedia" / "meta.json").read_text())
    recs = [r for s in ("train", "val", "test") for r in _read(out, s)]
    assert {r["source"] for r in recs} == {"mendeleev/elements", "countryinfo/countries",
                                           "bokeh/films", "evals/born_first_largest_country"}
    for r in recs:
        answer = r["messages"][-1]["content"]
        assert answer[0].isupper() and answer.endswith("."), answer
    foreign = _read(out, "foreign")
    assert {r["source"] for r in foreign} == {"chatterbot/trivia"}
    assert foreign[0]["messages"][1]["content"].startswith("Painter ")
    answers = {r["messages"][-1]["content"] for r in recs}
    assert "No, Person 2 was born before Person 1." in answers or \
        any(a.startswith("No, Person") for a in answers)
    assert any(a == "Bland 3 is the largest of these countries by surface area." for a in answers) or \
        any(a.endswith("is the largest of these countries by surface area.") for a in answers)
    dropped = meta["stats"]["dropped"]
    assert dropped["country_unreadable"] == 1
    assert dropped["born_first_unparsed"] == 1 and dropped["largest_country_unparsed"] == 1
    assert dropped["name_origin_unparsed"] == 1 and dropped["element_no_uses"] == 1
    assert [s["name"] for s in meta["sources"] if s["benchmark"]] == ["evals/born_first_largest_country"]


def test_born_first_answer_follows_the_key(tmp_path):
    src = {s.name: s for s in data_recipes.get_recipe("encyclopedia").SOURCES}
    recs = [r for r in src["evals/born_first_largest_country"].read(FakeFetch(fake_files(tmp_path)))
            if "messages" in r and r["group"].startswith("born:")]
    by_q = {r["messages"][0]["content"]: r["messages"][1]["content"] for r in recs}
    assert by_q["Was Person 0 born before Person 1?"] == "No, Person 1 was born before Person 0."
    assert by_q["Was Person 1 born before Person 2?"] == "Yes, Person 1 was born before Person 2."


def test_countries_and_elements_read_their_files(tmp_path):
    src = {s.name: s for s in data_recipes.get_recipe("encyclopedia").SOURCES}
    fetch = FakeFetch(fake_files(tmp_path))
    countries = [r for r in src["countryinfo/countries"].read(fetch) if "messages" in r]
    assert len({r["group"] for r in countries}) == 30
    assert all(len([r for r in countries if r["group"] == g]) <= 2 for g in {r["group"] for r in countries})
    answers = {r["messages"][1]["content"] for r in countries}
    assert answers & {"The capital of Country3 is City3.", "Country3 borders Country4.",
                      "Country3 is in Western Europe, in Europe.",
                      "Country3 has a population of about 2.5 million people.",
                      "Country3 covers an area of about 1,003 square kilometres.",
                      "People from Country3 are called Countrian3."}
    elements = {r["messages"][1]["content"] for r in src["mendeleev/elements"].read(fetch) if "messages" in r}
    assert "Elem1 was discovered by Ann Lab and Bo Chem in 1801." in elements
    assert "Elem5 has been known since ancient times, so no discoverer is recorded." in elements
    assert "Elem1 is used in lamps." in elements


def test_name_origin_sentences():
    assert name_origin("Iron", "Anglo-Saxon: iron; symbol from Latin: ferrum (iron).") == \
        "The name Iron comes from the Anglo-Saxon iron; its symbol comes from the Latin ferrum (iron)."
    assert name_origin("Uranium", "Named for the planet Uranus.") == \
        "Uranium was named for the planet Uranus."
    assert name_origin("Oddium", "Unknown form of origin.") is None
