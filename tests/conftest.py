"""Every fixture of the tests; the tiny models and data they build are in helpers/ (a package,
importable from every test folder because this file puts tests/ on the path)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.tiny_models import DOMAINS, make_llama, make_tokenizer, write_domain


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """A saved tiny Llama + tokenizer directory (read-only for tests: copy before changing)."""
    d = tmp_path_factory.mktemp("tiny_llama")
    make_llama(d, make_tokenizer(d))
    return d


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_dir):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(tiny_dir)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    write_domain(d, "math")
    write_domain(d, "story")
    (d / "manifest.json").write_text(json.dumps({"domains": ["math", "story"]}))
    return d


@pytest.fixture
def experts_dir(tmp_path, monkeypatch) -> Path:
    """Two expert manifests (math, story) with a fast fine-tune budget."""
    d = tmp_path / "experts"
    d.mkdir()
    for name in ("math", "story"):
        (d / f"{name}.yaml").write_text(
            f"name: {name}\ndomain: {name}\npositive_prompts: ['{name} please']\n"
            f"finetune: {{steps: 8, lr: 0.01, batch_size: 4, seq_len: 64, warmup_steps: 0}}\n")
    monkeypatch.setenv("SMOLMOE_EXPERTS", str(d))
    return d


@pytest.fixture(scope="session")
def tiny_moe(tmp_path_factory) -> Path:
    """A 3-expert tiny MoE (tiny_moe.py builds it; read-only for tests)."""
    from helpers.tiny_moe import make_tiny_moe
    return make_tiny_moe(tmp_path_factory.mktemp("tiny_moe"))


@pytest.fixture(scope="module")
def scratch_root(tmp_path_factory):
    """root/tok (tokenizer) and root/model (random 2-layer scratch MoE, scratch_fixtures.py);
    copy before changing."""
    from helpers.scratch_fixtures import make_scratch_model
    return make_scratch_model(tmp_path_factory)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny base, two MLP-only experts trained on distinct domains, and their data."""
    from smolmoe.core.config import ExpertManifest, TrainSettings
    from smolmoe.training.experts import train_expert
    root = tmp_path_factory.mktemp("merge")
    base = root / "base"
    make_llama(base, make_tokenizer(base))
    data = root / "data"
    for i, d in enumerate(DOMAINS):
        write_domain(data, d, n_train=48, seed=10 * i)
    for d in DOMAINS:
        train_expert(ExpertManifest(name=d, domain=d), base=base, data_dir=data,
                     out_dir=root / "experts" / d,
                     settings=TrainSettings(steps=10, lr=1e-2, seq_len=64, warmup_steps=0))
    return root
