"""Each from-scratch training stage on tiny models: it must move its own metric the right way."""
import json
import random
import shutil

import pytest
import torch

from smolmoe.core.config import TrainSettings
from smolmoe.core.errors import ConfigError, ModelError
from smolmoe.rl import arithmetic
from smolmoe.core.modeldir import SCRATCH_META

from helpers.scratch_fixtures import bilingual_texts, make_scratch_model

FAST = dict(warmup_steps=0, min_lr_ratio=1.0)


def _load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def test_pretrain_lowers_heldout_loss_and_saves_a_loadable_model(scratch_root, tmp_path):
    from smolmoe.scratch.pretrain import pretrain
    info = pretrain(scratch_root / "model", bilingual_texts(300, 0), bilingual_texts(60, 1),
                    tmp_path / "pre", TrainSettings(steps=30, lr=1e-2, batch_size=8, seq_len=64, **FAST))
    assert info["val_loss_after"] < info["val_loss_before"] - 1.0
    meta = json.loads((tmp_path / "pre" / SCRATCH_META).read_text())
    assert meta["stage"] == "pretrain" and meta["active"] < meta["total"]
    assert not list(tmp_path.glob(".*checkpoint"))   # the checkpoint goes once the model is saved
    model, _ = _load(tmp_path / "pre")
    assert model.config.model_type == "qwen2_moe"


def test_extend_context_writes_yarn_and_trains_longer_rows(scratch_root, tmp_path):
    from smolmoe.scratch.pretrain import extend_context
    info = extend_context(scratch_root / "model", bilingual_texts(200, 0), bilingual_texts(80, 1),
                          tmp_path / "long", TrainSettings(steps=3, lr=1e-3, batch_size=2, seq_len=600, **FAST),
                          factor=2.0)
    model, tok = _load(tmp_path / "long")
    assert model.config.rope_parameters["rope_type"] == "yarn"
    assert model.config.rope_parameters["factor"] == 2.0
    assert model.config.max_position_embeddings == 1024 == info["context_after"]
    ids = torch.randint(0, len(tok), (1, 700))
    assert torch.isfinite(model(ids).logits).all()
    with pytest.raises(ConfigError, match="factor"):
        extend_context(scratch_root / "model", ["x"], ["x"], tmp_path / "bad", TrainSettings(), factor=1.0)


def test_sft_trains_on_assistant_tokens_and_lowers_heldout_loss(scratch_root, tmp_path):
    from smolmoe.scratch.sft import sft
    train = [arithmetic.sft_record(p) for p in arithmetic.problems(200, "train")]
    val = [arithmetic.sft_record(p) for p in arithmetic.problems(20, "test")]
    info = sft(scratch_root / "model", train, val, tmp_path / "sft",
               TrainSettings(steps=30, lr=1e-2, batch_size=8, seq_len=96, **FAST))
    assert info["val_loss_after"] < 0.7 * info["val_loss_before"]


def _refusal_pairs(n, split):
    """Chosen: the worked answer; rejected: a refusal. A preference that generalises."""
    return [{"messages": [{"role": "user", "content": p.question}], "chosen": p.reply(),
             "rejected": "I do not know."} for p in arithmetic.problems(n, split)]


def test_dpo_raises_the_heldout_preference_share(scratch_root, tmp_path):
    from smolmoe.rl.dpo import dpo
    info = dpo(scratch_root / "model", _refusal_pairs(64, "train"), _refusal_pairs(20, "test"),
               tmp_path / "dpo", TrainSettings(steps=15, lr=5e-3, batch_size=4, seq_len=96, **FAST),
               beta=0.5)
    assert info["val_preference_after"] >= 0.9 > info["val_preference_before"]


def _tiny_mixtral(directory, tokenizer_dir):
    from transformers import AutoTokenizer, MixtralConfig, MixtralForCausalLM
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    config = MixtralConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                           num_experts_per_tok=2, pad_token_id=tok.pad_token_id)
    MixtralForCausalLM(config).save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


@pytest.mark.parametrize("which", ["llama", "mixtral", "scratch-moe"])
def test_lora_adapter_saves_reloads_merges_and_changes_outputs(which, tiny_dir, scratch_root, tmp_path):
    from smolmoe.training.lora import LoraSettings, load_with_adapter, merge_adapter
    from smolmoe.scratch.sft import sft
    source = {"llama": tiny_dir, "scratch-moe": scratch_root / "model"}.get(which) \
        or _tiny_mixtral(tmp_path / "mixtral", tiny_dir)
    records = [arithmetic.sft_record(p, think=False) for p in arithmetic.problems(40, "train")]
    info = sft(source, records, records[:8], tmp_path / "lora",
               TrainSettings(steps=10, lr=1e-2, batch_size=4, seq_len=96, **FAST),
               lora=LoraSettings(r=4, alpha=8))
    base, tok = _load(source)
    assert 0 < info["trainable_params"] < sum(p.numel() for p in base.parameters()) / 5
    merged, _ = _load(tmp_path / "lora")
    reloaded = load_with_adapter(source, tmp_path / "lora" / "adapter").eval()
    ids = tok("12 + 7 = 19", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out_base, out_merged, out_adapter = base(ids).logits, merged(ids).logits, reloaded(ids).logits
    assert torch.allclose(out_merged, out_adapter, atol=1e-4)
    assert (out_merged - out_base).abs().max() > 1e-2
    merge_adapter(source, tmp_path / "lora" / "adapter", tmp_path / "again", tok)
    again, _ = _load(tmp_path / "again")
    with torch.no_grad():
        assert torch.allclose(again(ids).logits, out_merged, atol=1e-4)
    with pytest.raises(ModelError, match="adapter"):
        load_with_adapter(source, tmp_path)


def test_distillation_lowers_heldout_kl_to_the_teacher(scratch_root, tmp_path_factory, tmp_path):
    from smolmoe.scratch.distill import distill
    from smolmoe.scratch.pretrain import init_model
    init_model("tiny", scratch_root / "tok", tmp_path / "student", seed=1, layers=2, hidden_size=32,
               expert_size=32, shared_expert_size=32, dense_size=64, experts=4)
    info = distill(tmp_path / "student", scratch_root / "model", bilingual_texts(200, 0),
                   bilingual_texts(40, 1), tmp_path / "out",
                   TrainSettings(steps=25, lr=1e-2, batch_size=8, seq_len=64, **FAST))
    assert info["val_kl_after"] < 0.7 * info["val_kl_before"]


def test_distillation_refuses_a_teacher_with_another_tokenizer(scratch_root, tiny_dir, tmp_path):
    from smolmoe.scratch.distill import distill
    with pytest.raises(ModelError, match="tokenizer"):
        distill(scratch_root / "model", tiny_dir, ["a b c"] * 50, ["a b c"] * 50, tmp_path / "x",
                TrainSettings(steps=1, seq_len=8))
