"""The baselines an MoE is measured against: dense merges (average, TIES, DARE) and the
multitask fine-tune, their rows in the MoE report, the cost columns and the model card."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml
from click.testing import CliRunner

from helpers.tiny_models import merge_trained
from helpers.tiny_moe import make_experts
from smolmoe.core.errors import ConfigError, ModelError
from smolmoe.evaluation.merge_dense import average, dare, merge_dense, merge_tensor, ties, trim_top_k


# ------------------------------------------------------------------ the merge methods by hand
E1, E2, E3 = ([1., 2., -3., 4.], [3., -2.5, 1., 2.], [-1., 1.5, -2., 3.])


def test_trim_keeps_the_largest_magnitudes():
    assert trim_top_k(torch.tensor(E1), 0.5).tolist() == [0., 0., -3., 4.]
    assert trim_top_k(torch.tensor(E1), 1.0).tolist() == E1
    assert trim_top_k(torch.tensor(E1), 0.1).tolist() == [0., 0., 0., 0.]   # int(0.4) = 0 kept


def test_ties_trims_elects_the_sign_and_takes_the_disjoint_mean():
    # trimmed (density 0.5): [0,0,-3,4], [3,-2.5,0,0], [0,0,-2,3]; sum [3,-2.5,-5,7] -> signs
    # +,-,-,+; entry 2: mean of -3 and -2; entry 3: mean of 4 and 3; the others one expert each.
    got = ties([torch.tensor(e) for e in (E1, E2, E3)], 0.5)
    assert got.tolist() == [3.0, -2.5, -2.5, 3.5]
    # Disagreeing entries are dropped, not averaged: +1 and -3 elect -, the mean is -3.
    assert ties([torch.tensor([1.]), torch.tensor([-3.])], 1.0).tolist() == [-3.0]


def test_average_is_the_mean_of_the_task_vectors_and_merges_add_the_base():
    base = torch.tensor([10., 10., 10., 10.])
    experts = [base + torch.tensor(e) for e in (E1, E2, E3)]
    assert torch.allclose(average([torch.tensor(e) for e in (E1, E2, E3)]),
                          torch.tensor([1.0, 1 / 3, -4 / 3, 3.0]))
    assert torch.allclose(merge_tensor(base, experts, "ties", density=0.5),
                          base + torch.tensor([3.0, -2.5, -2.5, 3.5]))
    assert torch.equal(merge_tensor(base, [base, base], "dare", density=0.5), base)  # no change


def test_dare_drops_and_rescales_with_a_seed():
    delta = torch.full((20000,), 2.0)
    kept = dare([delta], 0.25, [torch.Generator().manual_seed(3)])
    assert set(kept.unique().tolist()) == {0.0, 8.0}                  # dropped, or 2 / 0.25
    assert abs(float((kept != 0).float().mean()) - 0.25) < 0.02       # kept with p = density
    again = dare([delta], 0.25, [torch.Generator().manual_seed(3)])
    assert torch.equal(kept, again)                                   # seeded
    # Two experts: each entry is the mean of (0 or d_i / p); p = 1 is the plain average.
    d1, d2 = torch.tensor([1., 1., 1., 1.]), torch.tensor([3., 3., 3., 3.])
    mixed = dare([d1, d2], 0.5, [torch.Generator().manual_seed(i) for i in (0, 1)])
    assert set(mixed.tolist()) <= {0.0, 1.0, 3.0, 4.0}
    assert torch.equal(dare([d1, d2], 1.0, [torch.Generator(), torch.Generator()]), average([d1, d2]))
    a = merge_tensor(torch.zeros(64), [torch.ones(64), -torch.ones(64)], "dare", density=0.5, seed=0, key="k")
    b = merge_tensor(torch.zeros(64), [torch.ones(64), -torch.ones(64)], "dare", density=0.5, seed=0, key="k")
    c = merge_tensor(torch.zeros(64), [torch.ones(64), -torch.ones(64)], "dare", density=0.5, seed=1, key="k")
    assert torch.equal(a, b) and not torch.equal(a, c)


# ------------------------------------------------------------------ merge-dense on model dirs
@pytest.fixture(scope="module")
def three_experts(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge_dense")
    return root, make_experts(root)


def _weights(path):
    from safetensors.torch import load_file
    return load_file(str(path / "model.safetensors"))


def test_merge_dense_writes_a_stock_dense_checkpoint_of_the_family(three_experts, tmp_path):
    from transformers import AutoModelForCausalLM
    root, dirs = three_experts
    out = tmp_path / "merged"
    meta = merge_dense(dirs, "average", out, base=root / "base")
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.model_type == "llama"
    merged, base, experts = _weights(out), _weights(root / "base"), [_weights(d) for d in dirs]
    for key, value in merged.items():
        if ".mlp." in key:   # MLP-only experts: the mean of their MLPs
            assert torch.allclose(value, torch.stack([e[key] for e in experts]).mean(0), atol=1e-6)
        else:                # every other tensor is the base's
            assert torch.equal(value, base[key])
    assert meta["method"] == "average" and meta["tensors_changed"] == 2 * 3   # 2 layers x 3 MLPs
    assert json.loads((out / "smolmoe_merge.json").read_text())["experts"][0]["name"] == "math"
    assert (out / "tokenizer.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp left


def test_merge_dense_never_overwrites_an_input_and_needs_the_base(three_experts, tmp_path):
    root, dirs = three_experts
    before = (dirs[0] / "model.safetensors").read_bytes()
    with pytest.raises(ModelError, match="never overwrites"):
        merge_dense(dirs, "ties", dirs[0], base=root / "base", overwrite=True)
    with pytest.raises(ModelError, match="never overwrites"):
        merge_dense(dirs, "ties", root / "base", base=root / "base", overwrite=True)
    assert (dirs[0] / "model.safetensors").read_bytes() == before
    with pytest.raises(ConfigError, match="--base"):   # no smolmoe_expert.json to read it from
        merge_dense(dirs, "average", tmp_path / "m")
    with pytest.raises(ConfigError, match="density"):
        merge_dense(dirs, "dare", tmp_path / "m", base=root / "base", density=1.5)
    (tmp_path / "taken").mkdir()
    with pytest.raises(Exception, match="already exists"):
        merge_dense(dirs, "average", tmp_path / "taken", base=root / "base")


def test_cli_merge_dense_ties_and_dare(three_experts, tmp_path):
    from smolmoe.cli.main import main
    root, dirs = three_experts
    for method in ("ties", "dare"):
        out = tmp_path / method
        result = CliRunner().invoke(main, ["merge-dense", *map(str, dirs), "--method", method,
                                           "--base", str(root / "base"), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert f"-> {out}" in result.output and (out / "config.json").is_file()
    ties_w, dare_w = _weights(tmp_path / "ties"), _weights(tmp_path / "dare")
    key = "model.layers.0.mlp.up_proj.weight"
    assert not torch.equal(ties_w[key], dare_w[key])


# ------------------------------------------------------------------ the multitask baseline
def test_multitask_sees_the_experts_records_with_their_budget_together(
        experts_dir, tiny_dir, tiny_data, tmp_path):
    from smolmoe.core.config import list_manifests
    from smolmoe.training.experts import multitask_settings, train_expert, train_multitask
    manifests = list_manifests()
    assert multitask_settings(manifests).steps == 16          # 8 + 8
    summary = train_multitask(manifests, base=tiny_dir, data_dir=tiny_data,
                              out_dir=tmp_path / "multitask", steps=2)
    experts = [train_expert(m, base=tiny_dir, data_dir=tiny_data, out_dir=tmp_path / m.name,
                            settings=m.finetune.updated(steps=2)) for m in manifests]
    assert summary["settings"]["steps"] == 4 and summary["domains"] == ["math", "story"]
    assert summary["tokens"] == sum(e["tokens"] for e in experts)   # the same records, once each
    merged, base = _weights(tmp_path / "multitask"), _weights(tiny_dir)
    assert all(torch.equal(v, base[k]) for k, v in merged.items() if ".mlp." not in k)  # MLP-only
    assert any(not torch.equal(v, base[k]) for k, v in merged.items() if ".mlp." in k)
    full = train_multitask(manifests, base=tiny_dir, data_dir=tiny_data,
                           out_dir=tmp_path / "full", steps=1, trainable="full")
    assert full["trainable"] == "full" and full["trainable_params"] > summary["trainable_params"]


def test_multitask_refuses_experts_with_different_batch_shapes(experts_dir):
    from smolmoe.core.config import list_manifests
    from smolmoe.training.experts import multitask_settings
    import dataclasses
    a, b = list_manifests()
    b = dataclasses.replace(b, finetune=b.finetune.updated(batch_size=8))
    with pytest.raises(ConfigError, match="batch size"):
        multitask_settings([a, b])


def test_cli_train_expert_multitask_writes_to_the_baselines_home(experts_dir, tiny_dir, tiny_data,
                                                                 tmp_path, monkeypatch):
    from smolmoe.cli.main import main
    monkeypatch.setenv("SMOLMOE_HOME", str(tmp_path / "home"))
    args = ["train-expert", "--multitask", "--base", str(tiny_dir), "--data", str(tiny_data)]
    refused = CliRunner().invoke(main, [*args, "--steps", "3"])
    assert refused.exit_code != 0 and "--steps" in refused.output
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "home" / "baselines" / "multitask" / "smolmoe_expert.json").read_text())
    assert meta["domain"] == "multitask" and meta["settings"]["steps"] == 16


# ------------------------------------------------------------------ the report, cost and card
@pytest.fixture(scope="module")
def moe_with_baselines(trained, tmp_path_factory):
    """`trained`'s MoE, with baselines/ beside it: its average and TIES merges."""
    from smolmoe.evaluation.baselines import build_merges
    root = tmp_path_factory.mktemp("with_baselines")
    merge_trained(trained, root / "moe", top_k=1, router_init="fit")
    build_merges([trained / "experts" / d for d in ("math", "story")], root / "baselines",
                 trained / "base", methods=("average", "ties"))
    return root


