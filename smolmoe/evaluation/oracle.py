"""The schedule loss and task evaluation share for an MoE's experts: each expert in router
order, scored from its own dense directory when it is there, else as the MoE forced to it; and
the oracle, each domain scored by its own expert."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from ..moe.assemble import forced_routing_is_exact
from ..moe.hooks import force_expert
from ..moe.meta import MoeMeta


def expert_scoring(meta: MoeMeta, expert: dict) -> tuple[Path | None, str]:
    """How to score one expert of an MoE: from its dense directory when it is there ((DIR,
    "dense DIR")): the real expert, and measured 2.2x cheaper than the MoE forced to it (3.7 vs
    1.7 s for 20 coder records, bf16, 2 threads); else (None, "forced") to force the MoE's
    routers to it, exact where assemble's parity check proved it, and labelled when not."""
    source = Path(expert.get("source", ""))
    if (source / "config.json").is_file():
        return source, f"dense {source}"
    if forced_routing_is_exact(meta.doc, expert["name"]):
        return None, "forced"
    return None, "forced (not exact: dense dir missing)"


def each_expert(meta: MoeMeta, moe_model) -> Iterator[tuple[dict, Path | None, str]]:
    """(expert entry, its dense directory or None, how it is scored) per expert, in router
    order. With None, the caller scores `moe_model`, whose routers are forced to that expert
    until the caller asks for the next one."""
    for j, expert in enumerate(meta.experts):
        source, how = expert_scoring(meta, expert)
        if source is None:
            with force_expert(moe_model, j):
                yield expert, None, how
        else:
            yield expert, source, how


def oracle_results(results: dict[str, dict], meta: MoeMeta, domains: Iterable[str]) -> dict:
    """Each domain's result from the first expert that serves it: what an oracle router (one
    that knows every prompt's domain) would get."""
    return {d: results[meta.names[meta.domains.index(d)]][d] for d in domains}
