"""Actor: open conversation and playing a role over several turns.

Training: human chit-chat (chitchat-dataset, cleaned), a booking assistant that follows its
system instruction and a character that stays in its role sheet (both generated here), and
what people in an everyday situation feel or do next (SocialIQa, answered in a sentence).
Held out: chatterbot-corpus's short hand-written small talk.
"""
from __future__ import annotations

import json
import re
from collections import Counter

from ._chat import CHATTERBOT, chatterbot, windows
from ._common import (clean, dialog, dropped, end_with_period, pick, record, sentence_case,
                      stable_hash)
from ._sample import sample_groups
from .sources import GENERATOR, Source

DOMAIN = "actor"
DESCRIPTION = ("Conversation: chatting naturally over several turns, acting as a booking "
               "assistant or a given character that follows its instructions, and saying how "
               "people in an everyday situation feel or what they will do next.")
NOTE = ""

CHITCHAT = "chitchat-dataset"
CHITCHAT_FILE = "chitchat_dataset/dataset.json"
EVALS = "evals"
SOCIALIQA_FILE = "evals/registry/data/theory_of_mind/socialiqa/test.jsonl"

CHITCHAT_CONVERSATIONS = 1500  # of 7,168: enough for the source's quota, quick to read
CHITCHAT_WINDOWS = 2  # windows kept per conversation, so that one long chat cannot dominate
BOOKINGS = 1500
CHARACTERS = 1500

# Chatterbot files about the bot itself go to the guardian, trivia to the encyclopedia;
# coding and tech support are terse one-liners of uneven quality. The rest is chit-chat.
CHATTERBOT_FILES = ["conversations", "greetings", "emotion", "humor", "gossip", "literature",
                    "movies", "sports", "food", "politics", "money", "science", "history",
                    "health"]


# -- chitchat-dataset: human conversations, lower case and typos cleaned ---------------------

_FIXES = {"i": "I", "im": "I'm", "ive": "I've", "ill": "I'll", "id": "I'd", "dont": "don't",
          "doesnt": "doesn't", "didnt": "didn't", "cant": "can't", "wont": "won't",
          "isnt": "isn't", "arent": "aren't", "wasnt": "wasn't", "werent": "weren't",
          "havent": "haven't", "hasnt": "hasn't", "couldnt": "couldn't", "shouldnt": "shouldn't",
          "wouldnt": "wouldn't", "thats": "that's", "whats": "what's", "hows": "how's",
          "theyre": "they're", "youre": "you're", "youve": "you've", "theres": "there's",
          "lets": "let's", "u": "you", "ur": "your", "r": "are", "ya": "you", "thx": "thanks",
          "pls": "please", "plz": "please", "idk": "I don't know", "tho": "though",
          "cuz": "because", "bc": "because", "gonna": "going to", "wanna": "want to",
          "yea": "yeah", "ok": "okay", "i'm": "I'm", "i've": "I've", "i'll": "I'll",
          "i'd": "I'd"}
_WORD = re.compile(r"[A-Za-z']+")
# Chats with these go: a model should not learn to say them back.
_OFFENSIVE = re.compile(r"\b(fuck\w*|shit\w*|bitch\w*|dick|pussy|cunt|nigg\w*|fag\w*|retard\w*|"
                        r"sex\w*|porn\w*|rape\w*|kill (?:my|your)self|suicid\w*|drunk|weed|"
                        r"nude\w*|boob\w*|penis|vagina|slut\w*|whore\w*)\b", re.I)
_JUNK = re.compile(r"https?://|www\.|@\w|\d{3}[-. ]\d{3}[-. ]\d{4}|[^\x00-\x7f’‘“”…—–]")


