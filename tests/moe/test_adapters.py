"""PEFT LoRA adapters as experts (issue #25 must-show 3): an MLP LoRA folds into its expert's
FFN (parity with the adapter applied to the dense base), an attention LoRA goes the way of a
full fine-tune (--non-ffn, parity warning), and what cannot fold is refused in one line."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from helpers.tiny_models import write_domain
from helpers.families import make_family_experts
from smolmoe.moe.assemble import assemble, parity_warning
from smolmoe.cli.main import main
from smolmoe.core.config import MergeConfig
from smolmoe.core.errors import ModelError

MLP = ["gate_proj", "up_proj", "down_proj"]


def make_adapter(base, out, targets=MLP, **kw):
    """A tiny peft LoRA on `base` with random A and B (a trained adapter, not a no-op)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(7)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=8, target_modules=targets,
                                      init_lora_weights=False, **kw))
    model.save_pretrained(out)
    return out


@torch.no_grad()
def adapter_logits(base, adapter, ids):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    return PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)(input_ids=ids).logits


@torch.no_grad()
def forced_logits(moe_dir, j, ids):
    from smolmoe.moe.hooks import force_expert
    from smolmoe.core.modeldir import load_model
    model = load_model(moe_dir)
    with force_expert(model, j):
        return model(input_ids=ids).logits


@pytest.mark.parametrize("dora", [False, True])
def test_mlp_lora_folds_into_its_expert_with_parity(tmp_path, dora):
    e0 = make_family_experts(tmp_path, "llama", n=1)[0]
    base = tmp_path / "base"
    lora = make_adapter(base, tmp_path / "lora", use_dora=dora)
    meta = assemble(MergeConfig(experts=[str(e0), str(lora)], output=str(tmp_path / "moe"), top_k=1,
                                router_init="random", base=str(base)), experts_root=tmp_path)
    record = meta["experts"][1]
    assert record["name"] == "lora" and record["source"] == str(lora)
    assert record["adapter"]["mlp_modules"] == 6 and record["adapter"]["attention_modules"] == 0
    assert record["adapter"]["use_dora"] is dora and record["adapter"]["base"] == str(base)
    assert meta["parity_max_abs_logit_diff"]["lora"] <= 1e-4 and parity_warning(meta) is None
    ids = torch.tensor([[1, 5, 9, 12, 7, 30, 2]])
    applied = adapter_logits(base, lora, ids)
    got = forced_logits(tmp_path / "moe", 1, ids)
    assert float((got - applied).abs().max()) <= 1e-4
    plain = forced_logits(tmp_path / "moe", 0, ids)
    assert float((plain - applied).abs().max()) > 1e-2   # the adapter changed something


def test_add_expert_takes_an_adapter_with_its_base(tmp_path):
    from smolmoe.moe.grow import add_expert

    dirs = make_family_experts(tmp_path, "qwen3", n=2)
    for d in ("e0", "e1", "lora"):
        write_domain(tmp_path / "data", d, n_train=8, seed=len(d))
    assemble(MergeConfig(experts=[str(d) for d in dirs], output=str(tmp_path / "moe"), top_k=1,
                         router_init="fit", data=str(tmp_path / "data"), fit_samples=4),
             experts_root=tmp_path)
    lora = make_adapter(tmp_path / "base", tmp_path / "lora")
    meta = add_expert(tmp_path / "moe", lora, data_dir=tmp_path / "data", out=tmp_path / "grown",
                      base=tmp_path / "base")
    assert meta.experts[-1]["adapter"]["mlp_modules"] == 6
    ids = torch.tensor([[1, 5, 9, 12, 7, 30, 2]])
    got = forced_logits(tmp_path / "grown", 2, ids)
    assert float((got - adapter_logits(tmp_path / "base", lora, ids)).abs().max()) <= 1e-4


