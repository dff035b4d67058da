"""assemble.py: dense experts -> one stock transformers MoE.

Each layer's MLP becomes a sparse MoE block whose expert i is expert i's FFN
(gate_proj/up_proj/down_proj); attention, norms and embeddings come from the base (or the
average of the experts). The output class follows the experts' family (formats.py: Llama and
Mistral -> Mixtral, Qwen2 -> Qwen2-MoE, Qwen3 -> Qwen3-MoE): AutoModelForCausalLM loads it
without trust_remote_code, and so do llama.cpp's converter and vLLM.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import torch

from ..core.base import resolve_base
from ..core.config import GENERAL_DOMAIN, MergeConfig, home_path, list_manifests, load_merge_config
from ..core.errors import ConfigError, ModelError
from ..core.io import check_output_not_input, check_writable_target
from ..core.modeldir import (MOE_META, check_model_dir, check_weights_fit, expert_domain, load_model,
                       load_tokenizer, read_config, save_model_dir)
from . import adapters, router
from .formats import COMMON_MUST_MATCH, format_for
from .hooks import force_expert

BASE_EXPERT = "general"  # the base model's own FFN when it is an expert (--base-expert)
# Labels the MoE reports use beside the experts' names: an expert may not take one.
REPORT_LABELS = ("base", "oracle", "moe")
# Forced routing reproduces an MLP-only expert to float32 rounding (~1e-5 here); a larger
# difference means the expert changed shared weights too, so "MoE forced to j" is not expert j.
PARITY_TOLERANCE = 1e-3
MLP_PARTS = ("gate_proj", "up_proj", "down_proj")


def resolve_merge_config(names, *, config_file: str | os.PathLike | None = None,
                         all_experts: bool = False, **overrides) -> tuple[MergeConfig, dict]:
    """The merge `smolmoe assemble` builds, and the expert manifests found (by name).

    Experts come from `names`, else every manifest (all_experts), else the config file; the
    given (non-None) fields override the file's. base_expert without a base takes the packaged
    one; the output defaults to $SMOLMOE_HOME/moe. Manifests are optional unless all_experts
    or router_init=hidden needs them.
    """
    manifests = {}
    try:
        manifests = {m.name: m for m in list_manifests()}
    except ConfigError:
        pass
    names = list(names) or (list(manifests) if all_experts else [])
    if overrides.get("base_expert") and not overrides.get("base"):
        overrides["base"] = str(resolve_base())
    if config_file:
        merge = load_merge_config(config_file, **({"experts": names} if names else {}), **overrides)
    else:
        if not names:
            raise ConfigError("name at least two experts, pass --all, or give --config")
        merge = MergeConfig(experts=names, **{k: v for k, v in overrides.items() if v is not None})
    merge.output = merge.output or str(home_path("moe"))
    return merge, manifests


def resolve_experts(experts: list[str], experts_root: Path) -> dict[str, Path]:
    """Expert names (looked up under experts_root) or directories -> {name: dir} (a LoRA
    adapter's dir is checked with its base, by adapters.folding)."""
    out = {}
    for e in experts:
        path = Path(e).expanduser()
        if not path.exists() and (experts_root / e).exists():
            path = experts_root / e
        if not path.exists():
            raise ModelError(f"expert '{e}' not found (looked for {path} and {experts_root / e})")
        if not adapters.is_adapter(path):
            check_weights_fit(check_model_dir(path))  # its config.json describes its weights
        if path.name in REPORT_LABELS:
            raise ModelError(f"an expert may not be called '{path.name}' (the reports use "
                             f"{', '.join(REPORT_LABELS)} for the base, oracle and MoE): rename its directory")
        out[path.name] = path
    return out


def _tokenizer_fingerprint(path: Path) -> str:
    tok = load_tokenizer(path)
    blob = json.dumps([sorted(tok.get_vocab().items()), tok.chat_template or ""])
    return hashlib.sha256(blob.encode()).hexdigest()


def check_compatible(dirs: dict[str, Path]) -> dict:
    """Refuse experts that cannot share one MoE, naming the first difference found."""
    configs = {n: read_config(p) for n, p in dirs.items()}
    first, ref = next(iter(configs.items()))
    fmt = format_for(ref.get("model_type"))
    for name, cfg in configs.items():
        for key in COMMON_MUST_MATCH + fmt.must_match:
            if cfg.get(key) != ref.get(key):
                raise ModelError(f"experts {first} and {name} differ in {key} "
                                 f"({ref.get(key)} vs {cfg.get(key)})")
    prints = {n: _tokenizer_fingerprint(p) for n, p in dirs.items()}
    for name, fp in prints.items():
        if fp != prints[first]:
            raise ModelError(f"experts {first} and {name} have different tokenizers "
                             f"(vocabulary or chat template)")
    return ref


class WeightReader:
    """Tensors of one model directory by name, read lazily from its safetensors files."""

    def __init__(self, path: Path):
        from safetensors import safe_open
        self.files = {}
        for f in sorted(path.glob("*.safetensors")):
            try:
                handle = safe_open(str(f), framework="pt")
            except Exception as e:
                raise ModelError(f"corrupt weights file {f}: {e}") from None
            for key in handle.keys():
                self.files[key] = handle
        self.path = path

    def keys(self):
        return self.files.keys()

    def get(self, key: str) -> torch.Tensor:
        if key not in self.files:
            raise ModelError(f"{self.path} is missing tensor {key}")
        return self.files[key].get_tensor(key).float()


def _is_mlp(key: str) -> bool:
    return ".mlp." in key


def build_moe(dirs: dict[str, Path], dense: dict, *, top_k: int, non_ffn: str,
              base: Path | None = None, shared_base: Path | None = None):
    """The MoE model holding every expert's FFN, and a report of the non-FFN weights.

    non_ffn picks where attention, norms and embeddings come from: `base` (the base dir, or
    the first expert), `average` (the experts' mean) or an expert's name. The report gives,
    per expert, how far its own non-FFN tensors are from the chosen ones: zero for MLP-only
    fine-tunes; for full fine-tunes it says how much each expert loses in the merge.
    """
    from transformers import AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    readers = {n: WeightReader(p) for n, p in dirs.items()}
    if non_ffn in readers:
        source_name, source = non_ffn, readers[non_ffn]
    else:
        source_name = str(base or next(iter(dirs.values())))
        source = WeightReader(check_model_dir(base)) if base else next(iter(readers.values()))
    shared_keys = [k for k in source.keys() if not _is_mlp(k)]
    state = {}
    diff = {n: 0.0 for n in readers}        # max |expert - chosen| over the shared tensors
    sq_diff = {n: 0.0 for n in readers}     # and the relative L2 distance
    sq_ref = 0.0
    for key in shared_keys:
        others = {n: r.get(key) for n, r in readers.items()}
        ref = source.get(key)
        if any(o.shape != ref.shape for o in others.values()):
            raise ModelError(f"tensor {key} has different shapes across experts")
        chosen = torch.stack(list(others.values())).mean(0) if non_ffn == "average" else ref
        state[key] = chosen
        sq_ref += float(chosen.pow(2).sum())
        for n, o in others.items():
            diff[n] = max(diff[n], float((o - chosen).abs().max()))
            sq_diff[n] += float((o - chosen).pow(2).sum())
    fmt = format_for(dense.get("model_type"))
    config = fmt.config(dense, len(dirs), top_k, shared_base=shared_base is not None)
    with no_init_weights():  # every tensor is overwritten below; random init would cost seconds
        model = AutoModelForCausalLM.from_config(config)
    for layer in range(config.num_hidden_layers):
        parts = {p: [r.get(f"model.layers.{layer}.mlp.{p}.weight") for r in readers.values()]
                 for p in MLP_PARTS}
        prefix = f"model.layers.{layer}.mlp"
        # Fused layout of transformers' MoE experts: gate_up_proj[e] = [gate; up].
        state[f"{prefix}.experts.gate_up_proj"] = torch.stack(
            [torch.cat([g, u], dim=0) for g, u in zip(parts["gate_proj"], parts["up_proj"])])
        state[f"{prefix}.experts.down_proj"] = torch.stack(parts["down_proj"])
        state[f"{prefix}.gate.weight"] = torch.zeros(len(dirs), config.hidden_size)  # set by router init
    state.update(fmt.extra_tensors(config, state, WeightReader(shared_base).get if shared_base else None))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise ModelError(f"cannot place weights: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.tie_weights()
    model.eval()
    distance = {n: {"max_abs": diff[n], "relative_l2": (sq_diff[n] / max(sq_ref, 1e-30)) ** 0.5}
                for n in readers}
    return model, {"non_ffn": non_ffn, "non_ffn_source": source_name,
                   "non_ffn_max_abs_diff": max(diff.values()), "non_ffn_distance": distance}


@torch.no_grad()
def parity_check(model, dirs: dict[str, Path], input_ids: torch.Tensor,
                 first: int = 0) -> dict[str, float]:
    """max |logit difference| between the MoE forced to expert j and dense expert j (the
    dirs are the MoE's experts first, first + 1, ...)."""
    report = {}
    for j, (name, path) in enumerate(dirs.items(), start=first):
        dense = load_model(path)
        ref = dense(input_ids=input_ids).logits
        del dense
        with force_expert(model, j):
            got = model(input_ids=input_ids).logits
        report[name] = float((got - ref).abs().max())
    return report


def weights_sha256(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.glob("*.safetensors")):
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()


def assemble(merge: MergeConfig, *, experts_root: Path, overwrite: bool = False,
             manifests: dict | None = None,
             on_progress: Callable[[str], None] | None = None) -> dict:
    """Validate, build, initialise routers, check parity, save. Returns the metadata written."""
    say = on_progress or (lambda _msg: None)
    merge.validate()
    out_dir = check_writable_target(Path(merge.output), overwrite)
    dirs = resolve_experts(merge.experts, experts_root)
    check_output_not_input(out_dir, [*dirs.values(), merge.base,
                                     merge.data if merge.router_init == "fit" else None], "--out")
    with adapters.folding(dirs, merge.base) as folded:  # adapters checked, not yet read
        return _assemble(merge, folded, out_dir, overwrite, manifests, say)


def _assemble(merge: MergeConfig, folded: "adapters.Folding", out_dir: Path, overwrite: bool,
              manifests: dict | None, say: Callable[[str], None]) -> dict:
    dirs = folded.dirs
    domains = [expert_domain(p) for p in dirs.values()]
    shared_base = Path(merge.base) if merge.base_expert == "shared" else None
    if merge.base_expert and not shared_base:  # the base's FFN, last, for requests outside every domain
        if BASE_EXPERT in dirs:
            raise ModelError(f"an expert is already called '{BASE_EXPERT}': rename it to use --base-expert")
        dirs[BASE_EXPERT] = check_model_dir(Path(merge.base))
        domains.append(GENERAL_DOMAIN)
    dense = check_compatible(dirs)
    names = list(dirs)
    if merge.router_init == "fit":   # bad records fail now, not after the MoE is built
        router.check_fit_data(merge.data, domains)
    t0 = time.perf_counter()
    if folded.adapters:
        say("folding adapters")
        folded.fold()
    say("building the MoE")
    model, shared = build_moe(dirs, dense, top_k=merge.top_k, non_ffn=merge.non_ffn,
                              base=Path(merge.base) if merge.base else None, shared_base=shared_base)
    tokenizer = load_tokenizer(next(iter(dirs.values())))
    say(f"router init: {merge.router_init}")
    init_report = router.init_routers(model, tokenizer, merge.router_init, names=names,
                                      domains=domains, data_dir=merge.data,
                                      manifests=manifests or {}, samples=merge.fit_samples,
                                      seed=merge.seed)
    say("parity check")
    probe = adapters.probe_ids(tokenizer)
    parity = parity_check(model, dirs, probe)
    if shared_base:  # forced routing computes a fixed mix of expert and base (formats.py)
        from .formats import SHARED_BASE_SHARE, shared_mix_parity
        shared["shared_expert"] = {
            "source": str(shared_base), "share": SHARED_BASE_SHARE, "gate_init": "zeros",
            "mix_parity_max_abs_logit_diff": shared_mix_parity(model, dirs, shared_base, probe)}
    meta = {
        "format": "smolmoe-moe/1",
        "experts": [{"name": n, "domain": d, "source": str(p), "weights_sha256": weights_sha256(p),
                     **folded.sources.get(n, {})}
                    for n, d, p in zip(names, domains, dirs.values())],
        "top_k": merge.top_k, "router_init": merge.router_init, **shared,
        "router_init_report": init_report, "parity_max_abs_logit_diff": parity,
        "seconds": round(time.perf_counter() - t0, 1),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }
    say("saving")
    save_model_dir(model, tokenizer, out_dir, MOE_META, meta, overwrite=overwrite,
                   for_other_readers=True)
    from .model_card import write_card
    write_card(out_dir)
    return meta


def forced_routing_is_exact(meta: dict, name: str) -> bool:
    """Whether the MoE forced to expert `name` computes that dense expert (assemble's check)."""
    diff = meta.get("parity_max_abs_logit_diff", {}).get(name)
    return diff is not None and diff <= PARITY_TOLERANCE


def parity_warning(meta: dict) -> str | None:
    """A loud explanation when forced routing does not reproduce the dense experts."""
    parity = meta["parity_max_abs_logit_diff"]
    off = {n: d for n, d in parity.items() if not forced_routing_is_exact(meta, n)}
    if not off:
        return None
    worst = max(off, key=off.get)
    if "shared_expert" in meta:
        mix = max(meta["shared_expert"]["mix_parity_max_abs_logit_diff"].values())
        return None if mix <= PARITY_TOLERANCE else (
            f"WARNING: the MoE forced to an expert is not the mix of that expert and the base "
            f"its shared expert should give (max |logit diff| {mix:.3g} > {PARITY_TOLERANCE:g})")
    return (f"WARNING: parity failed for {len(off)}/{len(parity)} experts (worst {worst}: max "
            f"|logit diff| {off[worst]:.3g} > {PARITY_TOLERANCE:g}). The experts are not MLP-only "
            f"fine-tunes of one base (their attention, norms or embeddings differ), so the MoE "
            f"forced to expert j is not expert j: each expert's skill is only approximated.")
