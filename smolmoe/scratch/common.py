"""What every scratch stage shares: packing text, held-out loss, saving a model directory."""
from __future__ import annotations

import math
import os
from dataclasses import asdict
from pathlib import Path

import torch

from ..config import TrainSettings
from ..data import collate, encode_records
from ..losses import assistant_ce
from ..modeldir import SCRATCH_META, checkpoint_dir_for, save_model_dir
from .tokenizer import DOC_END, token_id

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
    """A scratch model's directory: the HF dir plus its report (modeldir.save_model_dir)."""
    save_model_dir(model, tokenizer, out_dir, SCRATCH_META, meta, overwrite=overwrite)
    return Path(out_dir)


def summary(stage: str, result, settings: TrainSettings, **extra) -> dict:
    return {"stage": stage, "steps": result.steps, "final_loss": result.final_loss,
            "tokens": result.tokens, "seconds": round(result.seconds, 1),
            "tokens_per_second": round(result.tokens_per_second),
            "trainable_params": result.trainable_params, "settings": asdict(settings), **extra}


def checkpoints_for(out_dir: str | os.PathLike) -> Path:
    return checkpoint_dir_for(Path(out_dir))
