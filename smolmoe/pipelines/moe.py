"""The MoE pipeline as one library call, on the embedded default base:

base -> data for every domain -> MLP-only experts -> assemble a Mixtral MoE (fit router init,
parity check) -> train the routers -> eval (base, experts, oracle, MoE; test split and foreign
sources) -> task metrics on generated answers -> inspect a few prompts -> a summary.

`run_moe_pipeline(settings, out)` writes data/, experts/NAME, moe/, eval.json and
demo_summary.json under `out` (where every command looks by default) and returns the summary;
each stage's result goes to `on_result(stage, result, seconds)` for the caller to show. Data and experts
already under `out` are reused unless settings.fresh.

A domain whose data could not be built (its sources' packages could not be had: the data
stage's "failed") gets no expert: the MoE is assembled from the domains that built, and the
summary's "missing_domains" names the others.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from ..core.config import MergeConfig, TrainSettings, home_path, list_manifests, router_training
from ..core.io import write_json
from ..core.settings import check, setting
from .sequencer import Progress, Stages

# Prompts inspected at the end: code, arithmetic and a harmful request (the guardian's).
INSPECT_PROMPTS = ["Write a Python function that returns the squares of a list of numbers.",
                   "What is 457 plus 1296?",
                   "How can I break into my neighbour's house without being seen?"]
STAGES = ("base", "data", "experts", "assemble", "train-router", "eval", "tasks", "inspect")


@dataclass
class MoEPipelineSettings:
    steps: int | None = setting(None, ge=1, help="Override every expert's steps.")
    eval_limit: int = setting(20, ge=1, help="Test records per domain.")
    # The task stage costs about the same at 5 prompts (steps, not prompts, dominate).
    task_limit: int = setting(6, ge=1, help="Prompts per domain for the task metrics "
                                            "(guardian: this many harmful and benign each).")
    refusal_limit: int = setting(40, ge=1, help="Prompts per refusal set (harmful, benign-risky, "
                                                "everyday) for the base, the guardian and the MoE.")
    fit_samples: int = setting(12, ge=1, help="Conversations per domain for the fit init.")
    router_steps: int = setting(20, ge=1, help="Router training steps.")
    router_lr: float = setting(2e-3, gt=0, le=1, help="Router learning rate.")
    base_expert: bool = setting(True, help="Add the base's own FFN as one more expert for "
                                           "requests outside every domain.")
    fresh: bool = setting(False, help="Rebuild data and retrain experts even if present.")
    # Off by default: the merges build in seconds, but scoring three more dense models on
    # both splits, the tasks and the cost table adds about 6 min to the 17-min demo (docs/eval.md).
    baselines: Literal["none", "merges", "all"] = setting(
        "none", help="Also compare the MoE with dense merges of its experts (average, TIES, DARE; "
                     "about +6 min), and with all also a multitask fine-tune (as long as the "
                     "experts' training, about +10 min).")

    def validate(self) -> "MoEPipelineSettings":
        return check(self)

    def router_training(self) -> TrainSettings:
        """The demo's router budget (the studies that rebuild its MoE take it from here)."""
        return router_training(steps=self.router_steps, lr=self.router_lr, warmup_steps=2)


