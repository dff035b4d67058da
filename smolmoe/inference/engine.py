"""The one decoding engine: every generated token in smolmoe comes out of `Engine.step`.

An `Engine` holds up to `slots` running sequences in one left-padded KV cache. Each step runs
one forward for all of them (one new token each), then prefills the sequences waiting for a
slot in one more forward and merges their caches into the batch, so a request that arrives
while others decode joins at the next step (continuous batching). A finished, stopped or
cancelled sequence leaves the batch (and the cache) at the start of the next step.

Each sequence has its own sampling settings (temperature, top-k, top-p, repetition penalty,
its own seeded generator), token limit and end-of-turn ids, and the thinking rule below; the
router logits of the position that chose each token are kept for MoEs (`routing=True`).
Text, stop strings and streaming live in generate.py: the engine deals in token ids.

Thinking rule (models whose tokenizer has <think> and </think>): while a thought is open the
end-of-turn ids are banned, and once it has spent `thinking_budget` tokens only </think> may
follow; after </think> no new thought may open, and the turn may not end for
`MIN_ANSWER_TOKENS` tokens, so an answer follows. A thought is open when the prompt ends
inside one, when the model writes <think>, or when the settings ask for thinking (`think`).

Positions count real tokens only, so a left-padded row computes what it would compute alone:
greedy replies equal the same request served alone (tests/inference/test_engine.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..core.config import DECODE_SLOTS
from ..core.errors import ModelError
from ..moe import router_outputs

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
END_TOKENS = ("<|im_end|>", "<|endoftext|>")   # ChatML end of turn, end of document
MIN_ANSWER_TOKENS = 3


def has_token(tokenizer, token: str) -> bool:
    i = tokenizer.convert_tokens_to_ids(token)
    return (i is not None and i != tokenizer.unk_token_id
            and tokenizer.convert_ids_to_tokens(i) == token)


@dataclass(frozen=True)
class TokenRules:
    """The ids the engine treats specially, read once per model."""
    end_ids: frozenset[int]
    think_ids: tuple[int, int] | None     # (<think>, </think>) where the tokenizer has both
    context_length: int
    pad_id: int

    @classmethod
    def of(cls, model, tokenizer) -> "TokenRules":
        eos = getattr(model.generation_config, "eos_token_id", None)
        ids = set(eos if isinstance(eos, list) else [eos])
        ids |= {tokenizer.eos_token_id}
        ids |= {tokenizer.convert_tokens_to_ids(t) for t in END_TOKENS if has_token(tokenizer, t)}
        ids.discard(None)
        think = ((tokenizer.convert_tokens_to_ids(THINK_OPEN), tokenizer.convert_tokens_to_ids(THINK_CLOSE))
                 if has_token(tokenizer, THINK_OPEN) and has_token(tokenizer, THINK_CLOSE) else None)
        pad = tokenizer.pad_token_id
        return cls(frozenset(ids), think,
                   int(getattr(model.config, "max_position_embeddings", 2048)),
                   pad if pad is not None else min(ids))


class Thinking:
    """The thinking rule's state for one sequence (see the module docstring)."""

    def __init__(self, open_id: int, close_id: int, prompt: list[int], think: bool | None,
                 budget: int | None):
        self.open_id, self.close_id, self.budget = open_id, close_id, budget
        self.spent = self.answered = None    # tokens inside the open thought / after </think>
        if open_id in prompt:
            after = prompt[len(prompt) - prompt[::-1].index(open_id):]
            if close_id in after:
                self.answered = len(after) - after.index(close_id) - 1
            else:
                self.spent = 0
        elif think:
            self.spent = 0

    def mask(self, logits: torch.Tensor, end_ids: list[int]) -> None:
        if self.spent is not None:
            logits[end_ids] = float("-inf")
            if self.budget is not None and self.spent >= self.budget:
                forced = logits[self.close_id].clone()
                logits.fill_(float("-inf"))
                logits[self.close_id] = forced if torch.isfinite(forced) else 0.0
        elif self.answered is not None:
            logits[self.open_id] = float("-inf")   # one thought per turn
            if self.answered < MIN_ANSWER_TOKENS:
                logits[end_ids] = float("-inf")

    def push(self, token: int) -> None:
        if self.spent is not None:
            if token == self.close_id:
                self.spent, self.answered = None, 0
            elif token != self.open_id:
                self.spent += 1
        elif self.answered is not None:
            self.answered += 1
        elif token == self.open_id:
            self.spent = 0


