"""Routing read from the model's own outputs: router logits per layer as transformers returns them.

Mixtral, Qwen2-MoE and Qwen3-MoE return every router's logits ([tokens, experts] per layer) when
their decoder is called with `output_router_logits=True`. Being outputs of the forward, they
survive `torch.compile` (hooks that append to a Python list record nothing inside a compiled
graph), so inspect, chat colours, the web page and evaluation all read routing this way.

The decoder is called, then the LM head on the kept positions, rather than the causal-LM
wrapper: with `output_router_logits` the wrapper also computes the load-balancing loss against
the attention mask, whose width is the KV cache's, not the step's, and a decode step of two
rows fails there ("size of tensor a (2) must match ... b (36)", transformers 5.25).

Steering hooks stay where outputs cannot serve (hooks.py): `force_expert` changes what the
routers pick, and `capture_router_inputs` reads the routers' inputs (the post-attention-norm
activations), which no output holds.
"""
from __future__ import annotations

import torch

from .hooks import RoutingRecord


def forward(model, input_ids, *, routing: bool = False, logits_to_keep: int = 0, **kwargs):
    """(logits, router logits, cache) of one forward. Router logits (with `routing`, on an MoE):
    a tuple with one [batch * seq, experts] tensor per MoE layer; else None. `logits_to_keep`
    as transformers means it: 0 keeps every position, n the last n."""
    extra = {"output_router_logits": True} if routing else {}
    out = model.get_decoder()(input_ids=input_ids, **kwargs, **extra)
    hidden = out.last_hidden_state
    if logits_to_keep:
        hidden = hidden[:, -logits_to_keep:]
    logits = model.get_output_embeddings()(hidden)
    return logits, (out.router_logits if routing else None), getattr(out, "cache", None)


def routing_record(router_logits) -> RoutingRecord:
    """The per-layer router logits of one forward as a `RoutingRecord` (hooks.py summaries)."""
    return RoutingRecord({layer: [t.detach().float().cpu()] for layer, t in enumerate(router_logits)})


def last_position(router_logits, rows: int, last: torch.Tensor | None = None) -> torch.Tensor:
    """[rows, layers, experts]: each row's router logits at its last position (`last`: per-row
    index into the step's columns; default the step's final column)."""
    per_layer = [t.detach().float().cpu().view(rows, -1, t.shape[-1]) for t in router_logits]
    stacked = torch.stack(per_layer, dim=1)            # [rows, layers, seq, experts]
    if last is None:
        return stacked[:, :, -1]
    return stacked[torch.arange(rows), :, last]
