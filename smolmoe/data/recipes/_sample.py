"""Keeping a source's share of a domain in bounds: a seeded sample of whole source items."""
from __future__ import annotations

from ._common import dropped, stable_hash


def sample_groups(examples, limit: int, key: str):
    """The examples of at most `limit` groups (source items), chosen by a process-stable hash.

    build() caps a domain's train split only as a whole, so a source with ten times more items
    than the others would still fill most of it; a recipe caps such a source here instead.
    Whole groups are kept or left out, so an item's variants stay together. What is left out
    is reported as dropped("over_source_cap"), other dropped reports pass through.
    """
    items = list(examples)
    chosen = sorted({ex["group"] for ex in items if "dropped" not in ex},
                    key=lambda g: stable_hash(key, "sample", g))[:limit]
    chosen = set(chosen)
    for ex in items:
        if "dropped" in ex or ex["group"] in chosen:
            yield ex
        else:
            yield dropped("over_source_cap", ex["source"])
