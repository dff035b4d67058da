"""Assembling experts of other families into their natural MoE class (issue #14 must-show 3):
tiny random dense models from transformers' own configs, MLP-only experts made from them,
forced-routing parity, and stock loading without trust_remote_code."""
from __future__ import annotations

import json

import pytest
import torch

from helpers.families import FAMILIES, SIZES, make_family_experts, tensors
from helpers.tiny_models import write_domain
from smolmoe.core.config import MergeConfig, TrainSettings
from smolmoe.core.errors import ModelError
from smolmoe.moe.formats import experts_and_top_k, format_for
from smolmoe.moe.assemble import assemble

def two_expert_moe(root, family: str):
    """A top-1 MoE of two MLP-only experts of `family`, and data for their two domains."""
    dirs = make_family_experts(root, family, n=2)
    data = root / "data"
    for i, d in enumerate(("e0", "e1")):
        write_domain(data, d, n_train=16, seed=i)
    out = root / "moe"
    assemble(MergeConfig(experts=[str(d) for d in dirs], output=str(out), top_k=1,
                         router_init="random", base=str(root / "base")), experts_root=root)
    return out, data


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_assembles_into_its_moe_class_with_exact_parity(tmp_path, family):
    from transformers import AutoModelForCausalLM

    dirs = make_family_experts(tmp_path, family)
    out = tmp_path / "moe"
    meta = assemble(MergeConfig(experts=[str(d) for d in dirs], output=str(out), top_k=2,
                                router_init="random", base=str(tmp_path / "base")),
                    experts_root=tmp_path)
    _, moe_type, cls = FAMILIES[family]
    assert json.loads((out / "config.json").read_text())["model_type"] == moe_type
    assert max(meta["parity_max_abs_logit_diff"].values()) <= 1e-4
    model = AutoModelForCausalLM.from_pretrained(out)  # stock loader, no trust_remote_code
    assert type(model).__name__ == cls
    assert experts_and_top_k(model.config) == (3, 2)
    ids = torch.tensor([[1, 5, 9, 12, 7]])
    with torch.no_grad():
        assert torch.isfinite(model(input_ids=ids).logits).all()


def test_qwen2_moe_shared_expert_is_zero_and_stays_out_of_router_training(tmp_path):
    from smolmoe.moe.router import train_router

    out, data = two_expert_moe(tmp_path, "qwen2")
    before = tensors(out)
    assert all(float(v.abs().max()) == 0 for k, v in before.items() if "shared_expert" in k)
    train_router(out, data, TrainSettings(steps=2, lr=0.05, batch_size=4, seq_len=64,
                                          warmup_steps=0))
    after = tensors(out)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith("mlp.gate.weight") for k in changed)


def test_unsupported_family_is_one_line(tmp_path):
    with pytest.raises(ModelError, match="cannot be assembled.*llama/mistral -> mixtral"):
        format_for("gpt2")


