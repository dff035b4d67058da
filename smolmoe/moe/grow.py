"""grow.py: add an expert to an assembled MoE, or remove one, without training anything.

`add_expert` appends the expert's FFN to every layer's MoE block (a LoRA adapter is folded into
its base first, adapters.py) and gives it router rows by the same closed-form fit assemble's
`--router-init fit` runs (router.py): every expert's domain data through that expert alone, the
router inputs collected, and the softmax regression solved for the new row with every other row
held where it is. The fit starts from zero and reads the same seeded samples, so it is
deterministic; and because the regularised objective is strictly convex, fitting one row back
into a router fitted jointly on the same data finds that row again (remove-expert followed by
add-expert gives the same routing back). `remove_expert` drops one expert's FFN and router rows;
the other experts' top-k choices among themselves do not change.

Both refuse, before any weight is read, what cannot join (another family, size or tokenizer:
`check_joins`), write a stock checkpoint of the MoE's own family (Mixtral, Qwen2-MoE with its
shared expert, Qwen3-MoE) atomically and never over an input, and keep smolmoe.json current:
experts with names, domains, sources and hashes, the parity check, and a history of the edits.
"""
from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Callable

import torch

from ..core.config import MergeConfig
from ..core.errors import ConfigError, ModelError
from ..core.io import check_output_not_input, check_writable_target
from ..core.modeldir import (MOE_META, check_built, check_model_dir, check_weights_fit, expert_domain,
                             load_model, load_tokenizer, save_model_dir)
from ..data.records import split_path
from . import adapters, router
from .assemble import (MLP_PARTS, REPORT_LABELS, WeightReader, _is_mlp, _tokenizer_fingerprint,
                       parity_check, weights_sha256)
from .formats import COMMON_MUST_MATCH, experts_and_top_k, format_for
from .hooks import moe_blocks
from .meta import MoeMeta, read_moe_meta
from .model_card import write_card

# smolmoe.json entries keyed by expert name: they follow the experts in and out.
PER_EXPERT = ("parity_max_abs_logit_diff", "non_ffn_distance")
ROUTED = re.compile(r"^model\.layers\.(\d+)\.mlp\.(experts\.gate_up_proj|experts\.down_proj|gate\.weight)$")


def _auto_config(path: Path) -> dict:
    """A model's full config (defaults filled in) read from its config.json alone."""
    from transformers import AutoConfig
    try:
        return AutoConfig.from_pretrained(path).to_dict()
    except Exception as e:
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot read {path}/config.json: {msg}") from None


def _field(config: dict, key: str):
    """A config field as the MoE formats read it (moe_formats._common_fields' defaults)."""
    if key == "head_dim":
        return config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    if key == "num_key_value_heads":
        return config.get(key) or config["num_attention_heads"]
    return config.get(key, False)


def check_joins(moe_dir: Path, expert_dir: Path, label: str) -> None:
    """Refuse in one line, from config.json and tokenizer files only, an expert of another
    family, size or tokenizer than the MoE's experts."""
    moe, dense = _auto_config(moe_dir), _auto_config(expert_dir)
    why = f"cannot add {label} to {moe_dir}"
    fmt = format_for(dense.get("model_type"))
    if fmt.moe_type != moe.get("model_type"):
        raise ModelError(f"{why}: it is a {dense.get('model_type')} model, which assembles into "
                         f"{fmt.moe_type}, but the MoE is {moe.get('model_type')}")
    width = moe.get("moe_intermediate_size") or moe.get("intermediate_size")
    pairs = [("intermediate_size", dense.get("intermediate_size"), width)]
    pairs += [(k, _field(dense, k), _field(moe, k))
              for k in COMMON_MUST_MATCH + fmt.must_match if k not in ("model_type", "intermediate_size")]
    for key, mine, theirs in pairs:
        if mine != theirs:
            raise ModelError(f"{why}: its {key} is {mine}, the MoE's experts' is {theirs}")
    if _tokenizer_fingerprint(expert_dir) != _tokenizer_fingerprint(moe_dir):
        raise ModelError(f"{why}: it has another tokenizer (vocabulary or chat template)")


