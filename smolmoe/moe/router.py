"""Router initialisation (random / hidden / fit) and router-only training.

Only the routers (`mlp.gate.weight`, experts × hidden per layer) ever train here: the experts'
FFNs and everything shared stay frozen, so the MoE can only learn *which* expert to use.
"""
from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ..core.config import RouterSettings, TrainSettings
from ..core.distributed import process_state
from ..core.errors import ConfigError, SmolMoEError
from ..core.modeldir import MOE_META
from ..core.precision import autocast
from ..core.settings import field_type
from ..data.records import (StepBatches, collate, data_domains, encode_records, load_records,
                   mixed_examples, split_path)
from ..training.lora import LoraSettings, wrap_lora
from ..training.losses import assistant_ce
from ..training.stage import Plan, Stage, run_stage
from .formats import experts_and_top_k
from .hooks import capture_router_inputs, force_expert, moe_blocks
from .meta import read_moe_meta


def router_params(model) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if n.endswith("mlp.gate.weight")}


def is_router(name: str, _param=None) -> bool:
    return name.endswith("mlp.gate.weight")


# ------------------------------------------------------------------ gathering router inputs
def _common_prefix(examples: list[dict]) -> int:
    """Length of the token prefix every example shares (the template's fixed system prompt)."""
    first = examples[0]["input_ids"]
    n = len(first)
    for e in examples[1:]:
        ids = e["input_ids"]
        k = 0
        while k < min(n, len(ids)) and ids[k] == first[k]:
            k += 1
        n = k
    return n


@torch.no_grad()
def gather_router_inputs(model, tokenizer, examples: list[dict], expert: int,
                         batch_size: int = 8) -> dict[int, torch.Tensor]:
    """Router inputs per layer for the examples run through expert `expert` alone.

    Tokens of the shared prefix (fixed system prompt) are skipped: they look the same for
    every domain, so no router can tell them apart.
    """
    skip = _common_prefix(examples) if len(examples) > 1 else 0
    per_layer: dict[int, list[torch.Tensor]] = {}
    for i in range(0, len(examples), batch_size):
        batch = collate(examples[i:i + batch_size], tokenizer.pad_token_id)
        keep = batch["attention_mask"].bool().clone()
        keep[:, :skip] = False
        with force_expert(model, expert), capture_router_inputs(model) as inputs, autocast("auto"):
            model.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        for layer, chunks in inputs.items():
            per_layer.setdefault(layer, []).append(chunks[0][keep.flatten()].float())
    return {l: torch.cat(v) for l, v in per_layer.items()}