def test_full_finetunes_name_their_non_ffn_source_and_are_scored_as_dense(tmp_path):
    """Experts that changed attention too: the report says how far each is from the chosen
    non-FFN weights, and eval --moe scores the real dense expert where forcing is not exact."""
    from transformers import AutoModelForCausalLM

    import shutil

    from smolmoe.evaluation.loss import evaluate, moe_evaluate

    dirs = make_family_experts(tmp_path, "llama", n=2)
    model = AutoModelForCausalLM.from_pretrained(dirs[1])  # e1: a "full" fine-tune
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "self_attn" in name:
                p.add_(0.2 * torch.randn_like(p))
    model.save_pretrained(dirs[1])
    data = tmp_path / "data"
    for i, d in enumerate(("e0", "e1")):
        write_domain(data, d, n_train=8, seed=i)
    out = tmp_path / "moe"
    meta = assemble(MergeConfig(experts=[str(d) for d in dirs], output=str(out), top_k=1,
                                router_init="random", non_ffn="e0"), experts_root=tmp_path)
    assert meta["non_ffn_source"] == "e0"
    assert meta["non_ffn_distance"]["e0"]["max_abs"] == 0
    assert meta["non_ffn_distance"]["e1"]["relative_l2"] > 0.01
    assert meta["parity_max_abs_logit_diff"]["e0"] <= 1e-4
    assert meta["parity_max_abs_logit_diff"]["e1"] > 1e-3

    report = moe_evaluate(out, data, limit=4)
    assert report["expert_scoring"]["e1"].startswith("dense")  # the real expert, not forced
    shutil.rmtree(dirs[0])  # without its directory, the exact expert is scored by forcing
    assert moe_evaluate(out, data, limit=4)["expert_scoring"]["e0"] == "forced"
    dense = evaluate({"e1": dirs[1]}, data, ["e1"], limit=4)["results"]["e1"]["e1"]["loss"]
    assert report["results"]["oracle"]["e1"]["loss"] == pytest.approx(dense, rel=1e-6)


def test_non_ffn_must_name_an_expert():
    from smolmoe.core.errors import ConfigError
    with pytest.raises(ConfigError, match="non_ffn must be base, average or one of the experts"):
        MergeConfig(experts=["a", "b"], non_ffn="c").validate()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_sharded_half_precision_experts_assemble_exactly(tmp_path, dtype):
    """Weights as people save them: several safetensors shards with an index, in bf16 or f16
    (parity against the dense expert as transformers loads it, in float32)."""
    from transformers import AutoModelForCausalLM

    dirs = make_family_experts(tmp_path, "llama", n=2)
    for d in dirs:
        model = AutoModelForCausalLM.from_pretrained(d, dtype=dtype)
        for f in d.glob("model*.safetensors"):
            f.unlink()
        model.save_pretrained(d, max_shard_size="20KB")
        assert len(list(d.glob("*.safetensors"))) > 1 and (d / "model.safetensors.index.json").is_file()
    meta = assemble(MergeConfig(experts=[str(d) for d in dirs], output=str(tmp_path / "moe"),
                                top_k=1, router_init="random"), experts_root=tmp_path)
    assert max(meta["parity_max_abs_logit_diff"].values()) <= 1e-4


