"""Encyclopedia: short factual questions about places, chemical elements, films and history.

Answers are complete sentences built from the facts a package records (mendeleev's element
texts, countryinfo's country files, Wikidata films in bokeh-sampledata) or from an evals
answer key (who was born first, which country is largest). Held out: chatterbot-corpus
trivia, quiz questions written by people rather than made from a knowledge base.
"""
from __future__ import annotations

import json
import re

import yaml

from ._chat import CHATTERBOT
from ._common import (clean, dropped, end_with_period, pick, record, sentence_case, sqlite_in,
                      sentences_within, stable_hash)
from ._sample import sample_groups
from .sources import Source

DOMAIN = "encyclopedia"
DESCRIPTION = ("Factual knowledge: chemical elements, countries, films and historical figures, "
               "answered in complete sentences.")

ELEMENTS_DB = "mendeleev/elements.db"
COUNTRIES = "countryinfo/data/"
MOVIES_DB = "bokeh_sampledata/_data/movies.db"
BORN_FIRST = "evals/registry/data/born_first/born_first.jsonl"
LARGEST = "evals/registry/data/largest_country/samples.jsonl"
TRIVIA = "chatterbot_corpus/data/english/trivia.yml"

SOURCES = [
    Source("mendeleev/elements", "mendeleev", ELEMENTS_DB, "MIT",
           "Chemical elements: symbol and atomic number, discoverers and year, name origin, "
           "uses and description, each answered in sentences from mendeleev's text columns.",
           read=lambda fetch: _elements(fetch)),
    Source("countryinfo/countries", "countryinfo", COUNTRIES + "*.json", "MIT",
           "Countries: capital, region, neighbours, area, population and demonym, answered "
           "in a sentence (two questions per country).",
           read=lambda fetch: _countries(fetch)),
    Source("bokeh/films", "bokeh-sampledata", MOVIES_DB, "CC0-1.0 (Wikidata films)",
           "Who directed an Oscar-winning film, when it came out and how long it runs, "
           "answered in a sentence.",
           read=lambda fetch: _films(fetch)),
    Source("evals/born_first_largest_country", "evals", f"{BORN_FIRST}, {LARGEST}",
           "MIT (openai/evals contributions)",
           "Was A born before B? and Which of these countries is largest? from the evals "
           "answer keys, answered in a sentence.",
           read=lambda fetch: _evals(fetch), benchmark=True),
    Source("chatterbot/trivia", CHATTERBOT, TRIVIA, "BSD-3-Clause",
           "Trivia questions written by people, short answers (held out: foreign split).",
           read=lambda fetch: _trivia(fetch)),
]
FOREIGN = "chatterbot/trivia"
HELPFUL_ONLY = True
NOTE = ""

FILMS = 250            # Oscar-winning films kept (of ~700 with a unique title)
QUESTIONS_PER_COUNTRY = 2


# -- mendeleev ------------------------------------------------------------------------------
def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


_LANG = re.compile(r"^((?:Medieval |Old )?[A-Z][a-z]+(?:-[A-Z][a-z]+)?): ")


def name_origin(name: str, origin: str) -> str | None:
    """mendeleev's terse name origin as a sentence, or None for a form not recognised.

    'Greek: hydro (water) and genes (generate)' -> 'The name Hydrogen comes from the Greek
    hydro (water) and genes (generate).'; 'Named for the planet Uranus.' -> 'Uranium was
    named for the planet Uranus.'
    """
    text = clean(origin).rstrip(".").strip()
    text = re.sub(r"\s*[;:]\s*symbol from (?:the )?(?=[A-Z])", "; its symbol comes from the ", text)
    text = re.sub(r"\s*[;:]\s*symbol from ", "; its symbol comes from ", text)
    text = text.replace(", (", " (")
    text = re.sub(r"(the|; ) ?([A-Z][a-z]+): ", lambda m: f"{m.group(1).strip()} {m.group(2)} "
                  if m.group(1) == "the" else f"; the {m.group(2)} ", text)
    if text.startswith(("Named ", "named ")):
        return f"{name} was n{text[1:]}."
    if text.startswith("From "):
        return f"The name {name} comes from {text[5:]}."
    if text.startswith("Symbol from "):
        rest = _LANG.sub(lambda m: m.group(1) + " ", text[12:])
        return f"The symbol of {name} comes from the {rest}."
    if text.startswith("Variation of "):
        return f"The name {name} is a variation of {text[13:]}."
    m = _LANG.match(text)
    if m:
        return f"The name {name} comes from the {m.group(1)} {text[m.end():]}."
    return None


