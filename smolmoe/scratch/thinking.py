"""Chat generation with think on/off and an exact thinking budget, for the scratch models.

Generation goes through the one engine (engine.py), whose thinking rule enforces the budget
while decoding: once a sequence has spent `budget` tokens inside an open <think> block, the
only token it may emit is </think>, so thinking never exceeds the budget whatever the model
wants; the end-of-turn token is banned while thinking is open and for a few tokens after
</think>, so an answer follows.
"""
from __future__ import annotations

from ..inference.completions import generate_ids
from ..inference.generate import prompt_ids
from .tokenizer import THINK_CLOSE, THINK_OPEN, token_id


def split_thinking(tokenizer, prompt: list[int], completion: list[int]) -> dict:
    """The generated thinking (tokens inside <think>...</think>) and the answer after it."""
    open_id, close_id = token_id(tokenizer, THINK_OPEN), token_id(tokenizer, THINK_CLOSE)
    if open_id in completion:
        start = completion.index(open_id) + 1
    elif open_id in prompt and close_id not in prompt[len(prompt) - 1 - prompt[::-1].index(open_id):]:
        start = 0                      # the prompt opened the block (enable_thinking=True)
    else:
        return {"thinking": "", "thinking_tokens": 0, "closed": True,
                "answer": tokenizer.decode(completion, skip_special_tokens=True).strip()}
    rest = completion[start:]
    closed = close_id in rest
    think = rest[:rest.index(close_id)] if closed else rest
    answer = rest[rest.index(close_id) + 1:] if closed else []
    return {"thinking": tokenizer.decode(think, skip_special_tokens=True).strip(),
            "thinking_tokens": len(think), "closed": closed,
            "answer": tokenizer.decode(answer, skip_special_tokens=True).strip()}


def chat(model, tokenizer, conversations: list[list[dict]], *, think: bool | None = True,
         budget: int | None = None, max_new_tokens: int = 96, batch_size: int = 16,
         do_sample: bool = False, temperature: float = 1.0) -> list[dict]:
    """Answer each conversation; return thinking, answer, thinking token count and raw text."""
    results = []
    for i in range(0, len(conversations), batch_size):
        prompts = [prompt_ids(tokenizer, c, think) for c in conversations[i:i + batch_size]]
        outs = generate_ids(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                            budget=budget, do_sample=do_sample, temperature=temperature)
        for p, c in zip(prompts, outs):
            results.append({**split_thinking(tokenizer, p, c),
                            "completion": tokenizer.decode(c, skip_special_tokens=True)})
    return results


def budget_report(model, tokenizer, conversations: list[list[dict]], budgets, *,
                  answer_tokens: int = 24) -> list[dict]:
    """Per budget: the most thinking tokens any prompt used, and how many produced an answer."""
    rows = []
    for budget in budgets:
        outs = chat(model, tokenizer, conversations, think=True, budget=budget,
                    max_new_tokens=budget + answer_tokens)
        used = [o["thinking_tokens"] for o in outs]
        rows.append({"budget": budget, "n": len(outs), "max_thinking_tokens": max(used),
                     "within_budget": sum(u <= budget for u in used),
                     "answered": sum(bool(o["closed"] and o["answer"]) for o in outs)})
    return rows
