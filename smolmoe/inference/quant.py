"""Weight-only int8 for CPU decoding (`--dtype int8`): int8 weights, one scale per output channel.

Every `nn.Linear`, the token embedding (shared with the LM head where the model ties them) and
the fused MoE experts (transformers' [experts, out, in] `gate_up_proj`/`down_proj`) are
quantised symmetrically from their float32 weights: w ~= int8 * scale, scale = max|row| / 127.
Everything else (norms, routers, the activations) runs in bf16, so a token reads about half
the bytes of bf16 weights.

Products: `torch._weight_int8pack_mm(x, w_int8, scales)` (the CPU kernel gpt-fast uses) for
up to KERNEL_MAX_ROWS rows, dequantise-then-matmul for more. Measured on this project's 2-core
Xeon (AMX, one thread, bf16 activations, the machine shared): a 576->3072 product took
0.094 ms with the int8 kernel against 0.92 ms dequantising first, and SmolLM2's 576->49152 LM
head 3.7-4.0 ms against ~70 ms at one row; the kernel's time grows with the rows (a GEMV), so
past ~16 rows dequantising once and running one bf16 GEMM wins (576->3072 at 64 rows: 8.0
against 3.5 ms). In float32 the int8 kernel is ~14x slower than a plain float32 product, so
int8 needs a CPU that is fast at bf16 (precision.generation_dtype refuses it elsewhere).
Against bf16 weights packed for oneDNN (packing.py) the int8 kernel is about as fast at one row
(0.094 vs 0.071 ms) and 2-2.5x slower at 8: here int8 halves the bytes, not the time.

The two paths round differently, so a row's result can depend on whether its forward had more
than KERNEL_MAX_ROWS rows. Greedy replies are equal alone and batched (tests/inference/test_quant.py)
where every prefill has more rows than that and every decode step fewer, as the engine's steps
do for prompts of over 16 tokens; a shorter prompt on a near-tie may not be.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .packing import _packable_experts, routed_experts

IMPLEMENTATION = "smolmoe_int8"   # the name registered with transformers' ExpertsInterface
KERNEL_MAX_ROWS = 16              # at most this many rows: the int8 kernel; more: dequantise


@torch.no_grad()
def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 weight, float32 scale per row) of a [..., out, in] weight, symmetric per row.
    No clipping: a search over clipped scales by squared error changed 2 of SmolLM2-135M's
    204,672 rows, and cost 5 passes over the weights at load."""
    w = weight.detach().float()
    scales = w.abs().amax(-1).clamp(min=1e-8) / 127
    return (w / scales[..., None]).round_().clamp_(-127, 127).to(torch.int8), scales


