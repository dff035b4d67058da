"""Assistant-token cross-entropy, shared by training and evaluation.

Only positions whose label is not -100 go through the LM head: with a 49k vocabulary the head
is a fifth of SmolLM2's compute, and most positions (system prompt, user turn) carry no loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.records import IGNORE_INDEX


def assistant_ce(model, batch: dict, **decoder_kwargs):
    """(sum of token losses, number of loss tokens, decoder outputs) for a batch."""
    decoder = model.get_decoder()
    out = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                  **decoder_kwargs)
    # Position t predicts token t+1: shift labels left by one.
    labels = batch["labels"][:, 1:]
    keep = labels != IGNORE_INDEX
    hidden = out.last_hidden_state[:, :-1][keep]
    logits = model.get_output_embeddings()(hidden).float()
    loss_sum = F.cross_entropy(logits, labels[keep], reduction="sum")
    return loss_sum, int(keep.sum()), out


def lm_loss(model, batch) -> tuple[torch.Tensor, dict]:
    """Mean assistant-token cross-entropy: the default loss of the training loop."""
    loss_sum, n, _ = assistant_ce(model, batch)
    loss = loss_sum / max(n, 1)
    return loss, {"loss": loss.detach()}
