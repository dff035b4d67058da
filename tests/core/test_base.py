"""The base model: the real packaged SmolLM2-135M-Instruct, and clear errors for bad specs."""
import pytest

from smolmoe.core.base import resolve_base
from smolmoe.core.modeldir import describe
from smolmoe.core.errors import ModelError


def test_real_base_converts_once_and_answers():
    from smolmoe.inference.generate import answer
    path = resolve_base()
    weights = path / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    info = describe(path)
    assert info["parameters"] == 134_515_008
    assert info["architecture"] == "LlamaForCausalLM" and info["layers"] == 30
    assert resolve_base() == path and weights.stat().st_mtime_ns == stamp  # no re-conversion
    assert "Paris" in answer(path, "What is the capital of France?", max_new_tokens=24)


def test_local_dir_is_used_as_is(tiny_dir):
    assert resolve_base(str(tiny_dir)) == tiny_dir
    assert describe(tiny_dir)["model_type"] == "llama"


def test_unreachable_hub_id_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="cannot fetch 'no-such-org/no-such-model'"):
        resolve_base("no-such-org/no-such-model")


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "not found"),
    (lambda p: p.write_text("x"), "not a model directory"),
    (lambda p: p.mkdir(), "no config.json"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text("{}")), "must be a JSON object with a .model_type."),
    (lambda p: (p.mkdir(), (p / "config.json").write_text('{"model_type": "llama"}')), "no .safetensors"),
])
def test_bad_local_paths(tmp_path, make, message):
    target = tmp_path / "model"
    make(target)
    with pytest.raises(ModelError, match=message):
        resolve_base(str(target))
