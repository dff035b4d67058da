"""Performance suite on the real SmolLM2 base and the demo MoE: prints a table, writes JSON.

    python scripts/bench.py [--moe DIR] [--data DIR] [--out runs/bench.json]   (defaults: $SMOLMOE_HOME/moe, $SMOLMOE_HOME/data)

Every ratio is measured within this one run (same machine state). Targets (issue #6):
MoE per-token cost <= 1.6x dense; prefill >= 70% of the fp32 matmul peak; train-router
>= 1.0x a dense full fine-tune's tokens/s; fit init <= 60 s; generation in smolmoe's chat path
>= 0.5x llama.cpp's; 0 errors for 200 requests from 8 concurrent clients (p50/p95 reported).
"""
from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import click
import torch

from smolmoe.base import resolve_base
from smolmoe.cli import home_default, one_line_errors, quiet_transformers
from smolmoe.config import TrainSettings
from smolmoe.data import StepBatches, encode_records, load_records, mixed_examples, split_path
from smolmoe.errors import SmolMoEError
from smolmoe.io import write_json
from smolmoe.progress import console, out
from smolmoe.router import init_routers, is_router, router_loss_fn
from smolmoe.modeldir import load_model, load_tokenizer, read_moe_meta as read_meta
from smolmoe.train import train


def timed(fn, repeat: int = 3, warm_up: bool = True) -> float:
    """Best (smallest) wall time of `repeat` calls after a warm-up: on a shared 2-core VM the
    mean drifts with whatever else the host runs, the best time much less."""
    if warm_up:
        fn()  # first calls allocate and pick kernels
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def matmul_peak_gflops() -> float:
    """fp32 GEMM peak: the best of a square product and the shapes a 1024-token SmolLM2 prefill
    multiplies (one square shape alone under-reads it: the model's own GEMMs ran faster)."""
    best = 0.0
    for m, k, n in ((2048, 2048, 2048), (1024, 576, 1536), (1024, 576, 3072), (1024, 1536, 576)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        best = max(best, 2 * m * k * n / timed(lambda: a @ b, 5) / 1e9)
    return best


def active_matmul_params(model) -> int:
    """Parameters a token multiplies through (embedding lookup excluded; LM head included)."""
    cfg = model.config
    total = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n)
    if getattr(cfg, "tie_word_embeddings", False):
        total += model.get_output_embeddings().weight.numel()
    experts = getattr(cfg, "num_local_experts", None)
    if experts:
        per_expert = 3 * cfg.hidden_size * cfg.intermediate_size * cfg.num_hidden_layers
        total -= per_expert * (experts - cfg.num_experts_per_tok)
    return total


@torch.no_grad()
def prefill_rate(model, ids) -> float:
    return ids.numel() / timed(lambda: model(input_ids=ids, use_cache=False), 2)


@torch.no_grad()
def generation_rate(model, tokenizer, new_tokens: int = 48) -> float:
    enc = tokenizer.apply_chat_template([{"role": "user", "content": "Tell me about the sea."}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)
    kw = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
              pad_token_id=tokenizer.pad_token_id)
    return new_tokens / timed(lambda: model.generate(**enc, **kw), 2)


def train_rate(model, batches, trainable, loss_fn=None, steps: int = 3) -> float:
    settings = TrainSettings(steps=steps, lr=1e-5, batch_size=batches.batch_size, warmup_steps=0)
    kw = {"loss_fn": loss_fn} if loss_fn else {}
    train(model, batches, settings.updated(steps=1), trainable=trainable, **kw)  # warm-up
    result = train(model, batches, settings, trainable=trainable, **kw)
    return result.tokens_per_second


PROMPT = [{"role": "user", "content": "Write a long story about a sailor and the sea."}]


def chat_path_rate(moe_dir: Path, new_tokens: int = 48) -> float:
    """Generation tokens/s through smolmoe's own chat/serve path (streaming, routing capture)."""
    from smolmoe.generate import ChatModel, GenerationSettings
    chat = ChatModel.load(moe_dir)
    settings = GenerationSettings(max_new_tokens=new_tokens)
    # Run to new_tokens as llama.cpp's loop below does: a reply cut short at its end of turn
    # would time mostly the prompt's prefill.
    chat.eos_ids = set()

    def run():
        return sum(1 for e in chat.stream(PROMPT, settings) if e.token_id is not None)
    n = run()  # the warm-up; greedy, so every run makes the same tokens
    return n / timed(run, 3, warm_up=False)


