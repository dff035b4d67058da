"""`smolmoe scratch ...`: the from-scratch stages' commands (they only parse and call scratch/)."""
from __future__ import annotations

import click

from ..core.io import check_output_not_input
from ..scratch.budgets import RUN_SETTINGS
from . import scratch_stages
from .kit import CONTEXT, SettingsGroup, home_default, one_line_errors, quiet_transformers, Whole

PRESETS = tuple(RUN_SETTINGS)   # the presets' names (presets.PRESETS itself imports torch)


@click.group(cls=SettingsGroup, context_settings=CONTEXT)
@click.option("--threads", type=Whole(1), envvar="SMOLMOE_THREADS", default=None,
              help="torch CPU threads (env SMOLMOE_THREADS). On a shared CPU, 1 thread ran a tiny "
                   "step 3x faster than 2 (no spinning on busy cores).")
def scratch(threads):
    """From-scratch stages: tokenizer, pretrain, SFT, reasoning, DPO, GRPO/GSPO, LoRA, distill."""
    if threads:
        import torch
        torch.set_num_threads(threads)


def _fetcher():
    from ..data.recipes.sources import Fetcher
    return Fetcher()


@scratch.command("presets", context_settings=CONTEXT)
@click.option("--train-step", "step_preset", type=click.Choice(PRESETS), default=None,
              help="Also build this preset for real and run one training step on a small batch.")
@one_line_errors
def scratch_presets(step_preset):
    """Print total and active parameter counts of the presets (built on the meta device)."""
    from ..scratch.presets import PRESETS, describe, one_training_step
    for name in PRESETS:
        d = describe(name)
        click.echo(f"{name:8} total {d['total']:>13,}  active {d['active']:>13,}  "
                   f"layers {d['layers']}  experts {d['experts']}+1 shared top-{d['top_k']}  "
                   f"heads {d['heads']}/{d['kv_heads']}  rope_theta {d['rope_theta']:g}")
    if step_preset:
        quiet_transformers()
        r = one_training_step(step_preset)
        click.echo(f"{step_preset}: one training step, loss {r['loss']:.4f}, {r['seconds']:.1f} s "
                   f"on {r['device']}")


@scratch.command("data", context_settings=CONTEXT)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--seed", default=0, type=Whole(), help="Seed of the split and the sampling.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@one_line_errors
def scratch_data(out_dir, seed, overwrite):
    """Fetch the offline sources and write every stage's JSONL (see docs/scratch.md)."""
    from ..scratch.corpus import build_stage_data
    for name, n in build_stage_data(out_dir, _fetcher(), seed=seed, overwrite=overwrite).items():
        click.echo(f"{name:24} {n:>7,}")


