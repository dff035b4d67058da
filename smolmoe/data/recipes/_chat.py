"""Conversation helpers shared by recipes: cutting dialogues, reading chatterbot-corpus."""
from __future__ import annotations

import yaml

from ._common import MAX_CHARS, clean, dialog

CHATTERBOT = "chatterbot-corpus"
WINDOW_CHARS = MAX_CHARS - 100


def windows(turns: list[str], budget: int = WINDOW_CHARS, max_turns: int = 6):
    """Cut a conversation into consecutive even-length pieces that fit the budget.

    Every piece starts on the same speaker parity (so one person is always the "user")
    and ends on the other person's turn; a turn too long for any piece is skipped past.
    """
    i = 0
    while i + 1 < len(turns):
        n, size = 0, 0
        while i + n + 1 < len(turns) and n + 2 <= max_turns:
            pair = len(turns[i + n]) + len(turns[i + n + 1])
            if size + pair > budget:
                break
            n, size = n + 2, size + pair
        if n:
            yield turns[i:i + n]
            i += n
        else:
            i += 2


def chatterbot(fetch, files, source):
    """Conversations from chatterbot-corpus English YAML files, cut into windows."""
    for name in files:
        text = fetch.read(CHATTERBOT, f"chatterbot_corpus/data/english/{name}.yml")
        data = yaml.safe_load(text) or {}
        for j, conv in enumerate(data.get("conversations") or []):
            turns = [clean(str(t)) for t in conv if t is not None]
            if len(turns) % 2:
                turns = turns[:-1]  # must end on the bot's turn
            if len(turns) >= 2 and all(turns):
                for piece in windows(turns):
                    yield dialog(piece, source, f"chatterbot:{name}:{j}")
