"""Router-only training: only the routers change, routing learns the domains, supervision works."""
import torch

from smolmoe.core.config import TrainSettings

from helpers.tiny_models import DOMAINS, merge_trained


def test_train_router_trains_only_routers_and_reports(trained, tmp_path):
    from smolmoe.evaluation.loss import moe_evaluate
    from smolmoe.moe.router import train_router
    from safetensors.torch import load_file
    moe = tmp_path / "moe"
    merge_trained(trained, moe, router_init="random")
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


def test_router_supervision_lowers_routing_ce(trained, tmp_path):
    from smolmoe.moe.router import train_router
    moe = tmp_path / "moe"
    merge_trained(trained, moe, router_init="random")
    s = train_router(moe, trained / "data", TrainSettings(steps=15, lr=5e-2, seq_len=64, batch_size=8,
                                                          warmup_steps=0), alpha=0.0, beta=1.0,
                     out_dir=tmp_path / "supervised")
    assert s["beta"] == 1.0 and "route_ce" in s["final"]
    from smolmoe.core.modeldir import load_model, load_tokenizer
    from smolmoe.data.records import load_records, split_path
    from smolmoe.evaluation.loss import moe_routing
    model, tok = load_model(tmp_path / "supervised"), load_tokenizer(tmp_path / "supervised")
    records = {d: load_records(split_path(trained / "data", d, "test")) for d in DOMAINS}
    assert moe_routing(model, tok, records, list(DOMAINS))["routing_accuracy"] > 0.9
