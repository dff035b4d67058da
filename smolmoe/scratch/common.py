"""What every scratch stage shares: packing text, held-out loss, saving a model directory."""
from __future__ import annotations

import math
import os
from dataclasses import asdict
from pathlib import Path

import torch

from ..config import TrainSettings
from ..data import collate, encode_records
from ..experts import checkpoint_dir_for
from ..io import atomic_dir, write_json
from ..losses import assistant_ce
from .tokenizer import DOC_END, token_id

SCRATCH_META = "smolmoe_scratch.json"


def pack_texts(tokenizer, texts: list[str], seq_len: int) -> list[dict]:
    """Documents joined by <|endoftext|> and cut into full rows of seq_len tokens (all labelled)."""
    end = token_id(tokenizer, DOC_END)
    stream: list[int] = []
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        stream += ids + [end]
    rows = len(stream) // seq_len
    return [{"input_ids": stream[i * seq_len:(i + 1) * seq_len],
             "labels": stream[i * seq_len:(i + 1) * seq_len]} for i in range(rows)]


def chat_examples(tokenizer, records: list[dict], max_len: int) -> list[dict]:
    """Assistant-only labels, from the one function that makes them (data.encode_chat)."""
    return encode_records(tokenizer, records, max_len)


@torch.no_grad()
def heldout_loss(model, examples: list[dict], pad_id: int, batch_size: int = 8) -> float:
    """Token-weighted mean loss over the labelled tokens of held-out examples."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    ordered = sorted(examples, key=lambda e: len(e["input_ids"]))
    for i in range(0, len(ordered), batch_size):
        loss_sum, n, _ = assistant_ce(model, collate(ordered[i:i + batch_size], pad_id))
        total, count = total + float(loss_sum), count + n
    model.train(was_training)
    return total / max(count, 1) if count else math.nan


def save_model(model, tokenizer, out_dir: str | os.PathLike, meta: dict,
               overwrite: bool = False) -> Path:
    """Atomically write an HF dir (loads with stock AutoModelForCausalLM) plus our meta file."""
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / SCRATCH_META, meta)
    return Path(out_dir)


def summary(stage: str, result, settings: TrainSettings, **extra) -> dict:
    return {"stage": stage, "steps": result.steps, "final_loss": result.final_loss,
            "tokens": result.tokens, "seconds": round(result.seconds, 1),
            "tokens_per_second": round(result.tokens_per_second),
            "trainable_params": result.trainable_params, "settings": asdict(settings), **extra}


def checkpoints_for(out_dir: str | os.PathLike) -> Path:
    return checkpoint_dir_for(Path(out_dir))
