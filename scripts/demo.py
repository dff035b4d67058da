"""The demo pipeline on the embedded default base, on a CPU:

base (packaged SmolLM2-135M-Instruct) -> data for eight domains -> eight MLP-only experts
-> assemble a Mixtral MoE (fit router init, parity check) -> train the routers
-> eval: base, each expert, oracle and MoE on every domain -> task metrics on generated
answers (and refusal rates) -> inspect three prompts -> total wall time.

    python scripts/demo.py [--out DIR] [--sources DIR] [--steps N] [--eval-limit N] [--task-limit N]

Everything goes under --out, by default $SMOLMOE_HOME (~/.cache/smolmoe), where every smolmoe
command looks when given no path: data/, experts/NAME, moe/, eval.json, demo_summary.json.
The pipeline itself is the library's `smolmoe.pipelines.moe.run_moe_pipeline`; this script parses
options and prints each stage's result. A domain whose data could not be built (its source
packages could not be had) is said loudly and left out: the MoE is made of the others.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from smolmoe.cli.kit import one_line_errors, quiet_transformers, settings_options
from smolmoe.core.config import smolmoe_home
from smolmoe.pipelines.moe import INSPECT_PROMPTS, MoEPipelineSettings, run_moe_pipeline, top_experts
from smolmoe.evaluation.baselines import compare, compare_lines
from smolmoe.cli.progress import Shown, console
from smolmoe.cli.tables import (build_problems, cost_table, data_table, expert_vs_base_table,
                            moe_eval_tables, refusal_table, routing_layer_table, task_table)

TITLES = {"base": "1. base model", "data": "2. data", "experts": "3. experts (MLP-only fine-tunes)",
          "assemble": "4. assemble the MoE (fit router init)", "train-router": "5. train the routers ({steps} steps)",
          "eval": "6. evaluation: base, merges, experts, oracle, MoE (test split, then foreign sources), cost",
          "tasks": "7. task metrics: generated answers scored per domain (docs/eval.md)",
          "inspect": "8. inspect"}


@click.command(context_settings={"show_default": True})
@click.option("--out", default=lambda: str(smolmoe_home()), show_default="$SMOLMOE_HOME",
              type=click.Path(file_okay=False), help="Where the demo writes (where smolmoe commands look by default).")
@click.option("--sources", "sources_dir", default=None, envvar="SMOLMOE_SOURCES", show_envvar=True,
              type=click.Path(file_okay=False),
              help="Folder holding pinned source archives (their exact file names), read first.")
@settings_options(MoEPipelineSettings, [f.name for f in dataclasses.fields(MoEPipelineSettings)])
@one_line_errors
def main(out, sources_dir, **options):
    quiet_transformers()
    settings = MoEPipelineSettings(**options)
    summary = run_moe_pipeline(
        settings, Path(out), on_stage=lambda s: console.rule(TITLES[s].format(steps=settings.router_steps)),
        on_result=show, progress=Shown(), sources_dir=sources_dir)
    print_summary(summary, len(summary["moe_over_oracle"]))


def show(stage: str, r: dict, seconds: float) -> None:
    """Print one stage's result (run_moe_pipeline's on_result)."""
    if stage == "base":
        console.print(f"{r['info']['architecture']} at {r['path']}: {r['info']['parameters']:,} parameters")
    elif stage == "data":
        console.print(f"using existing {r['path']} (--fresh rebuilds)" if r["reused"]
                      else data_table(r["report"]))
        for line in build_problems(r["missing"], r["failed"], r["warnings"]):
            console.print(line, style="bold red", markup=False)
        if r.get("failed"):
            console.print(f"going on without {', '.join(r['failed'])}: no expert for "
                          f"{'it' if len(r['failed']) == 1 else 'them'}", style="bold red")
    elif stage == "experts":
        for name, s in r.items():
            console.print(f"{name}: SKIPPED, no data for domain {s['domain']}" if s.get("skipped")
                          else f"{name}: using existing {s['path']}" if s.get("reused")
                          else f"{name}: {s['tokens']} tokens at {s['tokens_per_second']} tok/s",
                          style="bold red" if s.get("skipped") else None)
    elif stage == "assemble":
        meta = r["meta"]
        parity = meta["parity_max_abs_logit_diff"]
        console.print(f"parity (forced routing vs dense expert), max |logit diff|: "
                      f"{max(parity.values()):.2e} over {len(parity)} experts")
        if r["parity_warning"]:
            console.print(r["parity_warning"], style="bold red", markup=False)
        acc = meta["router_init_report"]["train_accuracy_per_layer"]
        console.print(f"fit init accuracy per layer: min {min(acc):.2f}, mean {sum(acc) / len(acc):.2f}")
    elif stage == "train-router":
        console.print(f"trainable parameters: {r['trainable_params']:,} (routers only)")
    elif stage == "eval":
        for label, b in r.get("baselines", {}).items():
            console.print(f"{label}: " + ("using existing" if b.get("reused") else f"{b['seconds']} s"))
        for split, report in (("test", r["report"]), ("foreign", r["report"]["foreign"])):
            console.rule(f"{split} split", style="dim")
            console.print(expert_vs_base_table(report, r["experts"]))
            for table in moe_eval_tables(report):
                console.print(table)
            if report.get("baselines"):
                for line in compare_lines(compare(report)):
                    console.print(line, markup=False)
        console.print(cost_table(r["report"]["cost"]))
    elif stage == "tasks":
        console.print(task_table(r["tasks"]))
        console.print(refusal_table(r["tasks"]))
    elif stage == "inspect":
        for prompt, inspected in r["prompts"].items():
            console.print(routing_layer_table(inspected["prompt_view"], f"{prompt!r}")
                          if prompt == INSPECT_PROMPTS[0] else
                          f"{prompt!r}: top expert per layer -> "
                          + ", ".join(f"{e} in {c} layers" for e, c in top_experts(inspected)))
    console.print(f"[dim]{stage}: {seconds} s[/dim]")


def print_summary(summary: dict, domains: int) -> None:
    foreign = summary["foreign"]
    missing = summary.get("missing_domains") or {}
    if missing:
        console.print(f"[bold red]{len(missing)} domain(s) MISSING (no data, no expert): "
                      f"{', '.join(missing)}; every figure below is over the {domains} that built"
                      f"[/bold red]")
    far = foreign.get("domains", domains)
    within = sum(v <= 1.02 for v in summary["moe_over_oracle"].values())
    console.print(f"[bold]{summary['experts_better_than_base']}/{domains} experts beat the base on their own domain.[/bold]")
    console.print(f"[bold]mixed test loss: MoE {summary['moe_mixed_loss']:.3f}, base "
                  f"{summary['base_mixed_loss']:.3f}, best single expert "
                  f"{summary['best_single_expert_mixed_loss']:.3f}; MoE within 1.02x oracle on "
                  f"{within}/{domains} domains; routing accuracy "
                  f"{summary['routing_accuracy']:.1%}; max load share {summary['max_load_share']:.1%}[/bold]")
    console.print(f"[bold]foreign sources: {foreign['experts_better_than_base']}/{far} experts "
                  f"beat the base, MoE below the base on {foreign['moe_better_than_base']}/{far}, "
                  f"MoE within 1.05x oracle on "
                  f"{sum(v <= 1.05 for v in foreign['moe_over_oracle'].values())}/{far}; "
                  f"routing accuracy {foreign['routing_accuracy']:.1%}[/bold]")
    console.print(f"[bold]task scores: MoE >= 0.95x oracle on {summary['tasks_moe_within_095_oracle']}"
                  f"/{domains} domains, MoE >= base on {summary['tasks_moe_at_least_base']}"
                  f"/{domains}; refusals (harmful / benign risky / everyday): "
                  + "; ".join(f"{m} {_rates(r)}" for m, r in summary["refusals"].items()) + "[/bold]")
    if summary.get("foreign_vs_baselines"):
        goal = summary["foreign_vs_baselines"]
        console.print(f"[bold]foreign sources vs the baselines ({', '.join(goal['against'])}): "
                      f"{goal['goal']}: {'met' if goal['goal_met'] else 'NOT met'}[/bold]")
    console.print(f"[bold]Demo wall time: {summary['total_s'] / 60:.1f} min[/bold] "
                  f"({json.dumps(summary['timings_s'])})")


def _rates(r: dict) -> str:
    return " / ".join("-" if r[k] is None else f"{r[k]:.0%}"
                      for k in ("harmful", "benign_risky", "everyday"))


if __name__ == "__main__":
    main()
