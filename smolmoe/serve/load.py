"""Load on a running server: aggregate tokens/s with N concurrent clients (for the bench).

`serve_load` starts the app in this process on a free loopback port, sends the same greedy
requests once from one client (one request at a time) and once from `clients` concurrent
clients, and reports both, so the continuous batching gain is a ratio measured in one run.
"""
from __future__ import annotations

import contextlib
import json
import statistics
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from ..core.config import ServerLimits

DEFAULT_PROMPTS = ("Explain how a rainbow forms.", "Write a short poem about the sea.",
                   "What is a prime number?", "Give three tips for learning to cook.",
                   "Describe the water cycle.", "Why is the sky blue?",
                   "Summarise the plot of a heist story.", "How does a bicycle stay upright?")


@contextlib.contextmanager
def running_server(app, timeout: float = 20) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free loopback port in a background thread."""
    import uvicorn
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def _ask(url: str, model: str, prompt: str, max_tokens: int) -> tuple[int, float]:
    """(completion tokens, seconds) of one greedy, non-streamed request."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}],
                       "max_tokens": max_tokens, "temperature": 0}).encode()
    req = urllib.request.Request(f"{url}/v1/chat/completions", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=3600) as r:
        reply = json.loads(r.read())
    return reply["usage"]["completion_tokens"], time.perf_counter() - t0


def _drive(url: str, model: str, prompts: list[str], clients: int, max_tokens: int) -> dict:
    todo, lock, done = list(prompts), threading.Lock(), []

    def client() -> None:
        while True:
            with lock:
                if not todo:
                    return
                prompt = todo.pop(0)
            done.append(_ask(url, model, prompt, max_tokens))
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    tokens = sum(n for n, _ in done)
    return {"clients": clients, "requests": len(done), "tokens": tokens,
            "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 2),
            "latency_p50_s": round(statistics.median(s for _, s in done), 2)}


def serve_load(model_dir: str | Path, *, clients: int = 8, requests: int = 16,
               max_tokens: int = 64, slots: int = ServerLimits.slots, dtype: str = "float32",
               prompts: list[str] | None = None) -> dict:
    """The same `requests` greedy requests served one at a time, then from `clients`
    concurrent clients: tokens/s of each and their ratio."""
    from ..inference.generate import ChatModel
    from .app import create_app
    chat = ChatModel.load(model_dir, dtype=dtype)
    pool = list(prompts or DEFAULT_PROMPTS)
    asks = [pool[i % len(pool)] for i in range(requests)]
    app = create_app(chat, ServerLimits(max_tokens=max_tokens, slots=slots))
    with running_server(app) as url:
        _ask(url, chat.name, asks[0], 4)    # warm-up: first-call allocations
        alone = _drive(url, chat.name, asks, 1, max_tokens)
        together = _drive(url, chat.name, asks, clients, max_tokens)
    return {"model": str(model_dir), "dtype": dtype, "slots": slots, "max_tokens": max_tokens,
            "one_at_a_time": alone, "concurrent": together,
            "speedup": round(together["tokens_per_s"] / alone["tokens_per_s"], 2)}