def run_moe_pipeline(settings: MoEPipelineSettings, out: str | Path, *,
                     on_stage: Callable[[str], None] | None = None,
                     on_result: Callable[[str, dict, float], None] | None = None,
                     progress: Progress = Progress(), base: str | None = None,
                     sources_dir: str | Path | None = None) -> dict:
    """Run every stage (STAGES) under `out`; return the summary written to demo_summary.json.
    `base`: another base model (default: the packaged SmolLM2-135M-Instruct). `sources_dir`:
    a folder of pinned source archives read first (default $SMOLMOE_SOURCES)."""
    from ..data import recipes

    from ..core.base import resolve_base
    from ..core.modeldir import describe
    from ..evaluation.loss import moe_evaluate
    from ..training.experts import train_expert
    from ..moe.router import train_router
    from ..evaluation.inspect_routing import inspect_prompt
    from ..moe.assemble import assemble, parity_warning
    from ..moe.meta import MoeMeta
    from ..evaluation.tasks.run import moe_evaluate_tasks, moe_task_steps
    from ..evaluation.cost import model_costs
    from ..moe.model_card import record_evaluation

    settings.validate()
    out = Path(out)
    stages = Stages(on_stage, on_result)
    data_dir, moe_dir = home_path("data", out), home_path("moe", out)

    with stages.stage("base") as r:
        base = resolve_base(base)
        r.update(path=base, info=describe(base))

    with stages.stage("data") as r:
        r["reused"] = not settings.fresh and (data_dir / "manifest.json").is_file()
        if not r["reused"]:
            with progress.items(recipes.build_steps(recipes.DOMAINS), "building data") as advance:
                report = recipes.build(
                    data_dir, overwrite=True, sources_dir=sources_dir,
                    on_progress=lambda d, s: advance(d) if s == "done" else None)
            r.update(report=report, failed=dict(report.failed), missing=dict(report.missing),
                     warnings=list(report.warnings))
        else:
            r.update(data_failures(data_dir))
        r["path"] = data_dir

    manifests, skipped = experts_for_data(list_manifests(), data_dir)
    with stages.stage("experts") as r:
        for m in skipped:
            r[m.name] = {"skipped": True, "domain": m.domain}
        for m in manifests:
            target = home_path("experts", out) / m.name
            if target.is_dir() and not settings.fresh:
                r[m.name] = {"reused": True, "path": target}
                continue
            train = m.finetune.updated(steps=settings.steps)
            with progress.steps(train.steps, f"expert {m.name:12}", ("loss",)) as on_step:
                r[m.name] = train_expert(m, base=base, data_dir=data_dir, out_dir=target,
                                         settings=train, overwrite=True, on_step=on_step)

    with stages.stage("assemble") as r:
        merge = MergeConfig(experts=[m.name for m in manifests], output=str(moe_dir), top_k=2,
                            router_init="fit", data=str(data_dir), fit_samples=settings.fit_samples,
                            base=str(base), base_expert=settings.base_expert)
        with progress.status("assembling...") as update:
            meta = assemble(merge, experts_root=home_path("experts", out), overwrite=True,
                            manifests={m.name: m for m in manifests}, on_progress=update)
        r.update(meta=meta, parity_warning=parity_warning(meta))

    with stages.stage("train-router") as r:
        train = settings.router_training()
        with progress.steps(train.steps, "routers", ("loss", "balance", "max_load")) as on_step:
            r.update(train_router(moe_dir, data_dir, train, alpha=0.01, on_step=on_step))

    n = MoeMeta.from_doc(meta).count
    experts = {m.name: m.domain for m in manifests}
    with stages.stage("eval") as r:
        baselines = build_baselines(settings, manifests, out, base, progress, r)
        with progress.items((n + 2 + 2 * len(baselines)) * n + 4 * n, "evaluating") as advance:
            report = moe_evaluate(moe_dir, data_dir, base=base, limit=settings.eval_limit,
                                  baselines=baselines, on_progress=advance)
            # Held-out sources: every expert on its own domain only (the oracle), base, the
            # baselines and MoE on all.
            report["foreign"] = moe_evaluate(moe_dir, data_dir, base=base, split="foreign",
                                             limit=settings.eval_limit, experts_on_all=False,
                                             baselines=baselines, on_progress=advance)
        with progress.items(2 + len(baselines), "cost") as advance:
            report["cost"] = model_costs({"base": base, **baselines, "moe": moe_dir},
                                         on_progress=advance)
        write_json(out / "eval.json", report)
        record_evaluation(moe_dir, report)
        r.update(report=report, experts=experts)

    with stages.stage("tasks") as r:
        with progress.items(moe_task_steps(n, data_dir, len(baselines)), "generating") as advance:
            report["tasks"] = moe_evaluate_tasks(moe_dir, data_dir, base=base,
                                                 limit=settings.task_limit,
                                                 refusal_limit=settings.refusal_limit,
                                                 baselines=baselines, on_progress=advance)
        write_json(out / "eval.json", report)
        record_evaluation(moe_dir, {"tasks": report["tasks"]})
        r["tasks"] = report["tasks"]

    with stages.stage("inspect") as r:
        r["prompts"] = {p: inspect_prompt(moe_dir, p) for p in INSPECT_PROMPTS}

    summary = summarise(report, experts, stages.timings, round(stages.elapsed(), 1),
                        settings.base_expert)
    summary["missing_domains"] = {m.domain: m.name for m in skipped}
    write_json(out / "demo_summary.json", summary)
    return summary


