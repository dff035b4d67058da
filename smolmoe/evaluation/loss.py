"""Per-domain mean assistant-token loss of model directories on the test splits."""
from __future__ import annotations

import math
import platform
import time
from pathlib import Path
from typing import Callable, Iterable

import torch

from ..core.config import GENERAL_DOMAIN
from ..core.errors import DataError
from ..core.modeldir import load_model, load_tokenizer
from ..core.precision import autocast
from ..data.records import collate, encode_records, load_records, split_path
from ..moe.assemble import REPORT_LABELS
from ..moe.formats import experts_and_top_k
from ..moe.meta import read_moe_meta
from ..training.losses import assistant_ce
from .oracle import each_expert, oracle_results


def eval_batches(tokenizer, records: list[dict], max_len: int, batch_size: int):
    """Encoded records sorted by length (little padding), collated batch by batch."""
    examples = encode_records(tokenizer, records, max_len)
    examples.sort(key=lambda e: len(e["input_ids"]))
    for i in range(0, len(examples), batch_size):
        yield collate(examples[i:i + batch_size], tokenizer.pad_token_id)


@torch.no_grad()
def loss_on_records(model, tokenizer, records: list[dict], *, max_len: int = 384,
                    batch_size: int = 8, on_batch: Callable | None = None,
                    precision: str = "auto", routing: bool = False) -> dict:
    """Mean loss over all assistant tokens of the records (token-weighted), and the count.

    on_batch(batch, router_logits) runs after each forward pass; with `routing` (an MoE) the
    decoder returns the router logits per layer (router_outputs.py), else they are None. The
    products run in `precision` (precision.py: bf16 where the hardware is fast at it).
    """
    model.eval()
    total, count, n_records = 0.0, 0, 0
    for batch in eval_batches(tokenizer, records, max_len, batch_size):
        with autocast(precision, model.device):
            loss_sum, n, out = assistant_ce(model, batch, **({"output_router_logits": True}
                                                              if routing else {}))
        total += float(loss_sum)
        count += n
        n_records += batch["input_ids"].shape[0]
        if on_batch:
            on_batch(batch, out.router_logits if routing else None)
    # No token scored: the loss was never measured (nan, never 0.0); check_scored refuses it.
    return {"loss": total / count if count else math.nan, "tokens": count, "records": n_records}


def unscored(report) -> list[str]:
    """'path/to/entry' of every result in a report that scored no token (nested dicts with a
    'tokens' count of 0)."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("tokens") == 0 and "loss" in node:
                found.append("/".join(where))
                return
            for k, v in node.items():
                walk(v, where + ([] if k == "results" else [str(k)]))
    walk(report, [])
    return found


def check_scored(report) -> None:
    """Refuse (one line) a report with a loss that no token was scored for."""
    missing = unscored(report)
    if missing:
        raise DataError(f"no assistant token was scored for {', '.join(missing[:6])}"
                        f"{' ...' if len(missing) > 6 else ''}: every reply was cut off (raise "
                        f"--max-len) or is empty, so no loss was measured")


def evaluate(models: dict[str, Path], data_dir: Path, domains: Iterable[str], *,
             split: str = "test", limit: int | None = 100, max_len: int = 384,
             pairs: Callable[[str, str], bool] | None = None,
             on_progress: Callable[[str, str], None] | None = None) -> dict:
    """Loss of every model on every domain (or only where pairs(model, domain) is true).

    Returns {"results": {model: {domain: {loss, tokens, records}}}, "settings": ...}.
    """
    domains = list(domains)
    records = {d: load_records(split_path(data_dir, d, split), limit=limit) for d in domains}
    results: dict[str, dict] = {}
    t0 = time.perf_counter()
    for name, path in models.items():
        todo = [d for d in domains if pairs is None or pairs(name, d)]
        if not todo:
            continue
        model, tokenizer = load_model(path), load_tokenizer(path)
        results[name] = {}
        for d in todo:
            results[name][d] = loss_on_records(model, tokenizer, records[d], max_len=max_len)
            if on_progress:
                on_progress(name, d)
        del model
    return {
        "results": results,
        "models": {k: str(v) for k, v in models.items()},
        "settings": {"split": split, "limit": limit, "max_len": max_len,
                     "data_dir": str(data_dir), "seconds": round(time.perf_counter() - t0, 1),
                     "torch": torch.__version__, "python": platform.python_version()},
    }


def mean_loss(per_domain: dict) -> float:
    """Token-weighted mean over domains (the 'mixed test set' loss)."""
    tokens = sum(v["tokens"] for v in per_domain.values())
    if not tokens:
        return math.nan
    return sum(v["loss"] * v["tokens"] for v in per_domain.values()) / tokens


def moe_routing(model, tokenizer, records: dict[str, list[dict]], domains: list[str], *,
                max_len: int = 384, on_progress: Callable[[str, str], None] | None = None) -> dict:
    """The MoE's loss per domain of `records` and how it routed: top-1 shares per domain on
    assistant tokens (expert i serves domains[i]), and each expert's share of all top-k choices."""
    num, k = experts_and_top_k(model.config)
    scored = [d for d in domains if d in records]
    top1 = {d: torch.zeros(num) for d in scored}
    topk = torch.zeros(num)
    losses = {}
    for d in scored:
        def on_batch(batch, router_logits, d=d):
            assistant = (batch["labels"] != -100).flatten()
            real = batch["attention_mask"].flatten().bool()
            for logits in router_logits:
                logits = logits.detach().float().cpu()
                top1[d] += torch.bincount(logits[assistant].argmax(-1), minlength=num).float()
                topk.add_(torch.bincount(logits[real].topk(k, -1).indices.flatten(),
                                         minlength=num).float())
        losses[d] = loss_on_records(model, tokenizer, records[d], max_len=max_len,
                                    on_batch=on_batch, routing=True)
        if on_progress:
            on_progress("moe", d)
    accuracy = sum(top1[d][domains.index(d)] for d in scored) / sum(top1[d].sum() for d in scored)
    return {"losses": losses,
            "routing_matrix": {d: (top1[d] / top1[d].sum().clamp(min=1)).tolist() for d in scored},
            "routing_accuracy": float(accuracy),
            "load_share": (topk / topk.sum()).tolist()}