def tidy_message(text: str) -> str:
    """One chat message as a written sentence: common chat spellings fixed, sentence case,
    final punctuation ("im doing good" -> "I'm doing good.")."""
    text = clean(text)
    text = _WORD.sub(lambda m: _FIXES.get(m.group(0).lower(), m.group(0)), text)
    text = re.sub(r"\s+([,.!?])", r"\1", text)
    text = re.sub(r"([!?.])\1{2,}", r"\1", text)  # "!!!!" -> "!"
    text = re.sub(r"(?<=[.!?] )([a-z])", lambda m: m.group(1).upper(), text)
    return end_with_period(sentence_case(text))


def _chitchat_conversations(fetch):
    data = json.loads(fetch.read(CHITCHAT, CHITCHAT_FILE))
    for cid in sorted(data):
        turns, bad = [], None
        for turn in data[cid].get("messages") or []:
            texts = [str(m.get("text") or "") for m in turn]
            joined = " ".join(tidy_message(t) for t in texts if t.strip())
            if _OFFENSIVE.search(joined):
                bad = "offensive"
            elif _JUNK.search(joined):
                bad = bad or "link_or_odd_characters"
            turns.append(joined)
        if bad:
            yield dropped(bad, "chitchat")
            continue
        turns = [t for t in turns if t]
        if len(turns) < 4:
            yield dropped("too_few_turns", "chitchat")
            continue
        for piece in list(windows(turns))[:CHITCHAT_WINDOWS]:
            yield dialog(piece, "chitchat", f"chitchat:{cid}")


def read_chitchat(fetch):
    yield from sample_groups(_chitchat_conversations(fetch), CHITCHAT_CONVERSATIONS, "chitchat")


# -- SocialIQa: how people feel and what they do next, answered in a sentence ----------------

_SIQA = re.compile(r"^(?P<context>.*?[.!?\"'])\s+(?P<question>[^.?]*\?)\s+A: (?P<A>.*); "
                   r"B: (?P<B>.*); C: (?P<C>.*)\.\s*$", re.S)
_PAST_LEAD = re.compile(r"^(wanted|needed|was|were|had|liked|loved|felt|knew|thought|"
                        r"didn't|did|tried|hoped|decided|cared|enjoyed)\b", re.I)


def _who(name: str) -> str:
    return "the others" if name.lower() == "others" else name


def _proper_names(texts) -> set[str]:
    """Words written capitalised inside sentences far more often than in lower case."""
    upper, lower = Counter(), Counter()
    for text in texts:
        for m in re.finditer(r"(?<=[a-z,] )([A-Za-z]+)\b", text):
            word = m.group(1)
            (upper if word[0].isupper() else lower)[word.lower()] += 1
    return {w.title() for w, n in upper.items() if n >= 3 and lower[w] * 10 < n}


def _fix_names(text: str, names: set[str]) -> str:
    return re.sub(r"\b[a-z]+\b", lambda m: m.group(0).title()
                  if m.group(0).title() in names else m.group(0), text)


def _bare_verb(phrase: str) -> bool:
    """Does the option start like a bare verb phrase ("catch the fish"), not a noun phrase?"""
    return bool(re.match(r"^[a-z]+\b", phrase)) and \
        not re.match(r"^(a|an|the|he|she|they|it|very)\b", phrase)


