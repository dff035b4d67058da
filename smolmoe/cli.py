"""The `smolmoe` command line: parses options and calls one library function per command."""
from __future__ import annotations

import sys
from pathlib import Path

import click

# Shared with the scratch group's module, which cannot import this one (`python -m smolmoe.cli`
# would then load it twice).
from .clikit import (CONTEXT, OPTIONAL, Finite, OneLineGroup, home_argument,  # noqa: F401
                     home_default, one_line_errors, quiet_transformers)
from .config import DEFAULT_MAX_TOKENS, home_path
from .errors import SmolMoEError
from .precision import CHOICES as PRECISIONS


# `eval --moe` given without a directory: the MoE under $SMOLMOE_HOME.
MOE_FLAG = "$SMOLMOE_HOME/moe"


@click.group(cls=OneLineGroup, context_settings=CONTEXT)
def main():
    """smolmoe: build a Mixture-of-Experts LM out of small dense experts."""


# ---------------------------------------------------------------- base
@main.command(context_settings=CONTEXT)
@click.option("--base", default=None, help="Local HF dir or hub id; default: the packaged SmolLM2-135M-Instruct.")
@click.option("--ask", default=None, help="Also answer this prompt greedily with the base.")
@one_line_errors
def base(base, ask):
    """Resolve the base model (convert the packaged GGUF once) and describe it."""
    from .base import describe, resolve_base
    from .progress import console
    quiet_transformers()
    with console.status("resolving base model (first run converts the GGUF, ~30 s)..."):
        path = resolve_base(base)
    info = describe(path)
    for k in ("path", "architecture", "parameters", "layers", "hidden_size",
              "intermediate_size", "vocab_size"):
        v = info[k]
        click.echo(f"{k:18} {v:,}" if isinstance(v, int) else f"{k:18} {v}")
    if ask:
        from .generate import answer
        click.echo(f"{'answer':18} {answer(path, ask)}")


# ---------------------------------------------------------------- data
@main.group(context_settings=CONTEXT)
def data():
    """Build and check the per-domain datasets."""