def test_attention_lora_goes_through_non_ffn_with_the_parity_warning(tmp_path):
    e0 = make_family_experts(tmp_path, "llama", n=1)[0]
    base = tmp_path / "base"
    lora = make_adapter(base, tmp_path / "lora", targets=["q_proj", "v_proj", "up_proj"])
    meta = assemble(MergeConfig(experts=[str(e0), str(lora)], output=str(tmp_path / "moe"), top_k=1,
                                router_init="random", base=str(base), non_ffn="base"),
                    experts_root=tmp_path)
    assert meta["experts"][1]["adapter"]["attention_modules"] == 4
    assert meta["non_ffn_distance"]["lora"]["max_abs"] > 0
    assert meta["parity_max_abs_logit_diff"]["lora"] > 1e-3
    assert "parity failed for 1/2 experts (worst lora" in parity_warning(meta)


def _edit_config(adapter, **changes):
    f = adapter / "adapter_config.json"
    f.write_text(json.dumps({**json.loads(f.read_text()), **changes}))


@pytest.mark.parametrize("case, message", [
    ("ia3", "it is a peft IA3 adapter; only LoRA adapters fold into weights"),
    ("save", "modules_to_save (lm_head) replaces whole modules"),
    ("alora", "alora_invocation_tokens is set (an activated LoRA acts only after"),
    ("bias", "bias='all' trains biases"),
    ("pickle", "only pickle files (adapter_model.bin), which smolmoe never loads"),
    ("embed", "embed_tokens"),   # (peft saves the tied embedding itself: refused either way)
    ("other_base", "LoRA is [32, 4] x [4, 48], which does not fit the base's 32 x 64 weight"),
    ("no_base", "is not a local model directory: pass --base DIR"),
])
def test_adapters_that_cannot_fold_are_refused_in_one_line(tmp_path, monkeypatch, case, message):
    e0 = make_family_experts(tmp_path, "llama", n=1)[0]
    base = tmp_path / "base"
    lora = tmp_path / "lora"
    if case == "ia3":
        from peft import IA3Config, get_peft_model
        from transformers import AutoModelForCausalLM
        get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                       IA3Config(target_modules=["up_proj", "down_proj"],
                                 feedforward_modules=["down_proj"])).save_pretrained(lora)
    elif case == "embed":
        make_adapter(base, lora, targets=["embed_tokens", "up_proj"])
    elif case == "other_base":
        wide = make_family_experts(tmp_path / "wide", "llama", n=1)[0]
        cfg = json.loads((wide / "config.json").read_text())
        from transformers import AutoModelForCausalLM, LlamaConfig
        other = tmp_path / "other_base"
        AutoModelForCausalLM.from_config(LlamaConfig(**{**cfg, "intermediate_size": 48})).save_pretrained(other)
        make_adapter(other, lora)
    else:
        make_adapter(base, lora)
    if case == "save":
        _edit_config(lora, modules_to_save=["lm_head"])
    if case == "alora":
        _edit_config(lora, alora_invocation_tokens=[5, 6])
    if case == "bias":
        _edit_config(lora, bias="all")
    if case == "pickle":
        (lora / "adapter_model.safetensors").unlink()
        (lora / "adapter_model.bin").write_bytes(b"not to be unpickled")
        monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    if case == "no_base":
        _edit_config(lora, base_model_name_or_path="someone/some-model")
    args = ["assemble", str(e0), str(lora), "--router-init", "random", "--out", str(tmp_path / "moe")]
    r = CliRunner().invoke(main, args + ([] if case == "no_base" else ["--base", str(base)]))
    assert r.exit_code == 1 and r.output.strip().count("\n") == 0, r.output
    assert message in r.output and str(lora) in r.output, r.output
    assert not (tmp_path / "moe").exists()


def test_adapter_base_defaults_to_its_config_and_must_match_the_moe(tmp_path):
    from smolmoe.moe.adapters import check_adapter

    make_family_experts(tmp_path, "llama", n=1)
    lora = make_adapter(tmp_path / "base", tmp_path / "lora")
    found = check_adapter(lora)   # base_model_name_or_path is the local base dir
    assert found.base == tmp_path / "base" and len(found.mlp) == 6
    with pytest.raises(ModelError, match="model directory not found"):
        check_adapter(lora, tmp_path / "missing")
