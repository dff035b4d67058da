"""Writer: fables and their morals, prose from data (films, chemical elements), and rewriting
a paragraph in another tense; proofreading a sentence is held out."""
from __future__ import annotations

import json
import re
from datetime import date

from ._common import (clean, dropped, end_with_period, pick, record, sentence_case, sqlite_in,
                      stable_hash)
from ._sample import sample_groups
from .sources import GENERATOR, Source

DOMAIN = "writer"
DESCRIPTION = ("Writing: fables for a moral and the moral of a fable, short descriptive "
               "paragraphs from facts (films, chemical elements), and rewriting a paragraph in "
               "another tense.")
NOTE = ""

EVALS = "evals"
FABLES_FILE = "evals/registry/data/parable-to-moral-match/parable-to-moral-match-en.jsonl"
PROOFREADER_FILE = "evals/registry/data/proofreader/samples.jsonl"
BOKEH = "bokeh-sampledata"
MOVIES_DB = "bokeh_sampledata/_data/movies.db"
MENDELEEV = "mendeleev"
ELEMENTS_DB = "mendeleev/elements.db"

FILMS = 1500  # of 17,472 films: enough for the source's quota
TENSE_ITEMS = 1500


# -- fables (openai/evals parable-to-moral-match): write a fable, state its moral ------------

_OPTION = re.compile(r"(?:^|\s)([A-E])\) (.*?)(?=\s[A-E]\) |$)", re.S)


