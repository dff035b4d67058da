"""Routing hooks: router inputs, forcing one expert, summaries, and no hook left behind
(router logits come from outputs: test_router_outputs.py)."""
import pytest
import torch

from smolmoe.core.errors import ModelError
from smolmoe.moe.hooks import (RoutingRecord, capture_router_inputs, force_expert,
                           layer_summary, moe_blocks, token_top1, usage_share)
from smolmoe.core.modeldir import load_model


IDS = torch.arange(3, 20)[None]


@pytest.fixture(scope="module")
def moe(tiny_moe):
    return load_model(tiny_moe, experts_implementation="eager")


def _no_hooks(model) -> bool:
    return all(not b.gate._forward_hooks and not b.gate._forward_pre_hooks for b in moe_blocks(model))


def test_capture_router_inputs_sees_the_hidden_states(moe):
    with torch.no_grad(), capture_router_inputs(moe) as inputs:
        moe(input_ids=IDS)
    assert sorted(inputs) == [0, 1] and inputs[0][0].shape == (17, moe.config.hidden_size)
    assert _no_hooks(moe)


def test_forced_expert_computes_that_dense_expert(moe, tiny_moe):
    with torch.no_grad():
        dense = load_model(tiny_moe.parent / "code")(input_ids=IDS).logits
        free = moe(input_ids=IDS).logits
        with force_expert(moe, 1):
            forced = moe(input_ids=IDS).logits
    assert (forced - dense).abs().max() < 1e-4
    assert (free - dense).abs().max() > 1e-3            # without forcing it is a mixture
    assert _no_hooks(moe)


def test_hooks_are_removed_when_the_forward_pass_fails(moe):
    with pytest.raises(RuntimeError), capture_router_inputs(moe), force_expert(moe, 0):
        raise RuntimeError("boom")
    assert _no_hooks(moe)


def _record() -> RoutingRecord:
    """3 layers, 4 tokens, 3 experts: layers 0 and 1 prefer expert 0, layer 2 expert 2;
    token 3 prefers expert 1 everywhere."""
    rec = RoutingRecord()
    for layer, favourite in enumerate((0, 0, 2)):
        logits = torch.zeros(4, 3)
        logits[:3, favourite] = 5.0
        logits[3, 1] = 5.0
        logits[:, (favourite + 1) % 3] += 1.0          # a clear second choice
        rec.logits[layer] = [logits]
    return rec


def test_summaries_count_choices_per_layer_and_overall():
    rec = _record()
    assert token_top1(rec, layer=2) == [2, 2, 2, 1]
    assert token_top1(rec) == [0, 0, 0, 1]              # majority over layers
    share = usage_share(rec, 3, k=1)
    assert torch.allclose(share, torch.tensor([6, 3, 3]) / 12)
    rows = layer_summary(rec, ["a", "b", "c"], k=1)
    assert [r["layer"] for r in rows] == [0, 1, 2]
    assert rows[2]["top"][0] == ("c", 0.75)
    only_last = usage_share(rec, 3, k=1, positions=torch.tensor([3]))
    assert torch.allclose(only_last, torch.tensor([0.0, 1.0, 0.0]))


def test_a_dense_model_has_no_moe_blocks(tiny_dir):
    with pytest.raises(ModelError, match="no routed MoE blocks"):
        moe_blocks(load_model(tiny_dir))
