"""Supervised fine-tuning on chat records: loss on assistant tokens only (data.encode_chat).

Reasoning SFT is the same stage on records whose assistant turns open with <think>...</think>;
the chat template (tokenizer.py) renders the others with an empty thinking block, so one model
learns both modes and the generation prompt chooses between them.
"""
from __future__ import annotations

import os
from typing import Callable

from ..core.config import TrainSettings
from ..data.records import StepBatches
from ..training.lora import LoraSettings, lora_wrap
from ..training.stage import Plan, Stage, run_stage, sample_for_steps, summary
from .common import chat_examples, heldout_loss


def sft(model_dir: str | os.PathLike, records: list[dict], val_records: list[dict],
        out_dir: str | os.PathLike, settings: TrainSettings, *, lora: LoraSettings | None = None,
        resume: bool = False, overwrite: bool = False,
        on_step: Callable[[dict], None] | None = None, stage: str = "sft") -> dict:
    """Fine-tune on chat records; held-out assistant loss before and after; save the model."""
    def prepare(_model, tokenizer, _inputs):
        examples = chat_examples(tokenizer, sample_for_steps(records, settings), settings.seq_len)
        val = chat_examples(tokenizer, val_records, settings.seq_len)

        def report(result, before, after):
            return summary(stage, result, settings, val_loss_before=before, val_loss_after=after,
                           source=str(model_dir), lora=bool(lora))

        return Plan(StepBatches(examples, settings.batch_size, tokenizer.pad_token_id, settings.seed),
                    report, measure=lambda m: heldout_loss(m, val, tokenizer.pad_token_id),
                    wrap=lora_wrap(lora), adapter=bool(lora))

    return run_stage(Stage(model_dir, out_dir, settings, prepare, overwrite=overwrite,
                           resume=resume, on_step=on_step))
