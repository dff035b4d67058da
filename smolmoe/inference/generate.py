"""Chat generation with the model's own chat template: streaming, per-token routing, stops.

`ChatModel` holds a loaded model, its tokenizer and (for an MoE) its expert names. Its
`stream(messages, settings)` decodes with the engine (engine.py, the one decode loop) and
yields one `StreamEvent` per generated token: the text that token added and, for an MoE, each
layer's top-1 expert for it; the last event carries the finish reason. `TextStream` turns a
sequence's tokens into those events (text deltas, stop strings), for `stream` and for the
server's continuous batch alike; `reply_batch` decodes many conversations at once.

Generation holds the model's lock, so callers in different threads never interleave forward
passes; routing comes back as outputs of the engine's forward (router_outputs.py).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator


from ..core.config import DECODE_SLOTS, DEFAULT_MAX_TOKENS
from ..core.errors import ConfigError, DataError
from ..core.modeldir import check_model_dir, expert_count, load_tokenizer
from ..core.settings import check, setting
from ..data.records import check_messages, ensure_template, render_chat
from ..moe.meta import placeholder_names
from .engine import THINK_CLOSE, THINK_OPEN, Engine, Sequence, TokenRules  # noqa: F401


# Stop strings are bounded so that one request cannot make the stop search expensive (it is
# linear in the text anyway: StopMatcher); OpenAI allows 4.
MAX_STOPS, MAX_STOP_CHARS = 4, 256


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
    top_k: int = setting(0, ge=0, label="top k", help="Sample among the k likeliest tokens (0: all).")

    def validate(self) -> "GenerationSettings":
        check_stops(self.stop)
        return check(self)


def check_stops(stops) -> None:
    """At most MAX_STOPS stop strings of at most MAX_STOP_CHARS characters each."""
    if len(stops) > MAX_STOPS:
        raise ConfigError(f"at most {MAX_STOPS} stop strings are allowed, got {len(stops)}")
    for s in stops:
        if isinstance(s, str) and len(s) > MAX_STOP_CHARS:
            raise ConfigError(f"a stop string may be at most {MAX_STOP_CHARS} characters, got "
                              f"{len(s)}")


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


class StopMatcher:
    """Holds back tokens whose text could begin a stop string, so no stop text is ever sent.

    Each stop string has a KMP automaton whose state is the longest prefix of it that the text
    so far ends with; each new character advances every state in amortised constant time, so
    matching costs time linear in the text (a naive search per token costs len(stop)^2)."""

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.fail = [_failure(s) for s in self.stops]
        self.state = [0] * len(self.stops)
        self.pending: list[StreamEvent] = []
        self.held = 0            # characters in `pending`

    def push(self, event: StreamEvent) -> tuple[list[StreamEvent], bool]:
        """Events now safe to emit, and whether a stop string was found."""
        self.pending.append(event)
        if not self.stops:
            return self.flush(), False
        start = None             # where (in the pending text) the earliest stop found begins
        for c in event.text:
            self.held += 1
            for i, stop in enumerate(self.stops):
                k, fail = self.state[i], self.fail[i]
                while k and stop[k] != c:
                    k = fail[k - 1]
                k += stop[k] == c
                if k == len(stop):
                    at = self.held - k
                    start = at if start is None else min(start, at)
                    k = fail[k - 1]
                self.state[i] = k
        if start is not None:
            return self._cut(start), True
        return self._cut(self.held - max(self.state), keep_rest=True), False

    def _cut(self, at: int, keep_rest: bool = False) -> list[StreamEvent]:
        """Emit the pending events that end before character `at` (trimming the last one when
        a stop string starts inside it)."""
        out, pos = [], 0
        for i, e in enumerate(self.pending):
            if pos + len(e.text) <= at:
                out.append(e)
            elif keep_rest:
                self.pending = self.pending[i:]
                self.held -= pos
                return out
            else:
                if at > pos:
                    out.append(StreamEvent(e.text[:at - pos], e.token_id, e.experts))
                break
            pos += len(e.text)
        self.pending, self.held = [], 0
        return out

    def flush(self) -> list[StreamEvent]:
        out, self.pending, self.held = self.pending, [], 0
        return out


def _failure(s: str) -> list[int]:
    """KMP's failure function: f[i] = the longest proper prefix of s[:i+1] that ends it."""
    f, k = [0] * len(s), 0
    for i in range(1, len(s)):
        while k and s[i] != s[k]:
            k = f[k - 1]
        k += s[i] == s[k]
        f[i] = k
    return f


class TextStream:
    """A sequence's tokens as `StreamEvent`s: the text each token adds (a byte-level token
    that ends mid-character waits for the rest), stop strings held back and cut, the end."""

    def __init__(self, tokenizer, stops: list[str]):
        self.tokenizer, self.stops = tokenizer, StopMatcher(stops)
        self.text = ""

    def push(self, seq: Sequence, token: int | None) -> list[StreamEvent]:
        """Events for the step that gave `seq` this token (None: it ended without one); a
        stop string found here stops `seq`, which leaves the engine at its next step."""
        out = []
        if token is not None:
            full = self.tokenizer.decode(seq.tokens, skip_special_tokens=True,
                                         clean_up_tokenization_spaces=False)
            delta = "" if full.endswith("\ufffd") else full[len(self.text):]
            self.text += delta
            experts = seq.router_logits[-1].argmax(-1).tolist() if seq.router_logits else None
            out, stopped = self.stops.push(StreamEvent(delta, token, experts))
            if stopped:
                seq.stop()
                return out + [StreamEvent(finish_reason="stop")]
        if seq.finish is None:
            return out
        return out + self.stops.flush() + [StreamEvent(
            finish_reason="stop" if seq.finish == "stop" else "length")]


