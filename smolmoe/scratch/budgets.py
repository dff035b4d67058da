"""Each from-scratch and rl stage's own training budget: the defaults its command starts from.

Kept apart from the stages (which import torch) so the CLI can show them in --help without
loading torch. Budgets are sized for a shared 2-core CPU unless said otherwise.
"""
from __future__ import annotations

from ..core.config import TrainSettings

# `smolmoe scratch run` per preset (tiny: ~1.1 s per 4k-token pretraining step with one thread
# while others load the machine, the whole run in ~15 minutes); the pretrain and sft commands
# start from the tiny budgets.
RUN_SETTINGS = {
    "tiny": {"vocab_size": 4096,
             "pretrain": TrainSettings(steps=400, lr=3e-3, batch_size=16, seq_len=256,
                                       warmup_steps=20, weight_decay=0.1, save_every=100),
             "sft": TrainSettings(steps=400, lr=2e-3, batch_size=32, seq_len=192,
                                  warmup_steps=20, save_every=100)},
    "cortex": {"vocab_size": 32768,
               "pretrain": TrainSettings(steps=20000, lr=6e-4, batch_size=32, seq_len=1024,
                                         warmup_steps=500, weight_decay=0.1, save_every=500,
                                         precision="bf16"),
               "sft": TrainSettings(steps=2000, lr=1e-4, batch_size=32, seq_len=1024,
                                    warmup_steps=50, save_every=500, precision="bf16")},
}

SCRATCH_TRAINING = {
    "pretrain": RUN_SETTINGS["tiny"]["pretrain"],
    "sft": RUN_SETTINGS["tiny"]["sft"],
    "extend-context": TrainSettings(steps=100, lr=1e-3, batch_size=4, seq_len=1024, warmup_steps=10),
    "dpo": TrainSettings(steps=100, lr=5e-5, batch_size=8, seq_len=192, warmup_steps=5),
    "grpo": TrainSettings(steps=120, lr=5e-4, batch_size=8, seq_len=256, warmup_steps=5,
                          min_lr_ratio=0.5),
    "distill": TrainSettings(steps=200, lr=3e-3, batch_size=16, seq_len=256, warmup_steps=10),
}

RL_TRAINING = {
    # The measured recipe of docs/rl.md: 8 prompts x 8 completions per rollout (two
    # micro-batches of 4 prompts keep memory low), each rollout used for 2 steps.
    "grpo": TrainSettings(steps=12, lr=2e-5, batch_size=4, grad_accum=2, seq_len=256,
                          warmup_steps=2, min_lr_ratio=0.5),
    "dpo": TrainSettings(steps=30, lr=5e-6, batch_size=8, seq_len=256, warmup_steps=2),
}

# rl grpo's rollouts (the other RLSettings fields keep their defaults): SmolLM2-135M's samples
# were right 3-5% of the time at 0.6-0.8 (few groups with a signal), 11% at 0.4. Advantages
# not divided by the group's std (Dr. GRPO): with the std division seeds 0 and 1 collapsed,
# without it seeds 0, 1, 2 each gained >= 14 points (docs/rl.md, issue #22).
RL_ROLLOUTS = {"temperature": 0.4, "scale_rewards": "none"}

# scratch dpo (DPOSettings' own beta, 0.1, is rl dpo's): the recipe measured in docs/scratch.md
# (reasoning model, lr 5e-5) raised the held-out preference share 0.885 -> 0.905 at beta 0.5.
SCRATCH_DPO = {"beta": 0.5}