def tidy_fable(text: str) -> str:
    """Fix the scrape's joins: '"Big, was he!" Said' -> '... said', '!""Was' -> '!" "Was',
    '. we bow' -> '. We bow'."""
    text = clean(text)
    text = re.sub(r'([,!?])"\s*(Said|Replied|Cried|Asked|Answered)\b',
                  lambda m: f'{m.group(1)}" {m.group(2).lower()}', text)
    text = re.sub(r'([.!?,])""', r'\1" "', text)
    text = re.sub(r'([.!?])"(?=[A-Z])', r'\1" ', text)
    text = re.sub(r"([.!?] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return text


def parse_fable(row: dict) -> tuple[str, str] | None:
    """(story, moral) of one parable-to-moral-match item, or None when it does not parse."""
    content = row["input"][-1]["content"]
    story, sep, rest = content.partition("\nWhich moral is this story attempting to convey?")
    ideal = row.get("ideal")
    ideal = ideal[0] if isinstance(ideal, list) and ideal else ideal
    m = re.search(r"The final answer is: ([A-E])\s*$", str(ideal or ""))
    if not sep or not m:
        return None
    lines = [ln for ln in rest.split("\n") if re.match(r"\s*A\) ", ln)]
    if not lines:
        return None
    options = dict(_OPTION.findall(lines[0].strip()))
    moral = options.get(m.group(1), "").strip()
    if not moral or not story.strip():
        return None
    return tidy_fable(story), end_with_period(sentence_case(clean(moral)))


# Footnote marks glued to words ("cemetery1") come with lines joined without spaces
# ("Asthey journeyed"): such scans are dropped rather than taught.
_SCRAPE_ARTIFACT = re.compile(r"[a-z][0-9]|[0-9][a-z]{2}(?<!\d(?:st|nd|rd|th))|[a-z][A-Z]")

_ASK_MORAL = ["What is the moral of this story?", "What lesson does this fable teach?",
              "Sum up the moral of this fable in one sentence."]
_SAY_MORAL = ["The moral of the story is: {m}", "The fable teaches this lesson: {m}", "{m}"]
_ASK_FABLE = ["Write a short fable with this moral: {m}",
              "Tell me a fable that teaches: {m}",
              "Write a fable whose lesson is \"{m}\""]


def read_fables(fetch):
    for i, line in enumerate(fetch.read(EVALS, FABLES_FILE).splitlines()):
        if not line.strip():
            continue
        parsed = parse_fable(json.loads(line))
        if parsed is None:
            yield dropped("unparsed", "fables")
            continue
        story, moral = parsed
        if _SCRAPE_ARTIFACT.search(story):
            yield dropped("scrape_artifacts", "fables")
            continue
        group = f"fable:{story[:200]}"
        yield record(f"{story}\n\n{pick(_ASK_MORAL, 'ask', story)}",
                     pick(_SAY_MORAL, "say", story).format(m=moral), "fables", group)
        yield record(pick(_ASK_FABLE, "write", story).format(m=moral), story, "fables", group)


# -- films (bokeh-sampledata movies.db, Wikidata): a paragraph from a row of facts ----------

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _split(value) -> list[str]:
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def film_text(row: dict, k: int) -> tuple[list[str], str] | None:
    """(facts as 'Label: value' lines, a paragraph saying exactly those facts) for one film."""
    title, year = row["Title"], row["Year"]
    genres = [g.lower() for g in _split(row["Genre"])][:3]
    directors = _split(row["Director"])[:2]
    if not (title and year and genres and directors):
        return None
    facts = [f"Title: {title}", f"Year: {year}", f"Genre: {', '.join(genres)}",
             f"Director: {', '.join(directors)}"]
    genre = _listing(genres)
    text = [f"{title} is {_article(genre)} {genre} film from {year}, directed by {_listing(directors)}."]
    writers = [w for w in _split(row["Writer"]) if w not in directors][:2]
    if writers and stable_hash("film-w", k) % 2:
        facts.append(f"Writer: {', '.join(writers)}")
        text.append(f"The screenplay was written by {_listing(writers)}.")
    cast = _split(row["Cast"])
    if len(cast) >= 2:
        chosen = sorted(cast, key=lambda c: stable_hash("film-cast", k, c))[:3]
        facts.append(f"Cast includes: {', '.join(chosen)}")
        text.append(f"Its cast includes {_listing(chosen)}.")
    runtime, language = row["Runtime"], _split(row["Language"])
    if runtime and language:
        facts += [f"Running time: {int(runtime)} minutes", f"Language: {', '.join(language[:2])}"]
        text.append(f"The film runs for {int(runtime)} minutes and is in {_listing(language[:2])}.")
    released, country = str(row["Released"] or ""), _split(row["Country"])
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", released)
    if m and country and released[5:] != "01-01":  # 1 January often stands for "year only"
        d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        when = f"{_MONTHS[d.month - 1]} {d.day}, {d.year}"
        facts.append(f"Released: {when} ({', '.join(country[:2])})")
        text.append(f"It was released in {_listing(country[:2])} on {when}.")
    oscars = row["Oscars"] or 0
    if oscars:
        facts.append(f"Oscars won: {oscars}")
        text.append(f"It won {'an Oscar' if oscars == 1 else f'{oscars} Oscars'}.")
    if len(facts) < 5:
        return None
    return facts, " ".join(text)


def facts_in_text(facts: list[str], text: str) -> bool:
    """Every fact's values appear in the paragraph (the check that the prose is faithful)."""
    for fact in facts:
        _, _, value = fact.partition(": ")
        for part in re.split(r", | \(|\)", value):
            part = part.strip()
            if part and part.replace(" minutes", "") not in text and part.lower() not in text:
                return False
    return True


_ASK_FILM = ["Write a short paragraph describing this film, using only these facts:\n{f}",
             "Turn these facts into a short film description:\n{f}",
             "Write a brief film profile from this information:\n{f}"]


def _films(fetch):
    with sqlite_in(fetch, BOKEH, MOVIES_DB) as con:
        cols = ["ID", "Title", "Year", "Genre", "Director", "Writer", "Cast", "Runtime",
                "Language", "Country", "Released", "Oscars"]  # CAST is an SQL keyword: quoted
        quoted = ", ".join('"' + c + '"' for c in cols)
        cur = con.execute(f"SELECT {quoted} FROM omdb ORDER BY ID")
        cols = [c[0] for c in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    for row in rows:
        k = row["ID"]
        made = film_text(row, k)
        if made is None:
            yield dropped("too_few_facts", "films")
            continue
        facts, text = made
        if not facts_in_text(facts, text):
            yield dropped("fact_missing_from_text", "films")
            continue
        listed = "\n".join(f"- {f}" for f in facts)
        yield record(pick(_ASK_FILM, "film", k).format(f=listed), text, "films", f"film:{k}")


def read_films(fetch):
    yield from sample_groups(_films(fetch), FILMS, "films")


# -- chemical elements (mendeleev elements.db): a profile paragraph from facts --------------

def element_text(row: dict, series: str, variant: int) -> tuple[list[str], str]:
    name, sym, z = row["name"], row["symbol"], row["atomic_number"]
    facts = [f"Element: {name}", f"Symbol: {sym}", f"Atomic number: {z}"]
    text = [f"{name} is the chemical element with the symbol {sym} and atomic number {z}."]
    if series and variant in (0, 1, 3):
        facts.append(f"Series: {series.lower()}")
        text.append(f"It is one of the {series.lower()}.")
    if row["group_id"] and row["period"] and variant in (0, 2, 3):
        facts += [f"Group: {row['group_id']}", f"Period: {row['period']}"]
        text.append(f"It sits in group {row['group_id']} and period {row['period']} of the "
                    f"periodic table.")
    if row["atomic_weight"] and variant in (1, 2, 3):
        w = f"{row['atomic_weight']:.3f}".rstrip("0").rstrip(".")
        facts.append(f"Atomic weight: {w}")
        text.append(f"Its atomic weight is {w}.")
    disc, year, where = row["discoverers"], row["discovery_year"], row["discovery_location"]
    if disc and variant in (0, 1, 2):
        disc = clean(disc).rstrip(".")
        if disc.lower().startswith("known to the ancients"):
            facts.append("Discovery: known since ancient times")
            text.append("It has been known since ancient times.")
        elif len(disc) < 80:
            facts.append(f"Discovered by: {disc}")
            extra = ""
            if year:
                facts.append(f"Year of discovery: {year}")
                extra += f" in {year}"
            if where and len(where) < 40 and re.fullmatch(r"[A-Za-z ]+", where):
                facts.append(f"Place of discovery: {where}")
                extra += f" in {where}"
            text.append(f"It was discovered by {disc}{extra}.")
    return facts, " ".join(text)


_ASK_ELEMENT = ["Write a short paragraph about this chemical element from these facts:\n{f}",
                "Turn these facts into a short encyclopedia-style paragraph:\n{f}",
                "Describe the element in a few sentences, using only these facts:\n{f}",
                "Write a brief profile of this element:\n{f}"]


def read_elements(fetch):
    with sqlite_in(fetch, MENDELEEV, ELEMENTS_DB) as con:
        series = dict(con.execute("SELECT id, name FROM series").fetchall())
        cur = con.execute("SELECT atomic_number, name, symbol, series_id, group_id, period, "
                          "atomic_weight, discoverers, discovery_year, discovery_location "
                          "FROM elements ORDER BY atomic_number")
        cols = [c[0] for c in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    for row in rows:
        for variant in range(4):
            facts, text = element_text(row, series.get(row["series_id"], ""), variant)
            if len(facts) < 5:
                yield dropped("too_few_facts", "elements")
                continue
            if not facts_in_text(facts, text):
                yield dropped("fact_missing_from_text", "elements")
                continue
            listed = "\n".join(f"- {f}" for f in facts)
            for j in range(2):
                ask = pick(_ASK_ELEMENT, "element", row["symbol"], variant, j)
                yield record(ask.format(f=listed), text, "elements", f"element:{row['symbol']}")


# -- rewriting a paragraph in the past (or present) tense (generated) ------------------------

# (present third person, past): only regular-looking pairs written out, so both are right.
_VERBS = {"walk": ("walks", "walked"), "open": ("opens", "opened"), "buy": ("buys", "bought"),
          "take": ("takes", "took"), "make": ("makes", "made"), "see": ("sees", "saw"),
          "find": ("finds", "found"), "write": ("writes", "wrote"), "read": ("reads", "read"),
          "carry": ("carries", "carried"), "visit": ("visits", "visited"),
          "call": ("calls", "called"), "cook": ("cooks", "cooked"), "paint": ("paints", "painted"),
          "fix": ("fixes", "fixed"), "watch": ("watches", "watched"), "feed": ("feeds", "fed"),
          "plant": ("plants", "planted"), "sing": ("sings", "sang"), "leave": ("leaves", "left"),
          "bring": ("brings", "brought"), "clean": ("cleans", "cleaned"),
          "wash": ("washes", "washed"), "send": ("sends", "sent"), "drive": ("drives", "drove")}
_PEOPLE = ["Maria", "Tom", "Aisha", "Leo", "Grandpa Joe", "The baker", "My neighbour",
           "The old fisherman", "Priya", "Daniel", "The teacher", "Our postman"]
_TIMES = ["Every morning", "On Saturdays", "After lunch", "In the evening", "Before sunrise",
          "Once a week", "On rainy days", "At the weekend"]
# (verb, object) pairs that make sense for anyone.
_ACTS = [("walk", "to the market"), ("buy", "fresh bread and a newspaper"),
         ("open", "the windows to let in the air"), ("take", "the dog to the park"),
         ("make", "a big pot of tea"), ("see", "friends at the corner cafe"),
         ("find", "a quiet bench by the river"), ("write", "a letter to an old friend"),
         ("read", "a chapter of a good book"), ("carry", "the shopping up the hill"),
         ("visit", "the library"), ("call", "their sister on the phone"),
         ("cook", "soup for the whole family"), ("paint", "the garden fence"),
         ("fix", "the squeaky kitchen door"), ("watch", "the boats in the harbour"),
         ("feed", "the ducks on the pond"), ("plant", "tomatoes in the garden"),
         ("sing", "old songs while working"), ("leave", "the house at eight"),
         ("bring", "flowers to a neighbour"), ("clean", "the kitchen until it shines"),
         ("wash", "the car in the driveway"), ("send", "a postcard to a cousin"),
         ("drive", "to the coast")]
_ENDINGS = [("is happy", "was happy"), ("feels tired but content", "felt tired but content"),
            ("is tired but happy", "was tired but happy"), ("loves this routine", "loved this routine"),
            ("is ready for a rest", "was ready for a rest")]


def tense_item(k: int) -> tuple[str, str]:
    """A short paragraph in the present tense and the same paragraph in the past tense."""
    who, when = pick(_PEOPLE, "who", k), pick(_TIMES, "when", k)
    acts = sorted(_ACTS, key=lambda a: stable_hash("tense", k, a[0]))[:3]
    (v1, o1), (v2, o2), (v3, o3) = acts
    end_now, end_then = pick(_ENDINGS, "end", k)
    pres = (f"{when}, {who[0].lower() + who[1:] if who.startswith(('The', 'My', 'Our')) else who} "
            f"{_VERBS[v1][0]} {o1}. Then {_lower(who)} {_VERBS[v2][0]} {o2} and {_VERBS[v3][0]} "
            f"{o3}. By the end of the day, {_lower(who)} {end_now}.")
    past = (f"{when}, {who[0].lower() + who[1:] if who.startswith(('The', 'My', 'Our')) else who} "
            f"{_VERBS[v1][1]} {o1}. Then {_lower(who)} {_VERBS[v2][1]} {o2} and {_VERBS[v3][1]} "
            f"{o3}. By the end of the day, {_lower(who)} {end_then}.")
    return pres, past


def _lower(who: str) -> str:
    return who[0].lower() + who[1:] if who.startswith(("The", "My", "Our")) else who


_ASK_PAST = ["Rewrite this paragraph in the past tense:\n\n{t}",
             "Change this text so it tells what happened yesterday, in the past tense:\n\n{t}",
             "Put this into the past tense, changing nothing else:\n\n{t}"]
_ASK_PRESENT = ["Rewrite this paragraph in the present tense:\n\n{t}",
                "Turn this into the present tense, as a daily routine:\n\n{t}"]


def read_tense(fetch):
    for k in range(TENSE_ITEMS):
        pres, past = tense_item(k)
        if stable_hash("direction", k) % 3:
            yield record(pick(_ASK_PAST, "past", k).format(t=pres), past, "tense", f"tense:{k}")
        else:
            yield record(pick(_ASK_PRESENT, "present", k).format(t=past), pres, "tense", f"tense:{k}")


# -- proofreading (held out) ----------------------------------------------------------------

def read_proofreader(fetch):
    for i, line in enumerate(fetch.read(EVALS, PROOFREADER_FILE).splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        msgs = row.get("input") or []
        sentence = clean(msgs[-1]["content"]) if msgs else ""
        topic = next((m["content"].removeprefix("Text context is ").strip() for m in msgs
                      if m.get("role") == "system" and m["content"].startswith("Text context is")),
                     "")
        ideal = clean(row.get("ideal") or "")
        if not sentence or not ideal:
            yield dropped("unparsed", "proofreader")
            continue
        about = f" (it is about {topic})" if topic else ""
        user = pick(["Proofread this sentence{a} and fix any spelling or grammar mistakes. "
                     "Reply with the corrected sentence only.\n\n{s}",
                     "Please correct the spelling and grammar of this sentence{a}:\n\n{s}"],
                    "proof", i).format(a=about, s=sentence)
        yield record(user, ideal, "proofreader", f"proofreader:{sentence}")


SOURCES = [
    Source("fables", EVALS, FABLES_FILE, "MIT (openai/evals registry data)",
           "Fables from parable-to-moral-match (mostly Aesop): state a fable's moral in a "
           "sentence, or write the fable for a moral.", read=read_fables, benchmark=True),
    Source("films", BOKEH, MOVIES_DB, "CC0-1.0 (Wikidata)",
           "A short film description written from a film's facts (title, year, genres, "
           "director, cast, running time, release), every fact checked to be in the text.",
           read=read_films),
    Source("elements", MENDELEEV, ELEMENTS_DB, "MIT",
           "An encyclopedia-style paragraph about a chemical element written from its facts "
           "(symbol, number, series, group, weight, discovery), every fact checked.",
           read=read_elements),
    Source("tense", GENERATOR, "smolmoe/data/recipes/writer.py (tense_item)", "MIT (generated here)",
           "Rewriting a short everyday paragraph in the past (or present) tense, verb forms "
           "from a fixed table.", read=read_tense),
    Source("proofreader", EVALS, PROOFREADER_FILE, "MIT (openai/evals registry data)",
           "Proofreading a sentence (misspelt names and words; held out: never trained on).",
           read=read_proofreader, benchmark=True),
]
FOREIGN = "proofreader"