def _processors(settings):
    """transformers' logits processors for the settings (greedy: repetition penalty only)."""
    from transformers.generation import (LogitsProcessorList, RepetitionPenaltyLogitsProcessor,
                                         TemperatureLogitsWarper, TopKLogitsWarper,
                                         TopPLogitsWarper)
    out = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        out.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
    if settings.temperature > 0:
        out.append(TemperatureLogitsWarper(settings.temperature))
        if getattr(settings, "top_k", 0):
            out.append(TopKLogitsWarper(settings.top_k))
        if settings.top_p < 1.0:
            out.append(TopPLogitsWarper(settings.top_p))
    return out


@dataclass(eq=False)
class Sequence:
    """One request in the engine: its prompt, settings and what it has generated so far."""
    prompt: list[int]
    settings: object                         # generate.GenerationSettings (duck-typed)
    limit: int                               # most tokens it may generate
    routing: bool = False                    # keep router logits per token (MoE)
    cancelled: Callable[[], bool] = lambda: False
    tokens: list[int] = field(default_factory=list)
    router_logits: list[torch.Tensor] = field(default_factory=list)  # per token: [layers, experts]
    finish: str | None = None                # "stop", "length" or "cancelled" once done
    end_token: int | None = None             # the end-of-turn id that finished it, if one did
    thinking: Thinking | None = None
    _processors: object = None
    _rng: torch.Generator | None = None

    def stop(self) -> None:
        """End the sequence (a stop string was found); it leaves the batch at the next step."""
        self.finish = self.finish or "stop"

    @property
    def experts(self) -> list[list[int]]:
        """Per token, each layer's top-1 expert."""
        return [r.argmax(-1).tolist() for r in self.router_logits]

    def _pick(self, logits: torch.Tensor, end_ids: list[int]) -> int:
        logits = logits.float()
        if self.thinking is not None:
            self.thinking.mask(logits, end_ids)
        if self._processors:
            ids = torch.tensor([self.prompt + self.tokens])
            logits = self._processors(ids, logits[None])[0]
        if self.settings.temperature == 0:
            return int(logits.argmax())
        return int(torch.multinomial(logits.softmax(-1), 1, generator=self._rng))


