"""An MoE directory's smolmoe.json: which experts it holds (names, domains), read for every
command that shows or scores them, and written into an MoE made elsewhere (`smolmoe adopt`)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ModelError
from ..core.io import exclusive, read_json, write_json
from ..core.modeldir import MOE_META, check_built, expert_count, read_config
from ..core.settings import check_name
from .formats import MOE_TYPES


def placeholder_names(count: int) -> list[str]:
    """The names of the experts of an MoE that nobody named (made elsewhere, or loaded bare)."""
    return [f"expert_{i}" for i in range(count)]


@dataclass
class MoeMeta:
    """An MoE's smolmoe.json, typed where its readers need it. `experts` holds each routed
    expert's entry as written, in router order ({name, domain, source, weights_sha256, ...});
    `doc` is the whole file (parity, router reports, history) for the code that rewrites it."""
    experts: list[dict]
    top_k: int | None
    format: str | None           # "smolmoe-moe/1" (assemble), or "external" (made elsewhere)
    doc: dict

    @classmethod
    def from_doc(cls, doc: dict) -> "MoeMeta":
        return cls(experts=doc["experts"], top_k=doc.get("top_k"),
                   format=doc.get("format"), doc=doc)

    @property
    def names(self) -> list[str]:
        return [e["name"] for e in self.experts]

    @property
    def domains(self) -> list[str]:
        return [e["domain"] for e in self.experts]

    @property
    def count(self) -> int:
        return len(self.experts)


def read_moe_meta(moe_dir: Path) -> MoeMeta:
    """smolmoe.json of an MoE directory, checked enough that its readers cannot trip; for an
    MoE made elsewhere (a Mixtral, Qwen2-MoE or Qwen3-MoE dir without it, e.g. from
    mergekit-moe) the same shape read from its config, with placeholder names expert_0,
    expert_1, ... (`smolmoe adopt` gives them names)."""
    moe_dir = check_built(Path(moe_dir))
    f = moe_dir / MOE_META
    if f.is_file():
        doc = read_json(f, ModelError, " (re-run `smolmoe assemble`)")
        experts = doc.get("experts") if isinstance(doc, dict) else None
        if not (isinstance(experts, list) and experts and all(
                isinstance(e, dict) and isinstance(e.get("name"), str)
                and isinstance(e.get("domain"), str) for e in experts)):
            raise ModelError(f"{f} is malformed: it needs an 'experts' list of {{name, domain}} "
                             f"(re-run `smolmoe assemble`)")
        return MoeMeta.from_doc(doc)
    config = read_config(moe_dir) if (moe_dir / "config.json").is_file() else {}
    if config.get("model_type") not in MOE_TYPES:
        raise ModelError(f"{moe_dir} is not an MoE directory (no {MOE_META}, and its config is "
                         f"not one of {', '.join(MOE_TYPES)})")
    names = placeholder_names(expert_count(config))
    return MoeMeta.from_doc({"format": "external", "top_k": config.get("num_experts_per_tok"),
                             "experts": [{"name": n, "domain": n} for n in names]})


def adopt(moe_dir: Path, names: list[str] | None = None, domains: list[str] | None = None,
          force: bool = False) -> MoeMeta:
    """Write smolmoe.json into an MoE made elsewhere: expert names (and the data domain each
    serves, default its name), so every command shows names and eval finds each one's domain.
    An MoE that already has smolmoe.json (built by assemble, or adopted) is refused unless
    `force`: its names, domains and reports would be replaced."""
    moe_dir = Path(moe_dir)
    for what, values in (("--names", names), ("--domains", domains)):
        for v in values or ():
            check_name(v, f"{what} entry")
    with exclusive(moe_dir, "adopt") if moe_dir.is_dir() else contextlib.nullcontext():
        return _adopt(moe_dir, names, domains, force)


def _adopt(moe_dir: Path, names, domains, force: bool) -> MoeMeta:
    meta = read_moe_meta(moe_dir)
    if (moe_dir / MOE_META).is_file() and not force:
        raise ModelError(f"{moe_dir} already has {MOE_META} (its experts: "
                         f"{', '.join(meta.names)}); adopt would replace "
                         f"its names and domains: pass --force to do so")
    n = meta.count
    names = names or meta.names
    domains = domains or names
    for what, values in (("names", names), ("domains", domains)):
        if len(values) != n:
            raise ModelError(f"{moe_dir} has {n} experts but {len(values)} {what} were given")
    if len(set(names)) != n:
        raise ModelError("expert names must be different from each other")
    renamed = dict(zip(meta.names, names))
    doc = {**meta.doc, "experts": [{**e, "name": a, "domain": d}
                                   for e, a, d in zip(meta.experts, names, domains)]}
    for key in ("parity_max_abs_logit_diff", "non_ffn_distance"):  # per-expert reports follow
        if isinstance(doc.get(key), dict):
            doc[key] = {renamed.get(k, k): v for k, v in doc[key].items()}
    write_json(moe_dir / MOE_META, doc)
    return MoeMeta.from_doc(doc)