def llama_cpp_rate(gguf: Path, tokenizer, new_tokens: int = 48) -> float | None:
    """Generation tokens/s of the exported GGUF in llama.cpp, same prompt, greedy, batch 1."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    llm = Llama(model_path=str(gguf), n_ctx=512, n_threads=torch.get_num_threads(), verbose=False)
    ids = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, return_dict=True)["input_ids"]

    def run():
        llm.reset()
        n = 0
        for _ in llm.generate(ids, temp=0.0, top_k=1, reset=True):
            n += 1
            if n >= new_tokens:
                break
        return n
    n = run()  # the warm-up
    return n / timed(run, 3, warm_up=False)


def server_load(moe_dir: Path, requests: int = 200, clients: int = 8, max_tokens: int = 8) -> dict:
    """`smolmoe serve` in its own process; `clients` threads send `requests` chat completions
    over loopback. Generation runs one request at a time, so latency includes the queue."""
    import socket
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "smolmoe.cli", "serve", str(moe_dir), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"{url}/v1/models", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SmolMoEError(f"smolmoe serve {moe_dir} did not start")
                time.sleep(0.5)

        def one(i: int) -> tuple[float, bool]:
            body = json.dumps({"model": moe_dir.name, "max_tokens": max_tokens, "temperature": 0,
                               "messages": [{"role": "user", "content": f"Question {i}: what is {i} plus {i}?"}]})
            req = urllib.request.Request(f"{url}/v1/chat/completions", body.encode(),
                                         {"Content-Type": "application/json"})
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=600) as r:
                    ok = r.status == 200 and bool(json.loads(r.read())["choices"][0]["message"]["content"])
            except (OSError, ValueError, KeyError, IndexError):  # refused, HTTP error, bad body
                ok = False
            return time.perf_counter() - t0, ok
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(one, range(requests)))
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(30)
    latencies = sorted(t for t, _ in results)
    return {"requests": requests, "clients": clients, "max_tokens": max_tokens,
            "errors": sum(not ok for _, ok in results), "seconds": round(wall, 1),
            "p50_s": round(latencies[len(latencies) // 2], 3),
            "p95_s": round(latencies[int(len(latencies) * 0.95) - 1], 3)}


def batched_mm_in_child(moe_dir: Path, batch: int, seq: int, limit_gb: int = 16) -> dict:
    """batched_mm gathers each token's expert weights (~21 MB per token for SmolLM2 top-2):
    a 4x256 batch wants ~21 GB, so try it in a child process with a memory cap."""
    code = (f"import resource, json, sys; resource.setrlimit(resource.RLIMIT_AS, ({limit_gb << 30}, {limit_gb << 30}))\n"
            f"sys.path.insert(0, 'scripts'); import torch; from bench import prefill_rate\n"
            f"from smolmoe.modeldir import load_model\n"
            f"m = load_model({str(moe_dir)!r}, experts_implementation='batched_mm')\n"
            f"ids = torch.randint(100, 49000, ({batch}, {seq}))\n"
            f"print(json.dumps({{'forward_tok_s': prefill_rate(m, ids)}}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["killed"])[-1][:160]
        return {"error": f"did not fit in {limit_gb} GB at batch {batch}x{seq}: {last}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def router_peak_rss_gb(moe: Path, data: Path, batch: int, seq: int) -> float:
    """train-router in a fresh process; its peak resident memory (CPU) in GB."""
    code = (f"from pathlib import Path; from smolmoe.config import TrainSettings; "
            f"from smolmoe.router import train_router; import tempfile; "
            f"train_router(Path({str(moe)!r}), Path({str(data)!r}), TrainSettings(steps=2, "
            f"batch_size={batch}, seq_len={seq}, warmup_steps=0), per_domain=16, "
            f"out_dir=Path(tempfile.mkdtemp()) / 'moe')")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6


@click.command(context_settings={"show_default": True})
@click.option("--moe", "moe_dir", **home_default("moe"), type=click.Path(), help="The MoE to measure.")
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Data for the training measurements.")
@click.option("--out", "out_file", default="runs/bench.json", type=click.Path(dir_okay=False))
@click.option("--gguf", "gguf_file", default="runs/check_gguf/moe-f32.gguf", type=click.Path(), help="Exported GGUF of the MoE for the llama.cpp comparison.")
@click.option("--batch", default=4, type=click.IntRange(1))
@click.option("--seq", default=256, type=click.IntRange(8))
@one_line_errors
def main(moe_dir, data_dir, gguf_file, out_file, batch, seq):
    quiet_transformers()
    moe_dir, data_dir = Path(moe_dir), Path(data_dir)
    meta = read_meta(moe_dir)
    base = resolve_base()
    tokenizer = load_tokenizer(base)
    torch.manual_seed(0)
    ids = torch.randint(100, tokenizer.vocab_size, (batch, seq))
    r: dict = {"machine": {"threads": torch.get_num_threads(), "torch": torch.__version__,
                           "python": platform.python_version(), "cpu": platform.processor()}}

    console.print("matmul peak...")
    r["matmul_peak_gflops"] = matmul_peak_gflops()
    console.print("prefill (forward) dense vs MoE...")
    dense = load_model(base)
    r["dense_forward_tok_s"] = prefill_rate(dense, ids)
    r["dense_generate_tok_s"] = generation_rate(dense, tokenizer)
    impls = {}
    for impl in ("grouped_mm", "eager"):
        moe = load_model(moe_dir, experts_implementation=impl)
        impls[impl] = {"forward_tok_s": prefill_rate(moe, ids),
                       "generate_tok_s": generation_rate(moe, tokenizer)}
        console.print(f"  {impl}: {impls[impl]}")
        del moe
    impls["batched_mm"] = batched_mm_in_child(moe_dir, batch, seq)
    console.print(f"  batched_mm: {impls['batched_mm']}")
    r["moe_experts_implementations"] = impls
    best = max((v for v in impls.values() if "forward_tok_s" in v), key=lambda v: v["forward_tok_s"])
    moe = load_model(moe_dir)  # default implementation
    r["moe_forward_tok_s"], r["moe_generate_tok_s"] = best["forward_tok_s"], best["generate_tok_s"]
    r["moe_per_token_cost_vs_dense"] = r["dense_forward_tok_s"] / r["moe_forward_tok_s"]
    r["moe_generate_cost_vs_dense"] = r["dense_generate_tok_s"] / r["moe_generate_tok_s"]
    r["active_params"] = {"dense": active_matmul_params(dense), "moe": active_matmul_params(moe)}
    r["moe_flops_ratio"] = r["active_params"]["moe"] / r["active_params"]["dense"]
    for name in ("dense", "moe"):
        gflops = 2 * r["active_params"][name] * r[f"{name}_forward_tok_s"] / 1e9
        r[f"{name}_prefill_gflops"] = gflops
        r[f"{name}_prefill_share_of_peak"] = gflops / r["matmul_peak_gflops"]

    console.print("training throughput: train-router vs dense full fine-tune...")
    domains = [e["domain"] for e in meta["experts"]]
    per = {d: encode_records(tokenizer, load_records(split_path(data_dir, d, "train"), limit=8), seq)
           for d in domains}
    batches = StepBatches(mixed_examples(per, seed=0), batch, tokenizer.pad_token_id, 0)
    r["dense_full_finetune_tok_s"] = train_rate(dense, batches, None)
    cfg = moe.config
    r["train_router_tok_s"] = train_rate(moe, batches, is_router,
                                         router_loss_fn(cfg.num_local_experts, cfg.num_experts_per_tok, 0.01))
    r["train_router_vs_dense_finetune"] = r["train_router_tok_s"] / r["dense_full_finetune_tok_s"]

    console.print("router fit init...")
    names = [e["name"] for e in meta["experts"]]
    t0 = time.perf_counter()
    init_routers(moe, tokenizer, "fit", names=names, domains=domains, data_dir=data_dir, samples=12)
    r["fit_init_seconds"] = time.perf_counter() - t0

    console.print("generation: smolmoe chat path vs llama.cpp on the exported GGUF...")
    del moe, dense
    r["chat_path_generate_tok_s"] = chat_path_rate(moe_dir)
    gguf = Path(gguf_file)
    rate = llama_cpp_rate(gguf, tokenizer) if gguf.is_file() else None
    if rate is None:
        r["llama_cpp_note"] = f"skipped: llama_cpp not importable or {gguf} missing (scripts/check_gguf.py makes it)"
    else:
        r["llama_cpp_generate_tok_s"] = rate
        r["chat_path_vs_llama_cpp"] = r["chat_path_generate_tok_s"] / rate

    console.print("server load: 200 requests from 8 concurrent clients...")
    r["server_load"] = load = server_load(moe_dir)
    r["server_p50_s"], r["server_p95_s"], r["server_errors"] = load["p50_s"], load["p95_s"], load["errors"]

    console.print("train-router peak memory (fresh process)...")
    r["train_router_peak_rss_gb"] = router_peak_rss_gb(moe_dir, data_dir, 8, seq)

    targets = {
        "moe_per_token_cost_vs_dense": ("<=", 1.6),
        "moe_prefill_share_of_peak": (">=", 0.70),
        "train_router_vs_dense_finetune": (">=", 1.0),
        "fit_init_seconds": ("<=", 60.0),
        "chat_path_vs_llama_cpp": (">=", 0.5),
        "server_errors": ("<=", 0),
    }
    from rich.table import Table
    table = Table(title="smolmoe bench")
    for c in ("measure", "value", "target", "met"):
        table.add_column(c)
    for k, v in r.items():
        if isinstance(v, (int, float)):
            op, target = targets.get(k, (None, None))
            met = "" if op is None else ("yes" if (v <= target if op == "<=" else v >= target) else "[red]no[/red]")
            table.add_row(k, f"{v:,.3f}" if isinstance(v, float) else f"{v:,}",
                          f"{op} {target}" if op else "", met)
    out.print(table)
    r["targets"] = {k: list(v) for k, v in targets.items()}
    write_json(out_file, r)
    console.print(f"wrote {out_file}")


if __name__ == "__main__":
    main()
