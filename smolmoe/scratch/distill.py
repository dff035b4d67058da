"""Distillation: a student learns the teacher's next-token distribution (forward KL).

Both must share the tokenizer (the same vocabulary, id for id), since the KL compares the two
distributions position by position. Loss: T^2 * KL(teacher_T || student_T) averaged over
labelled positions; the teacher runs frozen, in no_grad, on the same batch.
"""
from __future__ import annotations

import os
from typing import Callable

import torch
import torch.nn.functional as F

from ..core.config import TrainSettings
from ..core.errors import ConfigError, ModelError
from ..core.modeldir import load_model, load_tokenizer
from ..data.records import IGNORE_INDEX, StepBatches, collate
from ..training.stage import Plan, Stage, run_stage, summary
from .common import pack_texts


def check_same_vocabulary(student_tok, teacher_tok, student, teacher) -> None:
    if student_tok.get_vocab() != teacher_tok.get_vocab():
        raise ModelError("student and teacher tokenizers differ: distillation needs one shared tokenizer")
    if student.config.vocab_size != teacher.config.vocab_size:
        raise ModelError(f"vocab sizes differ: student {student.config.vocab_size}, "
                         f"teacher {teacher.config.vocab_size}")


def token_kl(student_logits, teacher_logits, labels, temperature: float = 1.0):
    """(sum of per-position KL(teacher || student), number of positions)."""
    mask = labels[:, 1:] != IGNORE_INDEX
    s = F.log_softmax(student_logits[:, :-1][mask].float() / temperature, dim=-1)
    t = F.log_softmax(teacher_logits[:, :-1][mask].float() / temperature, dim=-1)
    kl = (t.exp() * (t - s)).sum(-1)
    return kl.sum(), int(mask.sum())


def kl_loss(teacher, temperature: float):
    def loss_fn(model, batch):
        with torch.no_grad():
            t_logits = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        s_logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        kl_sum, n = token_kl(s_logits, t_logits, batch["labels"], temperature)
        loss = temperature ** 2 * kl_sum / max(n, 1)
        return loss, {"loss": loss.detach()}
    return loss_fn


@torch.no_grad()
def heldout_kl(student, teacher, rows: list[dict], pad_id: int, batch_size: int = 8) -> float:
    student.eval()
    total, count = 0.0, 0
    for i in range(0, len(rows), batch_size):
        b = collate(rows[i:i + batch_size], pad_id)
        kw = {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]}
        kl_sum, n = token_kl(student(**kw).logits, teacher(**kw).logits, b["labels"])
        total, count = total + float(kl_sum), count + n
    return total / max(count, 1)


def distill(student_dir: str | os.PathLike, teacher_dir: str | os.PathLike, texts: list[str],
            val_texts: list[str], out_dir: str | os.PathLike, settings: TrainSettings, *,
            temperature: float = 1.0, overwrite: bool = False,
            on_step: Callable[[dict], None] | None = None) -> dict:
    if temperature <= 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")

    def prepare(student, tokenizer, _inputs):
        teacher = load_model(teacher_dir).eval()
        check_same_vocabulary(tokenizer, load_tokenizer(teacher_dir), student, teacher)
        for p in teacher.parameters():
            p.requires_grad_(False)
        rows = pack_texts(tokenizer, texts, settings.seq_len)
        val_rows = pack_texts(tokenizer, val_texts, settings.seq_len)[:32]
        if not val_rows:
            raise ConfigError(f"held-out text is shorter than one row of seq_len={settings.seq_len} tokens")
        pad = tokenizer.pad_token_id

        def report(result, before, after):
            return summary("distill", result, settings, temperature=temperature,
                           val_kl_before=before, val_kl_after=after, teacher=str(teacher_dir),
                           source=str(student_dir))

        return Plan(StepBatches(rows, settings.batch_size, pad, settings.seed), report,
                    loss_fn=kl_loss(teacher, temperature),
                    measure=lambda m: heldout_kl(m, teacher, val_rows, pad))

    return run_stage(Stage(student_dir, out_dir, settings, prepare, overwrite=overwrite,
                           on_step=on_step))
