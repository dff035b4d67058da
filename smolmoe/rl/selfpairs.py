"""DPO on a model's own samples: for each prompt, one verified-right and one wrong reply.

The pairs come from the starting model itself (temperature sampling, several replies per
prompt, checked by the task's rule), so DPO pushes it towards answers it can already produce
sometimes and away from its own typical mistakes; prompts where every sample is right, or
every sample wrong, give no pair. Training pairs come from training prompts and held-out pairs
from held-out prompts (operand-disjoint, see arithmetic.operand_split).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Callable

import torch

from ..core.config import DPOSettings, TrainSettings
from ..core.errors import DataError
from ..core.io import check_writable_target
from ..core.modeldir import load_model, load_tokenizer
from ..core.precision import autocast
from ..core.settings import check, setting
from ..inference.completions import generate_ids
from ..inference.generate import prompt_ids
from ..training.lora import LoraSettings
from .dpo import dpo
from .verifiable import verified_accuracy


def pick_pair(record: dict, replies: list[str], task) -> dict | None:
    """A DPO record from one prompt's replies: chosen right (well-formatted when one is),
    rejected wrong; None when the replies do not hold both."""
    right = [r for r in replies if task.correct(r, record["answer"])]
    wrong = [r for r in replies if not task.correct(r, record["answer"])]
    if not right or not wrong:
        return None
    right.sort(key=lambda r: not task.formatted(r))        # stable: first formatted right reply
    return {"messages": record["messages"], "chosen": right[0], "rejected": wrong[0],
            "answer": record["answer"], "kind": "self-sampled"}


@dataclass
class SelfPairSettings:
    """How `rl dpo` samples its pairs from the model itself."""
    prompts: int = setting(64, ge=1, help="Training (and held-out) prompts to sample reply pairs on.")
    samples: int = setting(6, ge=2, help="Sampled replies per prompt.")
    temperature: float = setting(0.6, gt=0, help="Sampling temperature of the replies that make "
                                                 "the pairs.")

    def validate(self) -> "SelfPairSettings":
        return check(self)


@torch.no_grad()
def sample_pairs(model, tokenizer, records: list[dict], task, *, samples: int,
                 temperature: float, max_new_tokens: int = 40, precision: str = "auto",
                 prompts_per_batch: int = 8, seed: int = 0) -> list[dict]:
    """Sample `samples` replies per prompt (one batched generate per chunk); keep the pairs."""
    torch.manual_seed(seed)
    pairs = []
    for i in range(0, len(records), prompts_per_batch):
        chunk = records[i:i + prompts_per_batch]
        prompts = [prompt_ids(tokenizer, r["messages"], think=task.think) for r in chunk]
        with autocast(precision):
            outs = generate_ids(model, tokenizer, prompts, do_sample=True, temperature=temperature,
                                max_new_tokens=max_new_tokens, num_return_sequences=samples)
        texts = [tokenizer.decode(o, skip_special_tokens=True).strip() for o in outs]
        for j, record in enumerate(chunk):
            pair = pick_pair(record, texts[j * samples:(j + 1) * samples], task)
            if pair:
                pairs.append(pair)
    return pairs


def self_dpo(model_dir: str | os.PathLike, records: list[dict], test_records: list[dict],
             out_dir: str | os.PathLike, settings: TrainSettings, task, *,
             pairs: SelfPairSettings | None = None, preference: DPOSettings | None = None,
             max_new_tokens: int = 40, lora: LoraSettings | None = None, overwrite: bool = False,
             on_step: Callable[[dict], None] | None = None,
             on_stage: Callable[[str], None] | None = None) -> dict:
    """Build pairs from the model's own samples (on `pairs.prompts` training and held-out
    prompts), run DPO, and report held-out preference share and exact accuracy before and after."""
    settings.validate()
    pairs, preference = (pairs or SelfPairSettings()).validate(), (preference or DPOSettings()).validate()
    prompts = pairs.prompts
    check_writable_target(out_dir, overwrite)
    say = on_stage or (lambda stage: None)
    model, tokenizer = load_model(model_dir), load_tokenizer(model_dir)
    rng = random.Random(settings.seed)
    sample = dict(task=task, samples=pairs.samples, temperature=pairs.temperature,
                  max_new_tokens=max_new_tokens, precision=settings.precision, seed=settings.seed)
    say("sampling training pairs")
    train_pairs = sample_pairs(model, tokenizer, rng.sample(records, min(prompts, len(records))),
                               **sample)
    say("sampling held-out pairs")
    val_pairs = sample_pairs(model, tokenizer, rng.sample(test_records, min(prompts, len(test_records))),
                             **sample)
    if not train_pairs or not val_pairs:
        raise DataError(f"no right/wrong reply pairs in the samples ({len(train_pairs)} training, "
                        f"{len(val_pairs)} held-out): the model is always right or always wrong")
    say("held-out accuracy before")
    evaluate = dict(task=task, max_new_tokens=max_new_tokens, precision=settings.precision)
    before = verified_accuracy(model, tokenizer, test_records, **evaluate)
    del model
    say("dpo")
    info = dpo(model_dir, train_pairs, val_pairs, out_dir, settings, beta=preference.beta, lora=lora,
               overwrite=overwrite, on_step=on_step)
    say("held-out accuracy after")
    after = verified_accuracy(load_model(out_dir), tokenizer, test_records, **evaluate)
    return {**info, "train_pairs": len(train_pairs), "test_before": before, "test_after": after,
            "pair_sampling": {k: v for k, v in sample.items() if k != "task"} | {"prompts": prompts}}