def test_pickle_only_weights_are_refused_unread(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from smolmoe.cli.main import main

    dirs = make_family_experts(tmp_path, "llama", n=2)
    for f in dirs[1].glob("*.safetensors"):
        f.unlink()
    (dirs[1] / "pytorch_model.bin").write_bytes(b"not to be unpickled")
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    r = CliRunner().invoke(main, ["assemble", str(dirs[0]), str(dirs[1]), "--router-init", "random",
                                  "--out", str(tmp_path / "moe")])
    assert r.exit_code != 0
    lines = [l for l in r.output.splitlines() if l.strip()]
    assert len(lines) == 1 and "only pickle files (pytorch_model.bin)" in lines[0], r.output
    assert not (tmp_path / "moe").exists()
    # the same for a dense model given to eval (load_model's path, as chat and serve use it)
    write_domain(tmp_path / "data", "e0", n_train=4)
    r = CliRunner().invoke(main, ["eval", str(dirs[1]), "--data", str(tmp_path / "data")])
    # (eval's progress bar starts before the model is checked: its line is not the error's)
    errors = [l for l in r.output.splitlines() if l.startswith("error:")]
    assert r.exit_code != 0 and len(errors) == 1 and "never loads" in errors[0], r.output


def test_pickle_beside_safetensors_is_never_unpickled(tmp_path, monkeypatch):
    """A dir holding both formats (as hub snapshots often do) loads from safetensors."""
    from smolmoe.core.modeldir import load_model

    dirs = make_family_experts(tmp_path, "llama", n=1)
    (dirs[0] / "pytorch_model.bin").write_bytes(b"not to be unpickled")
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    assert load_model(dirs[0]).config.model_type == "llama"


@pytest.mark.parametrize("heal,allowed", [("norms", ("gate.weight", "norm.weight")),
                                          ("lora", ("gate.weight", "_proj.weight"))])
def test_healing_trains_routers_and_only_the_chosen_shared_weights(tmp_path, heal, allowed):
    from smolmoe.moe.router import train_router

    out, data = two_expert_moe(tmp_path, "llama")
    before = tensors(out)
    s = train_router(out, data, TrainSettings(steps=2, lr=0.05, batch_size=4, seq_len=64,
                                              warmup_steps=0), heal=heal)
    after = tensors(out)
    assert set(after) == set(before)  # LoRA merged back: a stock checkpoint, no adapter keys
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    # (Mixtral is saved in its per-expert layout: routers are block_sparse_moe.gate.weight.)
    assert any(k.endswith("gate.weight") for k in changed)
    assert any(not k.endswith("gate.weight") for k in changed), changed  # something healed
    assert all(k.endswith(allowed) and ".experts." not in k for k in changed), changed
    assert s["trainable_params"] > s["router_params"] and s["heal"] == heal


def test_base_expert_is_the_last_expert_and_serves_the_general_split(tmp_path):
    """--base-expert: the base's own FFN as expert 'base' for the everyday domain, fitted on
    the everyday train split, scored where that domain has the split asked for."""
    import shutil

    from smolmoe.evaluation.loss import moe_evaluate

    dirs = make_family_experts(tmp_path, "llama", n=2)
    data = tmp_path / "data"
    for i, d in enumerate(("e0", "e1", "everyday")):
        write_domain(data, d, n_train=16, seed=i)
    for d in ("e0", "e1"):
        shutil.copy(data / d / "test.jsonl", data / d / "foreign.jsonl")  # everyday has none
    meta = assemble(MergeConfig(experts=[str(d) for d in dirs], output=str(tmp_path / "moe"),
                                top_k=2, router_init="fit", data=str(data), fit_samples=4,
                                base=str(tmp_path / "base"), base_expert=True),
                    experts_root=tmp_path)
    assert [(e["name"], e["domain"]) for e in meta["experts"]][-1] == ("general", "everyday")
    assert meta["parity_max_abs_logit_diff"]["general"] <= 1e-4
    test = moe_evaluate(tmp_path / "moe", data, base=tmp_path / "base", limit=4)
    assert set(test["results"]["moe"]) == {"e0", "e1", "everyday"}
    # the base expert computes the base model exactly
    assert test["results"]["base"]["everyday"]["loss"] == pytest.approx(
        test["results"]["oracle"]["everyday"]["loss"], rel=1e-3)
    foreign = moe_evaluate(tmp_path / "moe", data, base=tmp_path / "base", split="foreign", limit=4,
                           experts_on_all=False)
    assert set(foreign["results"]["moe"]) == {"e0", "e1"}
    assert set(foreign["results"]["e0"]) == {"e0"}  # each expert on its own domain only
    assert set(foreign["results"]["base"]) == {"e0", "e1"}  # the base model, not the base expert
    from smolmoe.cli.tables import moe_eval_tables
    assert moe_eval_tables(foreign)[1].columns[0].header == "e0"  # no column for 'everyday'
    assert len(moe_eval_tables(foreign)[1].columns) == 2


def test_base_expert_needs_the_base():
    from smolmoe.core.errors import ConfigError
    with pytest.raises(ConfigError, match="base_expert needs the base model directory"):
        MergeConfig(experts=["a", "b"], base_expert=True).validate()


def test_base_as_qwen2_moe_shared_expert_gives_the_mix_under_forced_routing(tmp_path):
    """--shared-base-expert: the base FFN sits in Qwen2-MoE's shared slot (gate zero, so
    sigmoid 1/2 for every token; down_proj scaled so the layer gives (1-s) routed + s base).
    Forced routing to j then reproduces that mix, not expert j alone; the report says both."""
    from click.testing import CliRunner
    from transformers import AutoModelForCausalLM

    from smolmoe.cli.main import main
    from smolmoe.moe.formats import SHARED_BASE_SHARE as s
    from smolmoe.moe.assemble import parity_warning

    dirs = make_family_experts(tmp_path, "qwen2", n=2)
    out = tmp_path / "moe"
    r = CliRunner().invoke(main, ["assemble", *map(str, dirs), "--router-init", "random",
                                  "--top-k", "1", "--base", str(tmp_path / "base"),
                                  "--shared-base-expert", "--out", str(out)])
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "smolmoe.json").read_text())
    assert [e["name"] for e in meta["experts"]] == ["e0", "e1"]  # the base is no routed expert
    assert max(meta["shared_expert"]["mix_parity_max_abs_logit_diff"].values()) <= 1e-4
    assert min(meta["parity_max_abs_logit_diff"].values()) > 1e-3  # not expert j alone
    assert parity_warning(meta) is None
    config = json.loads((out / "config.json").read_text())
    assert config["shared_expert_intermediate_size"] == SIZES["intermediate_size"]
    moe = AutoModelForCausalLM.from_pretrained(out)  # stock loader, no trust_remote_code
    assert type(moe).__name__ == "Qwen2MoeForCausalLM"
    base = tensors(tmp_path / "base")
    got = tensors(out)
    p = "model.layers.1.mlp"
    assert torch.equal(got[f"{p}.shared_expert.up_proj.weight"], base[f"{p}.up_proj.weight"])
    assert torch.allclose(got[f"{p}.shared_expert.down_proj.weight"],
                          2 * s * base[f"{p}.down_proj.weight"])
    assert float(got[f"{p}.shared_expert_gate.weight"].abs().max()) == 0
    # router training leaves the shared expert and its gate where they started
    from smolmoe.moe.router import train_router
    for i, d in enumerate(("e0", "e1")):
        write_domain(tmp_path / "data", d, n_train=8, seed=i)
    train_router(out, tmp_path / "data", TrainSettings(steps=2, lr=0.05, batch_size=4, seq_len=64,
                                                       warmup_steps=0))
    changed = {k for k, v in tensors(out).items() if not torch.equal(v, got[k])}
    assert changed and all(k.endswith("mlp.gate.weight") for k in changed), changed


