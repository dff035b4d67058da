"""Chat generation with think on/off and an exact thinking budget.

The budget is enforced while decoding, by a LogitsProcessor: once a row has spent `budget`
tokens inside an open <think> block, the only token it may emit is </think>. So thinking never
exceeds the budget, whatever the model wants. Two more rules make sure an answer follows:
the end-of-turn token is banned while thinking is open, and for a few tokens after </think>.
"""
from __future__ import annotations

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from .tokenizer import DOC_END, IM_END, THINK_CLOSE, THINK_OPEN, token_id


class ThinkingBudget(LogitsProcessor):
    def __init__(self, open_id: int, close_id: int, stop_ids: list[int], budget: int | None,
                 min_answer_tokens: int = 3):
        self.open_id, self.close_id, self.stop_ids = open_id, close_id, stop_ids
        self.budget, self.min_answer_tokens = budget, min_answer_tokens
        self.prompt_len = 0   # set per generate call: only generated tokens spend the budget

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row, ids in enumerate(input_ids.tolist()):
            if self.open_id not in ids:
                continue
            opened = len(ids) - 1 - ids[::-1].index(self.open_id)
            after = ids[opened + 1:]
            if self.close_id in after:
                answered = len(after) - after.index(self.close_id) - 1
                if answered < self.min_answer_tokens:
                    scores[row, self.stop_ids] = float("-inf")
                scores[row, self.open_id] = float("-inf")   # one thinking block per turn
                continue
            scores[row, self.stop_ids] = float("-inf")
            spent = len(ids) - max(opened + 1, self.prompt_len)
            if self.budget is not None and spent >= self.budget:
                forced = scores[row, self.close_id].clone()
                scores[row] = float("-inf")
                scores[row, self.close_id] = forced if torch.isfinite(forced) else 0.0
        return scores


def has_token(tokenizer, token: str) -> bool:
    i = tokenizer.convert_tokens_to_ids(token)
    return i is not None and i != tokenizer.unk_token_id and tokenizer.convert_ids_to_tokens(i) == token


def stop_ids(tokenizer) -> list[int]:
    """End-of-turn and end-of-document ids the tokenizer has (ChatML models: both), plus eos."""
    ids = [token_id(tokenizer, t) for t in (IM_END, DOC_END) if has_token(tokenizer, t)]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def thinking_processors(tokenizer, budget: int | None, prompt_len: int) -> LogitsProcessorList:
    """The thinking rules for tokenizers with <think> tokens (the scratch one); none otherwise
    (SmolLM2 and most instruct models have no thinking block to police)."""
    if not (has_token(tokenizer, THINK_OPEN) and has_token(tokenizer, THINK_CLOSE)):
        return LogitsProcessorList()
    processor = ThinkingBudget(token_id(tokenizer, THINK_OPEN), token_id(tokenizer, THINK_CLOSE),
                               stop_ids(tokenizer), budget)
    processor.prompt_len = prompt_len
    return LogitsProcessorList([processor])


def prompt_ids(tokenizer, messages: list[dict], think: bool | None = True) -> list[int]:
    """The chat prompt's ids; `think` selects the scratch template's thinking mode and is
    ignored by templates without one."""
    kwargs = {} if think is None else {"enable_thinking": think}
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


@torch.no_grad()
def generate_ids(model, tokenizer, prompts: list[list[int]], *, max_new_tokens: int = 64,
                 budget: int | None = None, do_sample: bool = False, temperature: float = 1.0,
                 num_return_sequences: int = 1) -> list[list[int]]:
    """Completion ids per prompt (x num_return_sequences), cut after the end-of-turn token."""
    pad = tokenizer.pad_token_id
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):   # left padding: every row's prompt ends at the same column
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    stops = stop_ids(tokenizer)
    was_training = model.training
    model.eval()
    sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0} \
        if do_sample else {"do_sample": False}
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                         logits_processor=thinking_processors(tokenizer, budget, width),
                         eos_token_id=stops, pad_token_id=pad,
                         num_return_sequences=num_return_sequences, **sampling)
    model.train(was_training)
    completions = []
    for row in out[:, width:].tolist():
        end = next((i for i, t in enumerate(row) if t in stops), None)
        completions.append(row if end is None else row[:end + 1])
    return completions


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
