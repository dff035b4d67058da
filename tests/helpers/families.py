"""Tiny random dense models of each family assemble supports (Llama, Mistral, Qwen2, Qwen3), and
experts that differ from them only in their MLPs."""
from __future__ import annotations

import torch

from .tiny_models import make_tokenizer

SIZES = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True)
FAMILIES = {  # dense model_type -> (extra config, expected MoE model_type, its class)
    "llama": ({}, "mixtral", "MixtralForCausalLM"),
    "mistral": ({"sliding_window": None}, "mixtral", "MixtralForCausalLM"),
    "qwen2": ({}, "qwen2_moe", "Qwen2MoeForCausalLM"),
    "qwen3": ({"head_dim": 8}, "qwen3_moe", "Qwen3MoeForCausalLM"),
}


def make_family_experts(root, family: str, n: int = 3):
    """A tiny random dense `family` model and n experts that differ from it only in MLPs."""
    from transformers import AutoConfig, AutoModelForCausalLM

    tok = make_tokenizer(root / "base")
    extra = FAMILIES[family][0]
    config = AutoConfig.for_model(family, vocab_size=len(tok), **SIZES, **extra,
                                  bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                  pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():  # random biases/norms, so a format that dropped them would show
        for name, p in base.named_parameters():
            if name.endswith(("bias", "norm.weight")):
                p.add_(0.5 * torch.randn_like(p))
    base.save_pretrained(root / "base")
    dirs = []
    for i in range(n):
        model = AutoModelForCausalLM.from_pretrained(root / "base")
        torch.manual_seed(100 + i)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if ".mlp." in name:
                    p.add_(0.3 * torch.randn_like(p))
        model.save_pretrained(root / f"e{i}")
        tok.save_pretrained(root / f"e{i}")
        dirs.append(root / f"e{i}")
    return dirs


def tensors(model_dir) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file
    return {k: v for f in model_dir.glob("*.safetensors") for k, v in load_file(f).items()}