def test_mixed_reference_is_the_expert_or_the_base_at_the_ends(tmp_path):
    """The dense reference of the shared-expert parity, checked independently: share 0 is the
    expert, share 1 the base (MLP-only experts share the base's other weights)."""
    from transformers import AutoModelForCausalLM

    from smolmoe.moe.formats import mixed_dense_reference

    dirs = make_family_experts(tmp_path, "qwen2", n=1)
    ids = torch.tensor([[1, 5, 9, 12, 7]])
    with torch.no_grad():
        logits = {name: AutoModelForCausalLM.from_pretrained(d)(input_ids=ids).logits
                  for name, d in (("expert", dirs[0]), ("base", tmp_path / "base"))}
        for share, name in ((0.0, "expert"), (1.0, "base")):
            mixed = mixed_dense_reference(dirs[0], tmp_path / "base", share)(input_ids=ids).logits
            assert (mixed - logits[name]).abs().max() <= 1e-5


def test_shared_base_expert_needs_a_format_with_a_shared_slot(tmp_path):
    dirs = make_family_experts(tmp_path, "llama", n=2)
    with pytest.raises(ModelError, match="mixtral has no shared expert slot.*qwen2_moe"):
        assemble(MergeConfig(experts=[str(d) for d in dirs], output=str(tmp_path / "moe"),
                             router_init="random", base=str(tmp_path / "base"),
                             base_expert="shared"), experts_root=tmp_path)
