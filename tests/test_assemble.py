"""assemble on tiny experts: exact parity, stock loading, refusals, router init and training."""
import json
import shutil

import pytest
import torch
from click.testing import CliRunner

from smolmoe.cli import main
from smolmoe.config import ExpertManifest, MergeConfig, TrainSettings
from smolmoe.errors import ConfigError, ModelError
from smolmoe.experts import train_expert
from smolmoe.assemble import assemble

from conftest import DOMAINS, make_llama, make_tokenizer


def _merge(trained, out, **kw):
    manifests = {d: ExpertManifest(name=d, domain=d, positive_prompts=[f"{d} prompt", "add 1 plus 2"])
                 for d in DOMAINS}
    cfg = MergeConfig(experts=list(DOMAINS), output=str(out), data=str(trained / "data"),
                      base=str(trained / "base"), **kw)
    return assemble(cfg, experts_root=trained / "experts", manifests=manifests)


@pytest.mark.parametrize("init", ["random", "hidden", "fit"])
def test_forced_routing_reproduces_each_expert(trained, tmp_path, init):
    meta = _merge(trained, tmp_path / "moe", router_init=init)
    assert set(meta["parity_max_abs_logit_diff"]) == set(DOMAINS)
    assert max(meta["parity_max_abs_logit_diff"].values()) <= 1e-4
    assert meta["non_ffn_max_abs_diff"] == 0.0  # MLP-only experts share everything else
    if init == "fit":
        assert min(meta["router_init_report"]["train_accuracy_per_layer"]) > 0.9


