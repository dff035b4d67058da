"""Model directories: metadata names and readers, the one atomic save, the config patch."""
import json
import shutil

import pytest

from smolmoe.core.errors import ModelError
from smolmoe.core.modeldir import ADAPTER, BASE_META, EXPERT_META, MERGE_META, META_FILES, MOE_META, SCRATCH_META, checkpoint_dir_for, copy_meta, expert_domain, load_model, load_tokenizer, patch_config_for_other_readers, read_expert_meta, read_scratch_meta, save_model_dir
from smolmoe.moe.meta import read_moe_meta



def test_every_kind_has_its_own_metadata_name():
    assert len(set(META_FILES)) == 5
    assert {BASE_META, EXPERT_META, MOE_META, SCRATCH_META, MERGE_META} == set(META_FILES)


def test_checkpoint_is_a_hidden_sibling_of_the_output(tmp_path):
    assert checkpoint_dir_for(tmp_path / "out") == tmp_path / ".out.checkpoint"
    assert checkpoint_dir_for(tmp_path / "moe", "router-checkpoint") == tmp_path / ".moe.router-checkpoint"


def test_save_writes_metadata_and_patches_config_only_for_other_readers(tiny_dir, tmp_path):
    model, tok = load_model(tiny_dir), load_tokenizer(tiny_dir)
    save_model_dir(model, tok, tmp_path / "plain", EXPERT_META, {"domain": "math"})
    save_model_dir(model, tok, tmp_path / "moe", MOE_META, {"experts": []}, for_other_readers=True)
    assert json.loads((tmp_path / "plain" / EXPERT_META).read_text()) == {"domain": "math"}
    plain = json.loads((tmp_path / "plain" / "config.json").read_text())
    patched = json.loads((tmp_path / "moe" / "config.json").read_text())
    assert "rope_theta" not in plain
    assert patched["rope_theta"] == patched["rope_parameters"]["rope_theta"]
    with pytest.raises(Exception, match="already exists"):
        save_model_dir(model, tok, tmp_path / "plain", EXPERT_META, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moe", "plain"]   # no temp left


def test_config_patch_keeps_a_top_level_rope_theta(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"rope_theta": 5.0, "rope_parameters": {"rope_theta": 7.0}}))
    patch_config_for_other_readers(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["rope_theta"] == 5.0


def test_lora_save_keeps_the_adapter_and_returns_the_merged_model(tiny_dir, tmp_path):
    import torch
    from smolmoe.training.lora import LoraSettings, wrap_lora
    peft_model = wrap_lora(load_model(tiny_dir), LoraSettings(r=2))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.add_(0.5)
    ids = torch.arange(3, 20)[None]
    expected = peft_model(input_ids=ids).logits
    merged = save_model_dir(peft_model, load_tokenizer(tiny_dir), tmp_path / "out", SCRATCH_META,
                            {"stage": "sft"}, adapter=True)
    assert not hasattr(merged, "peft_config")
    assert (tmp_path / "out" / ADAPTER / "adapter_config.json").is_file()
    reloaded = load_model(tmp_path / "out")(input_ids=ids).logits
    assert (reloaded - expected).abs().max() < 1e-3    # float rounding of the merge
    assert (load_model(tiny_dir)(input_ids=ids).logits - expected).abs().max() > 0.1
    assert read_scratch_meta(tmp_path / "out") == {"stage": "sft"}


def test_copy_meta_copies_whichever_kinds_are_there(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir(), dst.mkdir()
    for name in (EXPERT_META, SCRATCH_META):
        (src / name).write_text(json.dumps({"kind": name}))
    assert copy_meta(src, dst) == [EXPERT_META, SCRATCH_META]
    assert sorted(p.name for p in dst.iterdir()) == sorted([EXPERT_META, SCRATCH_META])


def test_moe_meta_is_checked_and_external_moes_get_numbered_experts(tiny_moe, tmp_path):
    assert read_moe_meta(tiny_moe).names == ["math", "code", "story"]
    broken = tmp_path / "broken"
    shutil.copytree(tiny_moe, broken)
    (broken / MOE_META).write_text(json.dumps({"experts": [{"name": "a"}]}))
    with pytest.raises(ModelError, match="is malformed"):
        read_moe_meta(broken)
    (broken / MOE_META).write_text("{")
    with pytest.raises(ModelError, match="not valid JSON"):
        read_moe_meta(broken)
    (broken / MOE_META).unlink()
    meta = read_moe_meta(broken)
    assert meta.format == "external" and meta.names == ["expert_0", "expert_1", "expert_2"]
    with pytest.raises(ModelError, match="is not an MoE directory"):
        read_moe_meta(tiny_moe.parent / "math")        # a dense expert
    with pytest.raises(ModelError, match="does not exist"):
        read_moe_meta(tmp_path / "missing")


def test_expert_meta_gives_the_domain_or_the_directory_name(tmp_path):
    d = tmp_path / "coder"
    d.mkdir()
    assert read_expert_meta(d) is None and expert_domain(d) == "coder"
    (d / EXPERT_META).write_text(json.dumps({"domain": "code"}))
    assert expert_domain(d) == "code"
    (d / EXPERT_META).write_text(json.dumps({"domain": 3}))
    with pytest.raises(ModelError, match="'domain' must be a string"):
        expert_domain(d)


def test_scratch_meta_must_be_there(tmp_path):
    with pytest.raises(ModelError, match="not a smolmoe scratch model"):
        read_scratch_meta(tmp_path)
