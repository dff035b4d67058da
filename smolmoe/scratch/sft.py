"""Supervised fine-tuning on chat records: loss on assistant tokens only (data.encode_chat).

Reasoning SFT is the same stage on records whose assistant turns open with <think>...</think>;
the chat template (tokenizer.py) renders the others with an empty thinking block, so one model
learns both modes and the generation prompt chooses between them.
"""
from __future__ import annotations

import os
import shutil
from typing import Callable

from ..config import TrainSettings
from ..data import StepBatches
from ..experts import sample_for_steps
from ..io import check_writable_target
from ..modeldir import load_model, load_tokenizer
from ..train import train
from .common import chat_examples, checkpoints_for, heldout_loss, save_model, summary
from .lora import LoraSettings, finish_lora, lora_trainable, wrap_lora


def sft(model_dir: str | os.PathLike, records: list[dict], val_records: list[dict],
        out_dir: str | os.PathLike, settings: TrainSettings, *, lora: LoraSettings | None = None,
        resume: bool = False, overwrite: bool = False,
        on_step: Callable[[dict], None] | None = None, stage: str = "sft") -> dict:
    """Fine-tune on chat records; held-out assistant loss before and after; save the model."""
    settings.validate()
    check_writable_target(out_dir, overwrite)
    model, tokenizer = load_model(model_dir), load_tokenizer(model_dir)
    examples = chat_examples(tokenizer, sample_for_steps(records, settings), settings.seq_len)
    val = chat_examples(tokenizer, val_records, settings.seq_len)
    batches = StepBatches(examples, settings.batch_size, tokenizer.pad_token_id, settings.seed)
    before = heldout_loss(model, val, tokenizer.pad_token_id)
    trainable = None
    if lora:
        model = wrap_lora(model, lora)
        trainable = lora_trainable
    ckpt = checkpoints_for(out_dir)
    result = train(model, batches, settings, trainable=trainable, checkpoint_dir=ckpt,
                   resume=resume, on_step=on_step)
    after = heldout_loss(model, val, tokenizer.pad_token_id)
    info = summary(stage, result, settings, val_loss_before=before, val_loss_after=after,
                   source=str(model_dir), lora=bool(lora))
    if lora:
        model = finish_lora(model, tokenizer, out_dir, info, overwrite)
    else:
        save_model(model, tokenizer, out_dir, info, overwrite)
    shutil.rmtree(ckpt, ignore_errors=True)
    return info
