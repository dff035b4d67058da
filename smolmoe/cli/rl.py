"""`smolmoe rl ...`: GRPO/GSPO and DPO on any model dir with a verifiable task (parse, call, print)."""
from __future__ import annotations

from pathlib import Path

import click

from ..core.config import DPOSettings
from ..rl.arithmetic import TASKS
from ..scratch.budgets import RL_ROLLOUTS, RL_TRAINING
from .kit import (CONTEXT, SettingsGroup, Whole, lora_option, one_line_errors, quiet_transformers,
                  settings_options)
from .scratch_stages import RL_SETTINGS, stage_settings, train_options

SELF_PAIRS = "smolmoe.rl.selfpairs:SelfPairSettings"   # built on first use: selfpairs imports torch


@click.group(cls=SettingsGroup, context_settings=CONTEXT)
@click.option("--threads", type=Whole(1), envvar="SMOLMOE_THREADS", default=None,
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
        click.option("--test-limit", default=208, type=Whole(1),
                     help="Held-out prompts to score (the whole held-out split is 208)."),
        settings_options(RL_SETTINGS, ("max_new_tokens",),
                         help={"max_new_tokens": "Longest reply, in tokens."}),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _split(task: str, test_limit: int):
    from ..rl.arithmetic import task_problems
    return task_problems(task, "train"), task_problems(task, "test")[:test_limit]


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
    from ..core.modeldir import load_model, load_tokenizer
    from ..rl.verifiable import verified_accuracy
    from ..rl.arithmetic import ANSWER_LINE
    quiet_transformers()
    _, test = _split(task, test_limit)
    a = verified_accuracy(load_model(model_dir), load_tokenizer(model_dir), test, ANSWER_LINE,
                          max_new_tokens=max_new_tokens, precision=precision)
    click.echo(_accuracy_line("held-out accuracy", a))


def _stage_options(stage: str):
    """Where a training stage writes, its training settings (its budget) and its LoRA option."""
    out = click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
                       help="Output model directory (with its report).")
    return lambda fn: out(train_options(RL_TRAINING[stage])(lora_option(fn)))


@rl.command("grpo", context_settings=CONTEXT)
@_task_options
@_stage_options("grpo")
@settings_options(RL_SETTINGS, ("algo", "group_size", "iterations", "temperature", "scale_rewards"),
                  defaults=RL_ROLLOUTS, help={"temperature": "Rollout temperature (budgets.py: why 0.4)."})
@click.option("--eval-every", default=0, type=Whole(0),
              help="Also score the held-out prompts every N steps (0: before and after only).")
@one_line_errors
def rl_grpo(model_dir, task, test_limit, max_new_tokens, out_dir, lora_r, eval_every, overwrite,
            algo, group_size, iterations, temperature, scale_rewards, **kw):
    """GRPO / GSPO; writes OUT (the model) and OUT/rl_report.{json,png}."""
    from .progress import step_progress
    from ..rl.grpo import RLSettings, rl_train
    from ..training.lora import LoraSettings
    from ..rl.report import write_report
    from ..rl.arithmetic import ANSWER_LINE
    quiet_transformers()
    settings = stage_settings(RL_TRAINING["grpo"], kw)
    rl_settings = RLSettings(algo=algo, group_size=group_size, iterations=iterations,
                             max_new_tokens=max_new_tokens, temperature=temperature,
                             scale_rewards=scale_rewards)
    lora = LoraSettings.of_rank(lora_r)
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
@_stage_options("dpo")
@settings_options(DPOSettings, ("beta",))
@settings_options(SELF_PAIRS, ("prompts", "samples", "temperature"))
@one_line_errors
def rl_dpo(model_dir, task, test_limit, max_new_tokens, out_dir, lora_r, beta, overwrite, prompts,
           samples, temperature, **kw):
    """DPO on pairs from the model's own samples (a verified-right and a wrong reply)."""
    from ..core.io import write_json
    from .progress import console, step_progress
    from ..training.lora import LoraSettings
    from ..rl.selfpairs import SelfPairSettings, self_dpo
    from ..rl.arithmetic import ANSWER_LINE
    quiet_transformers()
    settings = stage_settings(RL_TRAINING["dpo"], kw)
    lora = LoraSettings.of_rank(lora_r)
    train, test = _split(task, test_limit)
    with step_progress(settings.steps, "dpo", keys=("loss", "reward_acc")) as on_step:
        info = self_dpo(model_dir, train, test, out_dir, settings, ANSWER_LINE,
                        pairs=SelfPairSettings(prompts=prompts, samples=samples, temperature=temperature),
                        preference=DPOSettings(beta=beta), max_new_tokens=max_new_tokens,
                        lora=lora, overwrite=overwrite, on_step=on_step,
                        on_stage=lambda s: console.log(s))
    write_json(Path(out_dir) / "dpo_report.json", info | {"task": task})
    click.echo(f"pairs: {info['train_pairs']} training, {info['val_pairs']} held-out")
    click.echo(f"held-out preference share {info['val_preference_before']:.3f} -> "
               f"{info['val_preference_after']:.3f}")
    click.echo(_accuracy_line("held-out before", info["test_before"]))
    click.echo(_accuracy_line("held-out after", info["test_after"]))
