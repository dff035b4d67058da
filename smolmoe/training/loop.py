"""The one training loop, shared by every stage (experts, routers, from-scratch, LoRA...).

A stage supplies: the model, which parameters train, a StepBatches source, and a loss callback
(default: the model's own LM loss on assistant-only labels). The loop owns devices and precision
(accelerate), the warmup+cosine schedule, gradient accumulation and clipping, atomic checkpoints
(trainable weights, optimizer, scheduler, RNG, step) and exact resume.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..core.config import TrainSettings
from ..core.distributed import process_state
from ..core.errors import SmolMoEError
from ..core.io import atomic_dir
from ..core.precision import autocast, resolve as resolve_precision
from ..data.records import StepBatches
from .losses import lm_loss

LossFn = Callable[[torch.nn.Module, dict], tuple[torch.Tensor, dict]]
Trainable = Callable[[str, torch.nn.Parameter], bool]
CHECKPOINT = "checkpoint"


@dataclass
class TrainResult:
    steps: int
    trainable_params: int
    tokens: int
    seconds: float
    history: list[dict] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        return self.history[-1]["loss"] if self.history else float("nan")

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)


def mark_trainable(model: torch.nn.Module, trainable: Trainable | None) -> dict[str, torch.nn.Parameter]:
    """Freeze everything the predicate rejects; return the trainable parameters by name."""
    chosen = {}
    for name, p in model.named_parameters():
        p.requires_grad_(trainable is None or trainable(name, p))
        if p.requires_grad:
            chosen[name] = p
    if not chosen:
        raise SmolMoEError("nothing to train: no parameter matches the trainable selection")
    return chosen


def average_gradients(params: list[torch.nn.Parameter]) -> None:
    """Data parallelism: every process ends the step with the mean of all processes' grads."""
    import torch.distributed as dist
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for p, g in zip(params, grads):
        p.grad = flat[offset:offset + g.numel()].view_as(g).clone()
        offset += g.numel()


def lr_lambda(settings: TrainSettings) -> Callable[[int], float]:
    """Linear warmup, then cosine decay to lr * min_lr_ratio at the last step."""
    def f(step: int) -> float:
        if step < settings.warmup_steps:
            return (step + 1) / (settings.warmup_steps + 1)
        span = max(1, settings.steps - settings.warmup_steps)
        progress = min(1.0, (step - settings.warmup_steps) / span)
        cos = 0.5 * (1 + math.cos(math.pi * progress))
        return settings.min_lr_ratio + (1 - settings.min_lr_ratio) * cos
    return f


def make_optimizer(params, settings: TrainSettings):
    if settings.optimizer == "adamw8bit":
        try:
            import bitsandbytes as bnb
        except ImportError:
            raise SmolMoEError("optimizer adamw8bit needs bitsandbytes (pip install bitsandbytes)") from None
        return bnb.optim.AdamW8bit(params, lr=settings.lr, weight_decay=settings.weight_decay)
    return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)


def _rng_state() -> dict:
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def save_checkpoint(directory: Path, step: int, params: dict, optimizer, scheduler) -> None:
    """Write the resumable state atomically: a kill mid-write keeps the previous checkpoint."""
    from safetensors.torch import save_file

    with atomic_dir(directory / CHECKPOINT, overwrite=True) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in params.items()},
                  str(tmp / "trainable.safetensors"))
        # Optimizer/scheduler/RNG states are nested dicts of tensors and numbers: torch.save,
        # read back only with weights_only=True (no arbitrary unpickling).
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": _rng_state()}, tmp / "state.pt")
        (tmp / "progress.json").write_text(json.dumps({"step": step}))


def load_checkpoint(directory: Path, params: dict, optimizer, scheduler) -> int:
    from safetensors.torch import load_file

    ckpt = directory / CHECKPOINT
    try:
        step = json.loads((ckpt / "progress.json").read_text())["step"]
        weights = load_file(str(ckpt / "trainable.safetensors"))
        state = torch.load(ckpt / "state.pt", weights_only=True)
    except Exception as e:
        raise SmolMoEError(f"cannot resume from {ckpt}: {type(e).__name__}: {e}") from None
    missing = set(params) - set(weights)
    if missing:
        raise SmolMoEError(f"checkpoint {ckpt} does not match the model ({len(missing)} tensors missing)")
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(weights[k].to(p.device, p.dtype))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = state["rng"]
    random.setstate(rng["python"])
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return step


