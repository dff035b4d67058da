"""Performance suite on the real SmolLM2 base and the demo MoE: prints a table, writes JSON.

    python -m bench.bench [--moe DIR] [--data DIR] [--out runs/bench.json] [--parts a,b]
    (defaults: $SMOLMOE_HOME/moe, $SMOLMOE_HOME/data; every part)

Every ratio is measured within this one run (same machine state). Targets (issues #6, #15):
MoE per-token prefill cost <= 1.6x dense (FLOPs ratio 1.59); prefill >= 70% of the fp32 matmul
peak; train-router >= 1.0x a dense full fine-tune's tokens/s; fit init <= 60 s; generation in
smolmoe's chat path >= 0.5x llama.cpp's at matched precision (f32 vs the f32 GGUF, bf16 vs the
bf16 GGUF; llama.cpp from scripts/install_llama_cpp.sh); `smolmoe serve` under 200 requests
from 8 concurrent clients (0 errors, p50/p95, aggregate tokens/s) next to llama.cpp's own
server with 8 parallel slots under the same requests.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import click
import torch

from smolmoe.core.base import resolve_base
from smolmoe.cli.kit import home_default, one_line_errors, quiet_transformers
from smolmoe.core.config import TrainSettings
from smolmoe.evaluation.cost import generation_rate, prefill_rate, timed
from smolmoe.data.records import StepBatches, encode_records, load_records, mixed_examples, split_path
from smolmoe.core.io import write_json
from smolmoe.cli.progress import console, out
from smolmoe.moe.router import init_routers, is_router, router_loss_fn
from smolmoe.core.modeldir import expert_count, load_model, load_tokenizer
from smolmoe.moe.formats import experts_and_top_k
from smolmoe.moe.meta import MoeMeta, read_moe_meta as read_meta
from smolmoe.training.loop import train


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
    experts = expert_count(cfg)
    if experts:
        per_expert = 3 * cfg.hidden_size * cfg.intermediate_size * cfg.num_hidden_layers
        total -= per_expert * (experts - cfg.num_experts_per_tok)
    return total


def train_rate(model, batches, trainable, loss_fn=None, steps: int = 3) -> float:
    settings = TrainSettings(steps=steps, lr=1e-5, batch_size=batches.batch_size, warmup_steps=0)
    kw = {"loss_fn": loss_fn} if loss_fn else {}
    train(model, batches, settings.updated(steps=1), trainable=trainable, **kw)  # warm-up
    result = train(model, batches, settings, trainable=trainable, **kw)
    return result.tokens_per_second


PROMPT = [{"role": "user", "content": "Write a long story about a sailor and the sea."}]


def never_stop(chat) -> None:
    """Generate to the token limit as llama.cpp's ignore_eos does: a reply cut short at its end
    of turn would time mostly the prompt's prefill."""
    import dataclasses
    chat.rules = dataclasses.replace(chat.rules, end_ids=frozenset())


def chat_path_timers(chat, prefill_ids: list[int], new_tokens: int = 48) -> dict:
    """Two timers through smolmoe's own chat/serve path, each returning tokens/s of one run:
    `generate` streams `new_tokens` greedy tokens (routing capture on, as chat and serve run),
    `prefill` runs the chat model's forward on `prefill_ids` (with its KV cache, as generation
    fills it)."""
    from smolmoe.inference.generate import GenerationSettings
    settings = GenerationSettings(max_new_tokens=new_tokens)
    never_stop(chat)
    ids = torch.tensor([prefill_ids])

    def generate() -> float:
        t0 = time.perf_counter()
        n = sum(1 for e in chat.stream(PROMPT, settings) if e.token_id is not None)
        return n / (time.perf_counter() - t0)

    def prefill() -> float:
        t0 = time.perf_counter()
        with torch.no_grad():
            chat.model(input_ids=ids, use_cache=True)
        return ids.numel() / (time.perf_counter() - t0)
    generate(), prefill()  # the warm-ups
    return {"generate": generate, "prefill": prefill}


