"""Chat generation with the model's own chat template: streaming, per-token routing, stops.

`ChatModel` holds a loaded model, its tokenizer and (for an MoE) its expert names. Its
`stream(messages, settings)` runs our own decoding loop over a KV cache and yields one
`StreamEvent` per generated token: the text that token added and, for an MoE, each layer's
top-1 expert for it; the last event carries the finish reason. Our own loop (rather than
`generate` + a streamer thread) keeps the routing of each step next to the token it chose.

Generation holds the model's lock, so callers in different threads (the server) never
interleave forward passes, and each call installs and removes its own routing hooks.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from .config import DEFAULT_MAX_TOKENS
from .data import ROLES, ensure_template
from .errors import ConfigError, DataError
from .modeldir import check_model_dir, load_model, load_tokenizer
from .precision import autocast
from .settings import check, setting

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


class PromptTooLong(DataError):
    """The conversation does not fit in the model's context."""


@dataclass
class GenerationSettings:
    max_new_tokens: int = setting(DEFAULT_MAX_TOKENS, ge=1, label="max tokens",
                                  help="Longest reply in tokens.")
    temperature: float = setting(0.0, ge=0, le=5, help="0 = greedy.")
    top_p: float = setting(1.0, gt=0, le=1, help="Sample from the smallest set of tokens "
                                                  "holding this much probability.")
    repetition_penalty: float = setting(1.0, gt=0, le=10, label="repetition penalty",
                                        help="Above 1 discourages repeating tokens.")
    stop: list[str] = setting(default_factory=list, label="stop strings",
                              help="Stop the reply at this string (repeatable).")
    seed: int | None = setting(None, help="Make sampling reproducible.")
    think: bool | None = setting(None, help="Thinking on/off (models with <think> only): "
                                            "passed to the chat template.")
    thinking_budget: int | None = setting(None, ge=0, label="thinking budget",
                                          help="Most thinking tokens, then </think>.")

    def validate(self) -> "GenerationSettings":
        return check(self)


@dataclass
class StreamEvent:
    """One generated token (text may be "" while a character is still incomplete), or the end."""
    text: str = ""
    token_id: int | None = None
    experts: list[int] | None = None   # top-1 expert per layer (MoE only)
    finish_reason: str | None = None   # "stop" or "length" on the last event only


@dataclass
class Reply:
    text: str
    finish_reason: str
    prompt_tokens: int
    tokens: list[str]                  # each generated token's text
    experts: list[list[int]] | None    # per token, top-1 expert per layer (MoE only)

    @property
    def completion_tokens(self) -> int:
        return len(self.tokens)


