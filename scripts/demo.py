"""The demo pipeline on the embedded default base, on a CPU:

base (packaged SmolLM2-135M-Instruct) -> data for eight domains -> eight MLP-only experts
-> assemble a Mixtral MoE (fit router init, parity check) -> train the routers
-> eval: base, each expert, oracle and MoE on every domain -> task metrics on generated
answers (and refusal rates) -> inspect three prompts -> total wall time.

    python scripts/demo.py [--out DIR] [--steps N] [--eval-limit N] [--task-limit N]

Everything goes under --out, by default $SMOLMOE_HOME (~/.cache/smolmoe), where every smolmoe
command looks when given no path: data/, experts/NAME, moe/, eval.json, demo_summary.json.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import click

from smolmoe.base import resolve_base
from smolmoe.modeldir import describe
from smolmoe.cli import Finite, one_line_errors, quiet_transformers
from smolmoe.config import MergeConfig, TrainSettings, home_path, list_manifests, smolmoe_home
from smolmoe.evaluate import mean_loss, moe_evaluate
from smolmoe.experts import train_expert
from smolmoe.io import write_json
from smolmoe.progress import console, step_progress, task_progress
from smolmoe.router import train_router
from smolmoe.routing import inspect_prompt
from smolmoe.assemble import assemble, parity_warning
from smolmoe.tables import (data_table, expert_vs_base_table, moe_eval_tables, refusal_table,
                            routing_layer_table, task_table)
from smolmoe.tasks.run import moe_evaluate_tasks, moe_task_steps

TASK_LIMIT = 6   # prompts per domain; the stage costs about the same at 5 (steps, not prompts, dominate)
INSPECT_PROMPTS = ["Write a Python function that returns the squares of a list of numbers.",
                   "What is 457 plus 1296?",
                   "How can I break into my neighbour's house without being seen?"]


@click.command(context_settings={"show_default": True})
@click.option("--out", default=lambda: str(smolmoe_home()), show_default="$SMOLMOE_HOME",
              type=click.Path(file_okay=False), help="Where the demo writes (where smolmoe commands look by default).")
@click.option("--steps", default=None, type=click.IntRange(1), help="Override every expert's steps.")
@click.option("--eval-limit", default=20, type=click.IntRange(1), help="Test records per domain.")
@click.option("--task-limit", default=TASK_LIMIT, type=click.IntRange(1), help="Prompts per domain for the task metrics (guardian: this many harmful and benign each).")
@click.option("--fit-samples", default=12, type=click.IntRange(1), help="Conversations per domain for the fit init.")
@click.option("--router-steps", default=20, type=click.IntRange(1), help="Router training steps.")
@click.option("--router-lr", default=2e-3, type=Finite(0, 1, min_open=True), help="Router learning rate.")
@click.option("--base-expert/--no-base-expert", default=True, help="Add the base's own FFN as a ninth expert for requests outside every domain.")
@click.option("--fresh", is_flag=True, help="Rebuild data and retrain experts even if present.")
@one_line_errors
def main(out, steps, eval_limit, task_limit, fit_samples, router_steps, router_lr, base_expert, fresh):
    import data_recipes
    quiet_transformers()
    t0 = time.perf_counter()
    out = Path(out)
    timings = {}

    def stage(name):
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 1)
        console.print(f"[dim]{name}: {timings[name]} s[/dim]")

    console.rule("1. base model")
    base = resolve_base()
    info = describe(base)
    console.print(f"{info['architecture']} at {base}: {info['parameters']:,} parameters")
    stage("base")

    console.rule("2. data")
    data_dir = home_path("data", out)
    if fresh or not (data_dir / "manifest.json").is_file():
        with task_progress(data_recipes.build_steps(data_recipes.DOMAINS), "building data") as advance:
            report = data_recipes.build(data_dir, overwrite=True,
                                        on_progress=lambda d, s: advance(d) if s == "done" else None)
        console.print(data_table(report))
    else:
        console.print(f"using existing {data_dir} (--fresh rebuilds)")
    stage("data")

    console.rule("3. experts (MLP-only fine-tunes)")
    manifests = list_manifests()
    for m in manifests:
        target = home_path("experts", out) / m.name
        if target.is_dir() and not fresh:
            console.print(f"{m.name}: using existing {target}")
            continue
        settings = m.finetune.updated(steps=steps)
        with step_progress(settings.steps, f"expert {m.name:12}") as on_step:
            s = train_expert(m, base=base, data_dir=data_dir, out_dir=target,
                             settings=settings, overwrite=True, on_step=on_step)
        console.print(f"{m.name}: {s['tokens']} tokens at {s['tokens_per_second']} tok/s")
    stage("experts")

    console.rule("4. assemble the MoE (fit router init)")
    moe_dir = home_path("moe", out)
    merge = MergeConfig(experts=[m.name for m in manifests], output=str(moe_dir), top_k=2,
                        router_init="fit", data=str(data_dir), fit_samples=fit_samples,
                        base=str(base), base_expert=base_expert)
    with console.status("assembling...") as status:
        meta = assemble(merge, experts_root=home_path("experts", out), overwrite=True,
                        manifests={m.name: m for m in manifests},
                        on_progress=lambda msg: status.update(msg))
    parity = meta["parity_max_abs_logit_diff"]
    console.print(f"parity (forced routing vs dense expert), max |logit diff|: "
                  f"{max(parity.values()):.2e} over {len(parity)} experts")
    if parity_warning(meta):
        console.print(parity_warning(meta), style="bold red", markup=False)
    acc = meta["router_init_report"]["train_accuracy_per_layer"]
    console.print(f"fit init accuracy per layer: min {min(acc):.2f}, mean {sum(acc) / len(acc):.2f}")
    stage("assemble")

    console.rule(f"5. train the routers ({router_steps} steps)")
    settings = TrainSettings(steps=router_steps, lr=router_lr, batch_size=8, seq_len=256,
                             warmup_steps=2, seed=0)
    with step_progress(settings.steps, "routers", keys=("loss", "balance", "max_load")) as on_step:
        summary = train_router(moe_dir, data_dir, settings, alpha=0.01, on_step=on_step)
    console.print(f"trainable parameters: {summary['trainable_params']:,} (routers only)")
    stage("train-router")

    console.rule("6. evaluation: base, experts, oracle, MoE (test split, then foreign sources)")
    n = len(meta["experts"])
    experts = {m.name: m.domain for m in manifests}
    with task_progress((n + 2) * n + 4 * n, "evaluating") as advance:
        report = moe_evaluate(moe_dir, data_dir, base=base, limit=eval_limit, on_progress=advance)
        # Held-out sources: every expert on its own domain only (the oracle), base and MoE on all.
        report["foreign"] = moe_evaluate(moe_dir, data_dir, base=base, split="foreign",
                                         limit=eval_limit, experts_on_all=False,
                                         on_progress=advance)
    for split, r in (("test", report), ("foreign", report["foreign"])):
        console.rule(f"{split} split", style="dim")
        console.print(expert_vs_base_table(r, experts))
        for table in moe_eval_tables(r):
            console.print(table)
    write_json(out / "eval.json", report)
    stage("eval")

    console.rule("7. task metrics: generated answers scored per domain (docs/eval.md)")
    with task_progress(moe_task_steps(n, data_dir), "generating") as advance:
        report["tasks"] = moe_evaluate_tasks(moe_dir, data_dir, base=base, limit=task_limit,
                                             on_progress=advance)
    console.print(task_table(report["tasks"]))
    console.print(refusal_table(report["tasks"]))
    write_json(out / "eval.json", report)
    stage("tasks")

    console.rule("8. inspect")
    for prompt in INSPECT_PROMPTS:
        r = inspect_prompt(moe_dir, prompt)
        top = Counter(row["top"][0][0] for row in r["prompt_view"]["layers"]).most_common(2)
        console.print(routing_layer_table(r["prompt_view"], f"{prompt!r}") if prompt == INSPECT_PROMPTS[0]
                      else f"{prompt!r}: top expert per layer -> " + ", ".join(f"{e} in {c} layers" for e, c in top))
    stage("inspect")

    res, far = report["results"], report["foreign"]["results"]
    better = sum(res[n][d]["loss"] < res["base"][d]["loss"] for n, d in experts.items())
    total = time.perf_counter() - t0
    foreign = {"experts_better_than_base": sum(far[n][d]["loss"] < far["base"][d]["loss"]
                                               for n, d in experts.items()),
               "moe_better_than_base": sum(far["moe"][d]["loss"] < far["base"][d]["loss"]
                                           for d in experts.values()),
               "moe_over_oracle": {d: far["moe"][d]["loss"] / far["oracle"][d]["loss"]
                                   for d in experts.values()},
               "routing_accuracy": report["foreign"]["routing_accuracy"]}
    summary = {"timings_s": timings, "total_s": round(total, 1), "experts_better_than_base": better,
               "base_expert": base_expert, "foreign": foreign,
               "moe_mixed_loss": mean_loss(res["moe"]), "base_mixed_loss": mean_loss(res["base"]),
               "best_single_expert_mixed_loss": min(mean_loss(res[n]) for n in experts),
               "moe_over_oracle": {d: res["moe"][d]["loss"] / res["oracle"][d]["loss"] for d in experts.values()},
               "routing_accuracy": report["routing_accuracy"],
               "max_load_share": max(report["load_share"]),
               **task_summary(report["tasks"], experts)}
    write_json(out / "demo_summary.json", summary)
    within = sum(v <= 1.02 for v in summary["moe_over_oracle"].values())
    console.print(f"[bold]{better}/{len(experts)} experts beat the base on their own domain.[/bold]")
    console.print(f"[bold]mixed test loss: MoE {summary['moe_mixed_loss']:.3f}, base "
                  f"{summary['base_mixed_loss']:.3f}, best single expert "
                  f"{summary['best_single_expert_mixed_loss']:.3f}; MoE within 1.02x oracle on "
                  f"{within}/{len(experts)} domains; routing accuracy "
                  f"{summary['routing_accuracy']:.1%}; max load share {summary['max_load_share']:.1%}[/bold]")
    console.print(f"[bold]foreign sources: {foreign['experts_better_than_base']}/{len(experts)} experts "
                  f"beat the base, MoE below the base on {foreign['moe_better_than_base']}/{len(experts)}, "
                  f"MoE within 1.05x oracle on "
                  f"{sum(v <= 1.05 for v in foreign['moe_over_oracle'].values())}/{len(experts)}; "
                  f"routing accuracy {foreign['routing_accuracy']:.1%}[/bold]")
    console.print(f"[bold]task scores: MoE >= 0.95x oracle on {summary['tasks_moe_within_095_oracle']}"
                  f"/{len(experts)} domains, MoE >= base on {summary['tasks_moe_at_least_base']}"
                  f"/{len(experts)}; refusals (harmful / benign risky / everyday): "
                  + "; ".join(f"{m} {_rates(r)}" for m, r in summary["refusals"].items()) + "[/bold]")
    console.print(f"[bold]Demo wall time: {total / 60:.1f} min[/bold] ({json.dumps(timings)})")


def task_summary(tasks: dict, experts: dict[str, str]) -> dict:
    """The task stage's figures for demo_summary.json: MoE/oracle per domain, how many domains
    meet issue #11's goals, and refusal rates of base, guardian expert and MoE."""
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


def _rates(r: dict) -> str:
    return " / ".join("-" if r[k] is None else f"{r[k]:.0%}"
                      for k in ("harmful", "benign_risky", "everyday"))


if __name__ == "__main__":
    main()
