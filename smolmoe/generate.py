"""Chat generation with the model's own chat template."""
from __future__ import annotations

from pathlib import Path

import torch

from .base import load_model, load_tokenizer
from .data import ensure_template


@torch.no_grad()
def chat_once(model, tokenizer, messages: list[dict], max_new_tokens: int = 64,
              do_sample: bool = False, **sampling) -> str:
    ensure_template(tokenizer)
    enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)
    out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=do_sample,
                         pad_token_id=tokenizer.pad_token_id, **sampling)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def answer(model_dir: str | Path, prompt: str, max_new_tokens: int = 64) -> str:
    """Greedy answer to one user prompt."""
    model, tokenizer = load_model(model_dir), load_tokenizer(model_dir)
    return chat_once(model, tokenizer, [{"role": "user", "content": prompt}], max_new_tokens)
