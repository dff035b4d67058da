"""Packed bf16 weights compute what the plain bf16 model computes, and decode the same replies."""
from __future__ import annotations

import pytest
import torch

from smolmoe.inference.generate import ChatModel, GenerationSettings
from smolmoe.core.modeldir import load_model
from smolmoe.inference.packing import PackedLinear, can_pack, onednn_has_bf16, pack_for_decoding
from smolmoe.core.precision import cpu_has_fast_bf16

bf16_cpu = pytest.mark.skipif(not onednn_has_bf16(), reason="this CPU's oneDNN has no bf16 kernels")


def _logits(model, ids):
    with torch.no_grad():
        return model(ids).logits.float()


@bf16_cpu
@pytest.mark.parametrize("which", ["dense", "moe"])
def test_packed_model_matches_the_plain_bf16_model(which, tiny_dir, tiny_moe):
    path = tiny_dir if which == "dense" else tiny_moe
    plain = load_model(path, dtype=torch.bfloat16).eval()
    packed = load_model(path, dtype=torch.bfloat16).eval()
    assert pack_for_decoding(packed) > 0
    assert not any(type(m) is torch.nn.Linear for m in packed.modules())
    assert any(isinstance(m, PackedLinear) for m in packed.modules())
    if which == "moe":   # the experts' plain weights are gone: the packed copies replaced them
        names = [n for n, _ in packed.named_parameters()]
        assert not any("gate_up_proj" in n or "experts.down_proj" in n for n in names)
    ids = torch.randint(0, plain.config.vocab_size, (3, 17), generator=torch.Generator().manual_seed(0))
    a, b = _logits(plain, ids), _logits(packed, ids)
    scale = a.abs().max()
    assert (a - b).abs().max() <= 0.02 * scale          # bf16 rounding, not a different model
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() >= 0.9


@bf16_cpu
def test_packed_experts_match_the_stock_experts_for_any_routing(tiny_moe):
    plain = load_model(tiny_moe, dtype=torch.bfloat16).eval()
    packed = load_model(tiny_moe, dtype=torch.bfloat16).eval()
    pack_for_decoding(packed)
    e_plain = plain.model.layers[0].mlp.experts
    e_packed = packed.model.layers[0].mlp.experts
    g = torch.Generator().manual_seed(1)
    h = torch.randn(7, plain.config.hidden_size, generator=g).bfloat16()
    idx = torch.stack([torch.randperm(plain.config.num_local_experts, generator=g)[:2] for _ in range(7)])
    idx[3] = torch.tensor([2, 0])                        # an expert hit by one row only
    w = torch.rand(7, 2, generator=g).softmax(-1)
    with torch.no_grad():
        want, got = e_plain(h, idx, w).float(), e_packed(h, idx, w).float()
    assert torch.allclose(got, want, atol=0.02 * want.abs().max().item())


def test_float32_models_are_left_alone(tiny_moe):
    model = load_model(tiny_moe)
    assert not can_pack(model) and pack_for_decoding(model) == 0
    assert any(type(m) is torch.nn.Linear for m in model.modules())
    assert model.config._experts_implementation != "smolmoe_packed"


@bf16_cpu
@pytest.mark.skipif(not cpu_has_fast_bf16(), reason="ChatModel refuses bf16 on a CPU without AVX512-BF16/AMX")
def test_packed_greedy_replies_are_the_same_alone_and_batched(tiny_moe):
    chat = ChatModel.load(tiny_moe, dtype="bf16")
    assert any(isinstance(m, PackedLinear) for m in chat.model.modules())
    prompts = [chat.encode([{"role": "user", "content": p}])
               for p in ("add 3 plus 4", "write a story of the dragon", "hello there")]
    settings = GenerationSettings(max_new_tokens=10)
    engine = chat.engine(slots=3)
    together = [engine.add(p, settings, routing=True) for p in prompts]
    engine.run()
    for prompt, seq in zip(prompts, together):
        alone = chat.engine(slots=1)
        one = alone.add(prompt, settings, routing=True)
        alone.run()
        assert seq.tokens == one.tokens and seq.experts == one.experts
