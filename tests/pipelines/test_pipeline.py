"""pipeline.py: the MoE pipeline as a library call."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from smolmoe.pipelines.moe import STAGES, MoEPipelineSettings, run_moe_pipeline, task_summary
from smolmoe.core.errors import ConfigError
from helpers import REPO


def _demo_script():
    spec = importlib.util.spec_from_file_location("demo", REPO / "scripts" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


def _tasks(domains, moe_score):
    """A task report of moe_evaluate_tasks' shape."""
    scores = {m: {d: {"score": s, "metric": "exact", "n": 4} for d in domains} for m, s in
              (("base", 0.5), ("oracle", 0.8), ("moe", moe_score))}
    rates = lambda harmful: {"harmful": harmful, "benign_risky": 0.0, "everyday": None,  # noqa: E731
                             "other_domains": 0.0}
    return {"results": scores, "moe_over_oracle": {d: moe_score / 0.8 for d in domains},
            "settings": {"prompts_per_second": 1.0, "split": "test"},
            "refusals": {"base": rates(0.1), "moe": rates(0.9)}}


def test_task_summary_counts_domains_meeting_the_goals():
    experts = {"math": "math", "story": "story"}
    good = task_summary(_tasks(["math", "story"], 0.78), experts)
    assert good["tasks_moe_within_095_oracle"] == 2 and good["tasks_moe_at_least_base"] == 2
    bad = task_summary(_tasks(["math", "story"], 0.4), experts)
    assert bad["tasks_moe_within_095_oracle"] == 0 and bad["tasks_moe_at_least_base"] == 0
    assert set(bad["refusals"]) == {"base", "moe"}


def test_settings_are_checked_before_any_stage_runs(tmp_path):
    with pytest.raises(ConfigError, match="router_lr"):
        run_moe_pipeline(MoEPipelineSettings(router_lr=0), tmp_path)
    assert not any(tmp_path.iterdir())


def _run_reusing(trained, out, monkeypatch, baselines="none"):
    """Run the pipeline on `out` (data already there) with `trained`'s experts, printing as the
    demo does: ([(stage, result)], summary)."""
    shutil.copytree(trained / "experts", out / "experts")
    # Task metrics need the real domains' rules: stand in a fixed report.
    monkeypatch.setattr("smolmoe.evaluation.tasks.run.moe_evaluate_tasks",
                        lambda *a, **k: _tasks(["math", "story"], 0.8))
    seen = []
    demo = _demo_script()

    def on_result(stage, r, seconds):   # the demo prints every stage's result as it comes
        seen.append((stage, r))
        demo.show(stage, r, seconds)
    settings = MoEPipelineSettings(eval_limit=4, task_limit=1, fit_samples=4, router_steps=2,
                                   base_expert=False, baselines=baselines)
    summary = run_moe_pipeline(settings, out, base=str(trained / "base"), on_result=on_result)
    demo.print_summary(summary, 2)
    return seen, summary


def test_the_pipeline_reuses_data_and_experts_and_writes_its_reports(trained, experts_dir, tmp_path,
                                                                      monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(trained / "data", out / "data")
    for d in ("math", "story"):   # the foreign split: any held-out file will do here
        shutil.copy(out / "data" / d / "test.jsonl", out / "data" / d / "foreign.jsonl")
    (out / "data" / "manifest.json").write_text(json.dumps({"domains": ["math", "story"]}))
    seen, summary = _run_reusing(trained, out, monkeypatch, baselines="merges")
    assert [s for s, _ in seen] == list(STAGES)
    results = dict(seen)
    assert results["data"]["reused"] and "report" not in results["data"]
    assert all(r["reused"] for r in results["experts"].values())
    assert list(summary["timings_s"]) == list(STAGES)
    written = json.loads((out / "demo_summary.json").read_text())
    assert written["moe_over_oracle"].keys() == {"math", "story"}
    assert written["tasks_moe_within_095_oracle"] == 2
    assert "foreign" in json.loads((out / "eval.json").read_text())
    assert (out / "moe" / "config.json").is_file()
    # The merges (--baselines merges) sit beside base, oracle and MoE, with the cost rows.
    assert [label for label in written["foreign_vs_baselines"]["rows"]] == [
        "merge-average", "merge-ties", "merge-dare"]
    assert set(written["cost"]) == {"base", "merge-average", "merge-ties", "merge-dare", "moe"}
    assert (out / "baselines" / "merge-ties" / "smolmoe_merge.json").is_file()
    card = (out / "moe" / "README.md").read_text()
    assert "model-index" in card and "merge-dare" in card


def test_the_pipeline_goes_on_without_a_domain_whose_data_failed(trained, experts_dir, tmp_path,
                                                                  monkeypatch, capsys):
    """poem's data was not built (its sources' packages could not be had) and story's foreign
    source was missing: no poem expert, an MoE of math and story, loud lines, figures over
    what exists."""
    (experts_dir / "poem.yaml").write_text(
        "name: poem\ndomain: poem\npositive_prompts: ['poem please']\n"
        "finetune: {steps: 8, lr: 0.01, batch_size: 4, seq_len: 64, warmup_steps: 0}\n")
    out = tmp_path / "out"
    shutil.copytree(trained / "data", out / "data")
    shutil.copy(out / "data" / "math" / "test.jsonl", out / "data" / "math" / "foreign.jsonl")
    failed = {"poem": "domain 'poem' not built: train split has 1 source(s), needs at least 2; "
                      "missing verses (evals==3.0.1.post1). To supply: ..."}
    missing = {"story": [{"source": "far", "package": "cheat", "why": "not served", "role": "foreign"}]}
    (out / "data" / "manifest.json").write_text(json.dumps(
        {"domains": {"math": {}, "story": {}}, "failed": failed, "missing": missing}))
    seen, summary = _run_reusing(trained, out, monkeypatch)
    results = dict(seen)
    assert results["data"]["failed"] == failed and results["data"]["missing"] == missing
    assert results["experts"]["poem"] == {"skipped": True, "domain": "poem"}
    assert [e["name"] for e in results["assemble"]["meta"]["experts"]] == ["math", "story"]
    assert summary["missing_domains"] == {"poem": "poem"}
    assert summary["foreign"]["domains"] == 1 and list(summary["foreign"]["moe_over_oracle"]) == ["math"]
    assert not (out / "experts" / "poem").exists()
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert "FAILED domain 'poem' not built" in text and "MISSING source far of story (foreign)" in text
    assert "poem: SKIPPED, no data for domain poem" in text
    assert "1 domain(s) MISSING (no data, no expert): poem" in text
