"""The writer recipe on tiny in-memory archives: fable parsing, prose checked against its
facts, tense rewrites, and proofreading held out."""
from __future__ import annotations

import json
from pathlib import Path

from smolmoe.data import recipes as data_recipes
from smolmoe.data.recipes import writer
from smolmoe.data.recipes import MixRules
from helpers.fake_fetch import FakeFetch, sqlite_bytes

ANY_MIX = MixRules(min_sources=1, min_share=0.0, max_share=1.0)


def _fable(i: int, story: str | None = None) -> str:
    story = story or f"A fox number {i} met a crow. The crow sang and dropped its cheese."
    content = (f"{story}\nWhich moral is this story attempting to convey? Please respond with the "
               "correct multiple-choice answer.\nA) Do not trust flatterers. B) Slow and steady "
               f"wins the race. C) Look before you leap number {i}.\nThe output should look like "
               "\"My reasoning is: {reason}. The final answer is: {option}\".")
    return json.dumps({"input": [{"role": "system", "content": "You pick morals."},
                                 {"role": "user", "content": content}],
                       "ideal": ["The final answer is: A"]})


def fake_files(tmp_path) -> dict:
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    fables = [_fable(i) for i in range(30)]
    fables.append(_fable(99, "A charcoal1-burner carried on his trade. One dayhe met a fuller."))
    films = "".join(
        f"INSERT INTO omdb VALUES ({i}, 'Film {i}', {1990 + i % 20}, 'Drama, Comedy', "
        f"'Jane Doe', 'John Roe', 'Ann Lee, Bob Ray, Cy Young', {90 + i}, 'English', "
        f"'France', '2001-05-{1 + i % 28:02d}', {i % 2});" for i in range(40))
    movies = sqlite_bytes(tmp_path, "movies.db", (
        'CREATE TABLE omdb ("ID" INTEGER, "Title" TEXT, "Year" INTEGER, "Genre" TEXT, '
        '"Director" TEXT, "Writer" TEXT, "Cast" TEXT, "Runtime" REAL, "Language" TEXT, '
        '"Country" TEXT, "Released" TEXT, "Oscars" INTEGER);' + films +
        "INSERT INTO omdb VALUES (999, 'Bare', 2000, '', '', '', '', NULL, '', '', '', 0);"))
    elements = sqlite_bytes(tmp_path, "elements.db", (
        "CREATE TABLE series (id INTEGER, name VARCHAR, color VARCHAR);"
        "INSERT INTO series VALUES (2, 'Noble gases', '#fff');"
        "CREATE TABLE elements (atomic_number INTEGER, name TEXT, symbol TEXT, series_id INTEGER,"
        " group_id INTEGER, period INTEGER, atomic_weight REAL, discoverers TEXT,"
        " discovery_year INTEGER, discovery_location TEXT);"
        "INSERT INTO elements VALUES (10, 'Neon', 'Ne', 2, 18, 2, 20.1797,"
        " 'Sir William Ramsey, M.W. Travers', 1898, 'England');"
        "INSERT INTO elements VALUES (26, 'Iron', 'Fe', 2, 8, 4, 55.845,"
        " 'Known to the ancients.', NULL, NULL);"))
    proof = [json.dumps({"input": [{"role": "system", "content": "You have to proofread."},
                                   {"role": "system", "content": "Text context is botany"},
                                   {"role": "user", "content": f"Linnaes number {i} was a botanst."}],
                         "ideal": f"Linnaeus number {i} was a botanist."}) for i in range(45)]
    return {("evals", writer.FABLES_FILE): "\n".join(fables) + "\n",
            ("evals", writer.PROOFREADER_FILE): "\n".join(proof) + "\n",
            ("bokeh-sampledata", writer.MOVIES_DB): movies,
            ("mendeleev", writer.ELEMENTS_DB): elements}


def _read(out: Path, split: str) -> list[dict]:
    return [json.loads(line) for line in (out / "writer" / f"{split}.jsonl").read_text().splitlines()]


def test_writer_builds_and_holds_out_proofreading(tmp_path):
    out = tmp_path / "d"
    data_recipes.build(out, domains=["writer"], fetch=FakeFetch(fake_files(tmp_path / "f")),
                       mix=ANY_MIX, max_eval=20)
    meta = json.loads((out / "writer" / "meta.json").read_text())
    assert set(meta["per_source"]["train"]) == {"fables", "films", "elements", "tense"}
    foreign = _read(out, "foreign")
    assert {r["source"] for r in foreign} == {"proofreader"} and len(foreign) == 20  # capped at max_eval
    assert "botany" in foreign[0]["messages"][0]["content"]
    assert meta["stats"]["dropped"]["scrape_artifacts"] == 1
    assert meta["stats"]["dropped"]["too_few_facts"] >= 1  # the bare film row
    records = [r for s in ("train", "val", "test") for r in _read(out, s)]
    morals = [r["messages"][1]["content"] for r in records
              if r["source"] == "fables" and "moral" in r["messages"][0]["content"].lower()
              and "Write" not in r["messages"][0]["content"]]
    assert morals and all("Do not trust flatterers." in m for m in morals)


def test_fable_parsing_takes_the_marked_option():
    story, moral = writer.parse_fable(json.loads(_fable(3)))
    assert moral == "Do not trust flatterers."
    assert story.startswith("A fox number 3")
    assert writer.tidy_fable('"Big, was he!" Said the frog.""Oh yes!"') == \
        '"Big, was he!" said the frog." "Oh yes!"'


def test_film_prose_states_every_fact_and_a_wrong_text_is_caught():
    row = {"Title": "Sint", "Year": 2010, "Genre": "Horror, Comedy", "Director": "Dick Maas",
           "Writer": "Dick Maas", "Cast": "Fred Goessens, Cynthia Abma", "Runtime": 85.0,
           "Language": "Dutch", "Country": "Netherlands", "Released": "2010-11-11", "Oscars": 0}
    facts, text = writer.film_text(row, 1)
    assert text.startswith("Sint is a horror and comedy film from 2010, directed by Dick Maas.")
    assert "November 11, 2010" in text and writer.facts_in_text(facts, text)
    assert not writer.facts_in_text(facts, text.replace("85 minutes", "95 minutes"))


def test_element_prose_states_every_fact():
    row = {"name": "Neon", "symbol": "Ne", "atomic_number": 10, "group_id": 18, "period": 2,
           "atomic_weight": 20.1797, "discoverers": "Sir William Ramsey, M.W. Travers",
           "discovery_year": 1898, "discovery_location": "England"}
    for variant in range(4):
        facts, text = writer.element_text(row, "Noble gases", variant)
        assert writer.facts_in_text(facts, text), (variant, text)
    assert "atomic weight is 20.18" in writer.element_text(row, "", 1)[1]


def test_tense_rewrites_change_only_the_verbs():
    for k in range(50):
        pres, past = writer.tense_item(k)
        assert pres != past and len(pres.split()) == len(past.split())
        changed = [(a, b) for a, b in zip(pres.split(), past.split()) if a != b]
        assert 1 <= len(changed) <= 5
        for a, b in changed:
            assert any(a.strip(".") == v[0] and b.strip(".") == v[1]
                       for v in list(writer._VERBS.values()) + [("is", "was"), ("feels", "felt"),
                                                                ("loves", "loved")]), (a, b)
