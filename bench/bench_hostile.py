"""Load test of `smolmoe serve` under hostile clients (issue #26): is a normal request's p95
latency with hostile clients running beside it within 2x of an idle server's?

    python -m bench.bench_hostile [MODEL_DIR] [--requests 30] [--hostile 4] [--json OUT]
    (no MODEL_DIR: a tiny random Llama built in a temp dir, tests/helpers/tiny_models.py's)

The server runs as its own process (`smolmoe serve` on a free loopback port), so the clients'
threads here do not share its interpreter. Normal requests: greedy, non-streamed,
--max-tokens tokens, one at a time. Hostile clients, round robin, for as long as the normal
ones run: 5 stop strings, a 1 MB stop string, a body over the limit, lone surrogates, a seed
beyond 64 bits (all refused), and long requests abandoned mid-way, streamed and not (their
slots must be freed at the next step). Bounded: every loop ends with the normal requests.
Exit status 1 when the ratio is over 2.
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from studies.common import free_port


def tiny_model(directory: Path) -> Path:
    from tests.helpers.tiny_models import make_llama, make_tokenizer
    make_llama(directory, make_tokenizer(directory), hidden=64, layers=4)
    return directory


def post(url: str, body, timeout: float = 120) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}/v1/chat/completions", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code


def abandon(url: str, body: dict, after_s: float) -> None:
    """Send a long request and close the connection after `after_s` seconds."""
    host, port = url.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  b"application/json\r\n" + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        time.sleep(after_s)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def normal_latencies(url: str, model: str, n: int, max_tokens: int) -> list[float]:
    out = []
    for i in range(n):
        body = {"model": model, "messages": [{"role": "user", "content": f"say hello {i}"}],
                "max_tokens": max_tokens, "temperature": 0}
        t0 = time.perf_counter()
        status = post(url, body)
        out.append(time.perf_counter() - t0)
        if status != 200:
            raise SystemExit(f"a normal request got {status}")
    return out


def hostile(url: str, model: str, stop: threading.Event, counts: dict, k: int) -> None:
    ask = [{"role": "user", "content": "write a long story"}]
    attacks = [
        lambda: post(url, {"model": model, "messages": ask, "stop": list("abcde")}),
        lambda: post(url, {"model": model, "messages": ask, "stop": "x" * (1 << 20)}),
        lambda: post(url, b'{"model": "' + b"y" * (2 << 20) + b'"}'),
        lambda: post(url, '{"model": "%s", "messages": [{"role": "user", "content": "\\ud800"}]}'
                     % model),
        lambda: post(url, {"model": model, "messages": ask, "seed": 1 << 70}),
        lambda: abandon(url, {"model": model, "messages": ask, "max_tokens": 1024,
                              "stop": ["\u2603" * 200]}, 0.2),
        lambda: abandon(url, {"model": model, "messages": ask, "max_tokens": 1024,
                              "stream": True}, 0.2),
    ]
    i = k
    while not stop.is_set():
        name = f"attack{i % len(attacks)}"
        try:
            result = attacks[i % len(attacks)]()
        except OSError as e:   # e.g. the server closed an over-limit upload early
            result = type(e).__name__
        counts[(name, result)] = counts.get((name, result), 0) + 1
        i += 1


@click.command()
@click.argument("model_dir", required=False, type=click.Path(file_okay=False))
@click.option("--requests", default=30, type=click.IntRange(5, 1000), help="Normal requests per phase.")
@click.option("--hostile", "clients", default=4, type=click.IntRange(1, 32), help="Hostile client threads.")
@click.option("--max-tokens", default=16, type=click.IntRange(1, 256), help="Tokens per normal reply.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the result here.")
def main(model_dir, requests, clients, max_tokens, json_out):
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(model_dir) if model_dir else tiny_model(Path(tmp) / "tiny")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "smolmoe.cli", "serve", str(model), "--port", str(port),
             "--max-tokens", "1024"], env={**os.environ, "SMOLMOE_HOME": tmp},
            stderr=subprocess.DEVNULL)
        try:
            for _ in range(1200):
                try:
                    with urllib.request.urlopen(f"{url}/v1/models", timeout=5) as r:
                        name = json.loads(r.read())["data"][0]["id"]
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise SystemExit("the server did not start")
            normal_latencies(url, name, 3, max_tokens)          # warm-up
            idle = normal_latencies(url, name, requests, max_tokens)
            stop, counts = threading.Event(), {}
            threads = [threading.Thread(target=hostile, args=(url, name, stop, counts, k))
                       for k in range(clients)]
            for t in threads:
                t.start()
            time.sleep(1)
            try:
                mixed = normal_latencies(url, name, requests, max_tokens)
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = {"model": str(model_dir or "tiny random Llama"), "requests": requests,
              "hostile_clients": clients, "max_tokens": max_tokens,
              "idle_p50_s": round(statistics.median(idle), 4), "idle_p95_s": round(p95(idle), 4),
              "mixed_p50_s": round(statistics.median(mixed), 4), "mixed_p95_s": round(p95(mixed), 4),
              "hostile_requests": {f"{a} -> {r}": n for (a, r), n in sorted(counts.items(), key=str)}}
    result["p95_ratio"] = round(result["mixed_p95_s"] / result["idle_p95_s"], 2)
    print(json.dumps(result, indent=2))
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if result["p95_ratio"] <= 2 else 1)


if __name__ == "__main__":
    main()