def test_eval_moe_reports_the_baselines_beside_base_oracle_and_moe(moe_with_baselines, trained):
    from rich.console import Console
    from smolmoe.evaluation.baselines import baselines_root, compare, compare_lines, find_baselines
    from smolmoe.evaluation.loss import moe_evaluate
    from smolmoe.cli.tables import moe_eval_tables
    moe = moe_with_baselines / "moe"
    baselines = find_baselines(baselines_root(moe))
    assert list(baselines) == ["merge-average", "merge-ties"]
    report = moe_evaluate(moe, trained / "data", base=trained / "base", limit=4,
                          baselines=baselines)
    assert report["baselines"] == list(baselines)
    assert set(report["results"]["merge-ties"]) == {"math", "story"}
    comparison = compare(report)
    assert set(comparison["rows"]) == set(baselines) and comparison["against"] == [
        comparison["best_merge"]]
    row = comparison["rows"]["merge-average"]
    assert row["of"] == 2 and row["wins"] + len(row["misses"]) == 2
    text = "\n".join(compare_lines(comparison))
    assert "MoE vs merge-average" in text and "goal" in text
    console = Console(record=True, width=160)
    for table in moe_eval_tables(report):
        console.print(table)
    assert "loss / oracle loss, MoE and baselines" in console.export_text()
    with pytest.raises(Exception, match="may not be called"):
        moe_evaluate(moe, trained / "data", limit=2, baselines={"moe": baselines["merge-ties"]})


