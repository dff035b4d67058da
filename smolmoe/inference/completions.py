"""Completions as token ids, for the loops that score or train on them (RL rollouts, verified
accuracy, the scratch chat): the one engine, with its thinking budget, and no text decoding."""
from __future__ import annotations

from .engine import Engine, TokenRules
from .generate import GenerationSettings


def generate_ids(model, tokenizer, prompts: list[list[int]], *, max_new_tokens: int = 64,
                 budget: int | None = None, do_sample: bool = False, temperature: float = 1.0,
                 num_return_sequences: int = 1) -> list[list[int]]:
    """Completion ids per prompt (x num_return_sequences, each prompt's together), cut after
    the end-of-turn token. Unseeded sampling draws from torch's global generator."""
    settings = GenerationSettings(max_new_tokens=max_new_tokens,
                                  temperature=temperature if do_sample else 0.0,
                                  thinking_budget=budget)
    engine = Engine(model, TokenRules.of(model, tokenizer),
                    slots=len(prompts) * num_return_sequences)
    seqs = [engine.add(p, settings) for p in prompts for _ in range(num_return_sequences)]
    was_training = model.training
    model.eval()
    try:
        engine.run()
    finally:
        model.train(was_training)
    return [s.tokens + ([s.end_token] if s.end_token is not None else []) for s in seqs]
