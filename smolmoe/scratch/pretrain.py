"""Pretraining on packed text, and the context-extension stage (YaRN via rope_parameters)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

from transformers import AutoModelForCausalLM

from ..core.config import TrainSettings
from ..core.errors import ConfigError
from ..core.modeldir import SCRATCH_META, load_model, load_tokenizer, save_model_dir
from ..data.records import StepBatches
from ..evaluation.cost import parameter_counts
from ..training.stage import Plan, Stage, run_stage, summary
from .common import heldout_loss, pack_texts
from .presets import build_model, get_preset


def init_model(preset_name: str, tokenizer_dir: str | os.PathLike, out_dir: str | os.PathLike,
               seed: int = 0, overwrite: bool = False, **overrides) -> dict:
    """A randomly initialised preset model with the scratch tokenizer, saved as an HF dir."""
    tokenizer = load_tokenizer(tokenizer_dir)
    preset = get_preset(preset_name, **overrides)
    model = build_model(preset, tokenizer, seed)
    counts = parameter_counts(model)
    save_model_dir(model, tokenizer, out_dir, SCRATCH_META,
                   {"stage": "init", "preset": preset_name, **counts}, overwrite=overwrite)
    return counts


def pretrain(model_dir: str | os.PathLike, texts: list[str], val_texts: list[str],
             out_dir: str | os.PathLike, settings: TrainSettings, *, resume: bool = False,
             overwrite: bool = False, on_step: Callable[[dict], None] | None = None,
             stage: str = "pretrain", extra: dict | None = None) -> dict:
    """Next-token training on every token of packed text; held-out loss before and after."""
    def prepare(model, tokenizer, _inputs):
        rows = pack_texts(tokenizer, texts, settings.seq_len)
        val_rows = pack_texts(tokenizer, val_texts, settings.seq_len)[:64]
        if not val_rows:
            raise ConfigError(f"held-out text is shorter than one row of seq_len={settings.seq_len} tokens")

        def report(result, before, after):
            return summary(stage, result, settings, val_loss_before=before, val_loss_after=after,
                           train_rows=len(rows), source=str(model_dir), **parameter_counts(model),
                           **(extra or {}))

        return Plan(StepBatches(rows, settings.batch_size, tokenizer.pad_token_id, settings.seed),
                    report, measure=lambda m: heldout_loss(m, val_rows, tokenizer.pad_token_id))

    return run_stage(Stage(model_dir, out_dir, settings, prepare, overwrite=overwrite,
                           resume=resume, on_step=on_step))


def extend_context(model_dir: str | os.PathLike, texts: list[str], val_texts: list[str],
                   out_dir: str | os.PathLike, settings: TrainSettings, *, factor: float = 4.0,
                   overwrite: bool = False, on_step: Callable[[dict], None] | None = None) -> dict:
    """YaRN: stretch RoPE by `factor` in the config, then train briefly on longer rows.

    The scaled config is written into the model dir first, so the loss "before" is the
    scaled-but-untrained model on long rows, and the saved config loads with stock transformers.
    """
    if factor <= 1:
        raise ConfigError(f"context factor must be > 1, got {factor}")
    model = load_model(model_dir)
    config = model.config
    original = config.max_position_embeddings
    if settings.seq_len > original * factor:
        raise ConfigError(f"seq_len {settings.seq_len} is beyond the extended context {int(original * factor)}")
    theta = config.rope_parameters.get("rope_theta", 10000.0)
    config.rope_parameters = {"rope_type": "yarn", "rope_theta": theta, "factor": float(factor),
                              "original_max_position_embeddings": original}
    config.max_position_embeddings = int(original * factor)
    scaled = AutoModelForCausalLM.from_config(config)
    scaled.load_state_dict(model.state_dict())  # rotary frequencies are buffers, not weights
    staged = Path(out_dir).parent / f".{Path(out_dir).name}.scaled"
    save_model_dir(scaled, load_tokenizer(model_dir), staged, SCRATCH_META, {}, overwrite=True)
    try:
        info = pretrain(staged, texts, val_texts, out_dir, settings, overwrite=overwrite,
                        on_step=on_step, stage="extend-context",
                        extra={"context_before": original, "factor": factor,
                               "context_after": config.max_position_embeddings})
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return info
