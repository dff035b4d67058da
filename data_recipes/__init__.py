"""One data recipe per domain: chat-format train/val/test JSONL built from offline sources.

Each `data_recipes/<domain>.py` names its sources (`SOURCES`) and turns them into examples
(`examples(fetch)`); `build()` collects, de-duplicates, splits by source item, caps and
writes them. Packages are downloaded at build time into the cache (see sources.py).
"""
from __future__ import annotations

import importlib
from types import ModuleType

from smolmoe.errors import SmolMoEError

DOMAINS = ["coder", "writer", "thinker", "encyclopedia", "summarizer", "analyst", "actor", "guardian"]


def get_recipe(name: str) -> ModuleType:
    """The recipe module of a domain (it has DOMAIN, DESCRIPTION, SOURCES, NOTE, examples)."""
    key = str(name).strip().lower()
    if key not in DOMAINS:
        raise SmolMoEError(f"unknown domain '{name}' (known: {', '.join(DOMAINS)})")
    return importlib.import_module(f"{__name__}.{key}")


from ._build import build, build_steps  # noqa: E402  (needs get_recipe above)

__all__ = ["DOMAINS", "get_recipe", "build", "build_steps"]
