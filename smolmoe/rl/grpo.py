"""GRPO and GSPO with a verifiable reward (exact arithmetic answers + format), on the shared loop.

Each optimizer step's batch is a rollout: `prompts_per_step` problems, `group_size` sampled
completions each, rewarded and normalised within their group (the advantage). A rollout is
reused for `iterations` consecutive steps, so the policy moves away from the one that sampled
it and the importance ratio matters:
  GRPO: token-level ratio pi/pi_old, clipped per token, averaged per sequence;
  GSPO: one sequence-level ratio exp(mean_t log pi/pi_old), clipped per sequence (Zheng et al.
        2025), which is what keeps MoE routing noise in single tokens from dominating.
No KL penalty to a reference model (beta = 0, as in DAPO / TRL's current default).

Why not TRL's GRPOTrainer: it owns its Trainer loop (vLLM or HF generation inside it, plus
datasets/pandas/pyarrow), while every stage here trains through smolmoe.training.loop. The loss fits
in a function; the rollout is a batch source with the StepBatches interface.
"""
from __future__ import annotations

import os
import random
import statistics
from dataclasses import asdict, dataclass
from typing import Callable, Literal

import torch

from ..core.config import TrainSettings
from ..core.precision import autocast
from ..core.settings import check, setting
from ..data.records import IGNORE_INDEX, collate
from ..inference.completions import generate_ids
from ..inference.generate import prompt_ids
from ..training.lora import LoraSettings, lora_wrap
from ..training.stage import Plan, Stage, run_stage, summary
from . import arithmetic
from .logprobs import token_logps
from .verifiable import verified_accuracy


@dataclass
class RLSettings:
    algo: Literal["grpo", "gspo"] = setting(
        "grpo", help="Token-level (grpo) or sequence-level (gspo) importance ratios.")
    group_size: int = setting(8, ge=2, help="Rollouts per prompt (advantages are relative "
                                            "within a group, so at least 2).")
    iterations: int = setting(2, ge=1, help="Optimizer steps per rollout.")
    max_new_tokens: int = setting(40, ge=1, help="Longest rollout in tokens.")
    temperature: float = setting(1.0, gt=0, help="Sampling temperature of rollouts.")
    scale_rewards: Literal["group", "none"] = setting(
        "group", help="Advantage = reward - group mean, divided by the group's std (group) "
                      "or not (none: Dr. GRPO).")
    clip: float = 0.2                # GRPO token ratio clip
    gspo_clip: tuple[float, float] = (3e-4, 4e-4)   # GSPO sequence ratio clip (low, high)
    format_weight: float = 0.1
    consistency_weight: float = 0.5

    def validate(self) -> "RLSettings":
        return check(self)


