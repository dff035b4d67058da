"""assemble on tiny experts: exact parity for every router init, stock loading, refusals."""
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from smolmoe.cli.main import main
from smolmoe.core.config import ExpertManifest, MergeConfig, TrainSettings, home_path
from smolmoe.core.errors import ConfigError, ModelError
from smolmoe.training.experts import train_expert
from smolmoe.moe.assemble import assemble, resolve_merge_config

from helpers.tiny_models import DOMAINS, make_llama, make_tokenizer, merge_trained


@pytest.mark.parametrize("init", ["random", "hidden", "fit"])
def test_forced_routing_reproduces_each_expert(trained, tmp_path, init):
    meta = merge_trained(trained, tmp_path / "moe", router_init=init)
    assert set(meta["parity_max_abs_logit_diff"]) == set(DOMAINS)
    assert max(meta["parity_max_abs_logit_diff"].values()) <= 1e-4
    assert meta["non_ffn_max_abs_diff"] == 0.0  # MLP-only experts share everything else
    if init == "fit":
        assert min(meta["router_init_report"]["train_accuracy_per_layer"]) > 0.9


def test_stock_transformers_loads_and_generates(trained, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    merge_trained(trained, tmp_path / "moe", router_init="fit")
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
    monkeypatch.setattr("smolmoe.moe.assemble.resolve_base", lambda spec=None: Path("/packaged/base"))
    merge, _ = resolve_merge_config(["math", "story"], base_expert=True)
    assert merge.base == "/packaged/base"
    merge, _ = resolve_merge_config(["math", "story"], base_expert=True, base="/mine")
    assert merge.base == "/mine"
