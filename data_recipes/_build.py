"""build(): recipes -> de-duplicated, group-disjoint, capped train/val/test JSONL files."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable

from smolmoe.errors import DataError
from smolmoe.io import atomic_dir, write_json, write_jsonl

from ._checks import refusal_problem
from ._common import MAX_CHARS, _ANSI, _INVISIBLE, looks_garbled, stable_hash
from .sources import Fetcher

SPLITS = ("train", "val", "test")
FOREIGN_SPLIT = "foreign"
MAX_EVAL_FRACTION = 0.10  # never hold out more than this share of a source's items per eval split


@dataclass(frozen=True)
class MixRules:
    """How varied a domain's train split must be (issue #10): an expert trained mostly on
    one source learns that source's format, not the domain's skill."""
    min_sources: int = 3
    min_share: float = 0.10
    max_share: float = 0.50


def check_mix(domain: str, per_source: dict[str, int], rules: MixRules = MixRules()) -> dict[str, float]:
    """Each train source's share of the train split; DataError when the mix breaks `rules`."""
    total = sum(per_source.values())
    shares = {s: n / total for s, n in sorted(per_source.items())} if total else {}
    if len(shares) < rules.min_sources:
        raise DataError(f"domain '{domain}': train split has {len(shares)} source(s), "
                        f"needs at least {rules.min_sources}")
    for s, share in shares.items():
        if not rules.min_share <= share <= rules.max_share:
            raise DataError(f"domain '{domain}': source {s} is {share:.1%} of the train split "
                            f"(allowed {rules.min_share:.0%}-{rules.max_share:.0%})")
    return shares


def extra_splits(names) -> list:
    """The general splits a build of these domains also writes: everyday, on full builds."""
    from . import DOMAINS
    if set(names) != set(DOMAINS):
        return []
    from . import everyday
    return [everyday]


def build_steps(names) -> int:
    """How many on_progress 'done' calls a build of these domains makes (for a progress bar)."""
    return len(set(names)) + len(extra_splits(names))


def build(out_dir, domains=None, seed: int = 0, cache_dir=None, overwrite: bool = False,
          max_train: int = 4000, max_eval: int = 300,
          on_progress: Callable[[str, str], None] | None = None, fetch=None,
          mix: MixRules = MixRules()) -> dict:
    """Build `<out_dir>/<domain>/{train,val,test,foreign}.jsonl` + meta.json, and manifest.json.

    `fetch` replaces the package fetcher (tests pass a fake); by default sources are
    downloaded into `cache_dir` (default `<SMOLMOE_HOME>/sources`). A recipe's `FOREIGN`
    source goes whole to foreign.jsonl and nowhere else. A full build (every domain) also
    writes the everyday split (test, and train for the routers only), listed in the
    manifest's "extra". `mix` is the rule on train sources (tests with tiny recipes relax it). Returns {domain: {"train", "val", "test", "foreign",
    "shares", "foreign_source", "note"}}. Nothing is written unless every domain builds.
    """
    from . import DOMAINS, get_recipe

    if isinstance(domains, str):
        domains = [domains]
    names = list(DOMAINS) if domains is None else [get_recipe(d).DOMAIN for d in domains]
    recipes = [get_recipe(n) for n in dict.fromkeys(names)]
    # Held-out general splits come with full builds only (all domains, however they were named).
    extras = extra_splits(names)
    if fetch is None:
        fetch = Fetcher(cache_dir)
    progress = on_progress or (lambda domain, stage: None)

    report, manifest = {}, {"seed": seed, "max_train": max_train, "max_eval": max_eval,
                            "domains": {}}
    with atomic_dir(out_dir, overwrite) as tmp:
        for recipe in recipes:
            domain = recipe.DOMAIN
            foreign_name = getattr(recipe, "FOREIGN", None)
            if foreign_name and foreign_name not in {src.name for src in recipe.SOURCES}:
                raise DataError(f"recipe '{domain}': FOREIGN {foreign_name} is not one of its SOURCES")
            progress(domain, "collect")
            records, stats = collect(recipe, fetch)
            progress(domain, "split")
            records, foreign = _take_foreign(domain, records, foreign_name, stats)
            splits = split(records, seed, max_eval)
            caps = {"train": max_train, "val": max_eval, "test": max_eval}
            splits = {s: order(cap(splits[s], caps[s], seed), seed) for s in SPLITS}
            if foreign_name:
                splits[FOREIGN_SPLIT] = order(cap(foreign, max_eval, seed), seed)
            per_source = {s: _per_source(recs) for s, recs in splits.items()}
            shares = check_mix(domain, per_source["train"], mix)
            progress(domain, "write")
            counts = {s: len(recs) for s, recs in splits.items()}
            for s, recs in splits.items():
                write_jsonl(tmp / domain / f"{s}.jsonl", (_output(r, domain) for r in recs))
            write_json(tmp / domain / "meta.json", {
                "domain": domain, "description": recipe.DESCRIPTION,
                "sources": [_source_entry(s, foreign_name, shares) for s in recipe.SOURCES],
                "foreign_source": foreign_name,
                "counts": counts, "seed": seed, "note": recipe.NOTE,
                "per_source": per_source,
                "stats": {**stats, "max_train": max_train, "max_eval": max_eval,
                          "max_chars": MAX_CHARS}})
            manifest["domains"][domain] = counts
            report[domain] = {**counts, "shares": shares, "foreign_source": foreign_name,
                              "note": recipe.NOTE}
            progress(domain, "done")
        for extra in extras:
            progress(extra.DOMAIN, "collect")
            manifest.setdefault("extra", {})[extra.DOMAIN] = _write_extra(tmp, extra, fetch, seed)
            progress(extra.DOMAIN, "done")
        write_json(tmp / "manifest.json", manifest)
    return report