def check_messages(messages) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise DataError("messages must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise DataError(f"message {i} needs a role in {'/'.join(ROLES)}")
        if not isinstance(m.get("content"), str):
            raise DataError(f"message {i} needs a string 'content'")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _sampler(settings: GenerationSettings) -> Callable[[torch.Tensor, torch.Tensor], int]:
    """next token id from (ids so far [1, n], logits [1, vocab]) under the settings."""
    from transformers.generation import (LogitsProcessorList, RepetitionPenaltyLogitsProcessor,
                                         TemperatureLogitsWarper, TopPLogitsWarper)
    processors = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
    if settings.temperature > 0:
        processors.append(TemperatureLogitsWarper(settings.temperature))
        if settings.top_p < 1.0:
            processors.append(TopPLogitsWarper(settings.top_p))
    # A private generator per request: a seeded request gives the same answer whatever else
    # the server is doing.
    rng = torch.Generator()
    rng.manual_seed(settings.seed if settings.seed is not None else torch.seed())

    def pick(ids: torch.Tensor, logits: torch.Tensor) -> int:
        scores = processors(ids, logits.float())
        if settings.temperature == 0:
            return int(scores.argmax(-1))
        return int(torch.multinomial(scores.softmax(-1), 1, generator=rng))
    return pick


class StopMatcher:
    """Holds back tokens whose text could begin a stop string, so no stop text is ever sent."""

    def __init__(self, stops: list[str]):
        self.stops = stops
        self.pending: list[StreamEvent] = []

    def push(self, event: StreamEvent) -> tuple[list[StreamEvent], bool]:
        """Events now safe to emit, and whether a stop string was found."""
        self.pending.append(event)
        if not self.stops:
            return self.flush(), False
        buf = "".join(e.text for e in self.pending)
        hits = [i for i in (buf.find(s) for s in self.stops) if i >= 0]
        if hits:
            return self._cut(min(hits)), True
        hold = max((n for s in self.stops for n in range(1, len(s))
                    if buf.endswith(s[:n])), default=0)
        return self._cut(len(buf) - hold, keep_rest=True), False

    def _cut(self, at: int, keep_rest: bool = False) -> list[StreamEvent]:
        """Emit the pending events that end before character `at` (trimming the last one when
        a stop string starts inside it)."""
        out, pos = [], 0
        for i, e in enumerate(self.pending):
            if pos + len(e.text) <= at:
                out.append(e)
            elif keep_rest:
                self.pending = self.pending[i:]
                return out
            else:
                if at > pos:
                    out.append(StreamEvent(e.text[:at - pos], e.token_id, e.experts))
                break
            pos += len(e.text)
        self.pending = []
        return out

    def flush(self) -> list[StreamEvent]:
        out, self.pending = self.pending, []
        return out


class ChatModel:
    """A model ready to chat: tokenizer with a template, expert names, context, a lock."""

    def __init__(self, model, tokenizer, name: str = "model", experts: list[str] | None = None,
                 precision: str = "no"):
        self.model = model.eval()
        # The products of every forward: "no" (float32) by default; evaluation asks for "auto"
        # (bf16 where the hardware is fast at it, precision.py).
        self.precision = precision
        self.tokenizer = ensure_template(tokenizer)
        self.name = name
        self.lock = threading.Lock()
        self.context_length = int(getattr(model.config, "max_position_embeddings", 2048))
        self.experts = experts
        if self.experts is None and getattr(model.config, "num_local_experts", None):
            self.experts = [f"expert{i}" for i in range(model.config.num_local_experts)]
        vocab = tokenizer.get_vocab()
        self.think_ids = ((vocab[THINK_OPEN], vocab[THINK_CLOSE])
                          if THINK_OPEN in vocab and THINK_CLOSE in vocab else None)
        eos = model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {i for i in eos + [tokenizer.eos_token_id] if i is not None}

    @classmethod
    def load(cls, model_dir: str | Path, precision: str = "no") -> "ChatModel":
        """A dense model, the base, or an MoE directory (expert names from smolmoe.json)."""
        from .moe_formats import MOE_TYPES
        from .modeldir import read_moe_meta as read_meta
        model_dir = check_model_dir(Path(model_dir))
        model = load_model(model_dir)
        experts = None
        if model.config.model_type in MOE_TYPES:  # names from smolmoe.json, or expert_0...
            experts = [e["name"] for e in read_meta(model_dir)["experts"]]
        return cls(model, load_tokenizer(model_dir), model_dir.name, experts, precision)

    @property
    def is_moe(self) -> bool:
        return self.experts is not None

    @property
    def supports_thinking(self) -> bool:
        return self.think_ids is not None

    @property
    def num_layers(self) -> int:
        return self.model.config.num_hidden_layers

    def encode(self, messages: list[dict], think: bool | None = None) -> list[int]:
        """Token ids of the conversation rendered with the chat template, ready for a reply."""
        messages = check_messages(messages)
        extra = {"enable_thinking": think} if think is not None and self.supports_thinking else {}
        text = self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                  add_generation_prompt=True, **extra)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) >= self.context_length:
            raise PromptTooLong(f"the prompt is {len(ids)} tokens; the model's context is "
                                f"{self.context_length} tokens")
        return ids

    def stream(self, messages: list[dict], settings: GenerationSettings | None = None,
               cancelled: Callable[[], bool] = lambda: False) -> Iterator[StreamEvent]:
        settings = (settings or GenerationSettings()).validate()
        return self.stream_ids(self.encode(messages, settings.think), settings, cancelled)

    def stream_ids(self, prompt_ids: list[int], settings: GenerationSettings,
                   cancelled: Callable[[], bool] = lambda: False) -> Iterator[StreamEvent]:
        with self.lock:
            yield from self._decode(prompt_ids, settings, cancelled)

    def _routing(self):
        from contextlib import nullcontext
        from .hooks import capture_routing
        return capture_routing(self.model) if self.is_moe else nullcontext(None)

    def _decode(self, prompt_ids, settings, cancelled) -> Iterator[StreamEvent]:
        pick = _sampler(settings)
        stops = StopMatcher(settings.stop)
        budget = settings.max_new_tokens
        budget = min(budget, self.context_length - len(prompt_ids))
        ids = torch.tensor([prompt_ids])
        new: list[int] = []
        text, cache, feed = "", None, ids
        thinking = 0 if settings.think and self.think_ids else None  # tokens since <think>
        finish, stopped = "length", False
        with self._routing() as record:
            while len(new) < budget and not cancelled():
                # Grad mode is per thread and this generator may resume on another thread,
                # so each forward gets its own no_grad.
                with torch.no_grad(), autocast(self.precision, self.model.device):
                    # `cache`, not the deprecated `past_key_values` (a FutureWarning in chat).
                    out = self.model(input_ids=feed, cache=cache, use_cache=True)
                cache = out.cache
                experts = None
                if record is not None:
                    # The routing of the position that chose this token (as `inspect` reports).
                    experts = [int(record.logits[l][-1][-1].argmax()) for l in sorted(record.logits)]
                    record.clear()
                token = pick(ids, out.logits[:, -1, :])
                if thinking is not None:
                    token, thinking = self._think_budget(token, thinking, settings.thinking_budget)
                if token in self.eos_ids:
                    finish = "stop"
                    break
                new.append(token)
                ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
                feed = ids[:, -1:]
                full = self.tokenizer.decode(new, skip_special_tokens=True,
                                             clean_up_tokenization_spaces=False)
                # A byte-level token may end mid-character: wait for the rest of it.
                delta = "" if full.endswith("\ufffd") else full[len(text):]
                text += delta
                ready, stopped = stops.push(StreamEvent(delta, token, experts))
                yield from ready
                if stopped:
                    finish = "stop"
                    break
        if not stopped:
            yield from stops.flush()
        yield StreamEvent(finish_reason=finish)

    def _think_budget(self, token: int, thinking: int, budget: int | None) -> tuple[int, int | None]:
        """Count thinking tokens; past the budget, close the thought ourselves."""
        open_id, close_id = self.think_ids
        if token == close_id:
            return token, None                 # the model closed its thought: stop counting
        if budget is not None and thinking >= budget:
            return close_id, None
        return token, thinking + (token != open_id)

    def reply_batch(self, conversations: list[list[dict]], max_new_tokens: int | list[int],
                    batch_size: int = 8) -> list[Reply]:
        """Greedy replies to many conversations, `batch_size` at a time (for evaluation);
        max_new_tokens is one limit for all or one per conversation.

        The batch entry point of the same engine: the chat template and end-of-turn ids of
        `encode`/`stream`, greedy as `stream` at temperature 0. Prompts are left-padded so every
        row's next token sits in the last column: one forward per step serves the whole batch,
        and rows that have finished leave the batch (and the KV cache) at once. Prompts are
        grouped by token limit, then length, so a batch's rows stop at about the same step and
        little padding is computed. Replies come back in input order.
        """
        prompts = [self.encode(m) for m in conversations]
        limits = (list(max_new_tokens) if isinstance(max_new_tokens, (list, tuple))
                  else [max_new_tokens] * len(prompts))
        if len(limits) != len(prompts) or min(limits, default=1) < 1:
            raise ConfigError("max_new_tokens needs one value >= 1 per conversation")
        order = sorted(range(len(prompts)), key=lambda i: (limits[i], len(prompts[i])))
        replies: list[Reply | None] = [None] * len(prompts)
        with self.lock:
            for start in range(0, len(order), max(1, batch_size)):
                chunk = order[start:start + max(1, batch_size)]
                for i, reply in zip(chunk, self._decode_batch([prompts[i] for i in chunk],
                                                              [limits[i] for i in chunk])):
                    replies[i] = reply
        return replies

    @torch.no_grad()
    def _decode_batch(self, prompts: list[list[int]], limits: list[int]) -> list[Reply]:
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else min(self.eos_ids)
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        # Positions count real tokens only, so a left-padded row sees the positions it would
        # see alone (and gives the same tokens as `stream`).
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        limits = [min(n, self.context_length - len(p)) for n, p in zip(limits, prompts)]
        new: list[list[int]] = [[] for _ in prompts]
        finish = ["length"] * len(prompts)
        live = list(range(len(prompts)))   # rows still generating, in cache order
        cache, feed = None, ids
        for _ in range(max(limits)):
            with autocast(self.precision, self.model.device):
                out = self.model(input_ids=feed, attention_mask=mask, position_ids=positions,
                                 cache=cache, use_cache=True)
            cache = out.cache
            tokens = out.logits[:, -1, :].float().argmax(-1)
            keep = []
            for row, (i, token) in enumerate(zip(live, tokens.tolist())):
                if token in self.eos_ids:
                    finish[i] = "stop"
                    continue
                new[i].append(token)
                if len(new[i]) < limits[i]:
                    keep.append(row)
            if not keep:
                break
            if len(keep) < len(live):
                index = torch.tensor(keep)
                cache.batch_select_indices(index)
                tokens, mask, positions = tokens[index], mask[index], positions[index]
                live = [live[r] for r in keep]
            feed = tokens[:, None]
            mask = torch.cat([mask, torch.ones(len(live), 1, dtype=mask.dtype)], dim=1)
            positions = positions[:, -1:] + 1
        # A character left incomplete at the end is dropped, as `stream` never sends it.
        texts = [self.tokenizer.decode(t, skip_special_tokens=True,
                                       clean_up_tokenization_spaces=False).rstrip("\ufffd")
                 for t in new]
        return [Reply(text, f, len(p), [self.tokenizer.decode([x]) for x in t], None)
                for text, t, f, p in zip(texts, new, finish, prompts)]

    def reply(self, messages: list[dict], settings: GenerationSettings | None = None) -> Reply:
        """The whole answer at once (the same loop as streaming)."""
        settings = (settings or GenerationSettings()).validate()
        prompt = self.encode(messages, settings.think)
        return collect(self.stream_ids(prompt, settings), len(prompt))


def collect(events: Iterator[StreamEvent], prompt_tokens: int) -> Reply:
    tokens, experts, finish = [], [], "length"
    for e in events:
        if e.finish_reason:
            finish = e.finish_reason
            continue
        tokens.append(e.text)
        experts.append(e.experts)
    has_routing = bool(experts) and experts[0] is not None
    return Reply("".join(tokens), finish, prompt_tokens, tokens,
                 experts if has_routing else None)


def expert_summary(experts_per_token: list[list[int]], names: list[str]) -> list[tuple[str, float]]:
    """Share of (token, layer) top-1 choices per expert, most used first."""
    counts = [0] * len(names)
    for per_layer in experts_per_token:
        for e in per_layer:
            counts[e] += 1
    total = max(1, sum(counts))
    return sorted(((n, c / total) for n, c in zip(names, counts) if c), key=lambda x: -x[1])


def answer(model_dir: str | Path, prompt: str, max_new_tokens: int = 64) -> str:
    """Greedy answer to one user prompt, through the same decode loop as chat and serve."""
    chat = ChatModel.load(model_dir)
    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    return collect(chat.stream([{"role": "user", "content": prompt}], settings), 0).text.strip()