class RolloutBatches:
    """The StepBatches interface over rollouts sampled from the live policy.

    `task` supplies the reward rules (scratch arithmetic with thinking, or an answer-line task
    for instruct models: smolmoe.rl.arithmetic.ANSWER_LINE); rollouts and their old log-probs run in
    `precision`, the training loop's number format, so the importance ratio starts at 1.
    """

    def __init__(self, model, tokenizer, records: list[dict], prompts_per_step: int,
                 rl: RLSettings, seed: int = 0, task=None, precision: str = "auto"):
        self.model, self.tokenizer, self.records = model, tokenizer, records
        self.prompts_per_step, self.rl, self.seed = prompts_per_step, rl, seed
        self.task = task or arithmetic.SCRATCH_TASK
        self.precision = precision
        self._cache: dict = {}

    def batch(self, step, micro=0, grad_accum=1, rank=0, world=1):
        key = (step // self.rl.iterations, micro, rank)
        if key not in self._cache:      # keep this rollout's micro-batches, drop older ones
            self._cache = {k: v for k, v in self._cache.items() if k[0] == key[0]}
            self._cache[key] = self._rollout(*key)
        return self._cache[key]

    def _rollout(self, index: int, micro: int, rank: int) -> dict:
        rng = random.Random(f"{self.seed}-{index}-{micro}-{rank}")
        chosen = rng.sample(self.records, min(self.prompts_per_step, len(self.records)))
        prompts = [prompt_ids(self.tokenizer, r["messages"], think=self.task.think) for r in chosen]
        torch.manual_seed(rng.randrange(1 << 31))
        with autocast(self.precision):          # one batched, KV-cached generate for G x prompts
            completions = generate_ids(self.model, self.tokenizer, prompts, do_sample=True,
                                       temperature=self.rl.temperature,
                                       max_new_tokens=self.rl.max_new_tokens,
                                       num_return_sequences=self.rl.group_size)
        rows, rewards, correct = [], [], []
        for i, completion in enumerate(completions):
            record, prompt = chosen[i // self.rl.group_size], prompts[i // self.rl.group_size]
            text = self.tokenizer.decode(completion, skip_special_tokens=True)
            rewards.append(self.task.reward(text, record["answer"], self.rl.format_weight,
                                            self.rl.consistency_weight))
            correct.append(float(self.task.correct(text, record["answer"])))
            rows.append({"input_ids": prompt + completion,
                         "labels": [IGNORE_INDEX] * len(prompt) + completion})
        batch = collate(rows, self.tokenizer.pad_token_id)
        batch["advantages"] = group_advantages(rewards, self.rl.group_size, self.rl.scale_rewards)
        batch["rewards"] = torch.tensor(rewards)
        batch["correct"] = torch.tensor(correct)
        with torch.no_grad(), autocast(self.precision):
            was_training = self.model.training
            self.model.eval()
            batch["old_logps"], _ = token_logps(self.model, batch)
            self.model.train(was_training)
        return batch


def group_advantages(rewards: list[float], group_size: int, scale: str = "group") -> torch.Tensor:
    """r - group mean, divided by (group std + eps) when scale is "group" (GRPO) and left in
    reward units when it is "none" (Dr. GRPO, Liu et al. 2025): then a group whose replies
    differ only by the 0.1 format reward gets advantages of at most 0.1, not ~1 like a
    right/wrong difference. All-equal groups carry no signal either way."""
    r = torch.tensor(rewards, dtype=torch.float64).view(-1, group_size)
    centred = r - r.mean(1, keepdim=True)
    centred[centred.abs() < 1e-9] = 0.0          # float noise in all-equal groups is no signal
    if scale == "none":
        return centred.view(-1).float()
    return (centred / (r.std(1, keepdim=True) + 1e-4)).view(-1).float()


def policy_loss(rl: RLSettings):
    def loss_fn(model, batch):
        logps, mask = token_logps(model, batch)
        log_ratio = (logps - batch["old_logps"]) * mask
        adv = batch["advantages"].unsqueeze(-1)
        lengths = mask.sum(-1).clamp(min=1)
        if rl.algo == "gspo":
            ratio = torch.exp(log_ratio.sum(-1) / lengths)             # one ratio per sequence
            low, high = rl.gspo_clip
            clipped = ratio.clamp(1 - low, 1 + high)
            per_seq = -torch.minimum(ratio * adv.squeeze(-1), clipped * adv.squeeze(-1))
            clip_frac = ((ratio - clipped).abs() > 0).float().mean()
        else:
            ratio = torch.exp(log_ratio)                               # one ratio per token
            clipped = ratio.clamp(1 - rl.clip, 1 + rl.clip)
            per_tok = -torch.minimum(ratio * adv, clipped * adv)
            per_seq = (per_tok * mask).sum(-1) / lengths
            clip_frac = (((ratio - clipped).abs() > 0) & mask).float().sum() / mask.sum().clamp(min=1)
        loss = per_seq.mean()
        return loss, {"loss": loss.detach(), "reward": batch["rewards"].mean(),
                      "accuracy": batch["correct"].mean(), "clip_frac": clip_frac.detach()}
    return loss_fn


def rl_train(model_dir: str | os.PathLike, records: list[dict], test_records: list[dict],
             out_dir: str | os.PathLike, settings: TrainSettings, rl: RLSettings, *,
             task=None, lora: LoraSettings | None = None, eval_every: int = 0,
             overwrite: bool = False, on_step: Callable[[dict], None] | None = None) -> dict:
    """GRPO/GSPO from model_dir (full, or a LoRA adapter); held-out accuracy before, every
    `eval_every` steps, and after. Any causal LM dir works; `task` sets the reward rules."""
    rl.validate()
    task = task or arithmetic.SCRATCH_TASK

    def prepare(_model, tokenizer, _inputs):
        def evaluate(m) -> dict:
            return verified_accuracy(m, tokenizer, test_records, task,
                                     max_new_tokens=rl.max_new_tokens, precision=settings.precision)

        def report(result, before, after):
            train_reward = [h["reward"] for h in result.history]
            return summary(rl.algo, result, settings, rl=asdict(rl), test_before=before,
                           test_after=after, reward_first=statistics.mean(train_reward[:10]),
                           reward_last=statistics.mean(train_reward[-10:]), source=str(model_dir),
                           lora=bool(lora), history=result.history)

        # Rollouts are sampled from the model being trained (LoRA-wrapped when there is one).
        return Plan(lambda model: RolloutBatches(model, tokenizer, records, settings.batch_size, rl,
                                                 settings.seed, task, settings.precision),
                    report, loss_fn=policy_loss(rl), measure=evaluate, eval_every=eval_every,
                    wrap=lora_wrap(lora), adapter=bool(lora))

    return run_stage(Stage(model_dir, out_dir, settings, prepare, overwrite=overwrite,
                           on_step=on_step))