def int8_matmul(x: torch.Tensor, w_int8: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x [..., in] @ (w_int8 * scales[:, None]).T in x's dtype (bf16); scales in x's dtype."""
    rows = x.reshape(-1, x.shape[-1])
    if rows.shape[0] <= KERNEL_MAX_ROWS:
        y = torch._weight_int8pack_mm(rows.contiguous(), w_int8, scales)
    else:
        y = F.linear(rows, w_int8.to(x.dtype)) * scales
    return y.view(*x.shape[:-1], w_int8.shape[0])


class Int8Linear(nn.Module):
    """An nn.Linear with int8 weights and per-output-channel scales (inference only)."""

    def __init__(self, linear: nn.Linear, dtype: torch.dtype, shared: tuple | None = None):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight, scales = shared or quantize_rows(linear.weight)
        self.register_buffer("weight_int8", weight)
        self.register_buffer("scales", scales.to(dtype))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().to(dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = int8_matmul(x, self.weight_int8, self.scales)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


class Int8Embedding(nn.Module):
    """An nn.Embedding with int8 rows and one scale per row (the LM head's, when tied)."""

    def __init__(self, embedding: nn.Embedding, dtype: torch.dtype, shared: tuple | None = None):
        super().__init__()
        self.padding_idx = embedding.padding_idx
        weight, scales = shared or quantize_rows(embedding.weight)
        self.register_buffer("weight_int8", weight)
        self.register_buffer("scales", scales.to(dtype))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight_int8).to(self.scales.dtype) * self.scales[ids, None]


def int8_experts_forward(self, hidden_states, top_k_index, top_k_weights):
    """The fused experts' forward over int8 per-expert weights (packing.routed_experts)."""
    def expert_mlp(e, x):
        h = self._apply_gate(int8_matmul(x, self.gate_up_int8[e], self.gate_up_scales[e]))
        return int8_matmul(h, self.down_int8[e], self.down_scales[e])
    return routed_experts(hidden_states, top_k_index, top_k_weights, len(self.gate_up_int8), expert_mlp)


def quantize_for_decoding(model, dtype: torch.dtype = torch.bfloat16) -> int:
    """Quantise the model's weights to int8 in place (see the module docstring), the rest cast
    to `dtype`; returns how many weight matrices were quantised. Inference only: the float
    weights are dropped, gradients are off."""
    from transformers.integrations.moe import ALL_EXPERTS_FUNCTIONS
    experts = [m for m in model.modules() if isinstance(getattr(m, "gate_up_proj", None), torch.Tensor)]
    if experts and not all(_packable_experts(m) for m in experts):
        # The experts' implementation is set on the config all layers share: all or none.
        raise ValueError("int8 needs transformers' fused experts with a gate, no bias, "
                         "[experts, out, in] weights")
    ALL_EXPERTS_FUNCTIONS.register(IMPLEMENTATION, int8_experts_forward)
    embed, head = model.get_input_embeddings(), model.get_output_embeddings()
    tied = getattr(head, "weight", None) is embed.weight
    shared = quantize_rows(embed.weight) if tied else None
    done = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if child is embed and type(child) is nn.Embedding:
                setattr(module, name, Int8Embedding(child, dtype, shared))
            elif type(child) is nn.Linear:
                setattr(module, name, Int8Linear(child, dtype, shared if child is head else None))
            else:
                continue
            done += 1
        if module in experts:
            for name in ("gate_up", "down"):
                weight, scales = quantize_rows(getattr(module, f"{name}_proj"))
                delattr(module, f"{name}_proj")
                module.register_buffer(f"{name}_int8", weight)
                module.register_buffer(f"{name}_scales", scales.to(dtype))
                done += len(weight)
            module.config._experts_implementation = IMPLEMENTATION
    for p in model.parameters():   # norms, routers; buffers (rotary tables) stay float32
        p.data = p.data.to(dtype)
    model.requires_grad_(False)
    return done - int(tied and type(embed) is nn.Embedding)  # the tied table counts once


def weight_bytes(model) -> int:
    """Bytes of the model's parameters and buffers, a tensor shared by two modules counted once."""
    seen, total = set(), 0
    for t in [*model.parameters(), *model.buffers()]:
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total


def load_for_decoding(model_dir, dtype: str = "float32"):
    """The model as chat, serve and inspect decode with it, `dtype` one of precision.DTYPES:
    float32 as saved, bf16 packed for oneDNN (packing.py), or int8 quantised from float32;
    its decoder compiled where SMOLMOE_COMPILE=1 (compiled.py)."""
    from ..core.modeldir import load_model
    from ..core.precision import generation_dtype
    from . import compiled
    from .packing import pack_for_decoding
    torch_dtype = generation_dtype(dtype)    # refuses, in one line, what this machine cannot run
    if dtype != "int8":
        model = load_model(model_dir, dtype=torch_dtype)
        pack_for_decoding(model)   # bf16 on a CPU: weights packed once for oneDNN
    else:
        model = load_model(model_dir, dtype=torch.float32)
        quantize_for_decoding(model, torch_dtype)
    if compiled.wanted():
        compiled.compile_for_decoding(model)
    return model
