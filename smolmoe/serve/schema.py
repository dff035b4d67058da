"""Request and response bodies of the OpenAI chat API (the subset we serve), plus our extras.

Our extra request fields (`repetition_penalty`, `top_k`, `think`, `thinking_budget`) arrive through the
openai client's `extra_body`; our extra response field `smolmoe` carries routing: per token,
the top-1 expert of each layer. Unknown fields are ignored, as OpenAI-compatible servers
usually do, except those that change what the reply must be (tools, structured output,
logprobs, image parts): we cannot honour them, so `unsupported` names them for a 400.
"""
from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from ..core.config import CHAT_SAMPLING
from ..core.errors import SmolMoEError
from ..core.settings import bounds, check_text
from ..inference.generate import GenerationSettings, Reply, StreamEvent, check_stops

# Most messages in one request (the body size and the prompt's token limit bound the rest).
MAX_MESSAGES = 1024


def _unicode(text: str) -> str:
    try:
        return check_text(text, "the text")
    except SmolMoEError as e:
        raise ValueError(str(e)) from None


# A string that must be valid Unicode (JSON allows lone surrogates such as "\\ud800").
Text = Annotated[str, AfterValidator(_unicode)]


def _like(name: str, default):
    """A request field with GenerationSettings' bounds for `name` (settings.py: one declaration)."""
    return Field(default, **bounds(GenerationSettings, name))


def sampling_fields() -> dict:
    """The web page's sampling inputs: each one's bounds and default, from the same
    declarations as the API's request fields (a page cannot offer what the API refuses)."""
    return {name: {**bounds(GenerationSettings, name), "default": CHAT_SAMPLING[name]}
            for name in ("temperature", "top_p")}


class ContentPart(BaseModel):
    """Any part is accepted here so that `unsupported` can refuse images by name."""
    model_config = ConfigDict(extra="allow")
    type: Text
    text: Text | None = None


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: Text | list[ContentPart] = Field(union_mode="left_to_right")

    def plain(self) -> dict:
        content = self.content if isinstance(self.content, str) else "".join(
            p.text or "" for p in self.content)
        return {"role": self.role, "content": content}


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model: Text
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = _like("max_new_tokens", None)
    max_completion_tokens: int | None = _like("max_new_tokens", None)
    temperature: float = _like("temperature", CHAT_SAMPLING["temperature"])
    top_p: float = _like("top_p", CHAT_SAMPLING["top_p"])
    stop: Text | list[Text] | None = Field(None, union_mode="left_to_right")
    seed: int | None = _like("seed", None)
    n: int = Field(1, ge=1, le=1)          # one choice per request
    repetition_penalty: float = _like("repetition_penalty", CHAT_SAMPLING["repetition_penalty"])
    think: bool | None = None
    thinking_budget: int | None = _like("thinking_budget", None)
    top_k: int = _like("top_k", 0)            # 0: off
    # OpenAI features this server cannot honour: refused by `unsupported`, never ignored.
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    response_format: dict | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None

    @field_validator("stop")
    @classmethod
    def _bounded_stops(cls, stop):
        try:
            check_stops([stop] if isinstance(stop, str) else stop or [])
        except SmolMoEError as e:
            raise ValueError(str(e)) from None
        return stop

    def settings(self, default_max_tokens: int) -> GenerationSettings:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return GenerationSettings(
            max_new_tokens=self.max_completion_tokens or self.max_tokens or default_max_tokens,
            temperature=self.temperature, top_p=self.top_p,
            repetition_penalty=self.repetition_penalty, stop=[s for s in stop if s],
            seed=self.seed, think=self.think, thinking_budget=self.thinking_budget,
            top_k=self.top_k)


def unsupported(request: ChatRequest) -> tuple[str, str] | None:
    """(message, param) for the first requested feature this server cannot honour, or None."""
    if request.tools or request.functions:
        param = "tools" if request.tools else "functions"
        return f"{param} are not supported: this model has no tool calling", param
    for param in ("tool_choice", "function_call"):
        if getattr(request, param) not in (None, "none"):
            return f"{param} is not supported: this model has no tool calling", param
    kind = (request.response_format or {}).get("type", "text")
    if kind != "text":
        return (f"response_format {kind!r} is not supported: replies are plain text "
                f"(only {{'type': 'text'}} is accepted)", "response_format")
    if request.logprobs or request.top_logprobs:
        param = "logprobs" if request.logprobs else "top_logprobs"
        return f"{param} is not supported by this server", param
    for i, m in enumerate(request.messages):
        for j, part in enumerate(m.content if isinstance(m.content, list) else []):
            where = f"messages.{i}.content.{j}"
            if part.type != "text":
                return (f"{where}: {part.type!r} parts are not supported: this model reads "
                        f"text only", where)
            if part.text is None:
                return f"{where}: a text part needs 'text'", where
    return None


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


class ChunkWriter:
    """The `chat.completion.chunk` bodies of one streamed reply (all share one id)."""

    def __init__(self, model: str):
        self.id, self.model, self.created = new_id(), model, int(time.time())

    def _chunk(self, delta: dict, finish_reason: str | None = None, **extra) -> dict:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish_reason}], **extra}

    def first(self) -> dict:
        return self._chunk({"role": "assistant", "content": ""})

    def event(self, e: StreamEvent) -> dict:
        if e.finish_reason:
            return self._chunk({}, e.finish_reason)
        extra = {"smolmoe": {"token": e.token_id, "experts": e.experts}} if e.experts else {}
        return self._chunk({"content": e.text}, **extra)

    def usage(self, prompt_tokens: int, completion_tokens: int) -> dict:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [], "usage": usage(prompt_tokens, completion_tokens)}


def completion(model: str, reply: Reply) -> dict:
    body = {"id": new_id(), "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                         "logprobs": None, "finish_reason": reply.finish_reason}],
            "usage": usage(reply.prompt_tokens, reply.completion_tokens)}
    if reply.experts is not None:
        body["smolmoe"] = {"tokens": reply.tokens, "experts": reply.experts}
    return body