def best_interleaved(timers: dict[str, dict], repeat: int = 3) -> dict[str, dict]:
    """Each side's best tokens/s per measure (`{side: {measure: timer}}`, every side with the
    same measures) over `repeat` rounds, the sides taking turns within a round, so a drift in
    the shared machine's speed lands on both sides of a ratio alike."""
    best = {side: {} for side in timers}
    for _ in range(repeat):
        for what in next(iter(timers.values())):
            for side, t in timers.items():
                best[side][f"{what}_tok_s"] = max(best[side].get(f"{what}_tok_s", 0.0), t[what]())
    return best


def gguf_exports(moe_dir: Path, out: Path, types=("f32", "bf16", "q8_0")) -> dict[str, Path]:
    """The MoE exported with llama.cpp's converter, once per type (reused when already there)."""
    from smolmoe.export.gguf import export_gguf
    files = {}
    for t in types:
        files[t] = out / f"{moe_dir.name}-{t}.gguf"
        if not files[t].is_file():
            with console.status(f"exporting {moe_dir} to GGUF {t}..."):
                export_gguf(moe_dir, files[t], t)
    return files


def llama_cpp_comparison(moe_dir: Path, gguf_dir: Path, tokenizer, r: dict, new_tokens: int = 48,
                         prefill_tokens: int = 512) -> None:
    """smolmoe's chat path against llama.cpp on the same MoE at matched precision: the same chat
    prompt for generation, the same `prefill_tokens` token ids for prefill, repeats interleaved.
    At bf16 the chat path also runs with its weights unpacked (packing.py's gain)."""
    from bench.bench_llama_cpp import llama_cpp_timers
    from smolmoe.inference.generate import ChatModel
    gen_ids = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, return_dict=True)["input_ids"]
    prefill_ids = torch.randint(100, tokenizer.vocab_size, (prefill_tokens,),
                                generator=torch.Generator().manual_seed(1)).tolist()
    have_llama = importlib.util.find_spec("llama_cpp") is not None
    ggufs = gguf_exports(moe_dir, gguf_dir) if have_llama else {}
    if not have_llama:
        r["llama_cpp_note"] = "skipped: llama.cpp not installed (bash scripts/install_llama_cpp.sh)"
    names = read_meta(moe_dir).names
    for ours, theirs in (("float32", "f32"), ("bf16", "bf16"), ("int8", "q8_0")):
        timers = {"chat_path": chat_path_timers(ChatModel.load(moe_dir, dtype=ours), prefill_ids, new_tokens)}
        if ours == "bf16":
            plain = ChatModel(load_model(moe_dir, dtype=torch.bfloat16), load_tokenizer(moe_dir),
                              moe_dir.name, names)
            timers["chat_path_unpacked"] = chat_path_timers(plain, prefill_ids, new_tokens)
        with contextlib.ExitStack() as stack:
            if have_llama:
                timers["llama_cpp"] = stack.enter_context(llama_cpp_timers(
                    ggufs[theirs], torch.get_num_threads(), gen_ids, new_tokens, prefill_ids))
            best = best_interleaved(timers)
        for side, rates in best.items():
            console.print(f"  {side} {theirs}: {rates}")
        for what in ("generate", "prefill"):
            mine = best["chat_path"][f"{what}_tok_s"]
            r[f"chat_path_{theirs}_{what}_tok_s"] = mine
            if "chat_path_unpacked" in best:
                r[f"chat_path_{theirs}_unpacked_{what}_tok_s"] = best["chat_path_unpacked"][f"{what}_tok_s"]
                r[f"packing_gain_{theirs}_{what}"] = mine / best["chat_path_unpacked"][f"{what}_tok_s"]
            if "llama_cpp" in best:
                r[f"llama_cpp_{theirs}_{what}_tok_s"] = best["llama_cpp"][f"{what}_tok_s"]
                r[f"chat_path_vs_llama_cpp_{theirs}_{what}"] = mine / best["llama_cpp"][f"{what}_tok_s"]
        del timers


