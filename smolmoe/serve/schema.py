"""Request and response bodies of the OpenAI chat API (the subset we serve), plus our extras.

Our extra request fields (`repetition_penalty`, `think`, `thinking_budget`) arrive through the
openai client's `extra_body`; our extra response field `smolmoe` carries routing: per token,
the top-1 expert of each layer. Unknown OpenAI fields are ignored, as OpenAI-compatible
servers usually do.
"""
from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, Field

from ..generate import GenerationSettings, Reply, StreamEvent


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart]

    def plain(self) -> dict:
        content = self.content if isinstance(self.content, str) else "".join(
            p.text for p in self.content)
        return {"role": self.role, "content": content}


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.9, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(1, ge=1, le=1)          # one choice per request
    repetition_penalty: float = Field(1.1, gt=0, le=10)
    think: bool | None = None
    thinking_budget: int | None = Field(None, ge=0)

    def settings(self, default_max_tokens: int) -> GenerationSettings:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return GenerationSettings(
            max_new_tokens=self.max_completion_tokens or self.max_tokens or default_max_tokens,
            temperature=self.temperature, top_p=self.top_p,
            repetition_penalty=self.repetition_penalty, stop=[s for s in stop if s],
            seed=self.seed, think=self.think, thinking_budget=self.thinking_budget)


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
