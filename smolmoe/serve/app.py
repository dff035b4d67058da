"""The HTTP app: OpenAI-compatible `/v1/chat/completions` and `/v1/models`, `/api/info` for
the web page, and the page itself from `static/`.

Every refusal is a 4xx with OpenAI's JSON error body, decided before the first byte of a
stream is sent: body too large (413), malformed or out-of-range fields (400), unknown model
(404), features we cannot honour (tools, structured output, logprobs, images: 400), prompt
longer than the context or max_tokens over the server's limit (400), too many requests
waiting (503).
"""
from __future__ import annotations

import contextlib
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..config import DEFAULT_MAX_TOKENS
from ..errors import SmolMoEError
from ..generate import ChatModel, PromptTooLong, collect
from ..palette import EXPERT_COLOURS
from .schema import (ChatRequest, ChunkWriter, completion, error_body, sampling_fields,
                     unsupported)
from .worker import GenerationWorker

STATIC = Path(__file__).parent / "static"


@dataclass
class ServerLimits:
    max_body_bytes: int = 1 << 20       # a request body larger than this is refused (413)
    max_tokens: int = 1024              # the most tokens one reply may ask for
    default_max_tokens: int = DEFAULT_MAX_TOKENS  # when the request does not say
    max_prompt_tokens: int | None = None  # default: the model's context - 1
    max_waiting: int = 64               # requests decoding or queued (503 beyond)
    slots: int = 8                      # requests decoded together in one batch


def _error(status: int, message: str, **kw) -> JSONResponse:
    return JSONResponse(error_body(message, **kw), status_code=status)


class BodyLimit:
    """ASGI middleware: refuse a request body over `max_bytes` (413) before the app sees it,
    whether or not the client sent a Content-Length."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        too_large = _error(413, f"request body is larger than {self.max_bytes} bytes",
                           code="body_too_large")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await too_large(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await too_large(scope, receive, send)
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()   # later calls wait for the disconnect
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await self.app(scope, replay, send)


def create_app(chat: ChatModel, limits: ServerLimits | None = None) -> FastAPI:
    limits = limits or ServerLimits()
    max_prompt = min(limits.max_prompt_tokens or chat.context_length - 1, chat.context_length - 1)
    worker = GenerationWorker(chat, limits.max_waiting, limits.slots)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        worker.close()

    app = FastAPI(title="smolmoe", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.state.worker = worker
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        if not where:   # the body as a whole: not JSON, or not an object
            return _error(400, f"the request body must be a JSON object ({first.get('msg')})")
        return _error(400, f"{where}: {first.get('msg')}", param=where)

    @app.exception_handler(HTTPException)
    async def http_error(_request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail), type_="not_found_error"
                      if exc.status_code == 404 else "invalid_request_error")

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": chat.name, "object": "model",
                                            "created": created, "owned_by": "smolmoe"}]}

    @app.get("/api/info")
    def info():
        return {"model": chat.name, "experts": chat.experts, "layers": chat.num_layers,
                "thinking": chat.supports_thinking, "context_length": chat.context_length,
                "max_tokens": limits.max_tokens, "default_max_tokens": limits.default_max_tokens,
                "slots": limits.slots, "sampling": sampling_fields(),
                "palette": EXPERT_COLOURS}

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatRequest):
        if body.model != chat.name:
            return _error(404, f"model '{body.model}' is not served here; this server serves "
                               f"'{chat.name}'", type_="not_found_error", param="model",
                          code="model_not_found")
        refused = unsupported(body)
        if refused:
            message, param = refused
            return _error(400, message, param=param, code="unsupported_parameter")
        settings = body.settings(limits.default_max_tokens)
        if settings.max_new_tokens > limits.max_tokens:
            return _error(400, f"max_tokens is {settings.max_new_tokens}; this server allows at "
                               f"most {limits.max_tokens}", param="max_tokens")
        try:
            settings.validate()
            prompt = await run_in_threadpool(chat.encode, [m.plain() for m in body.messages],
                                             settings.think)
        except PromptTooLong as e:
            return _error(400, str(e), param="messages", code="context_length_exceeded")
        except SmolMoEError as e:
            return _error(400, str(e))
        if len(prompt) > max_prompt:
            return _error(400, f"the prompt is {len(prompt)} tokens; this server accepts at most "
                               f"{max_prompt}", param="messages", code="context_length_exceeded")
        if worker.waiting >= worker.max_waiting:
            return _error(503, f"{worker.waiting} requests are already waiting; try again later",
                          type_="server_busy")
        events = worker.events(prompt, settings)
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(_sse(events, ChunkWriter(chat.name), len(prompt),
                                          include_usage), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        return completion(chat.name, await _collect(events, len(prompt)))

    @app.get("/")
    def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _collect(events, prompt_tokens: int):
    got = [e async for e in events]
    return collect(iter(got), prompt_tokens)


async def _sse(events, writer: ChunkWriter, prompt_tokens: int, include_usage: bool):
    def line(obj) -> str:
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
    yield line(writer.first())
    n = 0
    try:
        async for event in events:
            n += event.token_id is not None
            yield line(writer.event(event))
    except Exception as e:   # the stream has started: report the failure inside it
        yield line(error_body(f"generation failed: {type(e).__name__}: {e}", type_="server_error"))
    if include_usage:
        yield line(writer.usage(prompt_tokens, n))
    yield "data: [DONE]\n\n"


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    import ipaddress
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:   # a host name: assume it is reachable from elsewhere
        return False


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise SmolMoEError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def serve(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000,
          limits: ServerLimits | None = None, on_ready=None, dtype: str = "float32") -> None:
    """Load the model and serve it until interrupted."""
    import uvicorn
    check_port_free(host, port)
    chat = ChatModel.load(model_dir, dtype=dtype)
    app = create_app(chat, limits)
    if on_ready:
        on_ready(chat, f"http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