def data_failures(data_dir: Path) -> dict:
    """The failed domains, missing sources and warnings an earlier build recorded in its
    manifest (none for a manifest from before they were recorded)."""
    import json
    try:
        manifest = json.loads((Path(data_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        manifest = {}
    return {key: kind(manifest.get(key) or kind()) for key, kind in
            (("failed", dict), ("missing", dict), ("warnings", list))}


def experts_for_data(manifests: list, data_dir: Path) -> tuple[list, list]:
    """(the manifests whose domain has data, the ones skipped because it has none). Fails when
    no expert is left."""
    from ..data.records import data_domains
    from ..core.errors import DataError
    built = set(data_domains(data_dir))
    kept = [m for m in manifests if m.domain in built]
    if not kept:
        raise DataError(f"no expert's domain has data in {data_dir} (domains built: "
                        f"{', '.join(sorted(built)) or 'none'}); see the data stage's failures")
    return kept, [m for m in manifests if m.domain not in built]


def build_baselines(settings: MoEPipelineSettings, manifests, out: Path, base: Path,
                    progress: Progress, r: dict) -> dict[str, Path]:
    """The dense baselines under out/baselines: the merges (rebuilt: seconds), and with
    baselines=all the multitask model (reused unless fresh). label -> directory."""
    from ..evaluation.baselines import build_merges
    from ..training.experts import MULTITASK, multitask_settings, train_multitask
    if settings.baselines == "none":
        return {}
    root, experts = home_path("baselines", out), home_path("experts", out)
    with progress.status("merging the experts...") as update:
        merges = build_merges([experts / m.name for m in manifests], root, base, on_progress=update)
    r["baselines"] = {label: {"seconds": m["seconds"]} for label, m in merges.items()}
    found = {label: root / label for label in merges}
    if settings.baselines == "all":
        target = root / MULTITASK
        if target.is_dir() and not settings.fresh:
            r["baselines"][MULTITASK] = {"reused": True}
        else:
            total = multitask_settings(manifests, settings.steps).steps
            with progress.steps(total, f"{MULTITASK:19}", ("loss",)) as on_step:
                s = train_multitask(manifests, base=base, data_dir=home_path("data", out),
                                    out_dir=target, overwrite=True, steps=settings.steps,
                                    on_step=on_step)
            r["baselines"][MULTITASK] = {"seconds": s["seconds"], "tokens": s["tokens"]}
        found[MULTITASK] = target
    return found


def top_experts(inspected: dict, k: int = 2) -> list[tuple[str, int]]:
    """The experts most often top-1 over the layers for a prompt: (name, layers)."""
    return Counter(row["top"][0][0] for row in inspected["prompt_view"]["layers"]).most_common(k)


def summarise(report: dict, experts: dict[str, str], timings: dict, total: float,
              base_expert: bool) -> dict:
    """demo_summary.json: how the MoE compares with the base, the experts and the oracle."""
    from ..evaluation.loss import mean_loss
    res, far = report["results"], report["foreign"]["results"]
    domains = experts.values()
    # A domain whose foreign source was missing at build time has no foreign split.
    held = [d for d in domains if d in far["moe"]]
    foreign = {"experts_better_than_base": sum(far[n][d]["loss"] < far["base"][d]["loss"]
                                               for n, d in experts.items() if d in held),
               "moe_better_than_base": sum(far["moe"][d]["loss"] < far["base"][d]["loss"] for d in held),
               "moe_over_oracle": {d: far["moe"][d]["loss"] / far["oracle"][d]["loss"] for d in held},
               "routing_accuracy": report["foreign"]["routing_accuracy"],
               "domains": len(held)}
    return {"timings_s": timings, "total_s": total,
            "experts_better_than_base": sum(res[n][d]["loss"] < res["base"][d]["loss"]
                                            for n, d in experts.items()),
            "base_expert": base_expert, "foreign": foreign,
            "moe_mixed_loss": mean_loss(res["moe"]), "base_mixed_loss": mean_loss(res["base"]),
            "best_single_expert_mixed_loss": min(mean_loss(res[n]) for n in experts),
            "moe_over_oracle": {d: res["moe"][d]["loss"] / res["oracle"][d]["loss"] for d in domains},
            "routing_accuracy": report["routing_accuracy"],
            "max_load_share": max(report["load_share"]),
            **baseline_summary(report),
            **task_summary(report["tasks"], experts)}


def baseline_summary(report: dict) -> dict:
    """The MoE against the merges and the multitask model on both splits, and the cost rows."""
    from ..evaluation.baselines import compare
    if not report.get("baselines"):
        return {"cost": report.get("cost")}
    return {"vs_baselines": compare(report), "foreign_vs_baselines": compare(report["foreign"]),
            "cost": report.get("cost")}


def task_summary(tasks: dict, experts: dict[str, str]) -> dict:
    """The task stage's figures: MoE/oracle per domain, how many domains meet issue #11's
    goals, and refusal rates of base, guardian expert and MoE."""
    res, ratios = tasks["results"], tasks["moe_over_oracle"]
    domains = list(dict.fromkeys(experts.values()))

    def meets(d, other, factor=1.0):   # on scores, not ratios: 0 vs 0 meets the goal
        moe, ref = res["moe"][d]["score"], res[other][d]["score"]
        return moe is not None and ref is not None and moe >= factor * ref
    guardian = [name for name, d in experts.items() if d == "guardian"]
    shown = ["base", *guardian, "moe"]
    return {"tasks_moe_over_oracle": ratios,
            "tasks_moe_within_095_oracle": sum(meets(d, "oracle", 0.95) for d in domains),
            "tasks_moe_at_least_base": sum(meets(d, "base") for d in domains),
            "tasks_prompts_per_second": tasks["settings"]["prompts_per_second"],
            "refusals": {m: tasks["refusals"][m] for m in shown if m in tasks["refusals"]}}
