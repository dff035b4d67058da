"""Per-token log-probabilities of labelled tokens: what DPO, GRPO/GSPO and distillation score."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data import IGNORE_INDEX


def token_logps(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p of each next token, mask of labelled positions), both (batch, length - 1)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    logps = torch.gather(F.log_softmax(logits[:, :-1].float(), dim=-1), 2,
                         labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return logps * mask, mask


def sequence_logps(model, batch: dict, mean: bool = False) -> torch.Tensor:
    """Log-probability of each row's labelled tokens: the sum, or the per-token mean."""
    logps, mask = token_logps(model, batch)
    return logps.sum(-1) / mask.sum(-1).clamp(min=1) if mean else logps.sum(-1)
