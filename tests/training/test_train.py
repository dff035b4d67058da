import pytest
import torch
from safetensors.torch import load_file

from smolmoe.core.config import TrainSettings
from smolmoe.data.records import StepBatches, encode_records
from smolmoe.core.errors import ConfigError, SmolMoEError
from smolmoe.training.experts import mlp_only
from smolmoe.training.loop import lr_lambda, train

from helpers.tiny_models import domain_records


def _setup(tiny_dir, tiny_tokenizer, seed=0):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    examples = encode_records(tiny_tokenizer, domain_records("math", 32, seed), 64)
    return model, StepBatches(examples, 4, tiny_tokenizer.pad_token_id, seed)


def test_mlp_only_training_changes_only_mlps_and_lowers_loss(tiny_dir, tiny_tokenizer):
    model, batches = _setup(tiny_dir, tiny_tokenizer)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = train(model, batches, TrainSettings(steps=16, lr=1e-2, warmup_steps=0),
                   trainable=mlp_only)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".mlp." in k for k in changed)
    assert result.trainable_params == sum(v.numel() for k, v in after.items() if ".mlp." in k)
    first = sum(h["loss"] for h in result.history[:3]) / 3
    last = sum(h["loss"] for h in result.history[-3:]) / 3
    assert last < 0.8 * first


def test_resume_is_bit_identical(tiny_dir, tiny_tokenizer, tmp_path):
    settings = TrainSettings(steps=6, lr=3e-3, warmup_steps=2, save_every=2)
    model, batches = _setup(tiny_dir, tiny_tokenizer)
    train(model, batches, settings)
    straight = model.state_dict()

    class Killed(Exception):
        pass

    def kill_at_5(record):
        if record["step"] == 5:
            raise Killed  # dies after step 5, whose checkpoint was never written

    model, batches = _setup(tiny_dir, tiny_tokenizer)
    with pytest.raises(Killed):
        train(model, batches, settings, checkpoint_dir=tmp_path, on_step=kill_at_5)
    assert set(load_file(str(tmp_path / "checkpoint" / "trainable.safetensors")))
    model, batches = _setup(tiny_dir, tiny_tokenizer)  # a fresh process would start from the base
    result = train(model, batches, settings, checkpoint_dir=tmp_path, resume=True)
    assert [h["step"] for h in result.history] == [5, 6]
    for k, v in model.state_dict().items():
        assert torch.equal(v, straight[k]), k


def test_resume_without_checkpoint_is_a_clear_error(tiny_dir, tiny_tokenizer, tmp_path):
    model, batches = _setup(tiny_dir, tiny_tokenizer)
    with pytest.raises(SmolMoEError, match="no checkpoint"):
        train(model, batches, TrainSettings(steps=2), checkpoint_dir=tmp_path, resume=True)


def test_schedule_warms_up_then_decays_to_the_floor():
    s = TrainSettings(steps=10, warmup_steps=2, min_lr_ratio=0.1)
    f = lr_lambda(s)
    values = [f(i) for i in range(10)]
    assert values[0] < values[1] < values[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(values[2:], values[3:]))
    assert f(10) == pytest.approx(0.1)


@pytest.mark.parametrize("field, value", [("steps", 0), ("lr", -1.0), ("batch_size", 0),
                                          ("precision", "fp8"), ("seq_len", "long")])
def test_out_of_range_settings(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainSettings(**{field: value}).validate()
