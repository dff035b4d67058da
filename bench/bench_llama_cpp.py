"""llama.cpp's side of bench/bench.py (built by scripts/install_llama_cpp.sh): one stream
through its Python package (the same libllama its server runs), and its own server
(llama-server) next to `smolmoe serve`, each in its own process, driven over loopback with the
same requests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from smolmoe.core.config import LLAMA_CPP_PYTHON, home_path
from smolmoe.core.errors import SmolMoEError

from studies.common import free_port


def llama_cpp_tool(name: str) -> Path | None:
    """A llama.cpp binary: $SMOLMOE_LLAMA_CPP_BIN/NAME, or the one install_llama_cpp.sh built."""
    folder = os.environ.get("SMOLMOE_LLAMA_CPP_BIN")
    path = (Path(folder) if folder else home_path("tools") / f"llama.cpp-{LLAMA_CPP_PYTHON}-build" / "bin") / name
    return path if path.is_file() else None


def post(url: str, body: dict, timeout: float = 600) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


@contextmanager
def running(command: list[str], url: str, what: str, ready_path: str, timeout: float = 300):
    """The server `command` in its own process until the block ends; waits for `ready_path`."""
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}{ready_path}", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SmolMoEError(f"{what} did not start")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(30)


def llama_server(gguf: Path, threads: int, slots: int = 1, ctx_per_slot: int = 1024):
    """llama-server on `gguf`: `slots` parallel sequences (its continuous batching), each with
    its own `ctx_per_slot` tokens of KV cache."""
    binary = llama_cpp_tool("llama-server")
    if binary is None:
        raise SmolMoEError("llama-server is not built (bash scripts/install_llama_cpp.sh)")
    port = free_port()
    return running([str(binary), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port),
                    "-t", str(threads), "-tb", str(threads), "-np", str(slots),
                    "-c", str(slots * ctx_per_slot), "--no-warmup"],
                   f"http://127.0.0.1:{port}", f"llama-server on {gguf}", "/health")


def smolmoe_server(moe_dir: Path, extra: list[str] = ()):
    port = free_port()
    return running([sys.executable, "-m", "smolmoe.cli", "serve", str(moe_dir), "--port", str(port), *extra],
                   f"http://127.0.0.1:{port}", f"smolmoe serve {moe_dir}", "/v1/models")


@contextmanager
def llama_cpp_timers(gguf: Path, threads: int, generate_ids: list[int], new_tokens: int,
                     prefill_ids: list[int]):
    """llama.cpp on `gguf` through its Python package (None where it is not installed): a dict
    of two timers, each returning tokens/s of one run: `generate` makes `new_tokens` greedy
    tokens after `generate_ids` (no stop at end of turn), `prefill` evaluates `prefill_ids` in
    one batch."""
    try:
        from llama_cpp import Llama
    except ImportError:
        yield None
        return
    n_ctx = max(len(prefill_ids), len(generate_ids) + new_tokens) + 8
    llm = Llama(model_path=str(gguf), n_ctx=n_ctx, n_batch=n_ctx, n_threads=threads,
                n_threads_batch=threads, verbose=False)

    def generate() -> float:
        llm.reset()
        t0 = time.perf_counter()
        for n, _ in enumerate(llm.generate(generate_ids, temp=0.0, top_k=1, reset=True), 1):
            if n >= new_tokens:
                break
        return n / (time.perf_counter() - t0)

    def prefill() -> float:
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prefill_ids)
        return len(prefill_ids) / (time.perf_counter() - t0)
    generate(), prefill()  # the warm-ups
    try:
        yield {"generate": generate, "prefill": prefill}
    finally:
        llm.close()


def load_test(url: str, model: str, requests: int, clients: int, max_tokens: int) -> dict:
    """`clients` threads send `requests` greedy chat completions; errors, latency percentiles
    and the aggregate completion tokens per second (each server's own usage count)."""
    def one(i: int) -> tuple[float, int | None]:
        # Greedy and no repetition penalty on both servers (smolmoe's chat default is 1.1,
        # llama-server's 1.0): the same sampling, so the replies and their lengths match.
        body = {"model": model, "max_tokens": max_tokens, "temperature": 0, "repetition_penalty": 1.0,
                "messages": [{"role": "user", "content": f"Question {i}: what is {i} plus {i}?"}]}
        t0 = time.perf_counter()
        try:
            reply = post(f"{url}/v1/chat/completions", body)
            ok = bool(reply["choices"][0]["message"]["content"])
            tokens = int(reply["usage"]["completion_tokens"]) if ok else None
        except (OSError, ValueError, KeyError, IndexError, TypeError):  # refused, HTTP error, bad body
            tokens = None
        return time.perf_counter() - t0, tokens
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - t0
    latencies = sorted(t for t, _ in results)
    tokens = sum(n for _, n in results if n is not None)
    return {"requests": requests, "clients": clients, "max_tokens": max_tokens,
            "errors": sum(n is None for _, n in results), "seconds": round(wall, 1),
            "completion_tokens": tokens, "aggregate_tok_s": round(tokens / wall, 2),
            "requests_per_s": round((requests - sum(n is None for _, n in results)) / wall, 3),
            "p50_s": round(latencies[len(latencies) // 2], 3),
            "p95_s": round(latencies[int(len(latencies) * 0.95) - 1], 3)}