def regrouped(model, picks: list) -> torch.nn.Module:
    """A copy of the MoE `model` whose experts are `picks`: an int keeps that expert of
    `model` (its FFN and router row), a list gives per layer a new expert's fused tensors
    {"experts.gate_up_proj": ..., "experts.down_proj": ...} with a zero router row."""
    from transformers import AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    config = copy.deepcopy(model.config)
    setattr(config, "num_local_experts" if getattr(config, "num_local_experts", None)
            else "num_experts", len(picks))
    with no_init_weights():  # every tensor is copied below
        new = AutoModelForCausalLM.from_config(config)
    old, target = model.state_dict(), new.state_dict()
    if set(old) != set(target):
        raise ModelError(f"cannot regroup this MoE: its tensors {sorted(set(old) ^ set(target))[:3]} "
                         f"do not follow the expert count")
    with torch.no_grad():
        for key, tensor in target.items():
            m = ROUTED.match(key)
            if not m:
                tensor.copy_(old[key])
                continue
            layer, part = int(m.group(1)), m.group(2)
            rows = [old[key][p] if isinstance(p, int)
                    else torch.zeros_like(old[key][0]) if part == "gate.weight" else p[layer][part]
                    for p in picks]
            tensor.copy_(torch.stack(rows))
    new.tie_weights()
    return new.eval()


def _expert_ffn(reader: WeightReader, layers: int, down_scale: float) -> list[dict]:
    """A dense expert's FFN per layer in the fused MoE layout (down_proj scaled as the MoE's
    routed experts are: by 1 - share when Qwen2-MoE's shared slot holds the base)."""
    out = []
    for layer in range(layers):
        g, u, d = (reader.get(f"model.layers.{layer}.mlp.{p}.weight") for p in MLP_PARTS)
        out.append({"experts.gate_up_proj": torch.cat([g, u], dim=0),
                    "experts.down_proj": down_scale * d})
    return out


def _non_ffn_distance(reader: WeightReader, state: dict) -> dict:
    """How far the expert's own non-FFN tensors are from the MoE's (0 for MLP-only experts)."""
    worst, sq, sq_ref = 0.0, 0.0, 0.0
    for key in (k for k in reader.keys() if not _is_mlp(k) and k in state):
        mine, theirs = reader.get(key), state[key].float()
        worst = max(worst, float((mine - theirs).abs().max()))
        sq += float((mine - theirs).pow(2).sum())
        sq_ref += float(theirs.pow(2).sum())
    return {"max_abs": worst, "relative_l2": (sq / max(sq_ref, 1e-30)) ** 0.5}


def add_expert(moe_dir, expert, *, data_dir, out, base=None, name: str | None = None,
               samples: int | None = None, seed: int | None = None, overwrite: bool = False,
               on_progress: Callable[[str], None] | None = None) -> MoeMeta:
    """Write to `out` the MoE of moe_dir plus one expert (a dense dir, or a LoRA adapter dir
    with its base), router rows fitted on its domain's data; return the metadata written."""
    say = on_progress or (lambda _msg: None)
    moe_dir, expert = check_model_dir(check_built(Path(moe_dir))), Path(expert)
    meta = read_moe_meta(moe_dir)
    names = meta.names
    name = name or expert.name
    if not expert.exists():
        raise ModelError(f"expert {expert} not found")
    if name in names or name in REPORT_LABELS:
        raise ModelError(f"the MoE already has an expert called {name!r}: pass --name" if name in names
                         else f"an expert may not be called {name!r} (the reports use it)")
    inputs = [moe_dir, expert] + ([Path(base)] if base else []) + ([Path(data_dir)] if data_dir else [])
    check_output_not_input(out, inputs, "--out")
    out = check_writable_target(Path(out), overwrite)
    with adapters.folding({name: expert}, base) as folded:
        dense_dir = folded.dirs[name]
        check_joins(moe_dir, dense_dir, name)
        if not adapters.is_adapter(expert):
            check_weights_fit(expert)  # its config.json describes its weights
        domain = expert_domain(dense_dir)
        router.check_fit_data(data_dir, [domain])
        known = [d if split_path(data_dir, d, "train").is_file() else None for d in meta.domains]
        if not any(known):
            raise ConfigError(f"none of the MoE's experts' domains ({', '.join(meta.domains)}) "
                              f"has train data in {data_dir}: the new row's fit needs them beside {domain}")
        fit = meta.doc.get("router_init_report") or {}
        fit = fit if fit.get("mode") == "fit" else {}
        samples = samples or fit.get("samples_per_domain") or MergeConfig.fit_samples
        seed = fit.get("seed", MergeConfig.seed) if seed is None else seed
        t0 = time.perf_counter()
        if folded.adapters:
            say("folding the adapter")
            folded.fold()
        say("loading the MoE")
        model = load_model(moe_dir)
        tokenizer = load_tokenizer(moe_dir)
        n, _ = experts_and_top_k(model.config)
        shared = meta.doc.get("shared_expert")
        reader = WeightReader(dense_dir)
        say("adding the expert")
        ffn = _expert_ffn(reader, model.config.num_hidden_layers, 1 - shared["share"] if shared else 1.0)
        state = model.state_dict()
        distance = _non_ffn_distance(reader, state)
        grown = regrouped(model, [*range(n), ffn])
        del model, state, ffn
        say("fitting its router rows")
        xs, y = router.gather_fit_inputs(grown, tokenizer, known + [domain], data_dir, samples, seed)
        accuracy = []
        for layer, block in enumerate(moe_blocks(grown)):
            w, acc = router.fit_linear_router(xs[layer], y, n + 1, fixed=block.gate.weight,
                                              free_rows=[n])
            with torch.no_grad():
                block.gate.weight.copy_(w)
            accuracy.append(round(acc, 4))
        say("parity check")
        probe = adapters.probe_ids(tokenizer)
        parity = parity_check(grown, {name: dense_dir}, probe, first=n)
        if shared and Path(shared.get("source", "")).is_dir():
            from .formats import shared_mix_parity
            shared["mix_parity_max_abs_logit_diff"].update(
                shared_mix_parity(grown, {name: dense_dir}, Path(shared["source"]), probe, first=n))
        source = {"source": str(expert), "weights_sha256": weights_sha256(dense_dir),
                  **folded.sources.get(name, {})}
    doc = meta.doc
    doc["experts"] = [*meta.experts, {"name": name, "domain": domain, **source}]
    doc.setdefault("parity_max_abs_logit_diff", {}).update(parity)
    doc.setdefault("non_ffn_distance", {})[name] = distance
    doc["non_ffn_max_abs_diff"] = max(d["max_abs"] for d in doc["non_ffn_distance"].values())
    doc.setdefault("history", []).append({
        "op": "add-expert", "name": name, "from": str(moe_dir),
        "fit": {"domains": [d for d in known + [domain] if d], "tokens": int(y.numel()),
                "samples_per_domain": samples, "seed": seed, "rows_fitted": [n],
                "train_accuracy_per_layer": accuracy},
        "seconds": round(time.perf_counter() - t0, 1)})
    say("saving")
    save_model_dir(grown, tokenizer, out, MOE_META, doc, overwrite=overwrite, for_other_readers=True)
    write_card(out)   # its experts changed: the card says which (and nothing measured before)
    return MoeMeta.from_doc(doc)