def _discovery(name: str, who: str | None, year) -> str | None:
    who = clean(who or "").rstrip(".")
    if not who:
        return None
    if who.lower().startswith("known to the ancients"):
        return f"{name} has been known since ancient times, so no discoverer is recorded."
    people = [p.strip() for p in re.split(r",\s*|;\s*", who) if p.strip()]
    people = [p for p in people if p != "et al"]
    if not people:
        return None
    by = _and(people) + (" and others" if "et al" in who else "")
    return f"{name} was discovered by {by}" + (f" in {year}." if year else ".")


def _uses(name: str, uses: str | None) -> str | None:
    text = clean(uses or "")
    if not text:
        return None
    if text.startswith(("Used ", "used ")):
        text = f"{name} is u{text[1:]}"
    return sentences_within(end_with_period(text), 600)


_ASK_ORIGIN = ["Where does the name {e} come from?", "How did {e} get its name?",
               "What is the origin of the name {e}?"]
_ASK_DISCOVERY = ["Who discovered {e}?", "When was {e} discovered, and by whom?",
                  "Who first discovered the element {e}?"]
_ASK_USES = ["What is {e} used for?", "What are the uses of {e}?", "How is {e} used?"]
_ASK_ABOUT = ["Tell me about the element {e}.", "Describe {e}.", "What is {e} like?"]
_ASK_SYMBOL = ["What is the chemical symbol for {e}?", "What is the atomic number of {e}?",
               "Give me the symbol and atomic number of {e}."]


def _elements(fetch):
    source = "mendeleev/elements"
    with sqlite_in(fetch, "mendeleev", ELEMENTS_DB) as con:
        rows = con.execute(
            "SELECT atomic_number, symbol, name, description, uses, discoverers, "
            "discovery_year, name_origin FROM elements ORDER BY atomic_number").fetchall()
    for number, symbol, name, description, uses, who, year, origin in rows:
        group = f"element:{number}"
        pairs = [(_ASK_SYMBOL, f"The chemical symbol for {name} is {symbol}, and its atomic "
                               f"number is {number}.")]
        for asks, answer, reason in [
                (_ASK_DISCOVERY, _discovery(name, who, year), "element_no_discoverer"),
                (_ASK_ORIGIN, name_origin(name, origin) if origin else None, "name_origin_unparsed"),
                (_ASK_USES, _uses(name, uses), "element_no_uses"),
                (_ASK_ABOUT, sentences_within(end_with_period(clean(description or "")), 700)
                 if description else None, "element_no_description")]:
            if answer is None:
                yield dropped(reason, source)
            else:
                pairs.append((asks, answer))
        for asks, answer in pairs:
            yield record(pick(asks, name, asks[0]).format(e=name), answer, source, group)


# -- countryinfo ----------------------------------------------------------------------------
def _population(n: int) -> str:
    if n >= 1_000_000:
        return f"about {n / 1_000_000:.1f} million people".replace(".0 million", " million")
    if n >= 10_000:
        return f"about {round(n, -3):,} people"
    return f"about {n:,} people"


def _country_facts(d: dict, names: dict[str, str]) -> list[tuple[str, list[str], str]]:
    """(fact, questions, answer) for one country file; missing fields give no question."""
    name = d["name"]
    facts = []
    if d.get("capital"):
        facts.append(("capital", ["What is the capital of {c}?", "What's the capital city of {c}?",
                                  "Which city is the capital of {c}?"],
                      f"The capital of {name} is {d['capital']}."))
    region, sub = d.get("region"), d.get("subregion")
    if region and sub:
        where = f"{sub}, in {region}" if region not in sub else sub
        facts.append(("region", ["Where is {c}?", "In which part of the world is {c}?",
                                 "Which region is {c} in?"], f"{name} is in {where}."))
    borders = [names[b] for b in d.get("borders") or [] if b in names]
    if borders and len(borders) == len(d["borders"]):
        facts.append(("borders", ["Which countries border {c}?", "What are the neighbours of {c}?",
                                  "Which countries share a land border with {c}?"],
                      f"{name} borders {_and(sorted(borders))}."))
    if isinstance(d.get("area"), (int, float)) and d["area"] > 0:
        facts.append(("area", ["How big is {c}?", "What is the area of {c}?",
                               "How large is {c} in square kilometres?"],
                      f"{name} covers an area of about {round(d['area']):,} square kilometres."))
    if isinstance(d.get("population"), int) and d["population"] > 0:
        facts.append(("population", ["How many people live in {c}?", "What is the population of {c}?",
                                     "Roughly how many inhabitants does {c} have?"],
                      f"{name} has a population of {_population(d['population'])}."))
    if d.get("demonym"):
        facts.append(("demonym", ["What do you call people from {c}?", "What is the demonym for {c}?"],
                      f"People from {name} are called {d['demonym']}."))
    return facts


