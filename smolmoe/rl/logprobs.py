"""Per-token log-probabilities of labelled tokens: what DPO, GRPO/GSPO and distillation score."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.records import IGNORE_INDEX


def token_logps(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p of each next token, mask of labelled positions), both (batch, length - 1).

    Only labelled positions go through the LM head (as in losses.assistant_ce): full logits of
    a 64-row rollout over SmolLM2's 49k vocabulary took ~10 GB with their softmax and grads.
    """
    out = model.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    logits = model.get_output_embeddings()(out.last_hidden_state[:, :-1][mask]).float()
    picked = -F.cross_entropy(logits, labels[mask], reduction="none")
    logps = torch.zeros(labels.shape, dtype=picked.dtype, device=picked.device)
    return logps.masked_scatter(mask, picked), mask


def sequence_logps(model, batch: dict, mean: bool = False) -> torch.Tensor:
    """Log-probability of each row's labelled tokens: the sum, or the per-token mean."""
    logps, mask = token_logps(model, batch)
    return logps.sum(-1) / mask.sum(-1).clamp(min=1) if mean else logps.sum(-1)