def remove_expert(moe_dir, name: str, *, out, overwrite: bool = False,
                  on_progress: Callable[[str], None] | None = None) -> MoeMeta:
    """Write to `out` the MoE of moe_dir without expert `name` (its FFN and router rows);
    return the metadata written."""
    say = on_progress or (lambda _msg: None)
    moe_dir = check_model_dir(check_built(Path(moe_dir)))
    meta = read_moe_meta(moe_dir)
    names = meta.names
    if name not in names:
        raise ModelError(f"{moe_dir} has no expert {name!r} (its experts: {', '.join(names)})")
    top_k = meta.top_k or 1
    if len(names) - 1 < max(top_k, 2):
        raise ModelError(f"removing {name} would leave {len(names) - 1} expert(s), fewer than "
                         + (f"top_k={top_k}" if top_k >= 2 else "the two an MoE needs"))
    check_output_not_input(out, [moe_dir], "--out")
    out = check_writable_target(Path(out), overwrite)
    t0 = time.perf_counter()
    say("loading the MoE")
    model = load_model(moe_dir)
    tokenizer = load_tokenizer(moe_dir)
    k = names.index(name)
    say("removing the expert")
    kept = regrouped(model, [i for i in range(len(names)) if i != k])
    del model
    doc = {**meta.doc, "experts": [e for e in meta.experts if e["name"] != name]}
    for key in PER_EXPERT:
        if isinstance(doc.get(key), dict):
            doc[key].pop(name, None)
    if isinstance(doc.get("shared_expert"), dict):
        doc["shared_expert"].get("mix_parity_max_abs_logit_diff", {}).pop(name, None)
    if doc.get("non_ffn_distance"):
        doc["non_ffn_max_abs_diff"] = max(d["max_abs"] for d in doc["non_ffn_distance"].values())
    doc.setdefault("history", []).append({"op": "remove-expert", "name": name, "from": str(moe_dir),
                                           "seconds": round(time.perf_counter() - t0, 1)})
    say("saving")
    save_model_dir(kept, tokenizer, out, MOE_META, doc, overwrite=overwrite, for_other_readers=True)
    write_card(out)   # its experts changed: the card says which (and nothing measured before)
    return MoeMeta.from_doc(doc)
