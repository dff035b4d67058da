"""`smolmoe scratch` training stages (pretrain, extend-context, sft, dpo, grpo, distill): each
starts from its budget (budgets.py) and only parses, calls scratch/ and prints. The shared
training options serve `smolmoe rl` too."""
from __future__ import annotations

import click

from ..core.config import DPOSettings, TrainSettings
from ..scratch.budgets import SCRATCH_DPO, SCRATCH_TRAINING
from .kit import (CONTEXT, Finite, Whole, SettingsCommand, lora_option, one_line_errors,
                  quiet_transformers, settings_options)

RL_SETTINGS = "smolmoe.rl.grpo:RLSettings"   # built on first use: grpo.py imports torch

TRAIN_FIELDS = ("steps", "lr", "batch_size", "grad_accum", "seq_len", "warmup_steps", "save_every",
                "precision", "seed")


def train_options(defaults: TrainSettings):
    """The training loop's options, defaulting to this stage's own budget (budgets.py)."""
    def decorate(fn):
        fn = click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")(fn)
        return settings_options(TrainSettings, TRAIN_FIELDS, defaults=defaults)(fn)
    return decorate


def stage_settings(defaults: TrainSettings, options: dict) -> TrainSettings:
    """The stage's budget with its training options' values (fields without an option, e.g.
    weight decay, stay the budget's)."""
    return defaults.updated(**{k: options[k] for k in TRAIN_FIELDS})


def _report(info: dict, keys) -> None:
    for k in keys:
        v = info.get(k)
        if v is not None:
            click.echo(f"{k:24} {v:.4f}" if isinstance(v, float) else f"{k:24} {v}")


def _stage_io(fn):
    fn = click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
                      help="Output model directory.")(fn)
    fn = click.option("--val", "val_file", required=True, type=click.Path(), help="Held-out JSONL.")(fn)
    fn = click.option("--data", "data_file", required=True, type=click.Path(), help="Training JSONL.")(fn)
    return click.argument("model_dir", type=click.Path())(fn)


@click.command("pretrain", cls=SettingsCommand, context_settings=CONTEXT)
@_stage_io
@train_options(SCRATCH_TRAINING["pretrain"])
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint.")
@one_line_errors
def scratch_pretrain(model_dir, data_file, val_file, out_dir, resume, overwrite, **kw):
    """Next-token pretraining on packed text (warmup + cosine, checkpoints, resume)."""
    from .progress import step_progress
    from ..scratch.corpus import load_texts
    from ..scratch.pretrain import pretrain
    quiet_transformers()
    settings = stage_settings(SCRATCH_TRAINING["pretrain"], kw)
    with step_progress(settings.steps, "pretrain") as on_step:
        info = pretrain(model_dir, load_texts(data_file), load_texts(val_file), out_dir, settings,
                        resume=resume, overwrite=overwrite, on_step=on_step)
    _report(info, ("val_loss_before", "val_loss_after", "tokens_per_second", "seconds"))


@click.command("extend-context", cls=SettingsCommand, context_settings=CONTEXT)
@_stage_io
@train_options(SCRATCH_TRAINING["extend-context"])
@click.option("--factor", default=4.0, type=Finite(1, min_open=True), help="YaRN scaling factor.")
@one_line_errors
def scratch_extend(model_dir, data_file, val_file, out_dir, factor, overwrite, **kw):
    """Context extension: YaRN rope scaling in the config, then training on longer rows."""
    from .progress import step_progress
    from ..scratch.corpus import load_texts
    from ..scratch.pretrain import extend_context
    quiet_transformers()
    settings = stage_settings(SCRATCH_TRAINING["extend-context"], kw)
    with step_progress(settings.steps, "extend-context") as on_step:
        info = extend_context(model_dir, load_texts(data_file), load_texts(val_file), out_dir,
                              settings, factor=factor, overwrite=overwrite, on_step=on_step)
    _report(info, ("context_before", "context_after", "val_loss_before", "val_loss_after"))


@click.command("sft", cls=SettingsCommand, context_settings=CONTEXT)
@_stage_io
@train_options(SCRATCH_TRAINING["sft"])
@lora_option
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint.")
@one_line_errors
def scratch_sft(model_dir, data_file, val_file, out_dir, lora_r, resume, overwrite, **kw):
    """SFT (or reasoning SFT) with loss on assistant tokens only; optionally LoRA."""
    from ..data.records import load_records
    from .progress import step_progress
    from ..training.lora import LoraSettings
    from ..scratch.sft import sft
    quiet_transformers()
    settings = stage_settings(SCRATCH_TRAINING["sft"], kw)
    lora = LoraSettings.of_rank(lora_r)
    with step_progress(settings.steps, "sft") as on_step:
        info = sft(model_dir, load_records(data_file), load_records(val_file), out_dir, settings,
                   lora=lora, resume=resume, overwrite=overwrite, on_step=on_step)
    _report(info, ("val_loss_before", "val_loss_after", "trainable_params", "seconds"))