def _countries(fetch):
    source = "countryinfo/countries"
    files = [m for m in fetch.members("countryinfo", COUNTRIES) if m.endswith(".json")]
    data = []
    for member in files:
        try:
            d = json.loads(fetch.read("countryinfo", member))
        except (ValueError, UnicodeDecodeError):
            yield dropped("country_unreadable", source)
            continue
        if not isinstance(d, dict) or not d.get("name"):
            yield dropped("country_unreadable", source)
            continue
        data.append(d)
    names = {d["ISO"]["alpha3"]: d["name"] for d in data
             if isinstance(d.get("ISO"), dict) and d["ISO"].get("alpha3")}
    for d in data:
        facts = _country_facts(d, names)
        if not facts:
            yield dropped("country_no_facts", source)
            continue
        facts.sort(key=lambda f: stable_hash("country", d["name"], f[0]))
        for kind, asks, answer in facts[:QUESTIONS_PER_COUNTRY]:
            user = pick(asks, d["name"], kind).format(c=d["name"])
            yield record(user, answer, source, f"country:{d['name']}")


# -- films ----------------------------------------------------------------------------------
def _films(fetch):
    def read():
        source = "bokeh/films"
        with sqlite_in(fetch, "bokeh-sampledata", MOVIES_DB) as con:
            rows = con.execute(
                "SELECT ID, Title, Year, Director, Runtime FROM omdb WHERE Oscars > 0 "
                "AND Director != '' AND Year IS NOT NULL AND Title IN "
                "(SELECT Title FROM omdb GROUP BY Title HAVING COUNT(*) = 1) "
                "ORDER BY ID").fetchall()
        for fid, title, year, director, runtime in rows:
            directors = _and([p.strip() for p in director.split(",") if p.strip()])
            group = f"film:{fid}"
            yield record(pick(["Who directed {t}?", "Who was the director of {t}?",
                               "Who made the film {t}?"], title).format(t=title),
                         f"{title} ({year}) was directed by {directors}.", source, group)
            if runtime:
                yield record(pick(["When did {t} come out, and how long is it?",
                                   "What year was {t} released, and what is its running time?"],
                                  title).format(t=title),
                             f"{title} came out in {year} and runs for {round(runtime)} minutes.",
                             source, group)
            else:
                yield record(pick(["When did {t} come out?", "What year was {t} released?"],
                                  title).format(t=title),
                             f"{title} came out in {year}.", source, group)
    yield from sample_groups(read(), FILMS, "encyclopedia-films")


# -- evals ----------------------------------------------------------------------------------
_BORN = re.compile(r"Was (.+?) born before (.+?)\? Answer Y or N\.?")


def _evals(fetch):
    source = "evals/born_first_largest_country"
    for line in fetch.read("evals", BORN_FIRST).splitlines():
        if not line.strip():
            continue
        ex = json.loads(line)
        m = _BORN.fullmatch(clean(ex["input"][-1]["content"]))
        ideal = str(ex.get("ideal", "")).strip().upper()
        if not m or ideal not in ("Y", "N"):
            yield dropped("born_first_unparsed", source)
            continue
        a, b = m.group(1), m.group(2)
        reply = f"Yes, {a} was born before {b}." if ideal == "Y" else \
            f"No, {b} was born before {a}."
        yield record(f"Was {a} born before {b}?", reply, source, f"born:{min(a, b)}:{max(a, b)}")
    for line in fetch.read("evals", LARGEST).splitlines():
        if not line.strip():
            continue
        ex = json.loads(line)
        options = [o.strip() for o in clean(ex["input"][-1]["content"]).split(",") if o.strip()]
        ideal = clean(str(ex.get("ideal", "")))
        if ideal not in options or len(options) < 2:
            yield dropped("largest_country_unparsed", source)
            continue
        user = pick(["Which of these countries is the largest by area: {o}?",
                     "Of {o}, which country has the largest surface area?",
                     "Which is the biggest country by area among {o}?"], ideal, *options).format(
            o=", ".join(options[:-1]) + (", or " if len(options) > 2 else " or ") + options[-1])
        yield record(user, f"{ideal} is the largest of these countries by surface area.", source,
                     f"largest:{','.join(sorted(options))}")


# -- chatterbot trivia (foreign) --------------------------------------------------------------
def _trivia(fetch):
    """Quiz answers as written ("Richard Nixon", "1963"), with a capital and a full stop."""
    source = "chatterbot/trivia"
    data = yaml.safe_load(fetch.read(CHATTERBOT, TRIVIA)) or {}
    for j, conv in enumerate(data.get("conversations") or []):
        turns = [clean(str(t)) for t in conv if t is not None]
        if len(turns) < 2 or not all(turns[:2]):
            yield dropped("trivia_unparsed", source)
            continue
        yield record(turns[0], end_with_period(sentence_case(turns[1])), source, f"trivia:{j}")
