"""Reading a recipe: every source's examples, validated, cleaned, length-filtered, checked
against the refusal rule and exact-de-duplicated; and the JSONL record written for each."""
from __future__ import annotations

import json
from collections import Counter

from ...core.errors import DataError
from ._checks import refusal_problem
from ._common import MAX_CHARS, _ANSI, _INVISIBLE, looks_garbled


def collect(recipe, fetch) -> tuple[list[dict], dict, list[dict]]:
    """Validated, length-filtered, exact-de-duplicated examples of one recipe, its stats, and
    its missing sources: [{"source", "package", "why", "role"}] for each source whose read
    raised SourceUnavailable or another DataError (nothing of it is kept).

    A recipe reports an example its own checks rejected by yielding `dropped(reason, source)`
    (see _common); those, and everything dropped here, are counted by reason in
    stats["dropped"]. Replies are checked against the refusal detector: a record carrying
    `"harmful"` must refuse exactly when it is harmful; in a recipe with HELPFUL_ONLY set,
    no reply may refuse.
    """
    seen, records = set(), []
    dropped: Counter = Counter()
    yielded = 0
    helpful_only = getattr(recipe, "HELPFUL_ONLY", False)
    raw, missing = _examples(recipe, fetch)
    for ex in raw:
        yielded += 1
        if isinstance(ex, dict) and "dropped" in ex:
            dropped[str(ex["dropped"])] += 1
            continue
        harmful = ex.get("harmful") if isinstance(ex, dict) else None
        ex = _sanitize(ex, recipe.DOMAIN)
        if ex is None:
            dropped["invalid"] += 1
            continue
        if sum(len(m["content"]) for m in ex["messages"]) > MAX_CHARS:
            dropped["too_long"] += 1
            continue
        problem = refusal_problem(ex["messages"][-1]["content"], bool(harmful)) \
            if harmful is not None or helpful_only else None
        if problem:
            dropped[problem] += 1
            continue
        key = json.dumps([[m["role"], m["content"]] for m in ex["messages"]], ensure_ascii=False)
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        ex["_key"] = key
        records.append(ex)
    if not records:
        error = DataError(f"recipe '{recipe.DOMAIN}' produced no usable examples")
        error.missing = missing
        raise error
    stats = {"yielded": yielded, "kept": len(records), "dropped": dict(sorted(dropped.items()))}
    return records, stats, missing


def _examples(recipe, fetch) -> tuple[list, list[dict]]:
    """Every source's examples, one source after another (each Source reads only its own),
    and the sources that could not be read. A source is read whole before any of it is kept,
    so one that fails halfway leaves nothing behind."""
    out, missing = [], []
    foreign = getattr(recipe, "FOREIGN", None)
    for source in recipe.SOURCES:
        try:
            items = list(source.read(fetch))
        except DataError as e:   # SourceUnavailable, or a file the package no longer has
            missing.append({"source": source.name, "package": source.package, "why": str(e),
                            "role": "foreign" if source.name == foreign else "train"})
            continue
        out.extend(items)
    return out, missing


def _sanitize(ex: dict, domain: str) -> dict | None:
    """Check a recipe's example and strip control junk; None for an unusable example."""
    try:
        msgs = ex["messages"]
        source, group = ex["source"], ex["group"]
    except (KeyError, TypeError):
        raise DataError(f"recipe '{domain}' yielded a malformed example: {str(ex)[:120]}") from None
    if not (isinstance(source, str) and isinstance(group, str) and isinstance(msgs, list) and msgs):
        raise DataError(f"recipe '{domain}' yielded a malformed example: {str(ex)[:120]}")
    out = []
    # An optional system message first (e.g. a role to play), then user/assistant turns.
    offset = 1 if isinstance(msgs[0], dict) and msgs[0].get("role") == "system" else 0
    for i, m in enumerate(msgs):
        expected = "system" if i < offset else "user" if (i - offset) % 2 == 0 else "assistant"
        if not isinstance(m, dict) or m.get("role") != expected or not isinstance(m.get("content"), str):
            raise DataError(f"recipe '{domain}' yielded turns out of order in {source} {group}")
        text = _INVISIBLE.sub("", _ANSI.sub("", m["content"])).strip()
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from a broken source file
            return None
        if not text or looks_garbled(text):
            return None
        out.append({"role": expected, "content": text})
    if out[-1]["role"] != "assistant" or len(out) < 2 + offset:
        return None
    clean = {"messages": out, "source": source, "group": group}
    harmful = ex.get("harmful")
    if harmful is not None:  # guardian: is the reference reply a refusal of a harmful prompt?
        if not isinstance(harmful, bool):
            raise DataError(f"recipe '{domain}' yielded a non-boolean 'harmful' in {source} {group}")
        clean["harmful"] = harmful
    return clean


def _output(r: dict, domain: str) -> dict:
    """The JSONL record: messages, domain, source, group, and "harmful" where the recipe set it."""
    out = {"messages": r["messages"], "domain": domain, "source": r["source"], "group": r["group"]}
    if "harmful" in r:
        out["harmful"] = r["harmful"]
    return out


def _prompt(r: dict) -> str:
    return json.dumps(r["messages"][:-1], ensure_ascii=False)  # everything but the reply