@click.command("dpo", cls=SettingsCommand, context_settings=CONTEXT)
@_stage_io
@train_options(SCRATCH_TRAINING["dpo"])
@lora_option
@settings_options(DPOSettings, ("beta",), defaults=SCRATCH_DPO)
@one_line_errors
def scratch_dpo(model_dir, data_file, val_file, out_dir, lora_r, beta, overwrite, **kw):
    """DPO on {messages, chosen, rejected} pairs; reports the held-out preference share."""
    from .progress import step_progress
    from ..scratch.corpus import load_prompt_records
    from ..rl.dpo import dpo
    from ..training.lora import LoraSettings
    quiet_transformers()
    settings = stage_settings(SCRATCH_TRAINING["dpo"], kw)
    lora = LoraSettings.of_rank(lora_r)
    keys = ("chosen", "rejected")
    with step_progress(settings.steps, "dpo", keys=("loss", "reward_acc")) as on_step:
        info = dpo(model_dir, load_prompt_records(data_file, keys), load_prompt_records(val_file, keys),
                   out_dir, settings, beta=beta, lora=lora, overwrite=overwrite, on_step=on_step)
    _report(info, ("val_preference_before", "val_preference_after", "val_pairs", "seconds"))
    by_kind = info["val_preference_by_kind"]
    for kind in by_kind["before"]:
        if kind != "all":
            click.echo(f"  {kind:22} {by_kind['before'][kind]:.3f} -> {by_kind['after'][kind]:.3f}")


@click.command("grpo", cls=SettingsCommand, context_settings=CONTEXT)
@_stage_io
@train_options(SCRATCH_TRAINING["grpo"])
@settings_options(RL_SETTINGS, ("algo", "group_size", "iterations", "max_new_tokens", "temperature"))
@click.option("--test-limit", default=200, type=Whole(1), help="Held-out problems scored before and after.")
@one_line_errors
def scratch_grpo(model_dir, data_file, val_file, out_dir, test_limit, overwrite, algo, group_size,
                 iterations, max_new_tokens, temperature, **kw):
    """GRPO / GSPO with the exact-answer + format reward; accuracy on the held-out problems."""
    from .progress import step_progress
    from ..scratch.corpus import load_prompt_records
    from ..rl.grpo import RLSettings, rl_train
    quiet_transformers()
    settings = stage_settings(SCRATCH_TRAINING["grpo"], kw)
    rl = RLSettings(algo=algo, group_size=group_size, iterations=iterations,
                    max_new_tokens=max_new_tokens, temperature=temperature)
    with step_progress(settings.steps, algo, keys=("reward", "accuracy")) as on_step:
        info = rl_train(model_dir, load_prompt_records(data_file, ("answer",)),
                        load_prompt_records(val_file, ("answer",))[:test_limit], out_dir,
                        settings, rl, overwrite=overwrite, on_step=on_step)
    for when in ("before", "after"):
        t = info[f"test_{when}"]
        click.echo(f"test accuracy {when:7} {t['accuracy']:.3f}  format {t['format']:.3f}  (n={t['n']})")


@click.command("distill", cls=SettingsCommand, context_settings=CONTEXT)
@_stage_io
@train_options(SCRATCH_TRAINING["distill"])
@click.option("--teacher", "teacher_dir", required=True, type=click.Path(), help="Teacher model directory (same tokenizer).")
@click.option("--temperature", default=1.0, type=Finite(0, min_open=True), help="Softens both distributions in the KL.")
@one_line_errors
def scratch_distill(model_dir, data_file, val_file, out_dir, teacher_dir, temperature, overwrite, **kw):
    """Distil MODEL_DIR (the student) from --teacher's logits (KL), same tokenizer."""
    from .progress import step_progress
    from ..scratch.corpus import load_texts
    from ..scratch.distill import distill
    quiet_transformers()
    settings = stage_settings(SCRATCH_TRAINING["distill"], kw)
    with step_progress(settings.steps, "distill") as on_step:
        info = distill(model_dir, teacher_dir, load_texts(data_file), load_texts(val_file), out_dir,
                       settings, temperature=temperature, overwrite=overwrite, on_step=on_step)
    _report(info, ("val_kl_before", "val_kl_after", "seconds"))
