"""The `smolmoe` command line: parses options and calls one library function per command.

This module holds the group and the commands that use a built model (base, inspect, chat,
serve, export); build.py the building steps (data, train-expert, assemble, adopt,
train-router), baselines.py merge-dense, eval.py eval, grow.py add/remove-expert, scratch.py and
rl.py their groups.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

# What every CLI module shares lives in kit.py: the others cannot import this module (`python -m
# smolmoe.cli` would then load it twice).
from ..core.config import (CHAT_SAMPLING, DEFAULT_MAX_TOKENS, GGUF_DEFAULT_TYPE, GGUF_TYPES, ServerLimits,
                           export_path)
from ..core.errors import SmolMoEError
from .kit import (CONTEXT, OPTIONAL, Finite, OneLineGroup, Whole, dtype_option, home_argument,  # noqa: F401
                     home_default, one_line_errors, quiet_transformers, settings_options)


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
    from ..core.base import resolve_base
    from ..core.modeldir import describe
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
        from ..inference.generate import answer
        click.echo(f"{'answer':18} {answer(path, ask)}")


@main.command(context_settings=CONTEXT)
@click.argument("prompt")
@click.option("--moe", "moe_dir", **home_default("moe"), type=click.Path(), help="The MoE directory to inspect.")
@click.option("--generate", default=0, type=Whole(0, 2048), help="Also inspect a greedy answer of N tokens.")
@click.option("--layer", default=None, type=Whole(), help="Layer for the per-token view (default: majority over layers).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the full report here.")
@dtype_option("float32")
@one_line_errors
def inspect(prompt, moe_dir, generate, layer, json_out, dtype):
    """Show, layer by layer, which experts handled PROMPT."""
    from ..core.io import write_json
    from .progress import out
    from ..evaluation.inspect_routing import inspect_prompt
    from .tables import routing_layer_table, token_line, usage_table
    quiet_transformers()
    if json_out:
        from ..core.io import check_output_not_input
        check_output_not_input(json_out, [moe_dir], "--json")
    report = inspect_prompt(Path(moe_dir), prompt, generate=generate, layer=layer, dtype=dtype)
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
@main.command(context_settings=CONTEXT)
@home_argument("model_dir", "moe")
@click.option("--system", default=None, help="System prompt for the conversation.")
@settings_options("smolmoe.inference.generate:GenerationSettings",
                  ("max_new_tokens", "temperature", "top_p", "repetition_penalty", "stop", "seed",
                   "think", "thinking_budget", "top_k"),
                  defaults=CHAT_SAMPLING, flags={"max_new_tokens": "--max-tokens"})
@dtype_option("float32")
@one_line_errors
def chat(model_dir, system, dtype, **generation):
    """Chat with MODEL_DIR (dense, base or MoE; default $SMOLMOE_HOME/moe) in the terminal,
    or answer stdin line by line."""
    from ..core.modeldir import check_built
    from ..inference.chat import ChatSession, legend, run_chat, terminal_lines
    from ..inference.generate import ChatModel, GenerationSettings
    from .progress import console
    quiet_transformers()
    settings = GenerationSettings(**{**generation, "stop": list(generation["stop"])}).validate()
    interactive = sys.stdin.isatty()
    check_built(Path(model_dir))
    with console.status(f"loading {model_dir}..."):
        chat_model = ChatModel.load(model_dir, dtype=dtype)
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
@click.option("--host", default="127.0.0.1", help="Address to listen on (loopback by default; anything else is reachable from the network and needs --api-key or --insecure).")
@click.option("--port", default=8000, type=Whole(0, 65535), help="Port to listen on.")
@settings_options(ServerLimits, ("max_tokens", "max_prompt_tokens", "max_body_bytes", "slots"))
@click.option("--api-key", envvar="SMOLMOE_API_KEY", default=None, show_default=False, show_envvar=True, help="Require 'Authorization: Bearer KEY' on every API route (401 otherwise).")
@click.option("--insecure", is_flag=True, help="Allow a non-loopback --host without an API key.")
@dtype_option("float32")
@one_line_errors
def serve(model_dir, host, port, max_tokens, max_prompt_tokens, max_body_bytes, slots, api_key,
          insecure, dtype):
    """Serve MODEL_DIR (default $SMOLMOE_HOME/moe): an OpenAI-compatible API at /v1 and a web
    chat showing routing at /."""
    from ..core.modeldir import check_built
    from ..serve import is_loopback, serve as run_server
    from ..serve.app import check_api_key, check_exposure
    quiet_transformers()
    api_key = check_api_key(api_key)
    check_exposure(host, api_key, insecure)   # before loading anything
    check_built(Path(model_dir))
    limits = ServerLimits(max_body_bytes=max_body_bytes, max_tokens=max_tokens,
                          default_max_tokens=min(DEFAULT_MAX_TOKENS, max_tokens),
                          max_prompt_tokens=max_prompt_tokens, slots=slots)
    if not is_loopback(host):
        click.secho(f"warning: listening on {host}: anyone who can reach this machine can "
                    + ("use the model (no authentication, no TLS)" if not api_key else
                       "try the key (no TLS: put a TLS proxy in front)"), err=True, fg="yellow")

    def ready(chat_model, url):
        kind = f"MoE of {len(chat_model.experts)} experts" if chat_model.is_moe else "dense model"
        click.echo(f"serving {chat_model.name} ({kind}): web page {url}/  API {url}/v1  "
                   f"(Ctrl-C to stop)", err=True)
    run_server(model_dir, host=host, port=port, limits=limits, on_ready=ready, dtype=dtype,
               api_key=api_key, insecure=insecure)


@main.command(context_settings=CONTEXT)
@click.argument("model_dir", type=click.Path())
@click.option("--format", "fmt", required=True, type=click.Choice(["hf", "gguf"]), help="hf: clean per-expert HF dir; gguf: llama.cpp file.")
@click.option("--type", "gguf_type", default=GGUF_DEFAULT_TYPE, type=click.Choice(GGUF_TYPES), help="GGUF tensor type (q8_0 for CPU users).")
@click.option("--out", "out", default=None, type=click.Path(), help="[default: MODEL_DIR-hf or MODEL_DIR-TYPE.gguf]")
@click.option("--check/--no-check", default=True, help="gguf: run the file in llama.cpp and compare next-token argmax with transformers.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@one_line_errors
def export(model_dir, fmt, gguf_type, out, check, overwrite):
    """Export MODEL_DIR (dense or MoE) as a clean HF directory or a GGUF file."""
    import importlib.util
    from ..export.gguf import check_gguf, export_gguf
    from ..export.hf import export_hf
    from .progress import console
    quiet_transformers()
    source = Path(model_dir)
    out = Path(out) if out else export_path(source, fmt, gguf_type)
    if fmt == "hf":
        with console.status("exporting (save, reload, compare logits)..."):
            report = export_hf(source, out, overwrite=overwrite)
        layout = "per-expert Mixtral layout" if report["per_expert_layout"] else "dense"
        click.echo(f"{report['architecture']}, {layout}, max |logit diff| vs source "
                   f"{report['max_abs_logit_diff']:.1g} -> {out}")
        return
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


# ---------------------------------------------------------------- the other command modules
from .baselines import merge_dense_cmd  # noqa: E402
from .build import adopt, assemble, data, train_expert_cmd, train_router_cmd  # noqa: E402
from .eval import eval_cmd  # noqa: E402
from .grow import add_expert_cmd, remove_expert_cmd  # noqa: E402
from .rl import rl  # noqa: E402  (any model dir, verifiable tasks)
from .scratch import scratch  # noqa: E402  (the group lives beside its stages)

for command in (data, train_expert_cmd, eval_cmd, assemble, adopt, add_expert_cmd, remove_expert_cmd,
                train_router_cmd, merge_dense_cmd, scratch, rl):
    main.add_command(command)

if __name__ == "__main__":
    main()