def _write_extra(tmp, extra, fetch, seed: int) -> dict:
    """A split from a source no domain uses (e.g. everyday requests): test.jsonl, and where the
    recipe asks for one (TRAIN_SIZE) a group-disjoint train.jsonl that only the routers use."""
    from . import DOMAINS, get_recipe

    names = {s.name for s in extra.SOURCES}
    for domain in DOMAINS:
        shared = names & {s.name for s in get_recipe(domain).SOURCES}
        if shared:
            raise DataError(f"the {extra.DOMAIN} split's source {sorted(shared)[0]} is also used "
                            f"by domain '{domain}': it would not be held out")
    records, stats = collect(extra, fetch)
    # Whole groups to test first (by a seeded hash), the rest to train: no goal in both.
    groups = sorted({r["group"] for r in records}, key=lambda g: stable_hash(seed, "extra", g))
    test_groups = set(groups[:extra.SIZE])
    splits = {"test": [r for r in records if r["group"] in test_groups],
              "train": [r for r in records if r["group"] not in test_groups]}
    sizes = {"test": extra.SIZE, "train": getattr(extra, "TRAIN_SIZE", 0)}
    counts = {}
    for name, part in splits.items():
        if not (sizes[name] and part):
            continue
        part = order(cap(part, sizes[name], seed), seed)
        write_jsonl(tmp / extra.DOMAIN / f"{name}.jsonl", (_output(r, extra.DOMAIN) for r in part))
        counts[name] = len(part)
    write_json(tmp / extra.DOMAIN / "meta.json", {
        "domain": extra.DOMAIN, "description": extra.DESCRIPTION,
        "sources": [{**s.as_dict(), "role": "general"} for s in extra.SOURCES],
        "counts": counts, "seed": seed, "stats": stats})
    return {**counts, "sources": sorted(names)}


def collect(recipe, fetch) -> tuple[list[dict], dict]:
    """Validated, length-filtered, exact-de-duplicated examples of one recipe.

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
    for ex in _examples(recipe, fetch):
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
        raise DataError(f"recipe '{recipe.DOMAIN}' produced no usable examples")
    return records, {"yielded": yielded, "kept": len(records), "dropped": dict(sorted(dropped.items()))}


def _examples(recipe, fetch):
    """Every source's examples, one source after another (each Source reads only its own)."""
    for source in recipe.SOURCES:
        yield from source.read(fetch)


