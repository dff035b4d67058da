"""clikit: every option that sets a settings field is generated from its declaration, so the
CLI's defaults, bounds and choices are the library's (walks every command's options)."""
from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from smolmoe.cli.main import main
from smolmoe.cli.kit import SettingOption
from smolmoe.core.config import (CHAT_SAMPLING, ROUTER_TRAINING, DPOSettings, MergeConfig,
                            RouterSettings, TrainSettings)
from smolmoe.inference.generate import GenerationSettings
from smolmoe.scratch.budgets import RL_ROLLOUTS, RL_TRAINING, SCRATCH_DPO, SCRATCH_TRAINING
from smolmoe.rl.selfpairs import SelfPairSettings
from smolmoe.rl.grpo import RLSettings
from smolmoe.core.settings import bounds, default_of, field_type, specs
from helpers import REPO

SETTINGS = (TrainSettings, MergeConfig, RouterSettings, DPOSettings, GenerationSettings, RLSettings,
            SelfPairSettings)

# Each command's own defaults, where they are not the settings class's.
BUDGETS = {"train-router": [ROUTER_TRAINING], "chat": [CHAT_SAMPLING],
           "rl grpo": [RL_TRAINING["grpo"], RL_ROLLOUTS], "rl dpo": [RL_TRAINING["dpo"]],
           **{f"scratch {stage}": [budget] for stage, budget in SCRATCH_TRAINING.items()}}
BUDGETS["scratch dpo"].append(SCRATCH_DPO)
# Options named like a settings field that set something else.
OTHER_CONCEPTS = {
    ("data build", "seed"), ("scratch data", "seed"),      # the data split's seed
    ("scratch init", "seed"),                               # the initial weights' seed
    ("scratch distill", "temperature"),                     # distillation's KL temperature
    ("rl eval", "precision"),                               # inference precision, no fp16
    ("scratch chat", "think"), ("scratch chat", "max_new_tokens"),  # scratch/thinking.py's sampler
    ("merge-dense", "seed"), ("add-expert", "seed"),       # DARE's drop mask; the fit's sample
    ("add-expert", "samples"),     # default read from the MoE's own fit init, not a constant
}


def commands(command=main, path=()):
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))
    else:
        with click.Context(command) as ctx:
            yield " ".join(path), command.get_params(ctx)


def _type_bounds(t) -> dict:
    if not isinstance(t, (click.IntRange, click.FloatRange)):
        return {}
    found = {}
    if t.min is not None:
        found["gt" if t.min_open else "ge"] = t.min
    if t.max is not None:
        found["lt" if t.max_open else "le"] = t.max
    return found


def _budget_values(path, name) -> list:
    return [b.get(name) if isinstance(b, dict) else getattr(b, name, None)
            for b in BUDGETS.get(path, [])]


def test_generated_options_carry_the_declared_bounds_choices_and_defaults():
    seen = 0
    for path, params in commands():
        for p in params:
            if not isinstance(p, SettingOption):
                continue
            seen += 1
            spec, kind = specs(p.settings_cls)[p.field], field_type(p.settings_cls, p.field)
            where = f"{path} --{p.field}"
            declared = bounds(p.settings_cls, p.field)   # whole numbers: 64-bit where left open
            assert _type_bounds(p.type) == declared, where
            if kind.choices:
                assert tuple(p.type.choices) == kind.choices, where
            allowed = [None, default_of(p.settings_cls, p.field), *_budget_values(path, p.field)]
            default = list(p.default) if p.multiple else p.default
            assert default in allowed, where
    assert seen > 60


def test_no_option_of_a_settings_field_is_written_by_hand():
    fields = set().union(*(specs(c) for c in SETTINGS))
    by_hand = {(path, p.name) for path, params in commands() for p in params
               if isinstance(p, click.Option) and p.name in fields and not isinstance(p, SettingOption)}
    assert by_hand == OTHER_CONCEPTS


def test_every_lazily_built_option_reaches_its_command():
    list(commands())   # builds them
    left = []

    def walk(command, path):
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")
        if getattr(command, "callback", None) and command.callback.__dict__.get("lazy_options"):
            left.append(path)   # a plain click.Command would never build them
    walk(main, "smolmoe")
    assert left == []


@pytest.mark.parametrize("command, shown", [
    (["rl", "dpo"], "[default: 0.1; x>0]"),             # DPOSettings' beta
    (["scratch", "dpo"], "[default: 0.5; x>0]"),        # the scratch stage's measured beta
    (["train-router"], "[default: 0.001; 0<x<=1]"),
    (["scratch", "grpo"], "[default: grpo]"),           # built lazily from scratch/grpo.py
    (["train-expert"], "[default: (the manifest's)"),
])
def test_help_shows_the_declared_values(command, shown):
    r = CliRunner().invoke(main, [*command, "--help"], terminal_width=200)
    assert r.exit_code == 0 and shown in " ".join(r.output.split())


def test_out_of_bounds_values_are_usage_errors_with_the_declared_bound():
    r = CliRunner().invoke(main, ["train-router", "--alpha", "101"])
    assert r.exit_code == 2 and "0<=x<=100" in r.output
    r = CliRunner().invoke(main, ["scratch", "grpo", "m", "--data", "d", "--val", "v", "--out", "o",
                                  "--group-size", "1"])
    assert r.exit_code == 2 and "x>=2" in r.output


def test_preset_choices_are_the_presets():
    from smolmoe.scratch.budgets import RUN_SETTINGS
    from smolmoe.scratch.presets import PRESETS
    assert tuple(RUN_SETTINGS) == tuple(PRESETS)   # scratch/cli.py offers RUN_SETTINGS' keys


def test_the_demo_options_are_the_pipeline_settings():
    import dataclasses
    import importlib.util
    from pathlib import Path

    from smolmoe.pipelines.moe import MoEPipelineSettings
    spec = importlib.util.spec_from_file_location("demo", REPO / "scripts" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    generated = {p.name: p for p in demo.main.params if isinstance(p, SettingOption)}
    assert set(generated) == {f.name for f in dataclasses.fields(MoEPipelineSettings)}
    assert {p.name for p in demo.main.params} - set(generated) == {"out", "sources_dir"}
    assert generated["task_limit"].default == MoEPipelineSettings().task_limit == 6
