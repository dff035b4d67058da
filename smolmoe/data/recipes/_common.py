"""Small helpers every recipe shares: cleaning text, picking templates, making records."""
from __future__ import annotations

import contextlib
import hashlib
import html
import os
import re
import sqlite3
import tempfile
import unicodedata

# Experts train at 256-384 tokens; ~1,400 characters of user+assistant text fits in that.
MAX_CHARS = 1400

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB012]")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?=\s|$)")


# UTF-8 read as Latin-1 somewhere upstream ("â€™", "ã ¢ â ‚ ¬"): such text cannot be repaired.
_MOJIBAKE = re.compile(r"[ÃÂâã]\s?[€‚„¢¬™œ]|ï¿½|\ufffd")


def looks_garbled(text: str) -> bool:
    return bool(_MOJIBAKE.search(text))


def clean(text: str) -> str:
    """Prose cleanup: no ANSI codes, no invisible characters, single spaces, NFC."""
    text = unicodedata.normalize("NFC", html.unescape(str(text)))  # "&minus;7" -> "−7"
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def clean_code(text: str) -> str:
    """Code cleanup: like clean() but indentation is kept (tabs become four spaces)."""
    text = unicodedata.normalize("NFC", _ANSI.sub("", str(text)))
    text = _INVISIBLE.sub("", text).replace("\r\n", "\n").replace("\t", "    ")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def stable_hash(*parts) -> int:
    """A hash that is the same in every process (python's hash() is salted per run)."""
    data = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def pick(options, *key):
    """Choose one option deterministically from the item's key (varies phrasing per item)."""
    return options[stable_hash(*key) % len(options)]


def n_words(text: str) -> int:
    return len(text.split())


def sentences_within(text: str, max_chars: int) -> str | None:
    """The longest prefix of `text` that ends at a sentence boundary and fits max_chars.

    None when even the first sentence is too long: callers then drop the example rather
    than show the model a sentence cut mid-way.
    """
    if len(text) <= max_chars:
        return text
    best = None
    for m in _SENTENCE_END.finditer(text):
        if m.end() > max_chars:
            break
        best = m.end()
    return text[:best].rstrip() if best else None


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def end_with_period(text: str) -> str:
    text = text.rstrip()
    return text if not text or text[-1] in ".!?\"')`" else text + "."


def record(user: str, assistant: str, source: str, group: str) -> dict:
    """One single-turn example as recipes yield it (build() adds the domain)."""
    return {"messages": [{"role": "user", "content": user},
                         {"role": "assistant", "content": assistant}],
            "source": source, "group": group}


def dropped(reason: str, source: str) -> dict:
    """What a recipe yields for an example its own checks rejected: build() counts it by reason."""
    return {"dropped": reason, "source": source}


def dialog(turns: list[str], source: str, group: str, system: str | None = None) -> dict:
    """A multi-turn example: turns alternate user, assistant, ... and end on the assistant."""
    roles = ("user", "assistant")
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]
    return {"messages": messages, "source": source, "group": group}


@contextlib.contextmanager
def sqlite_in(fetch, package: str, member: str):
    """A read-only connection to an SQLite file inside a package's archive; sqlite needs a
    real file, so the bytes are copied to a temporary one, removed when the block ends."""
    fd, name = tempfile.mkstemp(suffix=".db")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(fetch.read_bytes(package, member))
        con = sqlite3.connect(f"file:{name}?mode=ro", uri=True)
        try:
            yield con
        finally:
            con.close()
    finally:
        os.unlink(name)