def bf16_agreement(moe_dir: Path, r: dict, new_tokens: int = 200) -> None:
    """Greedy agreement of the bf16 chat model (packed, as chat and serve run it) and of the
    int8 one with float32: float32 writes `new_tokens` greedy tokens; each then reads that
    reply, and at each of its positions their next-token choices are compared (teacher-forced,
    so one early difference does not count twice). Also the bytes of each one's weights (bf16
    counted unpacked: packing keeps the same bytes in oneDNN's layout)."""
    from smolmoe.inference.generate import ChatModel, GenerationSettings
    from smolmoe.inference.quant import weight_bytes
    f32 = ChatModel.load(moe_dir, dtype="float32")
    never_stop(f32)
    prompt = f32.encode(PROMPT)
    engine = f32.engine(slots=1)
    seq = engine.add(prompt, GenerationSettings(max_new_tokens=new_tokens, temperature=0))
    engine.run()
    ids = torch.tensor([prompt + seq.tokens])
    picks = {}
    r["bf16_greedy_agreement_positions"] = len(seq.tokens)
    r["weight_bytes_float32"] = weight_bytes(f32.model)
    r["weight_bytes_bf16"] = weight_bytes(load_model(moe_dir, dtype=torch.bfloat16))
    for dtype in ("float32", "bf16", "int8"):
        chat = f32 if dtype == "float32" else ChatModel.load(moe_dir, dtype=dtype)
        with torch.no_grad():
            logits = chat.model(input_ids=ids).logits[0, len(prompt) - 1:-1]
        picks[dtype] = logits.float().argmax(-1)
        if dtype == "int8":
            r["weight_bytes_int8"] = weight_bytes(chat.model)
        if dtype != "float32":
            same = r[f"{dtype}_greedy_agreement"] = (picks["float32"] == picks[dtype]).float().mean().item()
            console.print(f"  {dtype} vs float32: {same:.1%} of {len(seq.tokens)} next-token choices agree")
        del chat
    console.print("  weights: " + ", ".join(f"{d} {r[f'weight_bytes_{d}'] / 2**20:.0f} MiB"
                                            for d in ("float32", "bf16", "int8")))


def server_comparison(moe_dir: Path, gguf_dir: Path, r: dict, requests: int, clients: int,
                      max_tokens: int) -> None:
    """`smolmoe serve` and llama.cpp's server with `clients` parallel slots, at f32 and at bf16
    (each against the GGUF of the same precision), under the same `requests` from `clients`
    concurrent clients."""
    from bench.bench_llama_cpp import llama_cpp_tool, llama_server, load_test, smolmoe_server
    have_server = llama_cpp_tool("llama-server") is not None
    if not have_server:
        r["llama_cpp_server_note"] = "skipped: llama-server not built (bash scripts/install_llama_cpp.sh)"
    for ours, theirs in (("float32", "f32"), ("bf16", "bf16")):
        with smolmoe_server(moe_dir, ["--dtype", ours]) as url:
            r[f"server_load_{theirs}"] = load = load_test(url, moe_dir.name, requests, clients, max_tokens)
        console.print(f"  smolmoe serve --dtype {ours}: {load}")
        r[f"server_{theirs}_errors"] = load["errors"]
        r[f"server_{theirs}_p50_s"], r[f"server_{theirs}_p95_s"] = load["p50_s"], load["p95_s"]
        r[f"server_{theirs}_aggregate_tok_s"] = load["aggregate_tok_s"]
        r[f"server_{theirs}_requests_per_s"] = load["requests_per_s"]
        if not have_server:
            continue
        gguf = gguf_exports(moe_dir, gguf_dir, (theirs,))[theirs]
        with llama_server(gguf, torch.get_num_threads(), slots=clients) as url:
            r[f"llama_cpp_server_load_{theirs}"] = other = load_test(url, moe_dir.name, requests, clients, max_tokens)
        console.print(f"  llama-server {theirs} -np {clients}: {other}")
        r[f"llama_cpp_server_{theirs}_aggregate_tok_s"] = other["aggregate_tok_s"]
        r[f"llama_cpp_server_{theirs}_p50_s"] = other["p50_s"]
        r[f"llama_cpp_server_{theirs}_requests_per_s"] = other["requests_per_s"]
        r[f"server_vs_llama_cpp_server_{theirs}_aggregate"] = load["aggregate_tok_s"] / other["aggregate_tok_s"]
        r[f"server_vs_llama_cpp_server_{theirs}_requests"] = load["requests_per_s"] / other["requests_per_s"]


