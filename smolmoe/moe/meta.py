"""An MoE directory's smolmoe.json: which experts it holds (names, domains), read for every
command that shows or scores them, and written into an MoE made elsewhere (`smolmoe adopt`)."""
from __future__ import annotations

import contextlib
from pathlib import Path

from ..core.errors import ModelError
from ..core.io import exclusive, read_json, write_json
from ..core.modeldir import MOE_META, check_built, read_config
from ..core.settings import check_name
from .formats import MOE_TYPES


def read_moe_meta(moe_dir: Path) -> dict:
    """smolmoe.json of an MoE directory, checked enough that its readers cannot trip; for an
    MoE made elsewhere (a Mixtral, Qwen2-MoE or Qwen3-MoE dir without it, e.g. from
    mergekit-moe) the same shape read from its config, with experts named expert_0, expert_1,
    ... (`smolmoe adopt` gives them names)."""
    moe_dir = check_built(Path(moe_dir))
    f = moe_dir / MOE_META
    if f.is_file():
        meta = read_json(f, ModelError, " (re-run `smolmoe assemble`)")
        experts = meta.get("experts") if isinstance(meta, dict) else None
        if not (isinstance(experts, list) and experts and all(
                isinstance(e, dict) and isinstance(e.get("name"), str)
                and isinstance(e.get("domain"), str) for e in experts)):
            raise ModelError(f"{f} is malformed: it needs an 'experts' list of {{name, domain}} "
                             f"(re-run `smolmoe assemble`)")
        return meta
    config = read_config(moe_dir) if (moe_dir / "config.json").is_file() else {}
    if config.get("model_type") not in MOE_TYPES:
        raise ModelError(f"{moe_dir} is not an MoE directory (no {MOE_META}, and its config is "
                         f"not one of {', '.join(MOE_TYPES)})")
    num = config.get("num_local_experts") or config.get("num_experts")
    return {"format": "external", "top_k": config.get("num_experts_per_tok"),
            "experts": [{"name": f"expert_{i}", "domain": f"expert_{i}"} for i in range(num)]}


def adopt(moe_dir: Path, names: list[str] | None = None, domains: list[str] | None = None,
          force: bool = False) -> dict:
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


def _adopt(moe_dir: Path, names, domains, force: bool) -> dict:
    meta = read_moe_meta(moe_dir)
    if (moe_dir / MOE_META).is_file() and not force:
        raise ModelError(f"{moe_dir} already has {MOE_META} (its experts: "
                         f"{', '.join(e['name'] for e in meta['experts'])}); adopt would replace "
                         f"its names and domains: pass --force to do so")
    n = len(meta["experts"])
    names = names or [e["name"] for e in meta["experts"]]
    domains = domains or names
    for what, values in (("names", names), ("domains", domains)):
        if len(values) != n:
            raise ModelError(f"{moe_dir} has {n} experts but {len(values)} {what} were given")
    if len(set(names)) != n:
        raise ModelError("expert names must be different from each other")
    renamed = dict(zip((e["name"] for e in meta["experts"]), names))
    meta["experts"] = [{**e, "name": a, "domain": d}
                       for e, a, d in zip(meta["experts"], names, domains)]
    for key in ("parity_max_abs_logit_diff", "non_ffn_distance"):  # per-expert reports follow
        if isinstance(meta.get(key), dict):
            meta[key] = {renamed.get(k, k): v for k, v in meta[key].items()}
    write_json(moe_dir / MOE_META, meta)
    return meta
