"""`smolmoe rl ...`: GRPO/GSPO and DPO on any model dir with a verifiable task (parse, call, print)."""
from __future__ import annotations

from pathlib import Path

import click

from ..clikit import CONTEXT, one_line_errors, quiet_transformers
from ..scratch.cli import _lora_option, _settings, _train_options
from .tasks import TASKS


@click.group(context_settings=CONTEXT)
@click.option("--threads", type=click.IntRange(1), envvar="SMOLMOE_THREADS", default=None,
              help="torch CPU threads (env SMOLMOE_THREADS).")
def rl(threads):
    """Reinforcement learning on real models (the base, an expert, an MoE): GRPO/GSPO and DPO
    with verifiable rewards; prompts split train/held-out by their operands (docs/rl.md)."""
    if threads:
        import torch
        torch.set_num_threads(threads)


def _task_options(fn):
    options = [
        click.argument("model_dir", type=click.Path()),
        click.option("--task", default="small-arithmetic", type=click.Choice(sorted(TASKS)),
                     help="The verifiable task (docs/rl.md)."),
        click.option("--test-limit", default=208, type=click.IntRange(1),
                     help="Held-out prompts to score (the whole held-out split is 208)."),
        click.option("--max-new-tokens", default=40, type=click.IntRange(1),
                     help="Longest reply, in tokens."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _split(task: str, test_limit: int):
    from .tasks import problems
    return problems(task, "train"), problems(task, "test")[:test_limit]


def _accuracy_line(label: str, a: dict) -> str:
    low, high = a["interval"]
    return (f"{label:22} {a['accuracy']:.3f}  [{low:.3f}, {high:.3f}]  format {a['format']:.3f}"
            f"  (n={a['n']})")


@rl.command("eval", context_settings=CONTEXT)
@_task_options
@click.option("--precision", default="auto", type=click.Choice(["auto", "no", "bf16"]),
              help="Products in bf16 where the CPU or GPU is fast at it (auto), or float32 (no).")
@one_line_errors
def rl_eval(model_dir, task, test_limit, max_new_tokens, precision):
    """Greedy held-out exact accuracy on the task, with a 95% Wilson interval."""
    from ..modeldir import load_model, load_tokenizer
    from ..scratch.verifiable import verified_accuracy
    from .tasks import ANSWER_LINE
    quiet_transformers()
    _, test = _split(task, test_limit)
    a = verified_accuracy(load_model(model_dir), load_tokenizer(model_dir), test, ANSWER_LINE,
                          max_new_tokens=max_new_tokens, precision=precision)
    click.echo(_accuracy_line("held-out accuracy", a))


def _stage_options(fn):
    """Where a training stage writes, its training settings and its LoRA option."""
    out = click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
                       help="Output model directory (with its report).")
    return out(_train_options(_lora_option(fn)))


@rl.command("grpo", context_settings=CONTEXT)
@_task_options
@_stage_options
@click.option("--algo", default="grpo", type=click.Choice(["grpo", "gspo"]),
              help="GRPO (token-level ratio clip) or GSPO (sequence-level ratio clip).")
@click.option("--group-size", default=8, type=click.IntRange(2), help="Completions per prompt.")
@click.option("--iterations", default=2, type=click.IntRange(1), help="Optimizer steps per rollout.")
@click.option("--temperature", default=0.4, type=click.FloatRange(0, min_open=True),
              help="Rollout temperature: SmolLM2-135M's samples were right 3-5% of the time at "
                   "0.6-0.8 (few groups with a signal), 11% at 0.4.")
@click.option("--eval-every", default=0, type=click.IntRange(0),
              help="Also score the held-out prompts every N steps (0: before and after only).")
@one_line_errors
def rl_grpo(model_dir, task, test_limit, max_new_tokens, out_dir, lora_r, algo, group_size,
            iterations, temperature, eval_every, overwrite, **kw):
    """GRPO / GSPO; writes OUT (the model) and OUT/rl_report.{json,png}."""
    from ..config import TrainSettings
    from ..progress import step_progress
    from ..scratch.grpo import RLSettings, rl_train
    from ..scratch.lora import LoraSettings
    from .report import write_report
    from .tasks import ANSWER_LINE
    quiet_transformers()
    # The measured recipe of docs/rl.md: 8 prompts x 8 completions per rollout (two
    # micro-batches of 4 prompts keep memory low), each rollout used for 2 steps.
    settings = _settings(TrainSettings(steps=12, lr=2e-5, batch_size=4, grad_accum=2, seq_len=256,
                                       warmup_steps=2, min_lr_ratio=0.5), **kw)
    rl_settings = RLSettings(algo=algo, group_size=group_size, iterations=iterations,
                             max_new_tokens=max_new_tokens, temperature=temperature)
    lora = LoraSettings(r=lora_r, alpha=2 * lora_r) if lora_r else None
    train, test = _split(task, test_limit)
    with step_progress(settings.steps, algo, keys=("reward", "accuracy")) as on_step:
        info = rl_train(model_dir, train, test, out_dir, settings, rl_settings, task=ANSWER_LINE,
                        lora=lora, eval_every=eval_every, overwrite=overwrite, on_step=on_step)
    written = write_report(info | {"task": task}, Path(out_dir) / "rl_report.json")
    click.echo(_accuracy_line("held-out before", info["test_before"]))
    click.echo(_accuracy_line("held-out after", info["test_after"]))
    click.echo(f"training reward {info['reward_first']:.3f} -> {info['reward_last']:.3f} "
               f"(first/last 10 steps), {info['seconds']:.0f} s")
    click.echo(f"report {written['json']}, plot {written['png']}")


@rl.command("dpo", context_settings=CONTEXT)
@_task_options
@_stage_options
@click.option("--beta", default=0.1, type=click.FloatRange(0, min_open=True),
              help="DPO temperature: how far the policy may move from the starting model.")
@click.option("--prompts", default=64, type=click.IntRange(1),
              help="Training (and held-out) prompts to sample reply pairs on.")
@click.option("--samples", default=6, type=click.IntRange(2), help="Sampled replies per prompt.")
@click.option("--temperature", default=0.6, type=click.FloatRange(0, min_open=True),
              help="Sampling temperature of the replies that make the pairs.")
@one_line_errors
def rl_dpo(model_dir, task, test_limit, max_new_tokens, out_dir, lora_r, beta, prompts, samples,
           temperature, overwrite, **kw):
    """DPO on pairs from the model's own samples (a verified-right and a wrong reply)."""
    from ..config import TrainSettings
    from ..io import write_json
    from ..progress import console, step_progress
    from ..scratch.lora import LoraSettings
    from .selfpairs import self_dpo
    from .tasks import ANSWER_LINE
    quiet_transformers()
    settings = _settings(TrainSettings(steps=30, lr=5e-6, batch_size=8, seq_len=256,
                                       warmup_steps=2), **kw)
    lora = LoraSettings(r=lora_r, alpha=2 * lora_r) if lora_r else None
    train, test = _split(task, test_limit)
    with step_progress(settings.steps, "dpo", keys=("loss", "reward_acc")) as on_step:
        info = self_dpo(model_dir, train, test, out_dir, settings, ANSWER_LINE, prompts=prompts,
                        samples=samples, temperature=temperature, max_new_tokens=max_new_tokens,
                        beta=beta, lora=lora, overwrite=overwrite, on_step=on_step,
                        on_stage=lambda s: console.log(s))
    write_json(Path(out_dir) / "dpo_report.json", info | {"task": task})
    click.echo(f"pairs: {info['train_pairs']} training, {info['val_pairs']} held-out")
    click.echo(f"held-out preference share {info['val_preference_before']:.3f} -> "
               f"{info['val_preference_after']:.3f}")
    click.echo(_accuracy_line("held-out before", info["test_before"]))
    click.echo(_accuracy_line("held-out after", info["test_after"]))
