"""Watching and steering the routers of a Mixtral-style MoE with forward hooks.

Router logits are read from the model's outputs (router_outputs.py); hooks remain only where
outputs cannot serve:
- `capture_router_inputs(model)`: records what each router sees (the post-attention-norm
  activations that feed the MLP) for fitting routers;
- `force_expert(model, j)`: routes every token to expert j alone (parity checks, oracle runs).
Summaries of a `RoutingRecord` (per-layer top experts, overall usage, per-token top-1) are
plain data; tables.py renders them.
"""
from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

import torch

from ..core.errors import ModelError


def moe_blocks(model) -> list:
    """The sparse MoE blocks in layer order (anything with a router `gate` and `experts`)."""
    blocks = [m for m in model.modules()
              if hasattr(m, "gate") and hasattr(m, "experts") and hasattr(m.gate, "weight")]
    if not blocks:
        raise ModelError("this model has no routed MoE blocks (is it a dense model?)")
    return blocks


@contextlib.contextmanager
def _hooks(handles) -> Iterator[None]:
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@dataclass
class RoutingRecord:
    """Router logits per layer, concatenated over forward calls: layer -> [tokens, experts]."""
    logits: dict[int, list[torch.Tensor]] = field(default_factory=dict)

    def layer_logits(self, layer: int) -> torch.Tensor:
        return torch.cat(self.logits[layer], dim=0)

    @property
    def num_layers(self) -> int:
        return len(self.logits)

    def topk(self, layer: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        probs = self.layer_logits(layer).softmax(-1)
        w, idx = probs.topk(k, dim=-1)
        return w / w.sum(-1, keepdim=True), idx

    def top1(self) -> torch.Tensor:
        """[layers, tokens] index of each token's first-choice expert."""
        return torch.stack([self.layer_logits(l).argmax(-1) for l in sorted(self.logits)])

    def clear(self) -> None:
        self.logits.clear()


@contextlib.contextmanager
def capture_router_inputs(model) -> Iterator[dict[int, list[torch.Tensor]]]:
    inputs: dict[int, list[torch.Tensor]] = {}

    def hook(layer):
        def fn(_module, args):
            inputs.setdefault(layer, []).append(args[0].detach().reshape(-1, args[0].shape[-1]).cpu())
        return fn

    handles = [b.gate.register_forward_pre_hook(hook(i)) for i, b in enumerate(moe_blocks(model))]
    with _hooks(handles):
        yield inputs


@contextlib.contextmanager
def force_expert(model, expert: int) -> Iterator[None]:
    """Every router picks `expert` alone with weight 1, so the MoE computes that dense expert."""
    def fn(_module, _inputs, output):
        logits = output[0]
        n = logits.shape[0]
        weights = torch.ones(n, 1, dtype=output[1].dtype, device=logits.device)
        index = torch.full((n, 1), expert, dtype=output[2].dtype, device=logits.device)
        return logits, weights, index

    handles = [b.gate.register_forward_hook(fn) for b in moe_blocks(model)]
    with _hooks(handles):
        yield


def layer_summary(record: RoutingRecord, names: list[str], k: int,
                  positions: torch.Tensor | None = None) -> list[dict]:
    """Per layer: the experts chosen most often (within top-k) and their share of choices."""
    rows = []
    for layer in sorted(record.logits):
        _, idx = record.topk(layer, k)
        if positions is not None:
            idx = idx[positions]
        counts = Counter(idx.flatten().tolist())
        total = max(1, sum(counts.values()))
        rows.append({"layer": layer,
                     "top": [(names[e], c / total) for e, c in counts.most_common(3)]})
    return rows


def usage_share(record: RoutingRecord, num_experts: int, k: int,
                positions: torch.Tensor | None = None) -> torch.Tensor:
    """Share of all top-k choices (over layers and tokens) that went to each expert."""
    counts = torch.zeros(num_experts)
    for layer in record.logits:
        _, idx = record.topk(layer, k)
        if positions is not None:
            idx = idx[positions]
        counts += torch.bincount(idx.flatten(), minlength=num_experts).float()
    return counts / counts.sum().clamp(min=1)


def token_top1(record: RoutingRecord, layer: int | None = None) -> list[int]:
    """Each token's first-choice expert at one layer, or the majority over layers."""
    top1 = record.top1()
    if layer is not None:
        return top1[layer].tolist()
    return torch.mode(top1, dim=0).values.tolist()