@data.command("build", context_settings=CONTEXT)
@click.option("--out", "out_dir", **home_default("data"), type=click.Path(file_okay=False), help="Output directory.")
@click.option("--domain", "domains", multiple=True, help="Only these domains (repeatable).")
@click.option("--seed", default=0, type=int, help="Seed of the split and the sampling.")
@click.option("--max-train", default=4000, type=click.IntRange(1), help="Most training records per domain.")
@click.option("--max-eval", default=300, type=click.IntRange(1), help="Most records per domain in val and in test.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
@one_line_errors
def data_build(out_dir, domains, seed, max_train, max_eval, overwrite):
    """Fetch offline sources and write train/val/test JSONL for each domain."""
    import data_recipes
    from .progress import out, task_progress
    from .tables import data_table
    names = list(domains) or list(data_recipes.DOMAINS)
    with task_progress(data_recipes.build_steps(names), "building data") as advance:
        report = data_recipes.build(out_dir, domains=names, seed=seed, overwrite=overwrite,
                                    max_train=max_train, max_eval=max_eval,
                                    on_progress=lambda d, stage: advance(d) if stage == "done" else None)
    out.print(data_table(report))
    click.echo(f"wrote {out_dir}")


@data.command("check", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@one_line_errors
def data_check(files):
    """Validate JSONL files (chat or instruction format) and count records."""
    from .data import load_records
    for f in files:
        click.echo(f"{f}: {len(load_records(f))} records ok")


# ---------------------------------------------------------------- experts
@main.command("train-expert", context_settings=CONTEXT)
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Train every expert in experts/.")
@click.option("--base", default=None, help="Base model (default: packaged SmolLM2-135M-Instruct).")
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Directory made by `smolmoe data build`.")
@click.option("--out", "out_root", **home_default("experts"), type=click.Path(), help="Experts are written to OUT/NAME.")
@click.option("--full", is_flag=True, help="Train every parameter, not only the MLPs (breaks exact merging).")
@click.option("--steps", type=click.IntRange(1), help="Override the manifest's steps.")
@click.option("--lr", type=Finite(0, 1, min_open=True), help="Override the learning rate.")
@click.option("--batch-size", type=click.IntRange(1), help="Override the batch size.")
@click.option("--seq-len", type=click.IntRange(8), help="Override the sequence length.")
@click.option("--save-every", type=click.IntRange(0), help="Checkpoint every N steps.")
@click.option("--precision", type=click.Choice(PRECISIONS), help="Mixed precision; auto: bf16 where the GPU or CPU (AMX/AVX512-BF16) is fast at it.")
@click.option("--optimizer", type=click.Choice(["adamw", "adamw8bit"]), help="adamw8bit needs bitsandbytes.")
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace existing expert directories.")
@one_line_errors
def train_expert_cmd(names, all_, base, data_dir, out_root, full, steps, lr, batch_size, seq_len,
                     save_every, precision, optimizer, resume, overwrite):
    """Fine-tune domain experts from the base model (MLP-only by default)."""
    from .base import resolve_base
    from .config import find_manifest, list_manifests
    from .experts import train_expert
    from .progress import step_progress
    from .train import process_state
    quiet_transformers()
    if all_ == bool(names):
        raise SmolMoEError("name the experts to train, or pass --all (not both)")
    manifests = list_manifests() if all_ else [find_manifest(n) for n in names]
    base_dir = resolve_base(base)
    main_process = process_state().is_main_process  # several under accelerate launch
    for m in manifests:
        settings = m.finetune.updated(steps=steps, lr=lr, batch_size=batch_size, seq_len=seq_len,
                                      save_every=save_every, precision=precision, optimizer=optimizer)
        with step_progress(settings.steps, f"expert {m.name}") as on_step:
            summary = train_expert(m, base=base_dir, data_dir=Path(data_dir),
                                   out_dir=Path(out_root) / m.name, settings=settings,
                                   trainable="full" if full else None, resume=resume,
                                   overwrite=overwrite, on_step=on_step if main_process else None)
        if main_process:
            click.echo(f"{m.name}: loss {summary['final_loss']:.4f}, {summary['tokens_per_second']} "
                       f"tok/s, {summary['seconds']} s -> {Path(out_root) / m.name}")


# ---------------------------------------------------------------- eval
@main.command("eval", context_settings=CONTEXT)
@click.argument("model_dirs", nargs=-1, type=click.Path())
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Directory made by `smolmoe data build`.")
@click.option("--domain", "domains", multiple=True, help="Only these domains (default: all in the data dir).")
@click.option("--split", default="test", type=click.Choice(["train", "val", "test", "foreign"]),
              help="foreign: the held-out source of each domain (never trained on).")
@click.option("--limit", default=100, type=click.IntRange(1), help="Records per domain.")
@click.option("--max-len", default=384, type=click.IntRange(8), help="Longest conversation in tokens (longer ones are cut).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option("--moe", "moe_dir", type=click.Path(), is_flag=False, flag_value=MOE_FLAG, metavar="[DIR]",
              help="Evaluate this MoE against the base, its experts and the oracle (no DIR: $SMOLMOE_HOME/moe).")
@click.option("--base", default=None, help="Base model for --moe (default: the packaged SmolLM2).")
@click.option("--tasks", is_flag=True, help="Also generate greedy answers and score them per domain (docs/eval.md).")
@click.option("--tasks-limit", default=16, type=click.IntRange(1), help="Prompts per domain for --tasks (guardian: this many harmful and benign each).")
@click.option("--tasks-batch", default=16, type=click.IntRange(1), help="Prompts generated together for --tasks.")
@one_line_errors
def eval_cmd(model_dirs, data_dir, domains, split, limit, max_len, json_out, moe_dir, base, tasks,
             tasks_limit, tasks_batch):
    """Per-domain assistant-token loss of model directories (or --moe: the full MoE report);
    --tasks adds task scores and refusal rates from generated answers."""
    from .data import data_domains
    from .evaluate import evaluate, moe_evaluate
    from .io import write_json
    from .progress import out, task_progress
    from .tables import loss_table, moe_eval_tables
    quiet_transformers()
    task_args = dict(split=split, limit=tasks_limit, batch_size=tasks_batch)
    if moe_dir:
        from .base import resolve_base
        moe_dir = home_path("moe") if moe_dir == MOE_FLAG else moe_dir
        from .surgery import read_meta
        n = len(read_meta(Path(moe_dir))["experts"])
        base_dir = resolve_base(base)
        with task_progress((n + 2) * n, "evaluating") as advance:
            report = moe_evaluate(Path(moe_dir), Path(data_dir), base=base_dir, split=split,
                                  limit=limit, max_len=max_len, on_progress=advance)
        for table in moe_eval_tables(report):
            out.print(table)
        if tasks:
            from .tasks.run import moe_evaluate_tasks, moe_task_steps
            with task_progress(moe_task_steps(n, Path(data_dir)), "tasks") as advance:
                report["tasks"] = moe_evaluate_tasks(Path(moe_dir), Path(data_dir), base=base_dir,
                                                     on_progress=advance, **task_args)
            print_tasks(report["tasks"])
        if json_out:
            write_json(json_out, report)
            click.echo(f"wrote {json_out}")
        return
    if not model_dirs:
        raise SmolMoEError("give at least one model directory (or --moe DIR)")
    names = list(domains) or data_domains(Path(data_dir))
    models = {Path(d).name: Path(d) for d in model_dirs}
    with task_progress(len(models) * len(names), "evaluating") as advance:
        report = evaluate(models, Path(data_dir), names, split=split, limit=limit,
                          max_len=max_len, on_progress=advance)
    out.print(loss_table(report, names))
    if tasks:
        from .config import GENERAL_DOMAIN
        from .tasks.run import evaluate_tasks, has_everyday
        sets = len(set(names) | ({GENERAL_DOMAIN} if has_everyday(Path(data_dir)) else set()))
        with task_progress(len(models) * sets, "tasks") as advance:
            report["tasks"] = evaluate_tasks(models, Path(data_dir), names, on_progress=advance,
                                             **task_args)
        print_tasks(report["tasks"])
    if json_out:
        write_json(json_out, report)
        click.echo(f"wrote {json_out}")


# ---------------------------------------------------------------- merge core
@main.command(context_settings=CONTEXT)
@click.argument("experts", nargs=-1)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Merge config YAML (base, experts, top_k, router_init, non_ffn, output).")
@click.option("--experts-root", **home_default("experts"), type=click.Path(), help="Where expert names are looked up.")
@click.option("--all", "all_", is_flag=True, help="Every expert in experts/*.yaml, in manifest order.")
@click.option("--base", default=None, help="Non-FFN weights from here (default: the first expert).")
@click.option("--top-k", type=click.IntRange(1), default=None, help="Experts per token [default: 2].")
@click.option("--router-init", type=click.Choice(["random", "hidden", "fit"]), default=None,
              help="How routers start: random, from prompt hidden states, or fitted on data [default: fit].")
@click.option("--non-ffn", default=None, metavar="base|average|NAME", help="Attention, norms and embeddings from the base, the experts' average, or the named expert [default: base].")
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Data for router_init=fit.")
@click.option("--fit-samples", type=click.IntRange(1), default=None, help="Conversations per domain for the fit init [default: 16].")
@click.option("--out", "output", default=None, type=click.Path(file_okay=False), help="Output MoE directory [default: $SMOLMOE_HOME/moe].")
@click.option("--base-expert", is_flag=True, default=None, help="Add the base model's own FFN as one more expert, 'general', for requests outside every domain (--base, default: the packaged SmolLM2).")
@click.option("--shared-base-expert", is_flag=True, help="Put the base's FFN in Qwen2-MoE's always-on shared expert instead of a routed one (qwen2 experts; docs/byo.md).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
@one_line_errors
def assemble(experts, config_file, experts_root, all_, base, top_k, router_init, non_ffn, data_dir,
             fit_samples, output, base_expert, shared_base_expert, overwrite):
    """Merge dense experts into one MoE (routers initialised, parity checked)."""
    from .config import MergeConfig, list_manifests, load_merge_config
    from .progress import console
    from .surgery import assemble as assemble_moe
    quiet_transformers()
    manifests = {}
    try:
        manifests = {m.name: m for m in list_manifests()}
    except SmolMoEError:
        pass  # manifests are optional unless --all or router_init=hidden needs them
    names = list(experts) or (list(manifests) if all_ else [])
    base_expert = "shared" if shared_base_expert else base_expert
    if base_expert and not base:
        from .base import resolve_base
        base = str(resolve_base())
    overrides = dict(base=base, top_k=top_k, router_init=router_init, non_ffn=non_ffn,
                     data=data_dir, fit_samples=fit_samples, output=output, base_expert=base_expert)
    if config_file:
        merge = load_merge_config(config_file, **({"experts": names} if names else {}), **overrides)
    else:
        if not names:
            raise SmolMoEError("name at least two experts, pass --all, or give --config")
        merge = MergeConfig(experts=names, **{k: v for k, v in overrides.items() if v is not None})
    merge.output = merge.output or str(home_path("moe"))
    with console.status("assembling...") as status:
        meta = assemble_moe(merge, experts_root=Path(merge.experts_root or experts_root),
                            overwrite=overwrite, manifests=manifests,
                            on_progress=lambda msg: status.update(msg))
    click.echo(f"experts (in order): {', '.join(e['name'] for e in meta['experts'])}")
    click.echo(f"non-FFN weights from {meta['non_ffn']} ({meta['non_ffn_source']}); each expert's "
               f"own non-FFN weights differ from them by:")
    for name, d in meta["non_ffn_distance"].items():
        click.echo(f"  {name:14} max |diff| {d['max_abs']:.3g}, relative L2 {d['relative_l2']:.3g}")
    for name, diff in meta["parity_max_abs_logit_diff"].items():
        click.echo(f"parity {name:14} max |logit diff| {diff:.2e}")
    from .surgery import parity_warning
    warning = parity_warning(meta)
    if warning:
        click.secho(warning, err=True, fg="red", bold=True)
    acc = meta["router_init_report"].get("train_accuracy_per_layer")
    if acc:
        click.echo("fit accuracy per layer: " + " ".join(f"{a:.2f}" for a in acc))
    click.echo(f"wrote {merge.output}")


@main.command(context_settings=CONTEXT)
@click.argument("moe_dir", type=click.Path())
@click.option("--names", required=True, help="Comma-separated expert names, in the MoE's expert order.")
@click.option("--domains", default=None, help="Comma-separated data domain each expert serves (default: its name).")
@one_line_errors
def adopt(moe_dir, names, domains):
    """Name the experts of an MoE made elsewhere (e.g. mergekit-moe): writes smolmoe.json.

    Without it every command still works, with experts called expert_0, expert_1, ...
    """
    from .surgery import adopt as adopt_moe

    split = lambda text: [x.strip() for x in text.split(",")] if text else None  # noqa: E731
    meta = adopt_moe(Path(moe_dir), split(names), split(domains))
    click.echo("experts: " + ", ".join(f"{e['name']} ({e['domain']})" for e in meta["experts"]))


@main.command("train-router", context_settings=CONTEXT)
@home_argument("moe_dir", "moe")
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Directory made by `smolmoe data build`.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False), help="Write here instead of updating MOE_DIR in place.")
@click.option("--steps", default=30, type=click.IntRange(1), help="Optimizer steps.")
@click.option("--lr", default=1e-3, type=Finite(0, 1, min_open=True), help="Peak learning rate.")
@click.option("--batch-size", default=8, type=click.IntRange(1), help="Conversations per step.")
@click.option("--seq-len", default=256, type=click.IntRange(8), help="Longest conversation in tokens.")
@click.option("--alpha", default=0.01, type=Finite(0, 100), help="Weight of the load-balancing loss.")
@click.option("--beta", default=0.0, type=Finite(0, 100), help="Weight of router supervision: CE of each router against the example's domain expert.")
@click.option("--heal", default="none", type=click.Choice(["none", "norms", "lora"]), help="Also train the shared weights lightly (after merging full fine-tunes): every RMSNorm, or LoRA on attention (merged back).")
@click.option("--per-domain", default=400, type=click.IntRange(1), help="Training conversations per domain.")
@click.option("--precision", default="auto", type=click.Choice(PRECISIONS), help="Mixed precision; auto: bf16 where the GPU or CPU (AMX/AVX512-BF16) is fast at it.")
@click.option("--grad-checkpointing", is_flag=True, help="Trade compute for memory (small GPUs).")
@click.option("--save-every", default=0, type=click.IntRange(0), help="Checkpoint every N steps (0: only at the end).")
@click.option("--seed", default=0, type=int, help="Seed of the data order.")
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out directory.")
@one_line_errors
def train_router_cmd(moe_dir, data_dir, out_dir, steps, lr, batch_size, seq_len, alpha, beta, heal,
                     per_domain, precision, grad_checkpointing, save_every, seed, resume, overwrite):
    """Train only the routers: assistant-token LM loss + alpha * load-balancing loss
    (+ beta * routing cross-entropy against each example's domain expert).
    MOE_DIR defaults to $SMOLMOE_HOME/moe."""
    from .config import TrainSettings
    from .progress import step_progress
    from .router import train_router
    from .train import process_state
    quiet_transformers()
    settings = TrainSettings(steps=steps, lr=lr, batch_size=batch_size, seq_len=seq_len,
                             warmup_steps=min(3, steps - 1), precision=precision,
                             grad_checkpointing=grad_checkpointing, save_every=save_every,
                             seed=seed).validate()
    main_process = process_state().is_main_process
    with step_progress(steps, "routers", keys=("loss", "balance", "route_ce", "max_load")) as on_step:
        s = train_router(Path(moe_dir), Path(data_dir), settings, alpha=alpha, beta=beta, heal=heal,
                         out_dir=Path(out_dir) if out_dir else None, per_domain=per_domain,
                         resume=resume, overwrite=overwrite,
                         on_step=on_step if main_process else None)
    if not main_process:
        return
    healed = s["trainable_params"] - s["router_params"]
    click.echo(f"trainable parameters: {s['trainable_params']:,} (routers {s['router_params']:,}"
               + (f", healing {heal} {healed:,})" if healed else " only)"))
    f = s["final"]
    click.echo(f"final LM loss {f['loss']:.4f}, balance {f['balance']:.4f}, "
               f"{s['tokens_per_second']} tok/s -> {out_dir or moe_dir}")


@main.command(context_settings=CONTEXT)
@click.argument("prompt")
@click.option("--moe", "moe_dir", **home_default("moe"), type=click.Path(), help="The MoE directory to inspect.")
@click.option("--generate", default=0, type=click.IntRange(0, 2048), help="Also inspect a greedy answer of N tokens.")
@click.option("--layer", default=None, type=int, help="Layer for the per-token view (default: majority over layers).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the full report here.")
@one_line_errors
def inspect(prompt, moe_dir, generate, layer, json_out):
    """Show, layer by layer, which experts handled PROMPT."""
    from .io import write_json
    from .progress import out
    from .routing import inspect_prompt
    from .tables import routing_layer_table, token_line, usage_table
    quiet_transformers()
    report = inspect_prompt(Path(moe_dir), prompt, generate=generate, layer=layer)
    where = f"layer {layer}" if layer is not None else "majority over layers"
    for key, title in (("prompt_view", "prompt"), ("answer_view", "answer")):
        view = report.get(key)
        if not view:
            continue
        out.print(routing_layer_table(view, f"{title}: top experts per layer (top-{report['top_k']} choices)"))
        out.print(usage_table(view["usage"], f"{title}: overall usage"))
        if key == "answer_view":
            out.print(f"[bold]answer:[/bold] {report['answer']}")
        out.print(f"[bold]{title} tokens, top-1 expert ({where}):[/bold] {token_line(view, report['experts'])}")
    if json_out:
        write_json(json_out, report)


# ---------------------------------------------------------------- chat / serve / export
def generation_options(fn):
    """Sampling settings shared by `chat` (the server takes them per request)."""
    options = [
        click.option("--max-tokens", default=DEFAULT_MAX_TOKENS, type=click.IntRange(1), help="Longest reply in tokens."),
        click.option("--temperature", default=0.7, type=Finite(0, 5), help="0 = greedy."),
        click.option("--top-p", default=0.9, type=Finite(0, 1, min_open=True), help="Sample from the smallest set of tokens holding this much probability."),
        click.option("--repetition-penalty", default=1.1, type=Finite(0, 10, min_open=True), help="Above 1 discourages repeating tokens."),
        click.option("--stop", "stop", multiple=True, help="Stop the reply at this string (repeatable)."),
        click.option("--seed", default=None, type=int, help="Make sampling reproducible."),
        click.option("--think/--no-think", default=None, help="Thinking on/off (models with <think> only)."),
        click.option("--thinking-budget", default=None, type=click.IntRange(0), help="Most thinking tokens."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@main.command(context_settings=CONTEXT)
@home_argument("model_dir", "moe")
@click.option("--system", default=None, help="System prompt for the conversation.")
@generation_options
@one_line_errors
def chat(model_dir, system, max_tokens, temperature, top_p, repetition_penalty, stop, seed, think,
         thinking_budget):
    """Chat with MODEL_DIR (dense, base or MoE; default $SMOLMOE_HOME/moe) in the terminal,
    or answer stdin line by line."""
    from .base import check_built
    from .chat import ChatSession, legend, run_chat, terminal_lines
    from .generate import ChatModel, GenerationSettings
    from .progress import console
    quiet_transformers()
    settings = GenerationSettings(max_new_tokens=max_tokens, temperature=temperature, top_p=top_p,
                                  repetition_penalty=repetition_penalty, stop=list(stop), seed=seed,
                                  think=think, thinking_budget=thinking_budget).validate()
    interactive = sys.stdin.isatty()
    check_built(Path(model_dir))
    with console.status(f"loading {model_dir}..."):
        chat_model = ChatModel.load(model_dir)
    if interactive:
        kind = f"MoE of {', '.join(chat_model.experts)}" if chat_model.is_moe else "dense model"
        click.echo(f"{chat_model.name}: {kind}. /help for commands, Ctrl-D to quit.", err=True)
        if chat_model.is_moe:
            click.echo(legend(chat_model.experts), err=True)
    lines = terminal_lines() if interactive else sys.stdin
    failures = run_chat(ChatSession(chat_model, settings, system), lines, sys.stdout, sys.stderr,
                        interactive)
    if failures and not interactive:
        sys.exit(1)


@main.command(context_settings=CONTEXT)
@home_argument("model_dir", "moe")
@click.option("--host", default="127.0.0.1", help="Address to listen on (loopback by default; anything else is reachable from the network, without authentication).")
@click.option("--port", default=8000, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--max-tokens", default=1024, type=click.IntRange(1), help="Most tokens one reply may ask for.")
@click.option("--max-prompt-tokens", default=None, type=click.IntRange(1), help="Longest prompt accepted [default: the model's context].")
@click.option("--max-body-bytes", default=1 << 20, type=click.IntRange(1), help="Largest request body accepted.")
@one_line_errors
def serve(model_dir, host, port, max_tokens, max_prompt_tokens, max_body_bytes):
    """Serve MODEL_DIR (default $SMOLMOE_HOME/moe): an OpenAI-compatible API at /v1 and a web
    chat showing routing at /."""
    from .base import check_built
    from .serve import ServerLimits, is_loopback, serve as run_server
    quiet_transformers()
    check_built(Path(model_dir))
    limits = ServerLimits(max_body_bytes=max_body_bytes, max_tokens=max_tokens,
                          default_max_tokens=min(DEFAULT_MAX_TOKENS, max_tokens),
                          max_prompt_tokens=max_prompt_tokens)
    if not is_loopback(host):
        click.secho(f"warning: listening on {host}: anyone who can reach this machine can use the "
                    f"model (no authentication, no TLS)", err=True, fg="yellow")

    def ready(chat_model, url):
        kind = f"MoE of {len(chat_model.experts)} experts" if chat_model.is_moe else "dense model"
        click.echo(f"serving {chat_model.name} ({kind}): web page {url}/  API {url}/v1  "
                   f"(Ctrl-C to stop)", err=True)
    run_server(model_dir, host=host, port=port, limits=limits, on_ready=ready)


@main.command(context_settings=CONTEXT)
@click.argument("model_dir", type=click.Path())
@click.option("--format", "fmt", required=True, type=click.Choice(["hf", "gguf"]), help="hf: clean per-expert HF dir; gguf: llama.cpp file.")
@click.option("--type", "gguf_type", default="f16", type=click.Choice(["f32", "f16", "bf16", "q8_0"]), help="GGUF tensor type (q8_0 for CPU users).")
@click.option("--out", "out", default=None, type=click.Path(), help="[default: MODEL_DIR-hf or MODEL_DIR-TYPE.gguf]")
@click.option("--check/--no-check", default=True, help="gguf: run the file in llama.cpp and compare next-token argmax with transformers.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@one_line_errors
def export(model_dir, fmt, gguf_type, out, check, overwrite):
    """Export MODEL_DIR (dense or MoE) as a clean HF directory or a GGUF file."""
    import importlib.util
    from .export import check_gguf, export_gguf, export_hf
    from .progress import console
    quiet_transformers()
    source = Path(model_dir)
    if fmt == "hf":
        out = Path(out or f"{str(source).rstrip('/')}-hf")
        with console.status("exporting (save, reload, compare logits)..."):
            report = export_hf(source, out, overwrite=overwrite)
        layout = "per-expert Mixtral layout" if report["per_expert_layout"] else "dense"
        click.echo(f"{report['architecture']}, {layout}, max |logit diff| vs source "
                   f"{report['max_abs_logit_diff']:.1g} -> {out}")
        return
    out = Path(out or f"{str(source).rstrip('/')}-{gguf_type}.gguf")
    if check and importlib.util.find_spec("llama_cpp") is None:
        # Refused before converting: a check that silently does not run would read as a pass.
        raise SmolMoEError("--check runs the GGUF in llama.cpp, but llama-cpp-python is not "
                           f"installed ({OPTIONAL['llama_cpp']}; a 10+ min build), or pass --no-check")
    with console.status(f"converting to GGUF {gguf_type} with llama.cpp's converter...") as status:
        report = export_gguf(source, out, gguf_type, overwrite=overwrite,
                             on_fetch=lambda msg: status.console.print(msg, markup=False))
    click.echo(f"{report['architecture']} -> {out} ({report['bytes'] / 2**20:.1f} MiB, {gguf_type})")
    if not check:
        return
    with console.status("running the GGUF in llama.cpp and transformers..."):
        result = check_gguf(out, source)
    click.echo(f"llama.cpp vs transformers next-token argmax: {result['agree']}/{result['positions']} "
               f"positions agree ({result['agreement']:.2%}), max |logit diff| {result['max_abs_logit_diff']:.3g}")


def print_tasks(report: dict) -> None:
    from .progress import out
    from .tables import refusal_table, task_table
    out.print(task_table(report))
    out.print(refusal_table(report))
    s = report["settings"]
    click.echo(f"tasks: {s['prompts']} prompts generated in {s['generation_seconds']} s "
               f"({s['prompts_per_second']:.2f} prompts/s)")


# ---------------------------------------------------------------- scratch (from-scratch stages)
from .scratch.cli import scratch  # noqa: E402  (the group lives beside its stages)

main.add_command(scratch)

# ---------------------------------------------------------------- rl (any model dir, verifiable tasks)
from .rl.cli import rl  # noqa: E402

main.add_command(rl)

if __name__ == "__main__":
    main()