def prompt_ids(tokenizer, messages: list[dict], think: bool | None = None) -> list[int]:
    """The conversation rendered with the chat template and tokenized, ready for a reply;
    `think` sets the template's thinking mode (None: the template's default)."""
    extra = {} if think is None else {"enable_thinking": think}
    text = render_chat(tokenizer, messages, add_generation_prompt=True, **extra)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


class ChatModel:
    """A model ready to chat: tokenizer with a template, expert names, context, a lock."""

    def __init__(self, model, tokenizer, name: str = "model", experts: list[str] | None = None):
        self.model = model.eval()
        self.tokenizer = ensure_template(tokenizer)
        self.name = name
        self.lock = threading.Lock()
        self.rules = TokenRules.of(model, self.tokenizer)
        self.context_length = self.rules.context_length
        self.experts = experts
        if self.experts is None and expert_count(model.config):
            self.experts = placeholder_names(expert_count(model.config))

    @classmethod
    def load(cls, model_dir: str | Path, dtype: str = "float32") -> "ChatModel":
        """A dense model, the base, or an MoE directory (expert names from smolmoe.json), its
        weights in `dtype` (precision.DTYPES; 'auto': bf16 where the hardware is fast at it;
        'int8': weight-only int8 on a CPU)."""
        from ..moe.formats import MOE_TYPES
        from ..moe.meta import read_moe_meta
        from .quant import load_for_decoding
        model_dir = check_model_dir(Path(model_dir))
        model = load_for_decoding(model_dir, dtype)   # bf16 packed, or int8 (quant.py)
        experts = None
        if model.config.model_type in MOE_TYPES:  # names from smolmoe.json, or expert_0...
            experts = read_moe_meta(model_dir).names
        return cls(model, load_tokenizer(model_dir), model_dir.name, experts)

    @property
    def is_moe(self) -> bool:
        return self.experts is not None

    @property
    def think_ids(self) -> tuple[int, int] | None:
        return self.rules.think_ids

    @property
    def supports_thinking(self) -> bool:
        return self.think_ids is not None

    @property
    def num_layers(self) -> int:
        return self.model.config.num_hidden_layers

    def encode(self, messages: list[dict], think: bool | None = None) -> list[int]:
        """Token ids of the conversation rendered with the chat template, ready for a reply."""
        ids = prompt_ids(self.tokenizer, check_messages(messages),
                         think if self.supports_thinking else None)
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

    def engine(self, slots: int = DECODE_SLOTS) -> Engine:
        """A batch decoder over this model (callers step it under `self.lock`)."""
        return Engine(self.model, self.rules, slots)

    def _decode(self, prompt_ids, settings, cancelled) -> Iterator[StreamEvent]:
        engine = self.engine(slots=1)
        engine.add(prompt_ids, settings, routing=self.is_moe, cancelled=cancelled)
        text = TextStream(self.tokenizer, settings.stop)
        while engine.busy:
            # Grad mode is per thread and this generator may resume on another thread: the
            # engine takes no_grad around each forward itself.
            for s, token in engine.step():
                yield from text.push(s, token)

    def reply_batch(self, conversations: list[list[dict]], max_new_tokens: int | list[int],
                    batch_size: int = 8) -> list[Reply]:
        """Greedy replies to many conversations, `batch_size` decoding at a time (for
        evaluation); max_new_tokens is one limit for all or one per conversation.

        The engine's continuous batching with the chat template and end-of-turn ids of
        `encode`/`stream`: a row that finishes hands its slot to the next conversation at once.
        Conversations enter by token limit, then length, so rows decoding together stop at
        about the same step and little padding is computed. Replies come back in input order.
        """
        prompts = [self.encode(m) for m in conversations]
        limits = (list(max_new_tokens) if isinstance(max_new_tokens, (list, tuple))
                  else [max_new_tokens] * len(prompts))
        if len(limits) != len(prompts) or min(limits, default=1) < 1:
            raise ConfigError("max_new_tokens needs one value >= 1 per conversation")
        order = sorted(range(len(prompts)), key=lambda i: (limits[i], len(prompts[i])))
        engine = self.engine(slots=max(1, batch_size))
        seqs = {i: engine.add(prompts[i], GenerationSettings(max_new_tokens=limits[i])) for i in order}
        with self.lock:
            engine.run()
        replies = []
        for i in range(len(prompts)):
            tokens = seqs[i].tokens
            # A character left incomplete at the end is dropped, as `stream` never sends it.
            text = self.tokenizer.decode(tokens, skip_special_tokens=True,
                                         clean_up_tokenization_spaces=False).rstrip("\ufffd")
            replies.append(Reply(text, "stop" if seqs[i].finish == "stop" else "length",
                                 len(prompts[i]), [self.tokenizer.decode([x]) for x in tokens],
                                 None))
        return replies

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
