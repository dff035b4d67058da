"""Actor: open conversation and playing a role in multi-turn dialogue."""
from __future__ import annotations

import re

from ._chat import CHATTERBOT, chatterbot, windows
from ._common import MAX_CHARS, best_answer, clean, dialog
from ._sample import sample_groups
from .sources import Source, bigbench_source

DOMAIN = "actor"
DESCRIPTION = ("Conversation: chatting naturally over several turns about everyday topics and "
               "daily situations, and acting as a booking assistant that follows given "
               "instructions.")
SOURCES = [
    bigbench_source("topical_chat", "Topical-Chat: knowledge-grounded chit-chat between two "
                    "people, cut into windows of a few turns."),
    bigbench_source("gem/schema_guided_dialog", "Schema-Guided Dialogue: the assistant's next "
                    "turn, with its dialogue acts given as a system instruction."),
    bigbench_source("timedial", "DailyDialog conversations (everyday situations between two "
                    "people) with the masked time expression filled in by its correct option."),
    Source("chatterbot/english", f"PyPI {CHATTERBOT[0]}=={CHATTERBOT[1]} wheel",
           "chatterbot_corpus/data/english/*.yml (chit-chat categories)", "BSD-3-Clause",
           "Short hand-written English small talk (held out: never trained on)."),
]
FOREIGN = "chatterbot/english"
NOTE = ""

PER_SOURCE = 250  # conversations kept per big source (topical_chat ~8.6k, timedial ~1k)

# Chatterbot files about the bot itself go to the guardian, trivia to the encyclopedia;
# coding and tech support are terse one-liners of uneven quality. The rest is chit-chat.
CHATTERBOT_FILES = ["conversations", "greetings", "emotion", "humor", "gossip", "literature",
                    "movies", "sports", "food", "politics", "money", "science", "history",
                    "health"]


def examples(fetch):
    yield from sample_groups(_topical_chat(fetch), PER_SOURCE, "actor")
    yield from _schema_guided(fetch)
    yield from sample_groups(_timedial(fetch), PER_SOURCE, "actor")
    yield from chatterbot(fetch, CHATTERBOT_FILES, "chatterbot/english")


_SPEAKER = re.compile(r"^\s*([AB]):\s*", re.M)


def _timedial(fetch):
    """Each item is a conversation cut at a turn with a masked time span; several items share a
    conversation (other options, other masks). The conversation up to the filled-in turn is
    kept: that turn is the reply to learn."""
    for task in fetch.bigbench("timedial").values():
        for ex in task.get("examples", []):
            answer = best_answer(ex)
            _, _, context = ex["input"].partition("Context:")
            if answer is None or context.count("<MASK>") != 1:
                continue
            parts = _SPEAKER.split(context.strip())
            # ["", "A", text, "B", text, ...]: speakers must alternate
            speakers, turns = parts[1::2], [clean(t) for t in parts[2::2]]
            if parts[0].strip() or any(a == b for a, b in zip(speakers, speakers[1:])):
                continue
            first = turns[0]  # one conversation, whichever turn is masked: one group
            k = next(i for i, t in enumerate(turns) if "<MASK>" in t)
            turns = turns[:k] + [clean(turns[k].replace("<MASK>", answer.strip()))]
            if len(turns) < 2:
                continue
            if len(turns) % 2:
                turns = turns[1:]  # the other speaker opens, so the filled turn is the reply
            piece = turns[-6:]
            while len(piece) > 2 and sum(map(len, piece)) > MAX_CHARS - 100:
                piece = piece[2:]
            yield dialog(piece, "bigbench/timedial", f"timedial:{first[:200]}")


def _topical_chat(fetch):
    """Each example's target is the next turn; consecutive examples share a conversation id."""
    convs: dict[str, list[str]] = {}
    for task in fetch.bigbench("topical_chat").values():
        for ex in task.get("examples", []):
            cid = ex.get("comment")
            if not cid:
                continue
            turns = convs.get(cid)
            if turns is None:
                first = re.match(r'agent_[AB]: "(.*)"\s*$', ex["input"].strip(), re.S)
                if not first:
                    continue
                turns = convs[cid] = [first.group(1)]
            turns.append(ex.get("target", "").strip().strip('"'))
    for cid, turns in convs.items():
        turns = [clean(t) for t in turns]
        if not all(turns):
            continue
        for w, piece in enumerate(windows(turns)):
            yield dialog(piece, "bigbench/topical_chat", f"topical_chat:{cid}")


_SIGNAL = re.compile(r'The assistant signals "(\w+)"(?: with the values "(.*?)" for "(\w+)")?\.')
_TURN = re.compile(r'(user|response): "(.*?)"\.(?=\s+(?:user|response): "|\s*$)', re.S)


def _act(act: str, value: str | None, slot: str | None) -> str:
    slot = (slot or "").replace("_", " ")
    value = value or ""
    return {
        "offer": f"offer {slot}: {value}", "confirm": f"confirm {slot}: {value}",
        "inform": f"tell the user the {slot}: {value}",
        "inform_count": f"say how many results you found: {value}",
        "notify_success": "say that the request succeeded",
        "notify_failure": "say that the request could not be completed",
        "goodbye": "say goodbye", "req_more": "ask whether they need anything else",
        "request": f"ask for the {slot}" + (f" (options: {value})" if value else ""),
        "offer_intent": "offer to " + re.sub(r"(?<=[a-z])(?=[A-Z])", " ", value).lower(),
    }.get(act, act.replace("_", " "))


def _schema_guided(fetch):
    for task in fetch.bigbench("gem/schema_guided_dialog").values():
        for i, ex in enumerate(task.get("examples", [])):
            acts, _, conv = ex["input"].partition("The conversation so far has been for following: ")
            turns = [(who, clean(text)) for who, text in _TURN.findall(conv.strip())]
            reply = clean(ex.get("target") or "")
            plan = [_act(*m.groups()) for m in _SIGNAL.finditer(acts)]
            if not turns or turns[-1][0] != "user" or not reply or not plan:
                continue
            system = ("You are a virtual assistant that helps people find and book services. "
                      f"In your next reply: {'; '.join(plan)}.")
            # Keep the latest turns that fit, starting on a user turn.
            texts = [t for _, t in turns] + [reply]
            if [w for w, _ in turns] != ["user", "response"] * (len(turns) // 2) + ["user"]:
                continue
            # Earlier assistant turns were written under other instructions: keep few of them.
            texts = texts[-6:]
            budget = MAX_CHARS - len(system)
            while len(texts) > 2 and sum(map(len, texts)) > budget:
                texts = texts[2:]
            yield dialog(texts, "bigbench/gem/schema_guided_dialog",
                         f"sgd:{turns[0][1]}", system=system)