@scratch.command("tokenizer", context_settings=CONTEXT)
@click.option("--data", "data_file", required=True, type=click.Path(), help="Pretraining JSONL ({\"text\"}).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--vocab-size", default=4096, type=Whole(262), help="Tokens in the vocabulary (at least the 256 bytes + specials).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@one_line_errors
def scratch_tokenizer(data_file, out_dir, vocab_size, overwrite):
    """Train a byte-level BPE tokenizer with chat and thinking tokens."""
    from ..scratch.corpus import load_texts
    from ..scratch.tokenizer import train_tokenizer
    check_output_not_input(out_dir, [data_file], "--out")
    tok = train_tokenizer(load_texts(data_file), out_dir, vocab_size, overwrite)
    click.echo(f"vocabulary {len(tok):,} -> {out_dir}")


@scratch.command("init", context_settings=CONTEXT)
@click.option("--preset", default="tiny", type=click.Choice(PRESETS), help="Model size preset (see `smolmoe scratch presets`).")
@click.option("--tokenizer", "tokenizer_dir", required=True, type=click.Path(), help="Directory made by `smolmoe scratch tokenizer`.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--layers", type=Whole(2), help="Override the preset's layer count.")
@click.option("--hidden-size", type=Whole(8), help="Override the preset's hidden size.")
@click.option("--seed", default=0, type=Whole(), help="Seed of the initial weights.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@one_line_errors
def scratch_init(preset, tokenizer_dir, out_dir, layers, hidden_size, seed, overwrite):
    """Save a freshly initialised preset model with the scratch tokenizer."""
    from ..scratch.pretrain import init_model
    quiet_transformers()
    check_output_not_input(out_dir, [tokenizer_dir], "--out")
    c = init_model(preset, tokenizer_dir, out_dir, seed, overwrite, layers=layers, hidden_size=hidden_size)
    click.echo(f"total {c['total']:,}  active {c['active']:,} -> {out_dir}")


@scratch.command("merge-lora", context_settings=CONTEXT)
@click.argument("model_dir", type=click.Path())
@click.argument("adapter_dir", type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output model directory.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@one_line_errors
def scratch_merge_lora(model_dir, adapter_dir, out_dir, overwrite):
    """Merge a saved LoRA adapter into the model it was trained on; save a plain HF dir."""
    from ..core.modeldir import load_tokenizer
    from ..training.lora import merge_adapter
    quiet_transformers()
    check_output_not_input(out_dir, [model_dir, adapter_dir], "--out")
    merge_adapter(model_dir, adapter_dir, out_dir, load_tokenizer(model_dir), overwrite)
    click.echo(f"merged -> {out_dir}")


@scratch.command("chat", context_settings=CONTEXT)
@click.argument("model_dir", type=click.Path())
@click.argument("prompts", nargs=-1, required=True)
@click.option("--think/--no-think", default=True, help="Open a thinking block, or skip it.")
@click.option("--budget", type=Whole(0), default=None, help="At most this many thinking tokens.")
@click.option("--max-new-tokens", default=96, type=Whole(1), help="Longest reply in tokens.")
@one_line_errors
def scratch_chat(model_dir, prompts, think, budget, max_new_tokens):
    """Answer prompts greedily, showing thinking (within the budget) and the answer."""
    from ..core.modeldir import load_model, load_tokenizer
    from ..scratch.thinking import chat
    quiet_transformers()
    model, tok = load_model(model_dir), load_tokenizer(model_dir)
    for p, r in zip(prompts, chat(model, tok, [[{"role": "user", "content": p}] for p in prompts],
                                  think=think, budget=budget, max_new_tokens=max_new_tokens)):
        click.echo(f"> {p}\n  thinking ({r['thinking_tokens']} tokens): {r['thinking']!r}\n  answer: {r['answer']}")


@scratch.command("budget-check", context_settings=CONTEXT)
@click.argument("model_dir", type=click.Path())
@click.option("--data", "data_file", required=True, type=click.Path(), help="Prompt JSONL (e.g. grpo/test.jsonl).")
@click.option("--budget", "budgets", multiple=True, type=Whole(0), default=(0, 2, 4, 8), help="Thinking budget to try (repeatable).")
@click.option("--limit", default=50, type=Whole(1), help="Prompts to run.")
@one_line_errors
def scratch_budget_check(model_dir, data_file, budgets, limit):
    """Over LIMIT prompts: the most thinking tokens seen per budget, and how many got an answer."""
    from ..core.modeldir import load_model, load_tokenizer
    from ..scratch.corpus import load_prompt_records
    from ..scratch.thinking import budget_report
    quiet_transformers()
    model, tok = load_model(model_dir), load_tokenizer(model_dir)
    records = load_prompt_records(data_file)[:limit]
    for row in budget_report(model, tok, [r["messages"] for r in records], budgets):
        click.echo(f"budget {row['budget']:>4}: max thinking {row['max_thinking_tokens']:>4}, "
                   f"within budget {row['within_budget']}/{row['n']}, answered {row['answered']}/{row['n']}")


@scratch.command("run", context_settings=CONTEXT)
@click.option("--preset", default="tiny", type=click.Choice(PRESETS), help="Model size preset (see `smolmoe scratch presets`).")
@click.option("--out", "out_dir", **home_default("scratch"), type=click.Path(file_okay=False), help="Where every stage writes.")
@click.option("--pretrain-steps", type=Whole(1), help="Override the preset's pretraining steps.")
@click.option("--sft-steps", type=Whole(1), help="Override the preset's SFT steps.")
@click.option("--overwrite", is_flag=True, help="Replace existing stage outputs.")
@one_line_errors
def scratch_run(preset, out_dir, pretrain_steps, sft_steps, overwrite):
    """data -> tokenizer -> pretrain -> SFT in one go; held-out losses before/after each stage."""
    from .progress import Shown, console
    from ..pipelines.scratch import run
    quiet_transformers()
    report = run(preset, out_dir, _fetcher(), pretrain_steps=pretrain_steps, sft_steps=sft_steps,
                 overwrite=overwrite, on_stage=lambda s: console.log(f"stage {s}"), progress=Shown())
    p = report["parameters"]
    click.echo(f"model: total {p['total']:,} / active {p['active']:,} parameters")
    for stage in ("pretrain", "sft"):
        s = report["stages"][stage]
        click.echo(f"{stage:9} held-out loss {s['val_loss_before']:.3f} -> {s['val_loss_after']:.3f} "
                   f"({s['steps']} steps, {s['seconds']:.0f} s)")
    for sample in report["samples"]:
        click.echo(f"> {sample['prompt']}\n  {sample['completion']!r}")
    a = report["arithmetic_test"]
    click.echo(f"arithmetic test accuracy {a['accuracy']:.3f} (format {a['format']:.3f}, n={a['n']})")
    click.echo(f"total {report['seconds']:.0f} s -> {out_dir}/report.json")


for command in (scratch_stages.scratch_pretrain, scratch_stages.scratch_extend, scratch_stages.scratch_sft,
                scratch_stages.scratch_dpo, scratch_stages.scratch_grpo, scratch_stages.scratch_distill):
    scratch.add_command(command)
