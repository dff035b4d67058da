"""add-expert / remove-expert (issue #25): an expert joins or leaves an assembled MoE of any
output family with no training; its router rows come from the closed-form fit with the other
rows held; the round trip gives the same routing back; what cannot join is refused in one line
before any weight is read."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from click.testing import CliRunner

from helpers.tiny_models import write_domain
from helpers.families import make_family_experts, tensors
from smolmoe.moe.assemble import assemble
from smolmoe.cli.main import main
from smolmoe.core.config import MergeConfig
from smolmoe.core.errors import ModelError
from smolmoe.moe.grow import add_expert, remove_expert

NAMES = ("e0", "e1", "e2")


def three_experts(root, family="llama"):
    """Three MLP-only experts of `family` and train data for each one's domain (its name)."""
    dirs = make_family_experts(root, family, n=3)
    for i, d in enumerate(NAMES):
        write_domain(root / "data", d, n_train=12, seed=i)
    return dirs


def merge(root, dirs, out, **kw):
    kw = {"top_k": 1, "router_init": "fit", "data": str(root / "data"), "fit_samples": 4,
          "base": str(root / "base"), **kw}
    return assemble(MergeConfig(experts=[str(d) for d in dirs], output=str(out), **kw),
                    experts_root=root)


def routers(model_dir) -> dict[str, torch.Tensor]:
    return {k: v for k, v in tensors(model_dir).items()
            if k.endswith("gate.weight") and "shared_expert" not in k}


@pytest.mark.parametrize("family, shared", [("llama", False), ("qwen2", False), ("qwen2", True),
                                            ("qwen3", False)])
def test_add_expert_writes_a_stock_moe_of_its_family_and_keeps_the_other_rows(tmp_path, family, shared):
    from transformers import AutoModelForCausalLM

    from smolmoe.moe.formats import experts_and_top_k

    dirs = three_experts(tmp_path, family)
    merge(tmp_path, dirs[:2], tmp_path / "moe", base_expert="shared" if shared else False)
    meta = add_expert(tmp_path / "moe", dirs[2], data_dir=tmp_path / "data", out=tmp_path / "grown")
    assert list(zip(meta.names, meta.domains)) == [(n, n) for n in NAMES]
    assert len(meta.experts[2]["weights_sha256"]) == 64 and meta.experts[2]["source"] == str(dirs[2])
    if shared:   # forced routing gives the mix of the new expert and the base, as for the others
        assert max(meta.doc["shared_expert"]["mix_parity_max_abs_logit_diff"].values()) <= 1e-4
        assert set(meta.doc["shared_expert"]["mix_parity_max_abs_logit_diff"]) == set(NAMES)
    else:
        assert meta.doc["parity_max_abs_logit_diff"]["e2"] <= 1e-4
    step = meta.doc["history"][-1]
    assert step["op"] == "add-expert" and step["fit"]["rows_fitted"] == [2]
    assert step["fit"]["domains"] == list(NAMES)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "grown")  # stock, no remote code
    assert experts_and_top_k(model.config) == (3, 1)
    before, after = routers(tmp_path / "moe"), routers(tmp_path / "grown")
    for key, w in before.items():   # (the on-disk layout may differ by family; rows do not)
        assert torch.equal(after[key][:2], w) and float(after[key][2].abs().max()) > 0
    written = json.loads((tmp_path / "grown" / "smolmoe.json").read_text())
    assert written["experts"] == meta.experts


def test_remove_then_add_gives_the_same_routing_back(tmp_path):
    dirs = three_experts(tmp_path)
    merge(tmp_path, dirs[:2], tmp_path / "two")
    add_expert(tmp_path / "two", dirs[2], data_dir=tmp_path / "data", out=tmp_path / "three")
    meta = remove_expert(tmp_path / "three", "e2", out=tmp_path / "two_again")
    assert meta.names == ["e0", "e1"]
    assert "e2" not in meta.doc["parity_max_abs_logit_diff"] and "e2" not in meta.doc["non_ffn_distance"]
    assert [h["op"] for h in meta.doc["history"]] == ["add-expert", "remove-expert"]
    two, again = tensors(tmp_path / "two"), tensors(tmp_path / "two_again")
    assert all(torch.equal(two[k], again[k]) for k in two)   # removing undoes adding exactly
    add_expert(tmp_path / "two_again", dirs[2], data_dir=tmp_path / "data", out=tmp_path / "three_again")
    first, second = routers(tmp_path / "three"), routers(tmp_path / "three_again")
    for key in first:   # the fit of the one free row is deterministic: the same rows come back
        assert torch.allclose(first[key], second[key], atol=1e-6, rtol=0)


