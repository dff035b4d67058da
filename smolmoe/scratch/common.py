"""What the scratch stages share: packing text into rows, chat examples, held-out loss
(the report every stage ends with is training.stage.summary)."""
from __future__ import annotations

import math

import torch

from ..data.records import collate, encode_records
from ..training.losses import assistant_ce
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


