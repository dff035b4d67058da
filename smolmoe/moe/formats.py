"""Which stock transformers MoE class holds experts of each dense family, and its config.

    llama, mistral      -> mixtral     (the Llama MLP becomes a routed block)
    qwen2 (Qwen2/2.5)   -> qwen2_moe   (q/k/v biases; the format's always-on shared expert is
                                        written as zeros, so forced routing stays exact, or
                                        holds the base's FFN: see `shared_base_tensors`)
    qwen3               -> qwen3_moe   (q/k norms)

All three classes store experts alike: `mlp.experts.gate_up_proj` [experts, 2 x ffn, hidden]
(gate rows first), `mlp.experts.down_proj` [experts, hidden, ffn] and the router
`mlp.gate.weight` [experts, hidden]; attention, norms and embeddings keep the dense names. So
assembling differs between families only in the config and in the shared expert's tensors.
Top-k weights are renormalised in every format (Mixtral always does; the Qwen formats are told
to with norm_topk_prob), so a router fitted or trained here means the same in each.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..core.errors import ModelError
from ..core.modeldir import expert_count

# Config fields that must agree between experts of any family for their FFNs to share one model.
COMMON_MUST_MATCH = ("model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
                     "hidden_act", "rms_norm_eps", "tie_word_embeddings")


@dataclass(frozen=True)
class MoeFormat:
    """One dense family and the MoE architecture its experts are assembled into."""
    moe_type: str                 # model_type of the output
    dense_types: tuple[str, ...]  # model_type of the experts it accepts
    must_match: tuple[str, ...]   # family-specific config fields experts must share
    has_shared_expert: bool = False

    def config(self, dense: dict, num_experts: int, top_k: int, shared_base: bool = False):
        """The MoE config for `num_experts` experts of the dense config `dense` (with
        shared_base, the shared expert is as wide as the dense FFN, to hold the base's)."""
        if shared_base and not self.has_shared_expert:
            raise ModelError(f"{self.moe_type} has no shared expert slot (only "
                             f"{', '.join(f.moe_type for f in FORMATS if f.has_shared_expert)} "
                             f"does): add the base as a routed expert instead")
        from transformers import AutoConfig

        common = _common_fields(dense)
        ffn = dense["intermediate_size"]
        if self.moe_type == "mixtral":
            extra = dict(intermediate_size=ffn, num_local_experts=num_experts,
                         num_experts_per_tok=top_k, sliding_window=None)
        elif self.moe_type == "qwen2_moe":
            # Qwen2 always has q/k/v biases. Without the base in it, a shared-expert width of 1
            # keeps the (zeroed) always-on slot the format requires as cheap as it can be.
            extra = dict(intermediate_size=ffn, moe_intermediate_size=ffn, num_experts=num_experts,
                         num_experts_per_tok=top_k, norm_topk_prob=True, qkv_bias=True,
                         shared_expert_intermediate_size=ffn if shared_base else 1,
                         decoder_sparse_step=1,
                         mlp_only_layers=[], use_sliding_window=False)
        else:  # qwen3_moe
            extra = dict(intermediate_size=ffn, moe_intermediate_size=ffn, num_experts=num_experts,
                         num_experts_per_tok=top_k, norm_topk_prob=True,
                         attention_bias=dense.get("attention_bias", False), decoder_sparse_step=1,
                         mlp_only_layers=[], use_sliding_window=False)
        return AutoConfig.for_model(self.moe_type, **common, **extra,
                                    router_aux_loss_coef=0.01, output_router_logits=False)

    def extra_tensors(self, config, state: dict | None = None,
                      base_ffn: Callable[[str], torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Tensors of the MoE that no expert provides: the shared expert, if the format has one
        (zeros, or with base_ffn the base's FFN: see `shared_base_tensors`, which also rescales
        the routed experts already in `state`)."""
        if not self.has_shared_expert:
            return {}
        if base_ffn is not None:
            return shared_base_tensors(config, state, base_ffn)
        width, hidden = config.shared_expert_intermediate_size, config.hidden_size
        out = {}
        for layer in range(config.num_hidden_layers):
            p = f"model.layers.{layer}.mlp"
            out[f"{p}.shared_expert.gate_proj.weight"] = torch.zeros(width, hidden)
            out[f"{p}.shared_expert.up_proj.weight"] = torch.zeros(width, hidden)
            out[f"{p}.shared_expert.down_proj.weight"] = torch.zeros(hidden, width)
            out[f"{p}.shared_expert_gate.weight"] = torch.zeros(1, hidden)
        return out


FORMATS = (
    MoeFormat("mixtral", ("llama", "mistral"), ("attention_bias", "mlp_bias")),
    MoeFormat("qwen2_moe", ("qwen2",), (), has_shared_expert=True),
    MoeFormat("qwen3_moe", ("qwen3",), ("attention_bias",)),
)


MOE_TYPES = tuple(f.moe_type for f in FORMATS)


def format_for(model_type: str | None) -> MoeFormat:
    """The MoE format for experts of this dense model_type, or a one-line error."""
    for fmt in FORMATS:
        if model_type in fmt.dense_types:
            return fmt
    known = ", ".join(f"{'/'.join(f.dense_types)} -> {f.moe_type}" for f in FORMATS)
    raise ModelError(f"experts of model type {model_type!r} cannot be assembled (supported: {known})")


# The base's FFN in Qwen2-MoE's shared slot: each layer's FFN output is
#     y = sum_k w_k E_k(x) + sigmoid(g . x) * S(x)      (transformers' Qwen2MoeSparseMoeBlock)
# and the gate g has no bias, so no weight makes sigmoid(g . x) ~ 0 for every x: the shared
# expert cannot start "off". We start g = 0 (sigmoid = 1/2 for every token, no input dependence),
# store S = the base FFN with down_proj x 2 * SHARE and scale every routed expert's down_proj by
# (1 - SHARE). Then y = (1 - SHARE) * sum_k w_k E_k(x) + SHARE * B(x): with the top-k weights
# summing to 1, the FFN output keeps its scale, and forced routing to j computes the fixed mix
# (1 - SHARE) * E_j + SHARE * B at every layer (not E_j: parity against expert j is not exact,
# parity against that mix is, and `mixed_dense_reference` builds it as one dense model).
SHARED_BASE_SHARE = 0.5


def shared_base_tensors(config, state: dict, base_ffn: Callable[[str], torch.Tensor]) -> dict:
    """The shared expert holding the base FFN (read by base_ffn(name)) and the routed experts'
    down_proj from `state` rescaled, so the layer computes the mix described above."""
    out = {}
    for layer in range(config.num_hidden_layers):
        p = f"model.layers.{layer}.mlp"  # the dense FFN has the same prefix
        out[f"{p}.shared_expert.gate_proj.weight"] = base_ffn(f"{p}.gate_proj.weight")
        out[f"{p}.shared_expert.up_proj.weight"] = base_ffn(f"{p}.up_proj.weight")
        out[f"{p}.shared_expert.down_proj.weight"] = (2 * SHARED_BASE_SHARE
                                                      * base_ffn(f"{p}.down_proj.weight"))
        out[f"{p}.shared_expert_gate.weight"] = torch.zeros(1, config.hidden_size)
        out[f"{p}.experts.down_proj"] = (1 - SHARED_BASE_SHARE) * state[f"{p}.experts.down_proj"]
    return out


def mixed_dense_reference(expert_dir: Path, base_dir: Path, share: float = SHARED_BASE_SHARE):
    """A dense model computing (1 - share) * expert FFN + share * base FFN at every layer: the
    two SwiGLU FFNs side by side in one of twice the width (gate and up rows concatenated,
    down_proj columns scaled by each one's share), on the expert's own non-FFN weights. What the
    MoE forced to that expert must reproduce when the base is its shared expert."""
    from transformers import AutoModelForCausalLM

    expert = AutoModelForCausalLM.from_pretrained(expert_dir, dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    config = expert.config
    config.intermediate_size = 2 * config.intermediate_size
    mixed = AutoModelForCausalLM.from_config(config)
    state = expert.state_dict()
    base_state = base.state_dict()
    for key in [k for k in state if ".mlp." in k]:
        e, b = state[key], base_state[key]
        if key.endswith("down_proj.weight"):
            state[key] = torch.cat([(1 - share) * e, share * b], dim=1)
        else:
            state[key] = torch.cat([e, b], dim=0)
    mixed.load_state_dict(state)
    return mixed.eval()


@torch.no_grad()
def shared_mix_parity(model, dirs: dict, base_dir: Path, input_ids: torch.Tensor,
                      first: int = 0) -> dict[str, float]:
    """max |logit difference| between the MoE forced to expert j and `mixed_dense_reference`
    (the dirs are the MoE's experts first, first + 1, ...)."""
    from .hooks import force_expert

    report = {}
    for j, (name, path) in enumerate(dirs.items(), start=first):
        ref = mixed_dense_reference(path, base_dir)(input_ids=input_ids).logits
        with force_expert(model, j):
            got = model(input_ids=input_ids).logits
        report[name] = float((got - ref).abs().max())
    return report


def experts_and_top_k(config) -> tuple[int, int]:
    """(number of routed experts, experts per token) of any of the MoE configs above."""
    num = expert_count(config)
    if not num:
        raise ModelError(f"{getattr(config, 'model_type', 'this model')} has no routed experts")
    return int(num), int(config.num_experts_per_tok)


def _common_fields(dense: dict) -> dict:
    rope = dense.get("rope_parameters") or {"rope_type": "default",
                                            "rope_theta": dense.get("rope_theta", 10000.0)}
    return dict(
        vocab_size=dense["vocab_size"], hidden_size=dense["hidden_size"],
        num_hidden_layers=dense["num_hidden_layers"],
        num_attention_heads=dense["num_attention_heads"],
        num_key_value_heads=dense.get("num_key_value_heads", dense["num_attention_heads"]),
        head_dim=dense.get("head_dim") or dense["hidden_size"] // dense["num_attention_heads"],
        hidden_act=dense.get("hidden_act", "silu"),
        max_position_embeddings=dense.get("max_position_embeddings", 2048),
        rms_norm_eps=dense.get("rms_norm_eps", 1e-6), rope_parameters=rope,
        tie_word_embeddings=dense.get("tie_word_embeddings", False),
        bos_token_id=dense.get("bos_token_id"), eos_token_id=dense.get("eos_token_id"),
        pad_token_id=dense.get("pad_token_id"))