def batching_section(moe_dir: Path, r: dict, clients: int) -> None:
    """Continuous batching in `smolmoe serve`: the same 16 greedy requests (32 tokens each)
    served one at a time, then from `clients` concurrent clients, per weight format."""
    from smolmoe.serve.load import serve_load
    for dtype in ("float32", "bf16"):
        load = serve_load(moe_dir, clients=clients, requests=16, max_tokens=32, dtype=dtype)
        console.print(f"  {dtype}: {load['one_at_a_time']['tokens_per_s']} -> "
                      f"{load['concurrent']['tokens_per_s']} tok/s ({load['speedup']}x)")
        r[f"batching_{dtype}"] = load
        r[f"batching_speedup_{dtype}"] = load["speedup"]


def batched_mm_in_child(moe_dir: Path, batch: int, seq: int, limit_gb: int = 16) -> dict:
    """batched_mm gathers each token's expert weights (~21 MB per token for SmolLM2 top-2):
    a 4x256 batch wants ~21 GB, so try it in a child process with a memory cap."""
    code = (f"import resource, json, sys; resource.setrlimit(resource.RLIMIT_AS, ({limit_gb << 30}, {limit_gb << 30}))\n"
            f"import torch; from bench.bench import prefill_rate\n"
            f"from smolmoe.core.modeldir import load_model\n"
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
    code = (f"from pathlib import Path; from smolmoe.core.config import TrainSettings; "
            f"from smolmoe.moe.router import train_router; import tempfile; "
            f"train_router(Path({str(moe)!r}), Path({str(data)!r}), TrainSettings(steps=2, "
            f"batch_size={batch}, seq_len={seq}, warmup_steps=0), per_domain=16, "
            f"out_dir=Path(tempfile.mkdtemp()) / 'moe')")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6


PARTS = ("prefill", "train", "fit", "llama_cpp", "agreement", "server", "batching", "memory")
TARGETS = {
    "moe_per_token_cost_vs_dense": ("<=", 1.6),
    "moe_prefill_share_of_peak": (">=", 0.70),
    "train_router_vs_dense_finetune": (">=", 1.0),
    "fit_init_seconds": ("<=", 60.0),
    "chat_path_vs_llama_cpp_f32_generate": (">=", 0.5),
    "chat_path_vs_llama_cpp_bf16_generate": (">=", 0.5),
    "chat_path_vs_llama_cpp_q8_0_generate": (">=", 0.5),
    "server_f32_errors": ("<=", 0),
    "server_bf16_errors": ("<=", 0),
    "batching_speedup_float32": (">=", 4.0),
    "batching_speedup_bf16": (">=", 4.0),
    "int8_greedy_agreement": (">=", 0.98),
}


def prefill_section(moe_dir: Path, base: Path, tokenizer, ids, r: dict) -> None:
    """Forward (prefill) and generation tokens/s, dense base vs the MoE per experts
    implementation; the MoE's cost per token relative to the dense base and the FLOPs ratio."""
    console.print("prefill (forward) dense vs MoE...")
    dense = load_model(base)
    r["dense_generate_tok_s"] = generation_rate(dense, tokenizer)
    impls = {}
    for impl in ("grouped_mm", "eager"):
        moe = load_model(moe_dir, experts_implementation=impl)
        impls[impl] = {"forward_tok_s": prefill_rate(moe, ids),
                       "generate_tok_s": generation_rate(moe, tokenizer)}
        console.print(f"  {impl}: {impls[impl]}")
        del moe
    impls["batched_mm"] = batched_mm_in_child(moe_dir, *ids.shape)
    console.print(f"  batched_mm: {impls['batched_mm']}")
    r["moe_experts_implementations"] = impls
    best = max((v for v in impls.values() if "forward_tok_s" in v), key=lambda v: v["forward_tok_s"])
    moe = load_model(moe_dir)  # default implementation
    r["moe_forward_tok_s"], r["moe_generate_tok_s"] = best["forward_tok_s"], best["generate_tok_s"]
    # The cost ratio from rounds in which the two take turns, so host drift hits both alike.
    paired = best_interleaved({name: {"forward": lambda m=m: prefill_rate(m, ids)}
                               for name, m in (("dense", dense), ("moe", moe))})
    r["dense_forward_tok_s"] = paired["dense"]["forward_tok_s"]
    r["moe_forward_tok_s"] = max(r["moe_forward_tok_s"], paired["moe"]["forward_tok_s"])
    r["moe_per_token_cost_vs_dense"] = r["dense_forward_tok_s"] / paired["moe"]["forward_tok_s"]
    r["moe_generate_cost_vs_dense"] = r["dense_generate_tok_s"] / r["moe_generate_tok_s"]
    r["active_params"] = {"dense": active_matmul_params(dense), "moe": active_matmul_params(moe)}
    r["moe_flops_ratio"] = r["active_params"]["moe"] / r["active_params"]["dense"]
    for name in ("dense", "moe"):
        gflops = 2 * r["active_params"][name] * r[f"{name}_forward_tok_s"] / 1e9
        r[f"{name}_prefill_gflops"] = gflops
        r[f"{name}_prefill_share_of_peak"] = gflops / r["matmul_peak_gflops"]


def train_section(moe_dir: Path, base: Path, data_dir: Path, tokenizer, meta: MoeMeta, batch: int,
                  seq: int, r: dict) -> None:
    console.print("training throughput: train-router vs dense full fine-tune...")
    dense, moe = load_model(base), load_model(moe_dir)
    domains = meta.domains
    per = {d: encode_records(tokenizer, load_records(split_path(data_dir, d, "train"), limit=8), seq)
           for d in domains}
    batches = StepBatches(mixed_examples(per, seed=0), batch, tokenizer.pad_token_id, 0)
    r["dense_full_finetune_tok_s"] = train_rate(dense, batches, None)
    cfg = moe.config
    r["train_router_tok_s"] = train_rate(moe, batches, is_router,
                                         router_loss_fn(*experts_and_top_k(cfg), 0.01))
    r["train_router_vs_dense_finetune"] = r["train_router_tok_s"] / r["dense_full_finetune_tok_s"]


def fit_section(moe_dir: Path, data_dir: Path, tokenizer, meta: MoeMeta, r: dict) -> None:
    console.print("router fit init...")
    moe = load_model(moe_dir)
    names, domains = meta.names, meta.domains
    t0 = time.perf_counter()
    init_routers(moe, tokenizer, "fit", names=names, domains=domains, data_dir=data_dir, samples=12)
    r["fit_init_seconds"] = time.perf_counter() - t0


def print_table(r: dict) -> None:
    from rich.table import Table
    table = Table(title="smolmoe bench")
    for c in ("measure", "value", "target", "met"):
        table.add_column(c)
    for k, v in r.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            op, target = TARGETS.get(k, (None, None))
            met = "" if op is None else ("yes" if (v <= target if op == "<=" else v >= target) else "[red]no[/red]")
            table.add_row(k, f"{v:,.3f}" if isinstance(v, float) else f"{v:,}",
                          f"{op} {target}" if op else "", met)
        elif isinstance(v, str):
            table.add_row(k, v, "", "")
    out.print(table)


@click.command(context_settings={"show_default": True})
@click.option("--moe", "moe_dir", **home_default("moe"), type=click.Path(), help="The MoE to measure.")
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Data for the training measurements.")
@click.option("--out", "out_file", default="runs/bench.json", type=click.Path(dir_okay=False))
@click.option("--gguf-dir", default="runs/bench-gguf", type=click.Path(file_okay=False), help="Where the MoE's GGUF exports (f32, bf16) for llama.cpp are made, or reused when there.")
@click.option("--batch", default=4, type=click.IntRange(1))
@click.option("--seq", default=256, type=click.IntRange(8))
@click.option("--parts", default=",".join(PARTS), help=f"Comma-separated sections to run, of: {', '.join(PARTS)}.")
@click.option("--requests", default=200, type=click.IntRange(1), help="Requests in the server load test.")
@click.option("--clients", default=8, type=click.IntRange(1), help="Concurrent clients (and llama-server's parallel slots).")
@click.option("--max-tokens", default=16, type=click.IntRange(1), help="Tokens each load-test reply may generate.")
@one_line_errors
def main(moe_dir, data_dir, gguf_dir, out_file, batch, seq, parts, requests, clients, max_tokens):
    quiet_transformers()
    parts = [p.strip() for p in parts.split(",") if p.strip()]
    if unknown := sorted(set(parts) - set(PARTS)):
        raise click.BadParameter(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    moe_dir, data_dir, gguf_dir = Path(moe_dir), Path(data_dir), Path(gguf_dir)
    meta = read_meta(moe_dir)
    base = resolve_base()
    tokenizer = load_tokenizer(base)
    torch.manual_seed(0)
    ids = torch.randint(100, tokenizer.vocab_size, (batch, seq))
    r: dict = {"machine": {"threads": torch.get_num_threads(), "torch": torch.__version__,
                           "python": platform.python_version(), "cpu": platform.processor(),
                           "load_average": os.getloadavg()[0]},
               "parts": parts}
    if "prefill" in parts:
        console.print("matmul peak...")
        r["matmul_peak_gflops"] = matmul_peak_gflops()
        prefill_section(moe_dir, base, tokenizer, ids, r)
    if "train" in parts:
        train_section(moe_dir, base, data_dir, tokenizer, meta, batch, seq, r)
    if "fit" in parts:
        fit_section(moe_dir, data_dir, tokenizer, meta, r)
    if "llama_cpp" in parts:
        console.print("prefill and generation: smolmoe chat path vs llama.cpp, f32 and bf16...")
        llama_cpp_comparison(moe_dir, gguf_dir, tokenizer, r)
    if "agreement" in parts:
        console.print("bf16 and int8 vs float32 greedy agreement, weight bytes...")
        bf16_agreement(moe_dir, r)
    if "server" in parts:
        console.print(f"server load: {requests} requests from {clients} concurrent clients...")
        server_comparison(moe_dir, gguf_dir, r, requests, clients, max_tokens)
    if "batching" in parts:
        console.print(f"continuous batching: one at a time vs {clients} concurrent clients...")
        batching_section(moe_dir, r, clients)
    if "memory" in parts:
        console.print("train-router peak memory (fresh process)...")
        r["train_router_peak_rss_gb"] = router_peak_rss_gb(moe_dir, data_dir, 8, seq)
    r["machine"]["load_average_after"] = os.getloadavg()[0]
    print_table(r)
    r["targets"] = {k: list(v) for k, v in TARGETS.items() if k in r}
    write_json(out_file, r)
    console.print(f"wrote {out_file}")


if __name__ == "__main__":
    main()