class Engine:
    """Continuous batching over one model (not thread-safe: callers hold the model's lock)."""

    def __init__(self, model, rules: TokenRules, slots: int = DECODE_SLOTS):
        if slots < 1:
            raise ModelError(f"the engine needs at least one slot, got {slots}")
        self.model, self.rules, self.slots = model, rules, slots
        self.running: list[Sequence] = []     # in cache row order
        self.waiting: list[Sequence] = []
        self.cache = None
        self.mask: torch.Tensor | None = None  # [rows, cache width]: 1 where a real token is

    @property
    def busy(self) -> bool:
        return bool(self.running or self.waiting)

    def add(self, prompt: list[int], settings, *, routing: bool = False,
            cancelled: Callable[[], bool] = lambda: False) -> Sequence:
        limit = min(settings.max_new_tokens, self.rules.context_length - len(prompt))
        if not prompt or limit < 1:
            raise ModelError(f"a prompt of {len(prompt)} tokens leaves no room to generate in "
                             f"the model's context of {self.rules.context_length} tokens")
        seq = Sequence(list(prompt), settings, limit, routing, cancelled,
                       _processors=_processors(settings))
        if settings.temperature > 0 and settings.seed is not None:
            # A private generator: a seeded request gives the same answer whatever else is in
            # the batch. Unseeded ones draw from torch's global generator (torch.manual_seed).
            seq._rng = torch.Generator().manual_seed(settings.seed)
        if self.rules.think_ids:
            seq.thinking = Thinking(*self.rules.think_ids, seq.prompt,
                                    getattr(settings, "think", None),
                                    getattr(settings, "thinking_budget", None))
        self.waiting.append(seq)
        return seq

    def step(self) -> list[tuple[Sequence, int | None]]:
        """Advance every running sequence by one token and admit waiting ones. Returns
        (sequence, new token) pairs; the token is None for one that ended without a token."""
        events = self._drop_finished()
        if self.running:
            feed = torch.tensor([[s.tokens[-1]] for s in self.running])
            positions = torch.tensor([[len(s.prompt) + len(s.tokens) - 1] for s in self.running])
            self.mask = torch.cat([self.mask, torch.ones(len(self.running), 1, dtype=torch.long)], 1)
            logits, routing, self.cache = self._forward(self.running, feed, self.mask, positions, self.cache)
            events += self._advance(self.running, logits, routing)
        free = self.slots - len(self.running)
        joining, self.waiting = self.waiting[:free], self.waiting[free:]
        joining = [s for s in joining if not self._cancel(s, events)]
        if joining:
            width = max(len(s.prompt) for s in joining)
            pad = self.rules.pad_id
            feed = torch.tensor([[pad] * (width - len(s.prompt)) + s.prompt for s in joining])
            mask = torch.tensor([[0] * (width - len(s.prompt)) + [1] * len(s.prompt)
                                 for s in joining])
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits, routing, cache = self._forward(joining, feed, mask, positions, None)
            events += self._advance(joining, logits, routing)
            self._merge(joining, cache, mask)
        return events

    def run(self) -> None:
        """Step until every sequence has finished (batch use: evaluation, rollouts)."""
        while self.busy:
            self.step()

    def _cancel(self, seq: Sequence, events: list) -> bool:
        if seq.finish is None and seq.cancelled():
            seq.finish = "cancelled"
            events.append((seq, None))
        return seq.finish is not None

    def _drop_finished(self) -> list[tuple[Sequence, int | None]]:
        events: list = []
        self.waiting = [s for s in self.waiting if not self._cancel(s, events)]
        keep = [i for i, s in enumerate(self.running) if not self._cancel(s, events)]
        if len(keep) < len(self.running):
            if not keep:
                self.running, self.cache, self.mask = [], None, None
                return events
            index = torch.tensor(keep)
            self.cache.batch_select_indices(index)
            self.running = [self.running[i] for i in keep]
            self.mask = self.mask[index]
            # Columns that are padding in every remaining row are dropped from the cache.
            first = int(self.mask.any(0).long().argmax())
            if first:
                self.mask = self.mask[:, first:]
                for layer in self.cache.layers:
                    layer.keys, layer.values = layer.keys[..., first:, :], layer.values[..., first:, :]
        return events

    def _forward(self, seqs: list[Sequence], feed, mask, positions, cache):
        # Router logits come back as outputs of the forward (router_outputs.py), so they are
        # there under torch.compile too. Grad mode is per thread, and a streaming caller may
        # resume on another thread.
        wants_routing = any(s.routing for s in seqs)
        with torch.no_grad():
            logits, router_logits, cache = router_outputs.forward(
                self.model, feed.to(self.model.device), routing=wants_routing, logits_to_keep=1,
                attention_mask=mask.to(self.model.device),
                position_ids=positions.to(self.model.device), cache=cache, use_cache=True)
        routing = None   # [rows, layers, experts] at each row's last position
        if wants_routing:
            routing = router_outputs.last_position(router_logits, feed.shape[0])
        return logits[:, -1, :], routing, cache

    def _advance(self, seqs: list[Sequence], logits, routing) -> list:
        events = []
        end_ids = sorted(self.rules.end_ids)
        for row, seq in enumerate(seqs):
            token = seq._pick(logits[row], end_ids)
            if token in self.rules.end_ids:
                seq.finish, seq.end_token = "stop", token
                events.append((seq, None))
                continue
            seq.tokens.append(token)
            if seq.thinking is not None:
                seq.thinking.push(token)
            if seq.routing and routing is not None:
                seq.router_logits.append(routing[row])
            if len(seq.tokens) >= seq.limit:
                seq.finish = "length"
            events.append((seq, token))
        return events

    def _merge(self, joining: list[Sequence], cache, mask) -> None:
        """Put the joiners' prefilled cache beside the running rows, left-padding the shorter."""
        if self.cache is None:
            self.running, self.cache, self.mask = list(joining), cache, mask
            return
        if any(getattr(layer, "is_sliding", False) for layer in cache.layers):
            # A sliding window keeps the last N columns per layer: rows of different lengths
            # cannot share its columns. Such a model decodes with one slot.
            raise ModelError("joining a running batch needs full-attention KV caches (this "
                             "model has sliding-window layers): use one slot")
        width = max(self.mask.shape[1], mask.shape[1])

        def left_pad(t: torch.Tensor, n: int, dim: int) -> torch.Tensor:
            if n == 0:
                return t
            shape = list(t.shape)
            shape[dim] = n
            return torch.cat([t.new_zeros(shape), t], dim=dim)
        a, b = width - self.mask.shape[1], width - mask.shape[1]
        for mine, theirs in zip(self.cache.layers, cache.layers):
            mine.keys = torch.cat([left_pad(mine.keys, a, -2), left_pad(theirs.keys, b, -2)])
            mine.values = torch.cat([left_pad(mine.values, a, -2), left_pad(theirs.values, b, -2)])
        self.mask = torch.cat([left_pad(self.mask, a, 1), left_pad(mask, b, 1)])
        self.running += joining
