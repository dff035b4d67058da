"""What a model costs: parameters, parameters active per token, prefill and decode tokens/s on
this machine, and the training minutes behind it (read from the metadata of its inputs)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from ..core.io import read_json
from ..core.modeldir import EXPERT_META, MERGE_META, MOE_META, expert_count

PREFILL_TOKENS = 128   # token ids of one prefill
DECODE_TOKENS = 32     # greedy tokens of one decode


def parameter_counts(model) -> dict:
    """Total parameters, and those one token passes through (top_k of the routed experts)."""
    config = model.config
    total = sum(p.numel() for p in model.parameters())
    routed = sum(p.numel() for n, p in model.named_parameters() if ".mlp.experts." in n)
    experts = expert_count(config) or 1
    top_k = getattr(config, "num_experts_per_tok", experts)
    inactive = routed * (experts - top_k) // experts
    return {"total": total, "active": total - inactive, "routed_expert_params": routed}



def timed(fn, repeat: int = 3, warm_up: bool = True) -> float:
    """Best (smallest) wall time of `repeat` calls after a warm-up: on a shared 2-core VM the
    mean drifts with whatever else the host runs, the best time much less."""
    if warm_up:
        fn()  # first calls allocate and pick kernels
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@torch.no_grad()
def prefill_rate(model, ids) -> float:
    return ids.numel() / timed(lambda: model(input_ids=ids, use_cache=False), 2)


@torch.no_grad()
def generation_rate(model, tokenizer, new_tokens: int = 48) -> float:
    enc = tokenizer.apply_chat_template([{"role": "user", "content": "Tell me about the sea."}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)
    kw = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
              pad_token_id=tokenizer.pad_token_id)
    return new_tokens / timed(lambda: model.generate(**enc, **kw), 2)


def _meta(path: Path, name: str) -> dict:
    f = Path(path) / name
    meta = read_json(f) if f.is_file() else None
    return meta if isinstance(meta, dict) else {}


def training_seconds(path: Path) -> float | None:
    """Seconds of training behind a model directory, its inputs' included: an expert's or the
    multitask model's fine-tune; a merge: its experts' and the merge; an MoE: its experts', the
    assembly (router init) and the router training. None for a model not trained here."""
    path = Path(path)
    if (path / MOE_META).is_file():
        meta = _meta(path, MOE_META)
        experts = [training_seconds(Path(e["source"])) or 0.0 for e in meta.get("experts", [])
                   if e.get("source")]
        return (sum(experts) + float(meta.get("seconds") or 0)
                + float((meta.get("router_training") or {}).get("seconds") or 0))
    if (path / MERGE_META).is_file():
        meta = _meta(path, MERGE_META)
        return sum(training_seconds(Path(e["source"])) or 0.0 for e in meta.get("experts", [])) \
            + float(meta.get("seconds") or 0)
    if (path / EXPERT_META).is_file():
        return float(_meta(path, EXPERT_META).get("seconds") or 0)
    return None


def model_cost(path: Path, *, speed: bool = True, prefill_tokens: int = PREFILL_TOKENS,
               decode_tokens: int = DECODE_TOKENS) -> dict:
    """Parameters, active parameters per token, prefill and decode tokens/s (best of two after
    a warm-up, in float32, at torch's current thread count) and training minutes."""
    from ..core.modeldir import load_model, load_tokenizer

    model, tokenizer = load_model(path), load_tokenizer(path)
    counts = parameter_counts(model)
    seconds = training_seconds(path)
    cost = {"parameters": counts["total"], "active_parameters": counts["active"],
            "training_minutes": None if seconds is None else round(seconds / 60, 2),
            "threads": torch.get_num_threads()}
    if speed:
        model.eval()
        ids = torch.randint(100, tokenizer.vocab_size, (1, prefill_tokens),
                            generator=torch.Generator().manual_seed(0))
        cost["prefill_tok_s"] = round(prefill_rate(model, ids), 1)
        cost["decode_tok_s"] = round(generation_rate(model, tokenizer, decode_tokens), 1)
    return cost


def model_costs(models: dict[str, Path], *, speed: bool = True,
                on_progress: Callable[[str, str], None] | None = None) -> dict[str, dict]:
    """model_cost of each labelled model directory, in order."""
    costs = {}
    for label, path in models.items():
        costs[label] = model_cost(path, speed=speed)
        if on_progress:
            on_progress(label, "cost")
    return costs