def train(model: torch.nn.Module, batches: StepBatches, settings: TrainSettings, *,
          trainable: Trainable | None = None, loss_fn: LossFn = lm_loss,
          checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
          on_step: Callable[[dict], None] | None = None,
          eval_fn: Callable[[torch.nn.Module], dict] | None = None, eval_every: int = 0,
          accelerator=None) -> TrainResult:
    """Train `model` in place for settings.steps optimizer steps; return the history."""
    from accelerate import Accelerator

    settings.validate()
    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    params = mark_trainable(model, trainable)
    if settings.grad_checkpointing and hasattr(model, "gradient_checkpointing_enable"):
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
        # With frozen embeddings nothing upstream needs grad; checkpointed blocks would then
        # drop the graph, so make the embeddings' output require grad.
        model.enable_input_require_grads()
    process_state()  # fixes the CPU/GPU choice before the Accelerator reads it
    # bf16 needs no loss scaling, so it is a plain autocast below; accelerate is asked only for
    # fp16 (its grad scaler). Accelerate's precision is process-wide state that cannot change
    # once set, while one process may run stages of different precisions (tests, notebooks).
    precision = resolve_precision(settings.precision)
    accelerator = accelerator or Accelerator(mixed_precision="fp16" if precision == "fp16" else "no",
                                             cpu=not torch.cuda.is_available())
    optimizer = make_optimizer(list(params.values()), settings)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(settings))
    # The model is not wrapped in DDP: losses run the decoder and the LM head separately
    # (only loss positions reach the head), which a DDP wrapper's forward would not see, so
    # gradients are averaged across processes by hand below. The scheduler is stepped by
    # hand too: accelerate's wrapper would step it once per process.
    model.to(accelerator.device)
    optimizer = accelerator.prepare(optimizer)

    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else None
    start = 0
    if resume:
        if ckpt_dir is None or not (ckpt_dir / CHECKPOINT).is_dir():
            raise SmolMoEError(f"--resume: no checkpoint found in {ckpt_dir}")
        start = load_checkpoint(ckpt_dir, params, optimizer, scheduler)

    rank, world = accelerator.process_index, accelerator.num_processes
    history, tokens, t0 = [], 0, time.perf_counter()
    model.train()
    for step in range(start, settings.steps):
        metrics_sum: dict[str, float] = {}
        step_tokens = 0
        for micro in range(settings.grad_accum):
            batch = {k: v.to(accelerator.device)
                     for k, v in batches.batch(step, micro, settings.grad_accum, rank, world).items()}
            step_tokens += int(batch["attention_mask"].sum())
            with accelerator.autocast(), autocast("bf16" if precision == "bf16" else "no",
                                                  accelerator.device):
                loss, metrics = loss_fn(model, batch)
            accelerator.backward(loss / settings.grad_accum)
            for k, v in metrics.items():
                metrics_sum[k] = metrics_sum.get(k, 0.0) + float(v) / settings.grad_accum
        if world > 1:
            average_gradients(list(params.values()))
        if settings.max_grad_norm > 0:
            accelerator.clip_grad_norm_(list(params.values()), settings.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if world > 1:  # metrics: mean over processes; tokens: their sum
            keys = sorted(metrics_sum)
            vals = accelerator.reduce(torch.tensor([metrics_sum[k] for k in keys] + [step_tokens * world],
                                                   device=accelerator.device), reduction="mean")
            metrics_sum = dict(zip(keys, vals[:-1].tolist()))
            step_tokens = int(round(float(vals[-1])))
        tokens += step_tokens
        record = {"step": step + 1, "lr": scheduler.get_last_lr()[0], "tokens": tokens,
                  "seconds": time.perf_counter() - t0, **metrics_sum}
        if eval_fn and eval_every and ((step + 1) % eval_every == 0 or step + 1 == settings.steps):
            model.eval()
            with torch.no_grad():
                record.update({f"val_{k}": v for k, v in eval_fn(model).items()})
            model.train()
        history.append(record)
        if on_step:
            on_step(record)
        if ckpt_dir and settings.save_every and (step + 1) % settings.save_every == 0 \
                and step + 1 < settings.steps:
            if accelerator.is_main_process:
                save_checkpoint(ckpt_dir, step + 1, params, optimizer, scheduler)
            accelerator.wait_for_everyone()
    model.eval()
    return TrainResult(steps=settings.steps, trainable_params=sum(p.numel() for p in params.values()),
                       tokens=tokens, seconds=time.perf_counter() - t0, history=history)
