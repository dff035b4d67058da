"""LoRA (peft) for the SFT and DPO stages, on any causal LM dir: scratch MoE, Mixtral, the base.

A LoRA run writes out_dir as the merged model (loads with stock transformers) and
out_dir/adapter as the adapter alone (loads onto the source model with peft).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..base import load_model
from ..errors import ModelError
from ..io import atomic_dir, write_json
from ..settings import check, setting
from .common import SCRATCH_META

ADAPTER = "adapter"


@dataclass
class LoraSettings:
    r: int = setting(8, ge=1, label="lora r", help="LoRA rank.")
    alpha: int = setting(16, gt=0, label="lora alpha", help="LoRA scale numerator (scale alpha / r).")
    dropout: float = setting(0.0, ge=0, lt=1, label="lora dropout", help="LoRA dropout.")
    # Every nn.Linear but the LM head: attention, dense/shared FFNs, routers. Routed experts
    # are fused 3-D tensors in transformers 5 (not Linear), so they stay frozen.
    target_modules: str | list[str] = "all-linear"

    def validate(self) -> "LoraSettings":
        return check(self)


def wrap_lora(model, settings: LoraSettings):
    from peft import LoraConfig, get_peft_model

    settings.validate()
    config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=settings.target_modules, task_type="CAUSAL_LM")
    try:
        return get_peft_model(model, config)
    except ValueError as e:
        raise ModelError(f"cannot add LoRA to this model: {str(e).splitlines()[0]}") from None


def lora_trainable(name: str, _param) -> bool:
    return "lora_" in name


def finish_lora(peft_model, tokenizer, out_dir: str | os.PathLike, meta: dict,
                overwrite: bool = False):
    """Save the adapter, merge it into the weights, save the merged model; return the merged."""
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        peft_model.save_pretrained(tmp / ADAPTER)
        merged = peft_model.merge_and_unload()
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / SCRATCH_META, meta)
    return merged


def load_with_adapter(model_dir: str | os.PathLike, adapter_dir: str | os.PathLike):
    """The source model with a saved adapter attached (unmerged)."""
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ModelError(f"no LoRA adapter in {adapter_dir} (adapter_config.json missing)")
    return PeftModel.from_pretrained(load_model(model_dir), adapter_dir)


def merge_adapter(model_dir, adapter_dir, out_dir, tokenizer, overwrite: bool = False) -> Path:
    merged = load_with_adapter(model_dir, adapter_dir).merge_and_unload()
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(out_dir)
