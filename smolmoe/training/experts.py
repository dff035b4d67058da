"""Fine-tuning one domain expert from the base model.

MLP-only by default: attention, norms and embeddings stay equal to the base, so the experts
differ only in their FFNs and merging them into a Mixtral MoE is exact.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from ..core.config import ExpertManifest, TrainSettings
from ..core.distributed import process_state
from ..core.errors import ConfigError
from ..core.modeldir import EXPERT_META
from ..data.records import StepBatches, encode_records, load_records, split_path
from .stage import Plan, Stage, run_stage, sample_for_steps


def mlp_only(name: str, _param) -> bool:
    return ".mlp." in name


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def train_expert(manifest: ExpertManifest, *, base: Path, data_dir: Path, out_dir: Path,
                 settings: TrainSettings | None = None, trainable: str | None = None,
                 resume: bool = False, overwrite: bool = False,
                 on_step: Callable[[dict], None] | None = None) -> dict:
    """Fine-tune `base` on the manifest's domain; write an HF dir to out_dir; return a summary."""
    settings = (settings or manifest.finetune).validate()
    trainable = trainable or manifest.trainable
    train_file = split_path(data_dir, manifest.domain, "train")

    def prepare(model, tokenizer, records):
        world = process_state().num_processes  # under `accelerate launch`/torchrun: several
        examples = encode_records(tokenizer, sample_for_steps(records, settings, world),
                                  settings.seq_len)
        return Plan(StepBatches(examples, settings.batch_size, tokenizer.pad_token_id, settings.seed),
                    report, trainable=mlp_only if trainable == "mlp" else None)

    def report(result, _before, _after):
        return {
            "name": manifest.name, "domain": manifest.domain, "base": str(base),
            "trainable": trainable, "trainable_params": result.trainable_params,
            "settings": asdict(settings), "train_file": str(train_file),
            "train_file_sha256": file_sha256(train_file), "final_loss": result.final_loss,
            "tokens": result.tokens, "seconds": round(result.seconds, 2),
            "tokens_per_second": round(result.tokens_per_second, 1),
        }

    return run_stage(Stage(base, out_dir, settings, prepare, read=lambda: load_records(train_file),
                           meta_file=EXPERT_META, overwrite=overwrite, resume=resume,
                           on_step=on_step, inputs=(train_file,)))


MULTITASK = "multitask"   # the dense baseline trained on every expert's domain at once


def multitask_settings(manifests: list[ExpertManifest], steps: int | None = None) -> TrainSettings:
    """One run with the experts' budget together: their steps (each `steps` when given, as
    `--steps` gives every expert) summed, at their shared batch shape (the experts must agree
    on batch size, accumulation and sequence length)."""
    shapes = {(m.finetune.batch_size, m.finetune.grad_accum, m.finetune.seq_len) for m in manifests}
    if len(shapes) != 1:
        raise ConfigError("the experts differ in batch size, accumulation or sequence length: "
                          "a multitask run cannot match their token budget")
    return manifests[0].finetune.updated(
        steps=sum(m.finetune.updated(steps=steps).steps for m in manifests))


def train_multitask(manifests: list[ExpertManifest], *, base: Path, data_dir: Path, out_dir: Path,
                    trainable: str = "mlp", steps: int | None = None, resume: bool = False,
                    overwrite: bool = False, on_step: Callable[[dict], None] | None = None) -> dict:
    """One dense model fine-tuned on all the experts' domains: exactly the records each expert
    trains on (the same seeded sample of its domain), shuffled together, with the experts'
    steps summed, so the training tokens equal the experts' together. MLP-only like them
    unless trainable="full". `steps` overrides every expert's steps (as `--steps` does)."""
    if not manifests:
        raise ConfigError("no expert manifests to train a multitask model on")
    own = {m.name: m.finetune.updated(steps=steps) for m in manifests}
    settings = multitask_settings(manifests, steps)
    files = {m.name: split_path(data_dir, m.domain, "train") for m in manifests}

    def prepare(model, tokenizer, records):
        world = process_state().num_processes
        examples = [e for m in manifests for e in encode_records(
            tokenizer, sample_for_steps(records[m.name], own[m.name], world), own[m.name].seq_len)]
        return Plan(StepBatches(examples, settings.batch_size, tokenizer.pad_token_id, settings.seed),
                    report, trainable=mlp_only if trainable == "mlp" else None)

    def report(result, _before, _after):
        return {
            "name": MULTITASK, "domain": MULTITASK, "domains": [m.domain for m in manifests],
            "experts": [m.name for m in manifests], "base": str(base), "trainable": trainable,
            "trainable_params": result.trainable_params, "settings": asdict(settings),
            "train_files": {n: str(f) for n, f in files.items()},
            "train_files_sha256": {n: file_sha256(f) for n, f in files.items()},
            "final_loss": result.final_loss, "tokens": result.tokens,
            "seconds": round(result.seconds, 2),
            "tokens_per_second": round(result.tokens_per_second, 1),
        }

    return run_stage(Stage(base, out_dir, settings, prepare,
                           read=lambda: {n: load_records(f) for n, f in files.items()},
                           meta_file=EXPERT_META, overwrite=overwrite, resume=resume,
                           on_step=on_step, inputs=tuple(files.values())))
