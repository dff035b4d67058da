"""LoRA (peft) for the SFT and DPO stages, on any causal LM dir: scratch MoE, Mixtral, the base.

A LoRA run writes out_dir as the merged model (loads with stock transformers) and
out_dir/adapter as the adapter alone (loads onto the source model with peft).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ModelError
from ..core.modeldir import load_model, save_model_dir
from ..core.settings import check, setting


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

    @classmethod
    def of_rank(cls, r: int | None) -> "LoraSettings | None":
        """What `--lora-r R` asks for (None: no LoRA): alpha = 2 R, the same scale alpha / r = 2
        at every rank."""
        return cls(r=r, alpha=2 * r) if r else None


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


def lora_wrap(settings: LoraSettings | None):
    """A stage Plan's `wrap` for a LoRA run (None without one): adapters in, only they train.
    The stage saves the adapter alone beside the merged model (Plan.adapter)."""
    if settings is None:
        return None
    return lambda model: (wrap_lora(model, settings), lora_trainable)


def load_with_adapter(model_dir: str | os.PathLike, adapter_dir: str | os.PathLike):
    """The source model with a saved adapter attached (unmerged)."""
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ModelError(f"no LoRA adapter in {adapter_dir} (adapter_config.json missing)")
    return PeftModel.from_pretrained(load_model(model_dir), adapter_dir)


def merge_adapter(model_dir, adapter_dir, out_dir, tokenizer, overwrite: bool = False) -> Path:
    save_model_dir(load_with_adapter(model_dir, adapter_dir), tokenizer, out_dir,
                   overwrite=overwrite)
    return Path(out_dir)
