"""config.py: the policies the CLI calls (manifest selection, default paths,
the router's loop defaults)."""
from __future__ import annotations

from pathlib import Path

import pytest

from smolmoe.core.config import ROUTER_TRAINING, export_path, router_training, select_manifests
from smolmoe.core.errors import ConfigError


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


def test_export_paths_sit_beside_the_model():
    assert export_path("runs/moe/", "hf") == Path("runs/moe-hf")
    assert export_path("runs/moe", "gguf", "q8_0") == Path("runs/moe-q8_0.gguf")