def fit_linear_router(x: torch.Tensor, y: torch.Tensor, num_experts: int,
                      weight_decay: float = 1e-4, max_iter: int = 100, *,
                      fixed: torch.Tensor | None = None,
                      free_rows: list[int] | None = None) -> tuple[torch.Tensor, float]:
    """Bias-free softmax regression (a Mixtral router has no bias) by L-BFGS; returns W and
    the class-balanced training accuracy.

    Classes are weighted by inverse token count: domains with long conversations (dialogue,
    articles) would otherwise outvote those with short answers and pull their tokens over.
    With free_rows, only those rows are fitted (from zero) and the others stay at `fixed`:
    the same objective with the rest held, so fitting back one row of a jointly fitted router
    finds that row again (the regularised objective is strictly convex).
    """
    x = x.float()
    counts = torch.bincount(y, minlength=num_experts).float()
    weight = counts.sum() / (num_experts * counts.clamp(min=1))
    rows = list(range(num_experts)) if free_rows is None else list(free_rows)
    base = torch.zeros(num_experts, x.shape[1]) if fixed is None else fixed.detach().float().clone()
    index = torch.tensor(rows, dtype=torch.long)
    free = torch.zeros(len(rows), x.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([free], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def full():
        return free if free_rows is None else base.index_put((index,), free)

    def closure():
        opt.zero_grad()
        w = full()
        loss = F.cross_entropy(x @ w.T, y, weight=weight) + weight_decay * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        w = full()
        hit = ((x @ w.T).argmax(-1) == y).float()
        acc = float(torch.stack([hit[y == c].mean() for c in range(num_experts) if counts[c] > 0]).mean())
    return w.detach(), acc


def _domain_examples(tokenizer, data_dir, domain: str, n: int, seed: int, split="train"):
    records = load_records(split_path(data_dir, domain, split))
    records = random.Random(seed).sample(records, min(n, len(records)))
    return encode_records(tokenizer, records, 256)


def _prompt_examples(tokenizer, prompts: list[str]) -> list[dict]:
    out = []
    for p in prompts:
        ids = tokenizer(p, add_special_tokens=False)["input_ids"]
        out.append({"input_ids": ids, "labels": ids})
    return out


def check_fit_data(data_dir, domains: list[str]) -> None:
    """Validate the training records the fit init will read (cheap, so it runs first)."""
    if data_dir is None:
        raise ConfigError("router_init=fit needs the data directory (--data)")
    for domain in domains:
        load_records(split_path(data_dir, domain, "train"))


def gather_fit_inputs(model, tokenizer, domains: list[str | None], data_dir, samples: int,
                      seed: int) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    """The fit's data: router inputs per layer of `samples` train conversations of each
    expert's domain (domains[j], None to leave expert j out) run through expert j alone, and
    each token's expert. Forced routing makes them independent of the routers' weights."""
    xs: dict[int, list] = {}
    ys: list[torch.Tensor] = []
    for j, domain in enumerate(domains):
        if domain is None:
            continue
        examples = _domain_examples(tokenizer, data_dir, domain, samples, seed)
        acts = gather_router_inputs(model, tokenizer, examples, j)
        for layer, x in acts.items():
            xs.setdefault(layer, []).append(x)
        ys.append(torch.full((acts[0].shape[0],), j, dtype=torch.long))
    return {layer: torch.cat(v) for layer, v in xs.items()}, torch.cat(ys)


def init_routers(model, tokenizer, mode: str, *, names: list[str], domains: list[str],
                 data_dir=None, manifests: dict | None = None, samples: int = 16,
                 seed: int = 0) -> dict:
    """Set every router's weights; return what was done (per-layer accuracy for `fit`)."""
    routers = [b.gate.weight for b in moe_blocks(model)]
    n = len(names)
    if mode == "random":
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for w in routers:
                w.copy_(torch.randn(w.shape, generator=gen) * 0.02)
        return {"mode": "random", "std": 0.02}
    if mode == "hidden":
        return _init_hidden(model, tokenizer, routers, names, manifests or {})
    if mode == "fit":
        if data_dir is None:
            raise ConfigError("router_init=fit needs the data directory (--data)")
        xs, y = gather_fit_inputs(model, tokenizer, domains, data_dir, samples, seed)
        accuracy = []
        for layer, w in enumerate(routers):
            fitted, acc = fit_linear_router(xs[layer], y, n)
            with torch.no_grad():
                w.copy_(fitted.to(w.dtype))
            accuracy.append(round(acc, 4))
        return {"mode": "fit", "tokens": int(y.numel()), "samples_per_domain": samples,
                "seed": seed, "train_accuracy_per_layer": accuracy}
    raise ConfigError(f"unknown router init {mode!r}")


def _init_hidden(model, tokenizer, routers, names, manifests) -> dict:
    """mergekit's 'hidden' init: each router row points along the mean router input of the
    expert's positive prompts (minus its negative prompts), centred across experts."""
    means = []
    for j, name in enumerate(names):
        m = manifests.get(name)
        pos = list(getattr(m, "positive_prompts", []) or [])
        if not pos:
            raise ConfigError(f"router_init=hidden needs positive_prompts in expert {name}'s manifest")
        neg = list(getattr(m, "negative_prompts", []) or [])
        p = gather_router_inputs(model, tokenizer, _prompt_examples(tokenizer, pos), j, batch_size=1)
        vec = {l: x.mean(0) for l, x in p.items()}
        if neg:
            q = gather_router_inputs(model, tokenizer, _prompt_examples(tokenizer, neg), j, batch_size=1)
            vec = {l: vec[l] - x.mean(0) for l, x in q.items()}
        means.append(vec)
    with torch.no_grad():
        for layer, w in enumerate(routers):
            v = torch.stack([m[layer] for m in means])
            v = v - v.mean(0, keepdim=True)
            v = v / v.norm(dim=-1, keepdim=True).clamp(min=1e-6)
            w.copy_(v.to(w.dtype))
    return {"mode": "hidden", "prompts": {n: len(getattr(manifests.get(n), "positive_prompts", []))
                                          for n in names}}


# ------------------------------------------------------------------ router training
def balance_loss(router_logits, num_experts: int, top_k: int, attention_mask) -> torch.Tensor:
    """Switch-Transformer load-balancing loss, as transformers computes it for Mixtral:
    E * sum_i f_i * P_i, with f_i the share of top-k assignments to expert i and P_i its mean
    router probability (over layers and non-padding tokens). Equals top_k (2.0 for top-2)
    when perfectly balanced."""
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func
    return load_balancing_loss_func(tuple(router_logits), num_experts, top_k, attention_mask)


def routing_ce(router_logits, route: torch.Tensor, attention_mask, skip: int) -> torch.Tensor:
    """Cross-entropy of every router (each layer, each token after the shared prefix) against
    the expert of the example's domain: router supervision with the labels the data has."""
    keep = attention_mask.bool().clone()
    keep[:, :skip] = False
    target = route[:, None].expand_as(keep)[keep]
    return torch.stack([F.cross_entropy(l[keep.flatten()].float(), target)
                        for l in router_logits]).mean()


def router_loss_fn(num_experts: int, top_k: int, alpha: float, beta: float = 0.0, skip: int = 0):
    """LM loss + alpha * load balance (+ beta * routing CE when examples carry a route)."""
    def loss_fn(model, batch):
        loss_sum, n, out = assistant_ce(model, batch, output_router_logits=True)
        lm = loss_sum / max(n, 1)
        bal = balance_loss(out.router_logits, num_experts, top_k, batch["attention_mask"])
        total = lm + alpha * bal
        metrics = {"loss": lm.detach(), "balance": bal.detach()}
        if beta > 0 and "route" in batch:
            ce = routing_ce(out.router_logits, batch["route"], batch["attention_mask"], skip)
            total = total + beta * ce
            metrics["route_ce"] = ce.detach()
        with torch.no_grad():
            top1 = torch.cat([l.argmax(-1) for l in out.router_logits])
            mask = batch["attention_mask"].reshape(-1).bool().repeat(len(out.router_logits))
            load = torch.bincount(top1[mask], minlength=num_experts).float()
            metrics["max_load"] = (load / load.sum()).max()
        return total, metrics
    return loss_fn


def training_domains(expert_domains: list[str], data_dir: Path, beta: float) -> list[str]:
    """The data domains routers train on: each expert's own, where the data has it; for an MoE
    whose experts are not named for domains (made elsewhere), every domain of the data dir,
    without routing supervision (nothing says which expert a domain belongs to)."""
    own = [d for d in expert_domains if split_path(data_dir, d, "train").is_file()]
    if own:
        return own
    if beta > 0:
        raise ConfigError("--beta needs experts named for data domains (`smolmoe adopt MOE_DIR "
                          "--names ...`); none of " + ", ".join(expert_domains) + f" is in {data_dir}")
    return data_domains(data_dir)


HEALS = field_type(RouterSettings, "heal").choices   # declared once, in config.RouterSettings
HEAL_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def healing(model, heal: str):
    """(model, trainable predicate) for router training that also heals the shared weights.

    After a merge of full fine-tunes the shared attention/norms fit no expert exactly (BTX
    fine-tunes the whole merged model for this). Lightly: `norms` also trains every RMSNorm
    weight; `lora` adds rank-8 LoRA adapters on the attention projections (merged back into
    the weights before saving, so the output stays a stock checkpoint). Experts stay frozen.
    """
    if heal not in HEALS:
        raise ConfigError(f"heal must be one of {', '.join(HEALS)}, got {heal!r}")
    if heal == "norms":
        return model, lambda name, _p: is_router(name) or name.endswith("norm.weight")
    if heal == "lora":
        model = wrap_lora(model, LoraSettings(target_modules=HEAL_LORA_TARGETS))
        return model, lambda name, _p: is_router(name) or "lora_" in name
    return model, is_router


def train_router(moe_dir: Path, data_dir: Path, settings: TrainSettings, *,
                 alpha: float = RouterSettings.alpha, beta: float = RouterSettings.beta,
                 heal: str = RouterSettings.heal, out_dir: Path | None = None,
                 per_domain: int = RouterSettings.per_domain, resume: bool = False,
                 overwrite: bool = False,
                 on_step: Callable[[dict], None] | None = None) -> dict:
    """Train the routers (and, with `heal`, lightly the shared weights) on a shuffled mix of
    every domain's train split."""
    RouterSettings(alpha=alpha, beta=beta, heal=heal, per_domain=per_domain).validate()
    moe_dir = Path(moe_dir)
    in_place = out_dir is None or Path(out_dir).resolve() == moe_dir.resolve()

    def read():
        meta = read_moe_meta(moe_dir)
        domains = training_domains(meta.domains, data_dir, beta)
        # Records first: a bad file fails in a second instead of after loading the MoE.
        return meta, {d: load_records(split_path(data_dir, d, "train")) for d in domains}

    def prepare(model, tokenizer, inputs):
        meta, records = inputs
        experts = meta.domains
        per = {}
        for d, recs in records.items():  # the same examples in every process: StepBatches shards them by rank
            recs = random.Random(settings.seed).sample(recs, min(per_domain, len(recs)))
            per[d] = encode_records(tokenizer, recs, settings.seq_len)
        examples = mixed_examples(per, seed=settings.seed)
        for e in examples:
            e["route"] = experts.index(e["domain"]) if e["domain"] in experts else -1
        cfg = model.config
        num_experts, top_k = experts_and_top_k(cfg)
        expected = cfg.num_hidden_layers * num_experts * cfg.hidden_size
        trainable = sum(p.numel() for p in router_params(model).values())
        if trainable != expected:
            raise SmolMoEError(f"router parameter count {trainable} != layers*experts*hidden {expected}")

        def report(result, _before, _after):
            assert heal != "none" or result.trainable_params == expected
            return {"trainable_params": result.trainable_params, "router_params": expected,
                    "heal": heal, "alpha": alpha, "beta": beta,
                    "balance_formula": "E * sum_i f_i * P_i (Switch Transformer; transformers' "
                                       "load_balancing_loss_func)",
                    "routing_ce": "mean over layers of CE(router logits, the domain's expert) on "
                                  "tokens after the shared prefix, weighted by beta",
                    "settings": asdict(settings), "examples": len(examples),
                    "final": result.history[-1],
                    "tokens_per_second": round(result.tokens_per_second, 1),
                    "seconds": round(result.seconds, 1)}

        return Plan(StepBatches(examples, settings.batch_size, tokenizer.pad_token_id, settings.seed),
                    report, loss_fn=router_loss_fn(num_experts, top_k, alpha, beta,
                                                   skip=_common_prefix(examples)),
                    wrap=lambda m: healing(m, heal),
                    saved_meta=lambda summary: {**meta.doc, "router_training": summary})

    # A healed LoRA is merged into the weights when saved; the config gets other readers' keys.
    target = moe_dir if in_place else Path(out_dir)
    summary = run_stage(Stage(moe_dir, target, settings, prepare, read=read,
                              meta_file=MOE_META, overwrite=overwrite, resume=resume,
                              on_step=on_step, in_place=in_place,
                              checkpoint_name="router-checkpoint", for_other_readers=True,
                              inputs=(data_dir,)))
    if process_state().is_main_process:   # the card of the new routers (earlier measurements gone)
        from .model_card import write_card
        write_card(target)
    return summary
