"""The domains that have a recipe, and the recipe module of each (imported when first asked for)."""
from __future__ import annotations

import importlib
from types import ModuleType

from ...core.errors import SmolMoEError

DOMAINS = ["coder", "writer", "thinker", "encyclopedia", "summarizer", "analyst", "actor", "guardian"]


def get_recipe(name: str) -> ModuleType:
    """The recipe module of a domain (it has DOMAIN, DESCRIPTION, SOURCES, NOTE, FOREIGN)."""
    key = str(name).strip().lower()
    if key not in DOMAINS:
        raise SmolMoEError(f"unknown domain '{name}' (known: {', '.join(DOMAINS)})")
    return importlib.import_module(f"{__package__}.{key}")
