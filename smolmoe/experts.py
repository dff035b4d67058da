"""Fine-tuning one domain expert from the base model.

MLP-only by default: attention, norms and embeddings stay equal to the base, so the experts
differ only in their FFNs and merging them into a Mixtral MoE is exact.
"""
from __future__ import annotations

import hashlib
import random
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from .config import ExpertManifest, TrainSettings
from .data import StepBatches, encode_records, load_records, split_path
from .io import check_writable_target
from .modeldir import EXPERT_META, checkpoint_dir_for, load_model, load_tokenizer, save_model_dir
from .train import process_state, train

def mlp_only(name: str, _param) -> bool:
    return ".mlp." in name


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def sample_for_steps(records: list[dict], settings: TrainSettings, world: int = 1) -> list[dict]:
    """Only encode what the run will see: a seeded sample of steps*batch*accum records."""
    needed = settings.steps * settings.batch_size * settings.grad_accum * world
    if len(records) <= needed:
        return records
    return random.Random(settings.seed).sample(records, needed)


def train_expert(manifest: ExpertManifest, *, base: Path, data_dir: Path, out_dir: Path,
                 settings: TrainSettings | None = None, trainable: str | None = None,
                 resume: bool = False, overwrite: bool = False,
                 on_step: Callable[[dict], None] | None = None) -> dict:
    """Fine-tune `base` on the manifest's domain; write an HF dir to out_dir; return a summary."""
    settings = (settings or manifest.finetune).validate()
    trainable = trainable or manifest.trainable
    out_dir = Path(out_dir)
    check_writable_target(out_dir, overwrite)
    train_file = split_path(data_dir, manifest.domain, "train")
    records = load_records(train_file)
    tokenizer = load_tokenizer(base)
    model = load_model(base)
    state = process_state()  # under `accelerate launch`/torchrun: this process among several
    examples = encode_records(tokenizer, sample_for_steps(records, settings, state.num_processes),
                              settings.seq_len)
    batches = StepBatches(examples, settings.batch_size, tokenizer.pad_token_id, settings.seed)
    ckpt = checkpoint_dir_for(out_dir)
    result = train(model, batches, settings,
                   trainable=mlp_only if trainable == "mlp" else None,
                   checkpoint_dir=ckpt, resume=resume, on_step=on_step)
    summary = {
        "name": manifest.name, "domain": manifest.domain, "base": str(base),
        "trainable": trainable, "trainable_params": result.trainable_params,
        "settings": asdict(settings), "train_file": str(train_file),
        "train_file_sha256": file_sha256(train_file), "final_loss": result.final_loss,
        "tokens": result.tokens, "seconds": round(result.seconds, 2),
        "tokens_per_second": round(result.tokens_per_second, 1),
    }
    save_model_dir(model, tokenizer, out_dir, EXPERT_META, summary, overwrite=overwrite)
    if state.is_main_process:
        shutil.rmtree(ckpt, ignore_errors=True)
    return summary