def socialiqa_answer(question: str, option: str) -> str | None:
    """The correct option as a sentence answering the question, or None where the question
    is of a rare kind (or the option does not fit it) and would read badly."""
    opt = option.strip().rstrip(".,;")
    low = opt[:1].lower() + opt[1:]
    if not opt:
        return None
    m = re.fullmatch(r"What will (.+?) want to do (?:next|after)\?", question)
    if m:
        return f"{sentence_case(_who(m.group(1)))} will probably want to {re.sub(r'^to ', '', low)}."
    m = re.fullmatch(r"How would you describe (.+?)\?", question)
    if m:
        return f"I would describe {_who(m.group(1))} as {low}."
    m = re.fullmatch(r"Why did (.+?) do this\?", question)
    if m:
        who = _who(m.group(1))
        if low.startswith("to "):
            return f"{sentence_case(who)} did this {low}."
        if _PAST_LEAD.match(low):
            return f"{sentence_case(who)} did this because they {low}."
        return f"{sentence_case(who)} did this to {low}." if _bare_verb(low) else None
    m = re.fullmatch(r"How would (.+?) feel (?:afterwards|as a result(?: of this)?)\?", question)
    if m:
        who = _who(m.group(1))
        if re.match(r"^(they|he|she|it)\b", low):
            return None
        return f"{sentence_case(who)} would probably feel {low}."
    m = re.fullmatch(r"What does (.+?) need to do before this\?", question)
    if m:
        return f"Before this, {_who(m.group(1))} needed to {re.sub(r'^(?:to|needs? to|needed to) ', '', low)}."
    m = re.fullmatch(r"What will happen to (.+?)\?", question)
    if m:
        who = _who(m.group(1))
        low = re.sub(r"^(?:he|she|they) will ", "", low)
        ok = _bare_verb(low) and not re.match(r"^\w+(?:ing|ed)\b", low)
        return f"{sentence_case(who)} will probably {low}." if ok else None  # "thank Bailey"
    return None


_SIQA_ASK = ["{c} {q}", "{c}\n\n{q}", "Here's a situation: {c} {q}", "{c} {q} Answer in a sentence."]


def read_socialiqa(fetch):
    rows = [json.loads(line) for line in fetch.read(EVALS, SOCIALIQA_FILE).splitlines() if line.strip()]
    parsed = []
    for i, row in enumerate(rows):
        m = _SIQA.match(clean(row["input"][-1]["content"]))
        ideal = str(row.get("ideal", "")).strip()
        if not m or ideal not in "ABC" or not ideal:
            parsed.append(None)
            continue
        parsed.append((m, ideal))
    # Names people in the situations go by (SocialIQa uses a few dozen): capitalised where a
    # worker typed them in lower case ("bailey was a nice person").
    names = _proper_names(m.group("context") for m, _ in filter(None, parsed))
    for i, item in enumerate(parsed):
        if item is None:
            yield dropped("unparsed", "socialiqa")
            continue
        m, ideal = item
        context = sentence_case(_fix_names(m.group("context"), names))
        question = re.sub(r"\b(?<=\w )Others\b", "the others", _fix_names(m.group("question"), names))
        answer = socialiqa_answer(question, _fix_names(m.group(ideal), names))
        if answer is None:
            yield dropped("question_kind_not_phrased", "socialiqa")
            continue
        user = pick(_SIQA_ASK, "siqa", i).format(c=context, q=question)
        yield record(user, answer, "socialiqa", f"socialiqa:{context}")


# -- a booking assistant that follows its system instruction (generated) ---------------------

