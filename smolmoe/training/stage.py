"""The one stage runner around `train()`: experts, routers and every scratch stage.

A stage declares what is its own: where it starts and writes, how it reads its inputs, and,
once the model is loaded, a Plan (its batches, trainable selection, loss, measurement and
report). `run_stage` does the rest, in the same order for all: validate the settings, check
the output can be written, read the inputs (a bad file fails before any model loads), load,
measure before, wrap (LoRA, healing), train (checkpoints, resume), measure after, report, save
the directory atomically from the main process only, remove the checkpoint.
"""
from __future__ import annotations

import contextlib
import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..core.config import TrainSettings
from ..core.distributed import process_state
from ..core.io import check_output_not_input, check_writable_target, exclusive
from ..core.modeldir import SCRATCH_META, checkpoint_dir_for, load_model, load_tokenizer, save_model_dir
from .loop import LossFn, Trainable, TrainResult, train
from .losses import lm_loss

Measure = Callable[[torch.nn.Module], Any]


@dataclass
class Plan:
    """What a stage trains on and how, decided once its model and tokenizer are loaded."""
    # The StepBatches interface; or a function of the model being trained, for batches sampled
    # from it (GRPO's rollouts must come from the wrapped, training model).
    batches: Any
    report: Callable[[TrainResult, Any, Any], dict]   # (result, before, after) -> the summary
    loss_fn: LossFn = lm_loss
    trainable: Trainable | None = None
    # Held-out measurement: run before training and after (and every eval_every steps when
    # set, the last of which is then the "after").
    measure: Measure | None = None
    eval_every: int = 0
    # Applied after the measurement before: returns the model to train and what trains in it
    # (LoRA adapters, router healing). A peft model is merged into its weights when saved.
    wrap: Callable[[torch.nn.Module], tuple[torch.nn.Module, Trainable | None]] | None = None
    adapter: bool = False          # also save the LoRA adapter alone (modeldir.ADAPTER)
    # The metadata file's content, from the report (default: the report itself).
    saved_meta: Callable[[dict], dict] | None = None


@dataclass
class Stage:
    """A training stage's declaration; `run_stage(stage)` runs it and returns its report."""
    source: str | os.PathLike                   # the model directory it starts from
    out_dir: str | os.PathLike
    settings: TrainSettings
    prepare: Callable[[Any, Any, Any], Plan]    # (model, tokenizer, inputs) -> Plan
    read: Callable[[], Any] | None = None       # reads the inputs (None) before any model loads
    meta_file: str = SCRATCH_META
    overwrite: bool = False
    resume: bool = False
    on_step: Callable[[dict], None] | None = None
    in_place: bool = False                      # out_dir is the source: replaced under a lock
    inputs: tuple = field(default_factory=tuple)  # what else it reads (data): never the output
    checkpoint_name: str = "checkpoint"         # the hidden sibling of out_dir it resumes from
    for_other_readers: bool = False             # config patches for llama.cpp / vLLM (MoEs)


def sample_for_steps(records: list[dict], settings: TrainSettings, world: int = 1) -> list[dict]:
    """Only encode what the run will see: a seeded sample of steps*batch*accum records."""
    needed = settings.steps * settings.batch_size * settings.grad_accum * world
    if len(records) <= needed:
        return records
    return random.Random(settings.seed).sample(records, needed)


def last_evaluation(result: TrainResult) -> dict:
    """The last in-training measurement (train() records it as val_* keys), or {}."""
    last = result.history[-1] if result.history else {}
    return {k[4:]: v for k, v in last.items() if k.startswith("val_")}


def run_stage(stage: Stage) -> dict:
    """Run a declared stage end to end; return its report (also saved in its metadata)."""
    settings = stage.settings.validate()
    out_dir = Path(stage.out_dir)
    if not stage.in_place:
        check_output_not_input(out_dir, (stage.source, *stage.inputs), "--out")
        check_writable_target(out_dir, stage.overwrite)
    else:
        check_output_not_input(out_dir, stage.inputs, "the model being updated")
    with contextlib.ExitStack() as held:
        if stage.in_place and out_dir.is_dir() and process_state().is_main_process:   # one writer
            held.enter_context(exclusive(out_dir, f"training {out_dir.name} in place"))
        return _run(stage, settings, out_dir)


def _run(stage: Stage, settings: TrainSettings, out_dir: Path) -> dict:
    inputs = stage.read() if stage.read else None
    model, tokenizer = load_model(stage.source), load_tokenizer(stage.source)
    plan = stage.prepare(model, tokenizer, inputs)
    before = plan.measure(model) if plan.measure else None
    trainable = plan.trainable
    if plan.wrap:
        model, trainable = plan.wrap(model)
    batches = plan.batches(model) if callable(plan.batches) else plan.batches
    ckpt = checkpoint_dir_for(out_dir, stage.checkpoint_name)
    in_training = plan.measure if plan.eval_every else None
    result = train(model, batches, settings, trainable=trainable, loss_fn=plan.loss_fn,
                   checkpoint_dir=ckpt, resume=stage.resume, on_step=stage.on_step,
                   eval_fn=in_training, eval_every=plan.eval_every)
    after = (last_evaluation(result) if in_training else None) or (
        plan.measure(model) if plan.measure else None)
    report = plan.report(result, before, after)
    meta = plan.saved_meta(report) if plan.saved_meta else report
    save_model_dir(model, tokenizer, out_dir, stage.meta_file, meta,
                   overwrite=stage.overwrite or stage.in_place,
                   for_other_readers=stage.for_other_readers, adapter=plan.adapter)
    if process_state().is_main_process:
        shutil.rmtree(ckpt, ignore_errors=True)
    return report


def summary(stage: str, result, settings: TrainSettings, **extra) -> dict:
    """The common part of a stage's report (scratch stages, DPO, GRPO): what ran, how fast."""
    return {"stage": stage, "steps": result.steps, "final_loss": result.final_loss,
            "tokens": result.tokens, "seconds": round(result.seconds, 1),
            "tokens_per_second": round(result.tokens_per_second),
            "trainable_params": result.trainable_params, "settings": asdict(settings), **extra}
