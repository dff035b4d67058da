"""Which stock transformers MoE class holds experts of each dense family, and its config.

    llama, mistral      -> mixtral     (the Llama MLP becomes a routed block)
    qwen2 (Qwen2/2.5)   -> qwen2_moe   (q/k/v biases; the format's always-on shared expert is
                                        written as zeros, so forced routing stays exact)
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

import torch

from .errors import ModelError

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

    def config(self, dense: dict, num_experts: int, top_k: int):
        """The MoE config for `num_experts` experts of the dense config `dense`."""
        from transformers import AutoConfig

        common = _common_fields(dense)
        ffn = dense["intermediate_size"]
        if self.moe_type == "mixtral":
            extra = dict(intermediate_size=ffn, num_local_experts=num_experts,
                         num_experts_per_tok=top_k, sliding_window=None)
        elif self.moe_type == "qwen2_moe":
            # Qwen2 always has q/k/v biases. A shared-expert width of 1 keeps the (zeroed)
            # always-on slot the format requires as cheap as it can be.
            extra = dict(intermediate_size=ffn, moe_intermediate_size=ffn, num_experts=num_experts,
                         num_experts_per_tok=top_k, norm_topk_prob=True, qkv_bias=True,
                         shared_expert_intermediate_size=1, decoder_sparse_step=1,
                         mlp_only_layers=[], use_sliding_window=False)
        else:  # qwen3_moe
            extra = dict(intermediate_size=ffn, moe_intermediate_size=ffn, num_experts=num_experts,
                         num_experts_per_tok=top_k, norm_topk_prob=True,
                         attention_bias=dense.get("attention_bias", False), decoder_sparse_step=1,
                         mlp_only_layers=[], use_sliding_window=False)
        return AutoConfig.for_model(self.moe_type, **common, **extra,
                                    router_aux_loss_coef=0.01, output_router_logits=False)

    def extra_tensors(self, config) -> dict[str, torch.Tensor]:
        """Tensors of the MoE that no expert provides: the zeroed shared expert, if any."""
        if not self.has_shared_expert:
            return {}
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


def experts_and_top_k(config) -> tuple[int, int]:
    """(number of routed experts, experts per token) of any of the MoE configs above."""
    num = getattr(config, "num_local_experts", None) or getattr(config, "num_experts", None)
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
