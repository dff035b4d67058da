"""Per-domain mean assistant-token loss of model directories on the test splits."""
from __future__ import annotations

import math
import platform
import time
from pathlib import Path
from typing import Callable, Iterable

import torch

from .base import load_model, load_tokenizer
from .data import collate, encode_records, load_records, split_path
from .losses import assistant_ce


@torch.no_grad()
def loss_on_records(model, tokenizer, records: list[dict], *, max_len: int = 384,
                    batch_size: int = 8) -> dict:
    """Mean loss over all assistant tokens of the records (token-weighted), and the count."""
    examples = encode_records(tokenizer, records, max_len)
    examples.sort(key=lambda e: len(e["input_ids"]))  # similar lengths batch with little padding
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(examples), batch_size):
        batch = collate(examples[i:i + batch_size], tokenizer.pad_token_id)
        loss_sum, n, _ = assistant_ce(model, batch)
        total += float(loss_sum)
        count += n
    return {"loss": total / max(count, 1), "tokens": count, "records": len(examples)}


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