def test_cost_counts_parameters_speed_and_training_minutes(moe_with_baselines, trained):
    from rich.console import Console
    from smolmoe.evaluation.cost import model_costs
    from smolmoe.cli.tables import cost_table
    moe = moe_with_baselines / "moe"
    costs = model_costs({"base": trained / "base", "merge-ties": moe_with_baselines /
                         "baselines" / "merge-ties", "moe": moe}, speed=True)
    dense, moe_cost = costs["merge-ties"], costs["moe"]
    assert dense["parameters"] == dense["active_parameters"] == costs["base"]["parameters"]
    assert moe_cost["parameters"] > moe_cost["active_parameters"] > dense["parameters"] * 0.9
    assert costs["base"]["training_minutes"] is None
    experts = sum(json.loads((trained / "experts" / d / "smolmoe_expert.json").read_text())["seconds"]
                  for d in ("math", "story"))
    assert dense["training_minutes"] >= round(experts / 60, 2) - 0.01
    assert all(c["prefill_tok_s"] > 0 and c["decode_tok_s"] > 0 for c in costs.values())
    console = Console(record=True, width=160)
    console.print(cost_table(costs))
    assert "active / token" in console.export_text()


def _front_matter(readme):
    text = readme.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1]), text


def test_assemble_writes_the_card_eval_fills_it_train_router_renews_it(trained, tmp_path):
    from smolmoe.core.config import TrainSettings
    from smolmoe.moe.model_card import MEASURED, record_evaluation
    from smolmoe.moe.router import train_router
    data = tmp_path / "data"
    shutil.copytree(trained / "data", data)
    moe = tmp_path / "moe"
    merge_trained(trained, moe, top_k=1, router_init="fit")
    matter, text = _front_matter(moe / "README.md")
    assert matter["pipeline_tag"] == "text-generation" and matter["library_name"] == "transformers"
    assert "moe" in matter["tags"] and matter["base_model"] == "base"
    for section in ("## Experts", "## Data sources", "## Routing", "## Intended use",
                    "## Limits, as measured", "Never trained on", "routers not trained yet"):
        assert section in text
    # eval records what it measured: losses with the baselines, tasks with refusal rates.
    res = {r: {d: {"loss": loss, "tokens": 10} for d in ("math", "story")}
           for r, loss in (("base", 3.0), ("oracle", 1.0), ("moe", 1.02), ("merge-ties", 1.5))}
    report = {"results": res, "domains": ["math", "story"], "baselines": ["merge-ties"],
              "routing_accuracy": 0.9, "settings": {"split": "test", "limit": 4}}
    refusals = {"harmful": 0.8, "harmful_n": 10, "benign_risky": 0.1, "benign_risky_n": 10,
                "everyday": 0.0, "everyday_n": 5, "other_domains": 0.0}
    tasks = {"settings": {"split": "test"}, "baselines": [], "refusals": {"moe": refusals},
             "results": {"moe": {"math": {"metric": "exact", "n": 4, "score": 0.5}}}}
    record_evaluation(moe, {**report, "foreign": {**report, "settings": {"split": "foreign", "limit": 4}},
                            "tasks": tasks})
    matter, text = _front_matter(moe / "README.md")
    [index] = matter["model-index"]
    assert [r["dataset"]["split"] for r in index["results"]] == ["test", "foreign"]
    metrics = {m["name"]: m["value"] for m in index["results"][0]["metrics"]}
    assert metrics["mixed assistant-token loss (merge-ties)"] == 1.5
    assert "| merge-ties | 1.500 | 1.500 |" in text and "| moe | 80% (n=10)" in text
    # New routers: the card is rewritten, without the measurements made before them.
    train_router(moe, data, TrainSettings(steps=1, batch_size=2, seq_len=64, warmup_steps=0))
    _, text = _front_matter(moe / "README.md")
    assert not (moe / MEASURED).exists() and "router training: 1 steps" in text
    assert "Not measured since the routers last changed" in text


