"""MoEs made elsewhere (issue #14 must-show 5): a Mixtral dir without smolmoe.json (as
mergekit-moe writes it, per-expert tensor layout included) works with inspect, chat,
train-router and eval; `smolmoe adopt` names its experts."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from helpers.tiny_models import write_domain
from smolmoe.cli.main import main
from smolmoe.core.errors import SmolMoEError
from smolmoe.core.config import TrainSettings
from smolmoe.core.modeldir import MOE_META
from smolmoe.moe.meta import read_moe_meta as read_meta
from helpers.tiny_moe import make_tiny_moe


@pytest.fixture
def external_moe(tmp_path):
    """The tiny MoE exported to the per-expert layout, with smolmoe's metadata removed."""
    moe = make_tiny_moe(tmp_path / "made")
    r = CliRunner().invoke(main, ["export", str(moe), "--format", "hf", "--out", str(tmp_path / "ext")])
    assert r.exit_code == 0, r.output
    ext = tmp_path / "ext"
    for meta in ext.glob("smolmoe*.json"):
        meta.unlink()
    assert not (ext / MOE_META).exists()
    return ext


def test_external_moe_reads_as_expert_0_and_works_with_inspect_and_chat(external_moe, tmp_path):
    meta = read_meta(external_moe)
    assert meta.names == ["expert_0", "expert_1", "expert_2"] and meta.format == "external"
    # The report goes to tmp_path: "--json -" wrote a file named "-" into the working tree.
    report = tmp_path / "report.json"
    r = CliRunner().invoke(main, ["inspect", "add two numbers", "--moe", str(external_moe), "--json", str(report)])
    assert r.exit_code == 0, r.output
    assert "expert_" in r.output
    assert json.loads(report.read_text())["experts"] == ["expert_0", "expert_1", "expert_2"]
    from smolmoe.inference.generate import ChatModel
    assert ChatModel.load(external_moe).experts == ["expert_0", "expert_1", "expert_2"]


def test_train_router_on_external_moe_trains_routers_only(external_moe, tmp_path):
    from safetensors.torch import load_file

    from smolmoe.moe.router import train_router

    data = tmp_path / "data"
    for i, d in enumerate(("math", "story")):  # domains unrelated to expert_0...
        write_domain(data, d, n_train=16, seed=i)
    (data / "manifest.json").write_text(json.dumps({"domains": ["math", "story"]}))
    out = tmp_path / "routed"
    before = {k: v for f in external_moe.glob("*.safetensors") for k, v in load_file(f).items()}
    summary = train_router(external_moe, data, TrainSettings(steps=2, lr=0.05, batch_size=4,
                                                             seq_len=64, warmup_steps=0),
                           out_dir=out)
    assert summary["trainable_params"] == 2 * 3 * 32  # layers x experts x hidden
    from transformers import AutoModelForCausalLM
    before_model = AutoModelForCausalLM.from_pretrained(external_moe).state_dict()
    after_model = AutoModelForCausalLM.from_pretrained(out).state_dict()
    changed = {k for k in before_model if not torch.equal(before_model[k], after_model[k])}
    assert changed and all(k.endswith("mlp.gate.weight") for k in changed)
    assert before  # the per-expert files were read, not only the fused layout
    with pytest.raises(Exception, match="--beta needs experts named for data domains"):
        train_router(external_moe, data, TrainSettings(steps=1, batch_size=2, seq_len=64,
                                                       warmup_steps=0), beta=1.0,
                     out_dir=tmp_path / "beta")


def test_eval_needs_names_then_adopt_gives_them(external_moe, tmp_path):
    data = tmp_path / "data"
    for i, d in enumerate(("math", "code", "story")):
        write_domain(data, d, n_train=4, seed=i)
    r = CliRunner().invoke(main, ["eval", "--moe", str(external_moe), "--data", str(data),
                                  "--limit", "2", "--base", str(external_moe.parent / "made" / "base")])
    assert r.exit_code != 0 and "smolmoe adopt" in r.output
    r = CliRunner().invoke(main, ["adopt", str(external_moe), "--names", "math,code"])
    assert r.exit_code != 0 and "has 3 experts but 2 names" in r.output
    r = CliRunner().invoke(main, ["adopt", str(external_moe), "--names", "math,code,story"])
    assert r.exit_code == 0, r.output
    assert read_meta(external_moe).names == ["math", "code", "story"]
    r = CliRunner().invoke(main, ["eval", "--moe", str(external_moe), "--data", str(data),
                                  "--limit", "2", "--base", str(external_moe.parent / "made" / "base")])
    assert r.exit_code == 0, r.output
    assert "oracle" in r.output


def test_dense_dir_is_not_an_moe(tmp_path, tiny_dir):
    from smolmoe.core.errors import ModelError
    with pytest.raises(ModelError, match="is not an MoE directory"):
        read_meta(tiny_dir)


def test_adopt_renames_the_per_expert_reports(tmp_path):
    from smolmoe.moe.assemble import forced_routing_is_exact
    from smolmoe.moe.meta import adopt
    moe = make_tiny_moe(tmp_path)
    assert forced_routing_is_exact(read_meta(moe).doc, "math")
    with pytest.raises(SmolMoEError, match="already has smolmoe.json .*pass --force"):
        adopt(moe, ["sums", "programs", "tales"])   # a smolmoe-built MoE keeps its names
    meta = adopt(moe, ["sums", "programs", "tales"], force=True)
    assert forced_routing_is_exact(meta.doc, "sums") and not forced_routing_is_exact(meta.doc, "math")
    assert set(meta.doc["non_ffn_distance"]) == {"sums", "programs", "tales"}
