"""Splitting a domain's records: the held-out (foreign) source off, whole source items
(groups) to train/val/test by a seeded hash, fair caps per source, a seeded order."""
from __future__ import annotations

from collections import defaultdict

from ...core.errors import DataError
from ._collect import _prompt
from ._common import stable_hash

SPLITS = ("train", "val", "test")
FOREIGN_SPLIT = "foreign"
MAX_EVAL_FRACTION = 0.10  # never hold out more than this share of a source's items per eval split


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