def test_stock_transformers_loads_and_generates(trained, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    _merge(trained, tmp_path / "moe", router_init="fit")
    cfg = json.loads((tmp_path / "moe" / "config.json").read_text())
    assert cfg["model_type"] == "mixtral" and cfg["num_local_experts"] == 2
    assert cfg["rope_theta"] == cfg["rope_parameters"]["rope_theta"]
    meta = json.loads((tmp_path / "moe" / "smolmoe.json").read_text())
    assert [e["name"] for e in meta["experts"]] == list(DOMAINS)
    assert meta["router_init"] == "fit" and all(len(e["weights_sha256"]) == 64 for e in meta["experts"])
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "moe")
    tok = AutoTokenizer.from_pretrained(tmp_path / "moe")
    ids = tok.apply_chat_template([{"role": "user", "content": "add 3 plus 4"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_average_non_ffn_reports_the_difference(trained, tmp_path):
    full = trained / "full_story"
    train_expert(ExpertManifest(name="story", domain="story"), base=trained / "base",
                 data_dir=trained / "data", out_dir=full, trainable="full",
                 settings=TrainSettings(steps=3, lr=1e-2, seq_len=64, warmup_steps=0))
    cfg = MergeConfig(experts=[str(trained / "experts" / "math"), str(full)],
                      output=str(tmp_path / "moe"), router_init="random", non_ffn="average")
    meta = assemble(cfg, experts_root=trained / "experts")
    assert meta["non_ffn"] == "average" and meta["non_ffn_max_abs_diff"] > 0


def test_mismatched_experts_are_refused_and_nothing_is_written(trained, tmp_path):
    odd = tmp_path / "odd"
    make_llama(odd, make_tokenizer(odd), hidden=48)
    cfg = MergeConfig(experts=[str(trained / "experts" / "math"), str(odd)], output=str(tmp_path / "moe"))
    with pytest.raises(ModelError, match="differ in hidden_size"):
        assemble(cfg, experts_root=trained / "experts")
    vocab = tmp_path / "vocab"
    make_llama(vocab, make_tokenizer(vocab), vocab=420)
    cfg.experts = [str(trained / "experts" / "math"), str(vocab)]
    with pytest.raises(ModelError, match="differ in vocab_size"):
        assemble(cfg, experts_root=trained / "experts")
    assert not (tmp_path / "moe").exists()


def test_different_tokenizer_is_refused(trained, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(trained / "experts" / "story", other)
    tok_file = other / "tokenizer_config.json"
    cfg = json.loads(tok_file.read_text())
    (other / "chat_template.jinja").write_text("{{ messages }}")
    tok_file.write_text(json.dumps(cfg))
    merge = MergeConfig(experts=[str(trained / "experts" / "math"), str(other)], output=str(tmp_path / "moe"))
    with pytest.raises(ModelError, match="different tokenizers"):
        assemble(merge, experts_root=trained / "experts")


@pytest.mark.parametrize("kw, message", [
    ({"experts": ["math"]}, "at least two experts"),
    ({"experts": ["math", "story"], "top_k": 3}, "top_k=3 is more than the 2 experts"),
    ({"experts": ["math", "story"], "top_k": 0}, "top_k must be"),
    ({"experts": ["math", "story"], "router_init": "magic"}, "router_init"),
])
def test_bad_merge_configs(kw, message):
    with pytest.raises(ConfigError, match=message):
        MergeConfig(output="x", **kw).validate()


def test_cli_assemble_refuses_top_k_with_one_line(trained, tmp_path):
    r = CliRunner().invoke(main, ["assemble", "math", "story", "--experts-root", str(trained / "experts"),
                                  "--top-k", "3", "--out", str(tmp_path / "moe")])
    assert r.exit_code == 1 and r.output.strip().count("\n") == 0
    assert "top_k=3" in r.output and not (tmp_path / "moe").exists()


def test_train_router_trains_only_routers_and_reports(trained, tmp_path):
    from smolmoe.evaluate import moe_evaluate
    from smolmoe.router import train_router
    from safetensors.torch import load_file
    moe = tmp_path / "moe"
    _merge(trained, moe, router_init="random")
    before = load_file(str(moe / "model.safetensors"))
    summary = train_router(moe, trained / "data",
                           TrainSettings(steps=25, lr=5e-2, seq_len=64, batch_size=8, warmup_steps=0),
                           alpha=0.01)
    assert summary["trainable_params"] == 2 * 2 * 32  # layers * experts * hidden
    after = load_file(str(moe / "model.safetensors"))
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith("block_sparse_moe.gate.weight") for k in changed)
    report = moe_evaluate(moe, trained / "data", base=trained / "base", limit=8)
    res = report["results"]
    assert set(res) == {"base", "math", "story", "moe", "oracle"}
    assert res["oracle"]["math"] == res["math"]["math"]
    # Routing learned the domains: the MoE is close to the oracle and routes to the right expert.
    assert report["routing_accuracy"] > 0.7
    for d in DOMAINS:
        assert res["moe"][d]["loss"] < res["base"][d]["loss"]
    assert abs(sum(report["load_share"]) - 1) < 1e-6


def test_inspect_shows_layers_usage_and_tokens(trained, tmp_path):
    moe = tmp_path / "moe"
    _merge(trained, moe, router_init="fit")
    r = CliRunner().invoke(main, ["inspect", "add 3 plus 4", "--moe", str(moe), "--generate", "4",
                                  "--json", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "r.json").read_text())
    view = report["prompt_view"]
    assert [row["layer"] for row in view["layers"]] == [0, 1]
    assert abs(sum(view["usage"].values()) - 1) < 1e-6
    assert "".join(t for t, _ in view["tokens"]) == "add 3 plus 4"
    assert report["answer_view"] is None or len(report["answer_view"]["tokens"]) <= 4
    assert "top experts per layer" in r.output and "overall usage" in r.output
    # The hooks are gone afterwards.
    from transformers import AutoModelForCausalLM
    from smolmoe.hooks import capture_routing, moe_blocks
    model = AutoModelForCausalLM.from_pretrained(moe)
    with capture_routing(model):
        pass
    assert all(not b.gate._forward_hooks for b in moe_blocks(model))
    bad = CliRunner().invoke(main, ["inspect", "hi", "--moe", str(moe), "--layer", "9"])
    assert bad.exit_code == 1 and "--layer must be between 0 and 1" in bad.output


def test_router_supervision_lowers_routing_ce(trained, tmp_path):
    from smolmoe.router import train_router
    moe = tmp_path / "moe"
    _merge(trained, moe, router_init="random")
    s = train_router(moe, trained / "data", TrainSettings(steps=15, lr=5e-2, seq_len=64, batch_size=8,
                                                          warmup_steps=0), alpha=0.0, beta=1.0,
                     out_dir=tmp_path / "supervised")
    assert s["beta"] == 1.0 and "route_ce" in s["final"]
    from smolmoe.modeldir import load_model, load_tokenizer
    from smolmoe.data import load_records, split_path
    from smolmoe.evaluate import moe_routing
    model, tok = load_model(tmp_path / "supervised"), load_tokenizer(tmp_path / "supervised")
    records = {d: load_records(split_path(trained / "data", d, "test")) for d in DOMAINS}
    assert moe_routing(model, tok, records, list(DOMAINS))["routing_accuracy"] > 0.9
