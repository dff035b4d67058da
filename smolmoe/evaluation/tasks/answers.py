"""Short answers: normalisation, the last answer-like token (thinker), key-answer match
(encyclopedia) and value answers (analyst table questions). Rules in docs/eval.md."""
from __future__ import annotations

import re
import string

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                "seventeen", "eighteen", "nineteen", "twenty"]
YES, NO = {"yes", "true", "correct", "right"}, {"no", "false", "incorrect", "wrong"}
_MONTH = r"(?:" + "|".join(m[:3] + r"(?:" + m[3:] + r")?" for m in MONTHS) + r")\.?"

# Alternatives in priority order: at one position a date wins over the numbers inside it.
_TOKEN = re.compile(
    r"(?P<iso>\b\d{4}-\d{1,2}-\d{1,2}\b)"
    r"|(?P<mdy>\b\d{1,2}/\d{1,2}/\d{4}\b)"
    rf"|(?P<month_first>\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b)"
    rf"|(?P<day_first>\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b)"
    r"|(?P<option>\(([A-Z])\)|\b(?:option|answer is|answer:)\s*\(?([A-Z])\b\)?)"
    r"|(?P<number>-?\$?\d[\d,]*(?:\.\d+)?|\b(?:" + "|".join(NUMBER_WORDS) + r")\b)"
    r"|(?P<yesno>\b(?:yes|no|true|false)\b)",
    re.IGNORECASE)


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, articles dropped, whitespace collapsed."""
    text = text.lower().replace("\u2019", "'")
    text = text.translate(str.maketrans({c: " " for c in string.punctuation}))
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


def _date(match: re.Match) -> str:
    kind, raw = match.lastgroup, match.group(0).lower()
    if kind == "iso":
        y, m, d = raw.split("-")
    elif kind == "mdy":
        m, d, y = raw.split("/")
    else:
        m = next(i + 1 for i, name in enumerate(MONTHS) if name[:3] in raw)
        d, y = re.findall(r"\d+", raw)          # the day comes before the year in both forms
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}"


def _number(raw: str) -> float:
    raw = raw.lower().replace("$", "").replace(",", "")
    return float(NUMBER_WORDS.index(raw)) if raw in NUMBER_WORDS else float(raw)


def answer_tokens(text: str) -> list[tuple[str, str]]:
    """Every answer-like token in text order as (kind, normalised value); kinds: date, option,
    number, yesno."""
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind in ("iso", "mdy", "month_first", "day_first"):
            out.append(("date", _date(m)))
        elif kind == "option":
            letter = next(g for g in m.groups()[m.re.groupindex["option"]:] if g)
            out.append(("option", letter.upper()))
        elif kind == "number":
            out.append(("number", repr(_number(m.group(0)))))
        else:
            out.append(("yesno", "yes" if m.group(0).lower() in YES else "no"))
    return out


def final_answer(text: str) -> tuple[str, str] | None:
    """The last answer-like token of a text, or None."""
    tokens = answer_tokens(text)
    return tokens[-1] if tokens else None


def final_answer_match(reference: str, reply: str) -> bool:
    """Thinker rule: the reference's last answer-like token equals the reply's last token of
    the same kind; with no such token in the reference, the reference's normalised last
    sentence must appear in the normalised reply."""
    target = final_answer(reference)
    if target is None:
        last = re.split(r"(?<=[.!?])\s+", reference.strip())[-1]
        return bool(normalise(last)) and normalise(last) in normalise(reply)
    same_kind = [t for t in answer_tokens(reply) if t[0] == target[0]]
    return bool(same_kind) and same_kind[-1] == target


STOPWORDS = set("is are was were be been of in on at to for by with from and or it its this that "
                "these those as he she they his her their there which who what when where".split())


def verdict(text: str) -> str | None:
    """yes/no when the text opens with a verdict word ("True.", "No, that's false.")."""
    words = normalise(text).split()
    if words and words[0] in YES | NO:
        return "yes" if words[0] in YES else "no"
    return None


def key_answer_match(prompt: str, reference: str, reply: str) -> bool:
    """Encyclopedia rule: a verdict reference needs the reply's first verdict word to agree;
    otherwise every key word of the reference (its words absent from the prompt, stopwords
    dropped) must occur in the reply; a reference with no key word must match exactly."""
    wanted = verdict(reference)
    if wanted is not None:
        words = [w for w in normalise(reply).split() if w in YES | NO]
        return bool(words) and ("yes" if words[0] in YES else "no") == wanted
    asked = set(normalise(prompt).split())
    key = [w for w in normalise(reference).split() if w not in asked and w not in STOPWORDS]
    if not key:
        return normalise(reference) == normalise(reply)
    said = set(normalise(reply).split())
    return all(w in said for w in key)


def value_match(reference: str, reply: str) -> bool:
    """Analyst value answers: the same final number/date/yes-no when the reference has one,
    else the normalised reference appears in the normalised reply."""
    if final_answer(reference) is not None:
        return final_answer_match(reference, reply)
    ref = normalise(reference)
    return bool(ref) and ref in normalise(reply)