def test_a_jointly_fitted_row_is_found_again_by_the_one_row_fit(tmp_path):
    """From an MoE whose rows were all fitted together, remove-expert then add-expert refits the
    row with the others held: the same (strictly convex) objective, so the same routing."""
    from smolmoe.core.modeldir import load_model
    from smolmoe.moe.router_outputs import forward, routing_record

    dirs = three_experts(tmp_path)
    merge(tmp_path, dirs, tmp_path / "moe")
    remove_expert(tmp_path / "moe", "e1", out=tmp_path / "minus")
    add_expert(tmp_path / "minus", dirs[1], data_dir=tmp_path / "data", out=tmp_path / "back")
    ids = torch.randint(3, 300, (4, 40), generator=torch.Generator().manual_seed(0))
    probs = {}
    for name, order in (("moe", [0, 1, 2]), ("back", [0, 2, 1])):   # e1 comes back last
        model = load_model(tmp_path / name)
        with torch.no_grad():
            record = routing_record(forward(model, ids, routing=True)[1])
        probs[name] = torch.stack([record.layer_logits(l).softmax(-1)[:, order] for l in range(2)])
    assert torch.equal(probs["moe"].argmax(-1), probs["back"].argmax(-1))
    assert float((probs["moe"] - probs["back"]).abs().max()) < 0.15


def test_remove_expert_keeps_top_k_valid_and_refuses_in_one_line(tmp_path):
    dirs = three_experts(tmp_path)
    merge(tmp_path, dirs, tmp_path / "moe", top_k=2)
    with pytest.raises(ModelError, match="has no expert 'nope' \\(its experts: e0, e1, e2\\)"):
        remove_expert(tmp_path / "moe", "nope", out=tmp_path / "x")
    remove_expert(tmp_path / "moe", "e0", out=tmp_path / "two")
    r = CliRunner().invoke(main, ["remove-expert", str(tmp_path / "two"), "e1", "--out", str(tmp_path / "one")])
    assert r.exit_code == 1 and r.output.strip().count("\n") == 0
    assert "would leave 1 expert(s), fewer than top_k=2" in r.output and not (tmp_path / "one").exists()
    r = CliRunner().invoke(main, ["remove-expert", str(tmp_path / "moe"), "e1", "--out", str(tmp_path / "moe")])
    assert r.exit_code == 1 and "must never overwrite an input" in r.output
    assert (tmp_path / "moe" / "smolmoe.json").is_file()


def test_add_expert_cli_and_its_refusals(tmp_path):
    dirs = three_experts(tmp_path)
    merge(tmp_path, dirs[:2], tmp_path / "moe")
    run = lambda *a: CliRunner().invoke(main, ["add-expert", *map(str, a)])   # noqa: E731
    r = run(tmp_path / "moe", dirs[2], "--data", tmp_path / "data", "--out", tmp_path / "grown")
    assert r.exit_code == 0, r.output
    assert "experts (in order): e0, e1, e2" in r.output and "parity e2" in r.output
    for args, message in [
        ((tmp_path / "moe", dirs[1], "--data", tmp_path / "data", "--out", tmp_path / "x"),
         "already has an expert called 'e1'"),
        ((tmp_path / "moe", dirs[2], "--data", tmp_path / "data", "--out", tmp_path / "moe"),
         "must never overwrite an input"),
        ((tmp_path / "moe", dirs[2], "--data", tmp_path / "nodata", "--out", tmp_path / "x"), "nodata"),
    ]:
        r = run(*args)
        assert r.exit_code == 1 and r.output.strip().count("\n") == 0 and message in r.output, r.output
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ must-show 4
def test_another_size_family_or_tokenizer_is_refused_before_any_weight_loads(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM

    from smolmoe.moe.assemble import WeightReader

    dirs = three_experts(tmp_path)
    merge(tmp_path, dirs[:2], tmp_path / "moe")
    wider = make_family_experts(tmp_path / "wide", "llama", n=1)[0]
    cfg = json.loads((wider / "config.json").read_text())
    shutil.copytree(dirs[2], tmp_path / "big")
    (tmp_path / "big" / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 96}))
    qwen = make_family_experts(tmp_path / "q", "qwen2", n=1)[0]
    shutil.copytree(dirs[2], tmp_path / "tok")
    (tmp_path / "tok" / "chat_template.jinja").write_text("{{ messages }}")
    other = tmp_path / "other"   # a model of another size, built by its own run
    make_family_experts(other, "llama", n=1)
    sizes = json.loads((other / "e0" / "config.json").read_text())
    (other / "e0" / "config.json").write_text(json.dumps({**sizes, "hidden_size": 48}))
    fail = lambda *a, **k: pytest.fail("weights were loaded")   # noqa: E731
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", fail)
    monkeypatch.setattr(WeightReader, "get", fail)
    for expert, message in [(tmp_path / "big", "its intermediate_size is 96, the MoE's experts' is 64"),
                            (qwen, "it is a qwen2 model, which assembles into qwen2_moe, but the MoE is mixtral"),
                            (tmp_path / "tok", "it has another tokenizer")]:
        r = CliRunner().invoke(main, ["add-expert", str(tmp_path / "moe"), str(expert), "--data",
                                      str(tmp_path / "data"), "--out", str(tmp_path / "x"),
                                      "--name", "new"])
        assert r.exit_code == 1 and r.output.strip().count("\n") == 0, r.output
        assert message in r.output, r.output
    with pytest.raises(ModelError, match="its hidden_size is 48, the MoE's experts' is 32"):
        add_expert(tmp_path / "moe", other / "e0", data_dir=tmp_path / "data", out=tmp_path / "x",
                   name="new")
