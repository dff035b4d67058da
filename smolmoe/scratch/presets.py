"""Model presets: a Cortex-shaped MoE built from transformers' own Qwen2-MoE config.

Why Qwen2-MoE: among the configs transformers ships it is the one with all of Cortex's parts —
routed experts with top-k, a shared expert beside them (`shared_expert_intermediate_size`),
dense layers picked by `mlp_only_layers`, GQA and RoPE with `rope_parameters` (so YaRN works).
The saved directories load with stock AutoModelForCausalLM, no trust_remote_code.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from ..core.errors import ConfigError
from ..evaluation.cost import parameter_counts


@dataclass(frozen=True)
class Preset:
    vocab_size: int
    hidden_size: int
    layers: int
    heads: int
    kv_heads: int
    experts: int                 # routed experts per MoE layer
    top_k: int
    expert_size: int             # FFN width of one routed expert
    shared_expert_size: int      # FFN width of the always-on shared expert
    dense_size: int              # FFN width of the dense first layer
    max_positions: int
    rope_theta: float
    tie_embeddings: bool = True


PRESETS = {
    # A few million parameters: trains for minutes on a 2-core CPU.
    "tiny": Preset(vocab_size=4096, hidden_size=128, layers=4, heads=4, kv_heads=2, experts=8,
                   top_k=2, expert_size=128, shared_expert_size=256, dense_size=512,
                   max_positions=512, rope_theta=1e4),
    # ~0.6B total / ~0.2B active: 8 routed + 1 shared expert, top-2, GQA 12/4, RoPE theta 1e6.
    "cortex": Preset(vocab_size=32768, hidden_size=768, layers=16, heads=12, kv_heads=4, experts=8,
                     top_k=2, expert_size=1920, shared_expert_size=768, dense_size=3072,
                     max_positions=4096, rope_theta=1e6),
}


def get_preset(name: str, **overrides) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}' (known: {', '.join(PRESETS)})")
    try:
        return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
    except TypeError as e:
        raise ConfigError(f"preset {name}: {e}") from None


def model_config(preset: Preset, tokenizer=None):
    """A Qwen2MoeConfig for the preset; the tokenizer (if given) sets vocab and special ids."""
    from transformers import Qwen2MoeConfig

    if preset.hidden_size % preset.heads or preset.heads % preset.kv_heads:
        raise ConfigError("hidden_size must divide into heads, and heads into kv_heads groups")
    if not 1 <= preset.top_k <= preset.experts:
        raise ConfigError(f"top_k must be between 1 and experts ({preset.experts})")
    special = {}
    vocab = preset.vocab_size
    if tokenizer is not None:
        vocab = len(tokenizer)
        special = {"pad_token_id": tokenizer.pad_token_id,
                   "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
                   "bos_token_id": None}
    return Qwen2MoeConfig(
        vocab_size=vocab, hidden_size=preset.hidden_size, num_hidden_layers=preset.layers,
        num_attention_heads=preset.heads, num_key_value_heads=preset.kv_heads,
        intermediate_size=preset.dense_size, moe_intermediate_size=preset.expert_size,
        shared_expert_intermediate_size=preset.shared_expert_size,
        num_experts=preset.experts, num_experts_per_tok=preset.top_k, norm_topk_prob=True,
        mlp_only_layers=[0],             # Cortex: the first layer is dense
        decoder_sparse_step=1, max_position_embeddings=preset.max_positions,
        rope_parameters={"rope_type": "default", "rope_theta": preset.rope_theta},
        tie_word_embeddings=preset.tie_embeddings, router_aux_loss_coef=0.01,
        initializer_range=0.02, **special)


def build_model(preset: Preset, tokenizer=None, seed: int = 0, device: str | None = None):
    """A freshly initialised model (on `device`, e.g. "meta" to count a big one for free)."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = model_config(preset, tokenizer)
    with torch.device(device) if device else torch.device("cpu"):
        return AutoModelForCausalLM.from_config(config)


def describe(name: str) -> dict:
    preset = get_preset(name)
    counts = parameter_counts(build_model(preset, device="meta"))
    return {"preset": name, **asdict(preset), **counts}


def one_training_step(name: str, batch_size: int = 1, seq_len: int = 32, seed: int = 0) -> dict:
    """Build the preset for real and take one optimizer step of the shared loop on random tokens.

    On a CPU the cortex preset needs ~10 GB (fp32 weights + AdamW state); on a GPU it uses bf16.
    """
    import time

    from ..core.config import TrainSettings
    from ..data.records import StepBatches
    from ..training.loop import train

    preset = get_preset(name)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = build_model(preset, seed=seed)
    g = torch.Generator().manual_seed(seed)
    rows = [{"input_ids": ids, "labels": ids} for ids in
            torch.randint(0, preset.vocab_size, (batch_size, seq_len), generator=g).tolist()]
    settings = TrainSettings(steps=1, lr=1e-4, batch_size=batch_size, seq_len=seq_len,
                             warmup_steps=0, precision="bf16" if device == "cuda" else "no")
    t0 = time.perf_counter()
    result = train(model, StepBatches(rows, batch_size, pad_id=0, seed=seed), settings)
    return {"loss": result.final_loss, "seconds": time.perf_counter() - t0, "device": device,
            **parameter_counts(model)}