def _take_foreign(domain: str, records: list[dict], foreign: str | None,
                  stats: dict) -> tuple[list[dict], list[dict]]:
    """Split off the held-out source's records; drop any that repeat a training prompt."""
    if not foreign:
        return records, []
    rest = [r for r in records if r["source"] != foreign]
    held = [r for r in records if r["source"] == foreign]
    if not held:
        raise DataError(f"recipe '{domain}': its foreign source {foreign} yielded no examples")
    shared = {r["group"] for r in rest} & {r["group"] for r in held}
    if shared:
        raise DataError(f"recipe '{domain}': group {sorted(shared)[0]} is in both the foreign "
                        f"source and a training source")
    prompts = {_prompt(r) for r in rest}
    kept = [r for r in held if _prompt(r) not in prompts]
    if len(kept) < len(held):
        stats["dropped"]["foreign_prompt_in_train"] = len(held) - len(kept)
    return rest, kept


def _prompt(r: dict) -> str:
    return json.dumps(r["messages"][:-1], ensure_ascii=False)  # everything but the reply


def _source_entry(source, foreign: str | None, shares: dict[str, float]) -> dict:
    if source.name == foreign:
        return {**source.as_dict(), "role": "foreign"}
    return {**source.as_dict(), "role": "train", "share": round(shares.get(source.name, 0.0), 4)}


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


def _merge_groups(records: list[dict]) -> dict[str, str]:
    """Group id -> representative id, merging groups that share an identical prompt.

    Two source items that ask exactly the same thing must land in the same split, or a test
    prompt would be trained on under another item's name.
    """
    parent: dict[str, str] = {}

    def find(g):
        parent.setdefault(g, g)
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    first_group_of_prompt: dict[str, str] = {}
    for r in records:
        g = find(r["group"])
        other = first_group_of_prompt.setdefault(_prompt(r), g)
        a, b = find(other), g
        if a != b:
            parent[max(a, b)] = min(a, b)  # deterministic: the smaller id represents
    return {g: find(g) for g in list(parent)}


def split(records: list[dict], seed: int, max_eval: int) -> dict[str, list[dict]]:
    """Assign whole source items (groups) to splits by a seeded, process-stable hash.

    The held-out share is set per source: enough items for that source's fair part of
    max_eval (twice over, for slack), never more than MAX_EVAL_FRACTION. So a 15k-item
    source gives up 0.5% of its items and a 400-item one 10%, and val/test keep the same
    source mix as the (fairly capped) training split.
    """
    rep = _merge_groups(records)
    source_of = {}
    for r in records:
        source_of.setdefault(rep[r["group"]], r["source"])
    sizes = defaultdict(int)
    for source in source_of.values():
        sizes[source] += 1
    wanted = 2 * max_eval / len(sizes)
    frac = {s: min(MAX_EVAL_FRACTION, wanted / n) for s, n in sizes.items()}
    out = {s: [] for s in SPLITS}
    for r in records:
        g = rep[r["group"]]
        f = frac[source_of[g]]
        u = stable_hash(seed, "split", g) / 2**64
        out["test" if u < f else "val" if u < 2 * f else "train"].append(r)
    return out


def cap(records: list[dict], limit: int, seed: int) -> list[dict]:
    """Keep at most `limit` records, sharing the budget fairly between sources.

    Each source gets an equal quota (a small source keeps everything, the rest is shared
    by the big ones), so e.g. 15k arithmetic items cannot crowd out 2k strategyqa ones.
    """
    if len(records) <= limit:
        return records
    by_source = defaultdict(list)
    for r in records:
        by_source[r["source"]].append(r)
    for items in by_source.values():
        items.sort(key=lambda r: stable_hash(seed, "cap", r["_key"]))
    quota = {s: 0 for s in by_source}
    left = limit
    while left > 0:
        open_ = sorted(s for s in by_source if quota[s] < len(by_source[s]))
        share = max(1, left // len(open_))
        for s in open_:
            take = min(share, len(by_source[s]) - quota[s], left)
            quota[s] += take
            left -= take
            if left == 0:
                break
    return [r for s in sorted(by_source) for r in by_source[s][:quota[s]]]


def order(records: list[dict], seed: int) -> list[dict]:
    """A seeded shuffle, so files do not come in blocks of one source."""
    return sorted(records, key=lambda r: stable_hash(seed, "order", r["_key"]))


def _per_source(records: list[dict]) -> dict[str, int]:
    counts = defaultdict(int)
    for r in records:
        counts[r["source"]] += 1
    return dict(sorted(counts.items()))