def moe_evaluate(moe_dir: Path, data_dir: Path, *, base: Path | None = None,
                 split: str = "test", limit: int | None = 100, max_len: int = 384,
                 experts_on_all: bool = True, baselines: dict[str, Path] | None = None,
                 on_progress: Callable[[str, str], None] | None = None) -> dict:
    """Base, every expert, the oracle and the MoE on each expert's domain, plus routing;
    `baselines` (label -> dense model dir: merges, multitask; baselines.py) on every domain.

    Expert j is scored from its own dense directory when it is there (the true expert, and
    cheaper), else as the MoE with every router forced to j (equal to dense expert j where
    assemble's parity check proved it: MLP-only fine-tunes). `expert_scoring` says which way
    each expert was scored. With experts_on_all=False each
    expert is scored on its own domain only (enough for the oracle, at a fraction of the cost).
    """
    meta = read_moe_meta(moe_dir)
    names, domains = meta.names, meta.domains
    if not any(split_path(data_dir, d, split).is_file() for d in domains):
        raise DataError(f"none of the MoE's expert domains ({', '.join(domains)}) has a {split} "
                        f"split in {data_dir}; name the experts for data domains with "
                        f"`smolmoe adopt {moe_dir} --names ...`")
    # Scored where the split exists: the general split (the base expert's) has no foreign
    # part, nor has a domain whose foreign source could not be had when the data was built.
    required = split != "foreign"
    records = {d: load_records(split_path(data_dir, d, split), limit=limit) for d in domains
               if (required and d != GENERAL_DOMAIN) or split_path(data_dir, d, split).is_file()}
    t0 = time.perf_counter()
    results: dict[str, dict] = {}
    scoring: dict[str, str] = {}

    def score(label, model, tokenizer, domains=records):
        results[label] = {}
        for d in domains:
            results[label][d] = loss_on_records(model, tokenizer, records[d], max_len=max_len)
            if on_progress:
                on_progress(label, d)

    if base is not None:
        score("base", load_model(base), load_tokenizer(base))
    baselines = dict(baselines or {})
    clash = set(baselines) & {*names, *REPORT_LABELS}
    if clash:
        raise DataError(f"a baseline may not be called {', '.join(sorted(clash))}: the report "
                        f"uses that name for another row")
    for label, path in baselines.items():
        score(label, load_model(path), load_tokenizer(path))
    model, tokenizer = load_model(moe_dir), load_tokenizer(moe_dir)
    for expert, source, how in each_expert(meta, model):
        scoring[expert["name"]] = how
        own = records if experts_on_all else [d for d in records if d == expert["domain"]]
        if source is None:
            score(expert["name"], model, tokenizer, own)
        else:
            score(expert["name"], load_model(source), load_tokenizer(source), own)
    routing = moe_routing(model, tokenizer, records, domains, max_len=max_len,
                          on_progress=on_progress)
    results["moe"] = routing.pop("losses")
    results["oracle"] = oracle_results(results, meta, records)
    return {
        "results": results, "experts": names, "domains": domains, "expert_scoring": scoring,
        "baselines": list(baselines),
        **routing,  # routing_matrix: domain -> top-1 shares; routing_accuracy; load_share
        "moe_dir": str(moe_dir),
        "settings": {"split": split, "limit": limit, "max_len": max_len, "data_dir": str(data_dir),
                     "seconds": round(time.perf_counter() - t0, 1), "torch": torch.__version__,
                     "python": platform.python_version()},
    }
