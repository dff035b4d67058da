"""bf16 weights packed once for oneDNN, so decoding on a CPU stops repacking them at every step.

A plain bf16 `F.linear` on a CPU hands oneDNN a row-major weight to bring into its blocked
layout at every call, so a decode step pays for more than reading the weight. Measured on this
project's 2-core Xeon (AVX512-BF16, AMX; one thread, the machine shared): SmolLM2's 49152x576
output layer took 10.8 ms per token plain and 2.9 ms packed, an expert's 3072x576 gate/up
0.71 ms and 0.47 ms. On the whole chat path the gain is smaller, 1.09x in one bench run
(`python -m bench.bench --parts llama_cpp`, `packing_gain_bf16_*`), because per-op overhead
dominates the rest of a token (docs/serving.md). Packing is what torch.compile's CPU
"freezing" does; done here once at load, it costs no compile and keeps eager PyTorch.

`pack_for_decoding(model)` packs every `nn.Linear` and the experts of transformers' fused MoE
blocks (gate_up_proj [E, 2I, H], down_proj [E, H, I]) in place. The packed model is for
inference only: the packed layers drop their plain weights (same bytes, not twice) and have
no gradients. Routers (Mixtral's `gate` is not an nn.Linear) stay as they are, so routing
capture and forced routing work unchanged. Float32 is left alone: MKL's packed float32 layout
is 3x the weight's size, and plain float32 already runs near memory bandwidth.
"""
from __future__ import annotations

import torch
from torch import nn

IMPLEMENTATION = "smolmoe_packed"   # the name registered with transformers' ExpertsInterface


def onednn_has_bf16() -> bool:
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def can_pack(model) -> bool:
    """bf16 weights on a CPU whose oneDNN has bf16 kernels."""
    p = next(model.parameters(), None)
    return (p is not None and p.device.type == "cpu" and p.dtype == torch.bfloat16
            and onednn_has_bf16())


def _pack(weight: torch.Tensor) -> torch.Tensor:
    # The batch-size hint only tunes the layout; any number of rows works with it.
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), 1)


def _linear(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


class PackedLinear(nn.Module):
    """An nn.Linear whose weight lives in oneDNN's blocked layout (inference only)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.packed = _pack(linear.weight)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _linear(x.contiguous(), self.packed, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, packed"


def routed_experts(hidden_states, top_k_index, top_k_weights, num_experts: int, expert_mlp):
    """The fused experts' forward with each expert's MLP given as `expert_mlp(e, rows)`: each
    expert that received tokens runs once on all of them (a decode step: one row per sequence
    routed to it). Used here over packed weights and by quant.py over int8 ones."""
    tokens, k = top_k_index.shape
    flat = top_k_index.reshape(-1)
    order = torch.argsort(flat, stable=True)
    counts = torch.bincount(flat, minlength=num_experts).tolist()
    rows = order // k
    weights = top_k_weights.reshape(-1)[order]
    out = torch.zeros(tokens, hidden_states.shape[-1], dtype=torch.float32)
    start = 0
    for e, n in enumerate(counts):
        if n == 0:
            continue
        idx = rows[start:start + n]
        y = expert_mlp(e, hidden_states[idx]).float() * weights[start:start + n, None]
        out.index_add_(0, idx, y)   # float32 sum of the top-k outputs, as grouped_mm does
        start += n
    return out.to(hidden_states.dtype)


def packed_experts_forward(self, hidden_states, top_k_index, top_k_weights):
    """The fused experts' forward over packed per-expert weights."""
    def expert_mlp(e, x):
        return _linear(self._apply_gate(_linear(x, self.packed_gate_up[e], None)), self.packed_down[e], None)
    return routed_experts(hidden_states, top_k_index, top_k_weights, len(self.packed_gate_up), expert_mlp)


def _packable_experts(module) -> bool:
    return (isinstance(getattr(module, "gate_up_proj", None), torch.Tensor)
            and isinstance(getattr(module, "down_proj", None), torch.Tensor)
            and getattr(module, "has_gate", False) and not getattr(module, "has_bias", True)
            and not getattr(module, "is_transposed", True)
            and getattr(module, "is_concatenated", False) and hasattr(module, "config"))


def pack_for_decoding(model) -> int:
    """Pack the model's linear layers and fused experts in place (see the module docstring);
    returns how many weight matrices were packed, 0 where `can_pack` is false."""
    if not can_pack(model):
        return 0
    from transformers.integrations.moe import ALL_EXPERTS_FUNCTIONS
    ALL_EXPERTS_FUNCTIONS.register(IMPLEMENTATION, packed_experts_forward)
    # The experts' implementation is set on the config all layers share: pack all or none.
    experts = [m for m in model.modules() if isinstance(getattr(m, "gate_up_proj", None), torch.Tensor)]
    pack_experts = all(_packable_experts(m) for m in experts)
    packed = 0
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if type(child) is nn.Linear:
                setattr(module, child_name, PackedLinear(child))
                packed += 1
        if pack_experts and module in experts:
            module.packed_gate_up = [_pack(w) for w in module.gate_up_proj]
            module.packed_down = [_pack(w) for w in module.down_proj]
            packed += 2 * len(module.packed_gate_up)
            del module.gate_up_proj, module.down_proj     # the packed copies replace them
            module.config._experts_implementation = IMPLEMENTATION
    model.requires_grad_(False)
    return packed
