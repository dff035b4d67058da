"""Weight-only int8 (`--dtype int8`): the int8 product against a dequantised reference, the
quantiser's error, and int8 dense and MoE models agreeing with float32."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from smolmoe.core import precision
from smolmoe.inference.generate import ChatModel, GenerationSettings
from smolmoe.inference.quant import KERNEL_MAX_ROWS, Int8Linear, quantize_rows, weight_bytes


@pytest.fixture
def fast_bf16(monkeypatch):
    """int8 runs its activations in bf16; the tests run it on any CPU (slowly where emulated)."""
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: True)


def test_quantizer_rounds_each_row_to_within_half_a_step():
    torch.manual_seed(0)
    w = torch.distributions.Laplace(0.0, 1.0).sample((64, 576))
    w[5] *= 100                                             # rows of very different sizes
    q, scale = quantize_rows(w)
    assert q.dtype == torch.int8 and q.abs().max() == 127 and scale.shape == (64,)
    assert ((q.float() * scale[:, None] - w).abs() <= scale[:, None] / 2 + 1e-6).all()


@pytest.mark.parametrize("rows", [1, KERNEL_MAX_ROWS, 3 * KERNEL_MAX_ROWS])  # kernel and dequantised paths
def test_int8_linear_matches_its_dequantised_weights(rows):
    torch.manual_seed(1)
    linear = nn.Linear(96, 200, bias=True)
    int8 = Int8Linear(linear, torch.bfloat16)
    x = torch.randn(rows, 96)
    reference = torch.nn.functional.linear(
        x, int8.weight_int8.float() * int8.scales.float()[:, None], linear.bias.detach())
    y = int8(x.bfloat16())
    assert y.dtype == torch.bfloat16 and y.shape == (rows, 200)
    # bf16 activations and outputs: a few parts in a thousand of the outputs' size.
    assert (y.float() - reference).abs().max() <= 1e-2 * reference.abs().max()
    assert (reference - linear(x).detach()).abs().max() > 1e-4      # it really is quantised


def _dequantised(path):
    """The float32 model with its weights replaced by their int8 values times the scales
    (routers stay float, as int8 keeps them): what the int8 model should compute."""
    from smolmoe.core.modeldir import load_model
    model = load_model(path)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and not name.endswith("mlp.gate.weight"):
                q, scale = quantize_rows(p)
                p.copy_(q.float() * scale[..., None])
    return model


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits[0].float()


@pytest.mark.parametrize("which", ["dense", "moe"])
def test_int8_models_compute_their_dequantised_weights_and_weigh_about_a_quarter(
        which, tiny_dir, tiny_moe, fast_bf16):
    from smolmoe.core.modeldir import load_model
    path = tiny_dir if which == "dense" else tiny_moe
    f32, int8 = ChatModel.load(path, dtype="float32"), ChatModel.load(path, dtype="int8")
    assert not any(type(m) in (nn.Linear, nn.Embedding) for m in int8.model.modules())
    if which == "moe":
        assert int8.model.config._experts_implementation == "smolmoe_int8"
    # The tiny models carry a larger share of (bf16) norms than real ones: a quarter and a bit.
    assert weight_bytes(int8.model) < 0.35 * weight_bytes(f32.model)
    ids = torch.randint(3, 300, (1, 40), generator=torch.Generator().manual_seed(0))
    reference, exact = _logits(_dequantised(path), ids), _logits(f32.model, ids)
    bf16_error = (_logits(load_model(path, dtype=torch.bfloat16), ids) - exact).abs().mean()
    # int8 products add nothing to what bf16 activations cost (measured: 1.0-1.1x bf16's error).
    assert (_logits(int8.model, ids) - reference).abs().mean() <= 2 * bf16_error
    # Tiny random models have near-ties everywhere (the real agreement target is in the bench).
    agree = (_logits(int8.model, ids).argmax(-1) == exact.argmax(-1)).float().mean()
    assert agree >= 0.75
    # Batched int8 decoding gives each request its reply alone. The prompts are longer than
    # KERNEL_MAX_ROWS, so each prefill takes the dequantised path alone and batched alike.
    asks = ("add 3 plus 4 and then add 5 plus 6 and then add 7 plus 8 please",
            "write a story of the dragon and the castle of alpha beta gamma delta")
    prompts = [int8.encode([{"role": "user", "content": p}]) for p in asks]
    assert min(map(len, prompts)) > KERNEL_MAX_ROWS
    settings = GenerationSettings(max_new_tokens=8)
    alone = []
    for p in prompts:
        engine = int8.engine(slots=1)
        alone.append(engine.add(p, settings, routing=int8.is_moe))
        engine.run()
    engine = int8.engine(slots=2)
    together = [engine.add(p, settings, routing=int8.is_moe) for p in prompts]
    engine.run()
    assert [s.tokens for s in together] == [s.tokens for s in alone]
    assert [s.experts for s in together] == [s.experts for s in alone]


def test_int8_is_refused_in_one_line_without_fast_bf16(tiny_dir, monkeypatch):
    from click.testing import CliRunner
    from smolmoe.cli.main import main
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = CliRunner().invoke(main, ["chat", str(tiny_dir), "--dtype", "int8"], input="hi\n")
    assert r.exit_code == 1 and "int8 runs its activations in bf16" in r.output
    assert r.output.strip().count("\n") == 0
