"""The HTTP app: OpenAI-compatible `/v1/chat/completions` and `/v1/models`, `/api/info` for
the web page, and the page itself from `static/`.

Every refusal is a 4xx with OpenAI's JSON error body, decided before the first byte of a
stream is sent: body too large (413), malformed or out-of-range fields (400), unknown model
(404), features we cannot honour (tools, structured output, logprobs, images: 400), prompt
longer than the context or max_tokens over the server's limit (400), too many requests
waiting (503); with an API key, a missing or wrong bearer token (401). Anything unexpected is
a 500 with the same JSON body, never plain text. A client that leaves frees its slot at the
next step, streamed or not; on SIGTERM every in-flight client is told the server stops (503,
or an error chunk in a stream) and the process ends within a few seconds.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..core.config import ServerLimits
from ..core.errors import SmolMoEError
from ..core.palette import EXPERT_COLOURS
from ..inference.generate import ChatModel, PromptTooLong, collect
from .schema import (ChatRequest, ChunkWriter, completion, error_body, sampling_fields,
                     unsupported)
from .worker import GenerationWorker, ServerShutdown

log = logging.getLogger("smolmoe")
# After SIGTERM, how long uvicorn waits for connections before closing them (the worker has
# already ended every request, so they finish at once).
GRACEFUL_SHUTDOWN_S = 2
# Routes open without the API key: the page and its files (the page asks for the key).
PUBLIC = ("/", "/static/", "/favicon.ico")

STATIC = Path(__file__).parent / "static"


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


class BearerAuth:
    """ASGI middleware: every API route needs `Authorization: Bearer KEY` (compared in constant
    time); otherwise a 401 with OpenAI's error body, before the body is read."""

    def __init__(self, app, api_key: str):
        self.app, self.key = app, api_key.encode()

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/" or path.startswith(PUBLIC[1:]):
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key):
            return await self.app(scope, receive, send)
        message = ("Incorrect API key provided." if given else
                   "You didn't provide an API key. You need to provide your API key in an "
                   "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
        response = JSONResponse(error_body(message, code="invalid_api_key"), status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return await response(scope, receive, send)


def _where(loc) -> str:
    """A pydantic error location as the request parameter it names (messages.0.content)."""
    tags = {"str", "int", "float", "bool", "list", "dict", "none"}
    return ".".join(str(p) for p in loc if p != "body" and not (
        isinstance(p, str) and ("[" in p or p in tags)))


def create_app(chat: ChatModel, limits: ServerLimits | None = None,
               api_key: str | None = None) -> FastAPI:
    limits = limits or ServerLimits()
    max_prompt = min(limits.max_prompt_tokens or chat.context_length - 1, chat.context_length - 1)
    worker = GenerationWorker(chat, limits.max_waiting, limits.slots)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        worker.close()

    app = FastAPI(title="smolmoe", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    if api_key:
        app.add_middleware(BearerAuth, api_key=api_key)   # added last: runs first
    app.state.worker = worker
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        # Of a union's errors, the deepest names what is wrong (messages.0.content.0.text).
        first = max(exc.errors(), key=lambda e: len(_where(e.get("loc", ())).split(".")))
        where = _where(first.get("loc", ()))
        msg = str(first.get("msg", "")).removeprefix("Value error, ")
        if not where:   # the body as a whole: not JSON, or not an object
            return _error(400, f"the request body must be a JSON object ({msg})")
        return _error(400, f"{where}: {msg}", param=where)

    @app.exception_handler(ServerShutdown)
    async def stopping(_request, exc: ServerShutdown):
        return _error(503, str(exc), type_="server_error", code="server_shutdown")

    @app.exception_handler(Exception)
    async def unexpected(_request, exc: Exception):
        log.error("request failed: %s: %s", type(exc).__name__, exc)
        return _error(500, f"the server failed: {type(exc).__name__}", type_="server_error")

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
    async def chat_completions(body: ChatRequest, request: Request):
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
        reply = await _collect_unless_gone(request, events, len(prompt))
        if reply is None:   # nobody to answer; 499 is what proxies log for it
            return _error(499, "the client closed the request")
        return completion(chat.name, reply)

    @app.get("/")
    def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _collect(events, prompt_tokens: int):
    got = [e async for e in events]
    return collect(iter(got), prompt_tokens)


async def _collect_unless_gone(request: Request, events, prompt_tokens: int):
    """The whole reply, or None as soon as the client disconnects: the collection is then
    cancelled, which cancels the sequence, so it leaves the batch at the next step."""
    async def gone():
        while (await request.receive())["type"] != "http.disconnect":
            pass
    reply, watch = asyncio.ensure_future(_collect(events, prompt_tokens)), asyncio.ensure_future(gone())
    try:
        await asyncio.wait({reply, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reply, watch):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if reply.cancelled():
        return None
    return reply.result()


async def _sse(events, writer: ChunkWriter, prompt_tokens: int, include_usage: bool):
    def line(obj) -> str:
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
    yield line(writer.first())
    n = 0
    try:
        async for event in events:
            n += event.token_id is not None
            yield line(writer.event(event))
    except ServerShutdown as e:   # SIGTERM: tell the client before the connection closes
        yield line(error_body(str(e), type_="server_error", code="server_shutdown"))
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


def check_api_key(key: str | None) -> str | None:
    """An API key from --api-key or SMOLMOE_API_KEY: None when not given; refused when empty,
    with spaces or control characters (it must fit in one header), or not ASCII."""
    if key is None:
        return None
    if not key or not key.isascii() or not key.isprintable() or " " in key:
        raise SmolMoEError("--api-key (or SMOLMOE_API_KEY) must be non-empty printable ASCII "
                           "without spaces")
    return key


def check_exposure(host: str, api_key: str | None, insecure: bool) -> None:
    """Refuse to listen beyond loopback without an API key, unless told --insecure."""
    if not is_loopback(host) and not api_key and not insecure:
        raise SmolMoEError(f"--host {host} is reachable from other machines: give --api-key (or "
                           f"SMOLMOE_API_KEY), or pass --insecure to serve without authentication")


def uvicorn_server(app, host: str, port: int):
    """A uvicorn server whose SIGTERM/SIGINT first ends every in-flight request (each client is
    told), then stops within GRACEFUL_SHUTDOWN_S."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            app.state.worker.shutdown("the server is shutting down")
            super().handle_exit(sig, frame)

    return Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                 timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S))


def serve(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000,
          limits: ServerLimits | None = None, on_ready=None, dtype: str = "float32",
          api_key: str | None = None, insecure: bool = False) -> None:
    """Load the model and serve it until interrupted (SIGINT/SIGTERM)."""
    check_exposure(host, api_key, insecure)
    check_port_free(host, port)
    chat = ChatModel.load(model_dir, dtype=dtype)
    app = create_app(chat, limits, api_key=api_key)
    if on_ready:
        on_ready(chat, f"http://{host}:{port}")
    uvicorn_server(app, host, port).run()