_PLACES = [  # (kind, business, what is booked, unit for the party, opening hour, closing hour)
    ("restaurant", "The Olive Tree", "a table", "people", 12, 22),
    ("restaurant", "Blue Harbour Bistro", "a table", "people", 17, 23),
    ("restaurant", "Golden Lantern", "a table", "people", 11, 21),
    ("hair salon", "Fresh Cuts", "an appointment", "people", 9, 18),
    ("spa", "Willow Spa", "a massage", "people", 10, 19),
    ("bowling alley", "Strike Zone", "a lane", "players", 14, 23),
    ("escape room", "Locked In", "a room", "players", 12, 22),
    ("tennis club", "Green Court Club", "a court", "players", 7, 21),
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_NAMES = ["Anna", "Ben", "Carla", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jack",
          "Kim", "Leo", "Maya", "Noah", "Olivia", "Paul", "Rosa", "Sam", "Tara", "Victor"]
_NUMBERS = ["one", "two", "three", "four", "five", "six"]


def _clock(hour: int) -> str:
    return f"{hour % 12 or 12} {'am' if hour < 12 else 'pm'}"


def _booking(k: int) -> dict:
    kind, place, thing, unit, opens, closes = pick(_PLACES, "place", k)
    day, name = pick(_DAYS, "day", k), pick(_NAMES, "name", k)
    n = 1 + stable_mod(k, "n", 4 if unit == "players" else 6)
    party = f"{_NUMBERS[n - 1]} {unit if n > 1 else unit[:-1] if unit != 'people' else 'person'}"
    hour = opens + stable_mod(k, "hour", closes - opens)
    late = stable_mod(k, "late", 4) == 0  # the user first asks for a time after closing
    system = (f"You are the booking assistant of {place}, a {kind}. {place} is open every day "
              f"from {_clock(opens)} to {_clock(closes)}. Ask for the day, the time and the number "
              f"of {unit}, then a name, and confirm the booking. Never book outside opening hours.")
    turns = [pick([f"Hi, I'd like to book {thing} for {day}.",
                   f"Hello! Can I book {thing} on {day}, please?",
                   f"Hi there, do you have {thing} free on {day}?"], "open", k)]
    turns.append(pick([f"Of course! How many {unit} will there be, and what time would you like on {day}?",
                       f"Happy to help. For how many {unit}, and at what time on {day}?"], "ask", k))
    if late:
        turns.append(f"{sentence_case(party)}, at {_clock(closes)} please.")
        turns.append(f"I'm sorry, {place} closes at {_clock(closes)}, so the latest I can book is "
                     f"{_clock(closes - 1)}. Would {_clock(closes - 1)} or an earlier time work for you?")
        hour = closes - 1 if stable_mod(k, "accept", 2) else hour
        turns.append(f"Okay, {_clock(hour)} then.")
    else:
        turns.append(pick([f"{sentence_case(party)}, at {_clock(hour)}.",
                           f"We'll be {party}, around {_clock(hour)} if possible."], "slots", k))
    turns.append(f"{_clock(hour)} on {day} for {party} is available. What name should I put "
                 f"the booking under?")
    turns.append(pick([f"It's {name}.", f"{name}, please.", f"Under {name}."], "name", k))
    turns.append(f"Thank you, {name}. You're booked at {place} on {day} at {_clock(hour)} for "
                 f"{party}. See you then!")
    return dialog(turns, "booking", f"booking:{k}", system=system)


def stable_mod(k: int, what: str, n: int) -> int:
    return stable_hash("actor", what, k) % n


def read_bookings(fetch):
    for k in range(BOOKINGS):
        yield _booking(k)


# -- a character that stays in its role sheet (generated) ------------------------------------

_JOBS = [("baker", "I bake bread and cakes, and I start work at four every morning."),
         ("lighthouse keeper", "I look after the lamp and keep watch over the ships at night."),
         ("nurse", "I look after patients on a busy hospital ward."),
         ("gardener", "I plant flowers, trim hedges and grow vegetables for a big estate."),
         ("train driver", "I drive passenger trains between the city and the coast."),
         ("librarian", "I help people find books and run the children's reading hour."),
         ("fisherman", "I take my boat out before sunrise and bring back the day's catch."),
         ("teacher", "I teach history to teenagers at the local school."),
         ("carpenter", "I build tables, chairs and cupboards in my own workshop."),
         ("pilot", "I fly small planes between the islands.")]
_TOWNS = ["in a small village by the sea", "in a busy harbour town", "in a quiet mountain village",
          "in a market town in the countryside", "in a big city by a river",
          "on an island in the north"]
_HOBBIES = ["playing the fiddle", "painting watercolours", "long walks in the hills",
            "baking pies", "reading detective stories", "growing tomatoes", "birdwatching",
            "chess", "swimming in the sea", "telling old stories"]
_PETS = ["a sleepy old dog called Biscuit", "a black cat called Pepper", "a parrot called Captain",
         "two goats called Salt and Pepper", "a tortoise called Sir Slow", "no pets at all"]
_FOODS = ["fish soup", "apple pie", "fresh bread with butter", "roast potatoes",
          "strawberries with cream", "a hot stew on a cold day"]
_CHARACTER_NAMES = ["Old Tom", "Martha", "Captain Rosie", "Elias", "Granny Mae", "Felix",
                    "Nora", "Bram", "Aunt Lou", "Otto"]

# Each question asks about one line of the sheet; the answer says that line in the first person.
_QUESTIONS = {
    "job": (["What do you do for a living?", "What's your job?", "So what work do you do?"],
            lambda c: f"I'm a {c['job']}. {c['job_line']}"),
    "home": (["Where do you live?", "Where are you from?", "Tell me about your home."],
             lambda c: f"I live {c['town']}. I've been there all my life."),
    "hobby": (["What do you do for fun?", "Do you have any hobbies?",
               "What do you like doing in your free time?"],
              lambda c: f"When I'm not working, I love {c['hobby']}."),
    "pet": (["Do you have any pets?", "Any animals at home?"],
            lambda c: "No, I have no pets at all." if c["pet"] == "no pets at all"
            else f"Yes, I have {c['pet']}."),
    "food": (["What's your favourite food?", "What do you like to eat?"],
             lambda c: f"My favourite is {c['food']}. Nothing beats it."),
    "name": (["What's your name?", "Who am I talking to?"],
             lambda c: f"I'm {c['name']}. Pleased to meet you!"),
}


def _character(k: int) -> dict:
    job, job_line = pick(_JOBS, "job", k)
    c = {"name": pick(_CHARACTER_NAMES, "cname", k), "job": job, "job_line": job_line,
         "town": pick(_TOWNS, "town", k), "hobby": pick(_HOBBIES, "hobby", k),
         "pet": pick(_PETS, "pet", k), "food": pick(_FOODS, "food", k)}
    system = (f"You are {c['name']}, a {c['job']} who lives {c['town']}. You love "
              f"{c['hobby']}, you have {c['pet']}, and your favourite food is {c['food']}. "
              "Stay in character and answer as this person, in the first person, warmly and briefly.")
    topics = sorted(_QUESTIONS, key=lambda t: stable_mod(k, "topic:" + t, 1 << 30))[:3]
    turns = []
    for t in topics:
        asks, say = _QUESTIONS[t]
        turns += [pick(asks, "ask", k, t), say(c)]
    return dialog(turns, "character", f"character:{k}", system=system)


def read_characters(fetch):
    for k in range(CHARACTERS):
        yield _character(k)


def read_chatterbot(fetch):
    yield from chatterbot(fetch, CHATTERBOT_FILES, "chatterbot/english")


SOURCES = [
    Source("chitchat", CHITCHAT, CHITCHAT_FILE, "MIT",
           "Human chit-chat between two people (chitchat-dataset), chat spellings and case "
           "cleaned, cut into windows of a few turns; offensive chats dropped.",
           read=read_chitchat),
    Source("booking", GENERATOR, "smolmoe/data/recipes/actor.py (_booking)", "MIT (generated here)",
           "A booking assistant that follows its system instruction (opening hours, slots to "
           "ask for) over a whole conversation, with names, days and times from small lists.",
           read=read_bookings),
    Source("character", GENERATOR, "smolmoe/data/recipes/actor.py (_character)", "MIT (generated here)",
           "Playing a character given in the system message: questions about its life "
           "answered in the first person, consistently with the role sheet.",
           read=read_characters),
    Source("socialiqa", EVALS, SOCIALIQA_FILE, "CC-BY-4.0",
           "SocialIQa everyday situations (via openai/evals): how people feel or what they will "
           "do next, answered in a sentence from the correct option.",
           read=read_socialiqa, benchmark=True),
    Source("chatterbot/english", CHATTERBOT, "chatterbot_corpus/data/english/*.yml "
           "(chit-chat categories)", "BSD-3-Clause",
           "Short hand-written English small talk (held out: never trained on).",
           read=read_chatterbot),
]
FOREIGN = "chatterbot/english"