def test_add_and_remove_expert_rewrite_the_card(tiny_moe, tmp_path):
    from smolmoe.moe.grow import remove_expert
    out = tmp_path / "smaller"
    remove_expert(tiny_moe, "story", out=out)
    _, text = _front_matter(out / "README.md")
    assert "| math |" in text and "| story |" not in text


def test_card_lists_each_experts_sources_licences_and_held_out_source(tmp_path):
    from smolmoe.moe.model_card import render
    data, moe = tmp_path / "data", tmp_path / "moe"
    (data / "math").mkdir(parents=True)
    (data / "math" / "train.jsonl").write_text("")
    (data / "math" / "meta.json").write_text(json.dumps({"foreign_source": "held/out", "sources": [
        {"name": "gen/sums", "package": "generator", "licence": "MIT", "benchmark": False, "role": "train"},
        {"name": "bench/gsm", "package": "evals", "licence": "CC-BY-4.0", "benchmark": True, "role": "train"},
        {"name": "held/out", "package": "evals", "licence": "MIT", "benchmark": True, "role": "foreign"}]}))
    expert = tmp_path / "math"
    expert.mkdir()
    (expert / "smolmoe_expert.json").write_text(json.dumps(
        {"domain": "math", "train_file": str(data / "math" / "train.jsonl"), "trainable": "mlp",
         "tokens": 1234, "seconds": 5.0, "base": str(tmp_path / "base")}))
    moe.mkdir()
    (moe / "smolmoe.json").write_text(json.dumps({"experts": [
        {"name": "math", "domain": "math", "source": str(expert)}], "top_k": 1, "router_init": "fit"}))
    text = render(moe)
    matter = yaml.safe_load(text.split("---\n")[1])
    assert matter["datasets"] == ["bench/gsm", "gen/sums"]
    assert matter["data_licences"] == ["CC-BY-4.0", "MIT"]
    assert "| math | math | mlp, 1234 tokens, 5.0 s | gen/sums, bench/gsm | CC-BY-4.0; MIT |" in text
    assert "| math | bench/gsm | evals | CC-BY-4.0 | train | yes |" in text
    assert "math: held/out" in text
