"""A tiny MoE for the chat/serve/export tests, built in seconds without training: each expert is
the tiny base with its MLPs perturbed differently, merged by the real `assemble`."""
from __future__ import annotations

from pathlib import Path

import torch

from .tiny_models import make_llama, make_tokenizer

EXPERTS = ("math", "code", "story")


def make_experts(root: Path, tokenizer=None, names=EXPERTS, hidden: int = 32,
                 layers: int = 2) -> list[Path]:
    """Dense experts sharing everything but their MLPs (as MLP-only fine-tuning leaves them)."""
    from transformers import AutoModelForCausalLM
    base = root / "base"
    tokenizer = tokenizer or make_tokenizer(base)
    make_llama(base, tokenizer, hidden=hidden, vocab=len(tokenizer), layers=layers)
    dirs = []
    for i, name in enumerate(names):
        model = AutoModelForCausalLM.from_pretrained(base)
        torch.manual_seed(100 + i)
        with torch.no_grad():
            for key, p in model.named_parameters():
                if ".mlp." in key:
                    p.add_(0.3 * torch.randn_like(p))
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        dirs.append(root / name)
    return dirs


def make_tiny_moe(root: Path, tokenizer=None, names=EXPERTS, top_k: int = 2,
                  layers: int = 2) -> Path:
    from smolmoe.core.config import MergeConfig
    from smolmoe.moe.assemble import assemble
    experts = make_experts(root, tokenizer, names, layers=layers)
    out = root / "moe"
    assemble(MergeConfig(experts=[str(d) for d in experts], output=str(out), top_k=top_k,
                         router_init="random", base=str(root / "base")),
             experts_root=root)
    return out
