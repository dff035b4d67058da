"""config.py: the policies the CLI calls (manifest selection, merge resolution, default paths,
the router's loop defaults)."""
from __future__ import annotations

from pathlib import Path

import pytest

from smolmoe.config import (ROUTER_TRAINING, export_path, home_path, resolve_merge_config,
                            router_training, select_manifests)
from smolmoe.errors import ConfigError


def test_router_training_keeps_warmup_below_the_steps():
    assert router_training().warmup_steps == ROUTER_TRAINING.warmup_steps == 3
    assert router_training(steps=1).warmup_steps == 0
    assert router_training(steps=20, lr=2e-3, warmup_steps=2).warmup_steps == 2
    with pytest.raises(ConfigError, match="lr"):
        router_training(lr=2.0)


def test_manifests_are_named_or_all_never_both(experts_dir):
    assert [m.name for m in select_manifests([], all_experts=True)] == ["math", "story"]
    assert [m.name for m in select_manifests(["STORY"])] == ["story"]
    for names, all_ in (([], False), (["math"], True)):
        with pytest.raises(ConfigError, match="or pass --all"):
            select_manifests(names, all_)


def test_merge_resolution_names_overrides_and_default_output(experts_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLMOE_HOME", str(tmp_path / "home"))
    merge, manifests = resolve_merge_config([], all_experts=True, top_k=None, non_ffn="average")
    assert merge.experts == ["math", "story"] and set(manifests) == {"math", "story"}
    assert merge.top_k == 2 and merge.non_ffn == "average"
    assert merge.output == str(home_path("moe")) and "home" in merge.output
    config = tmp_path / "merge.yaml"
    config.write_text("experts: [a, b, c]\ntop_k: 3\noutput: out\n")
    merge, _ = resolve_merge_config(["math", "story"], config_file=config, top_k=1)
    assert merge.experts == ["math", "story"] and merge.top_k == 1 and merge.output == "out"
    with pytest.raises(ConfigError, match="name at least two experts"):
        resolve_merge_config([])


def test_base_expert_without_a_base_takes_the_packaged_one(experts_dir, monkeypatch):
    monkeypatch.setattr("smolmoe.base.resolve_base", lambda spec=None: Path("/packaged/base"))
    merge, _ = resolve_merge_config(["math", "story"], base_expert=True)
    assert merge.base == "/packaged/base"
    merge, _ = resolve_merge_config(["math", "story"], base_expert=True, base="/mine")
    assert merge.base == "/mine"


def test_export_paths_sit_beside_the_model():
    assert export_path("runs/moe/", "hf") == Path("runs/moe-hf")
    assert export_path("runs/moe", "gguf", "q8_0") == Path("runs/moe-q8_0.gguf")
