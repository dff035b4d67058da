"""The demo pipeline on the embedded default base, on a CPU:

base (packaged SmolLM2-135M-Instruct) -> data for eight domains -> eight MLP-only experts
-> eval table: base vs each expert on its own domain -> total wall time.

    python scripts/demo.py [--out runs/demo] [--steps N] [--eval-limit N]
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from smolmoe.base import describe, resolve_base
from smolmoe.cli import one_line_errors, quiet_transformers
from smolmoe.config import list_manifests
from smolmoe.evaluate import evaluate
from smolmoe.experts import train_expert
from smolmoe.io import write_json
from smolmoe.progress import console, step_progress, task_progress
from smolmoe.tables import data_table, expert_vs_base_table


@click.command(context_settings={"show_default": True})
@click.option("--out", default="runs/demo", type=click.Path(file_okay=False), help="Where the demo writes.")
@click.option("--steps", default=None, type=click.IntRange(1), help="Override every expert's steps.")
@click.option("--eval-limit", default=60, type=click.IntRange(1), help="Test records per domain.")
@click.option("--fresh", is_flag=True, help="Rebuild data and retrain experts even if present.")
@one_line_errors
def main(out, steps, eval_limit, fresh):
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
    data_dir = out / "data"
    if fresh or not (data_dir / "manifest.json").is_file():
        with task_progress(len(data_recipes.DOMAINS), "building data") as advance:
            report = data_recipes.build(data_dir, overwrite=True,
                                        on_progress=lambda d, s: advance(d) if s == "done" else None)
        console.print(data_table(report))
    else:
        console.print(f"using existing {data_dir} (--fresh rebuilds)")
    stage("data")

    console.rule("3. experts (MLP-only fine-tunes)")
    manifests = list_manifests()
    for m in manifests:
        target = out / "experts" / m.name
        if target.is_dir() and not fresh:
            console.print(f"{m.name}: using existing {target}")
            continue
        settings = m.finetune.updated(steps=steps)
        with step_progress(settings.steps, f"expert {m.name:12}") as on_step:
            s = train_expert(m, base=base, data_dir=data_dir, out_dir=target,
                             settings=settings, overwrite=True, on_step=on_step)
        console.print(f"{m.name}: {s['tokens']} tokens at {s['tokens_per_second']} tok/s")
    stage("experts")

    console.rule("4. evaluation")
    experts = {m.name: m.domain for m in manifests}
    models = {"base": base, **{m.name: out / "experts" / m.name for m in manifests}}
    pairs = lambda model, domain: model == "base" or experts.get(model) == domain  # noqa: E731
    with task_progress(2 * len(manifests), "evaluating") as advance:
        report = evaluate(models, data_dir, sorted(set(experts.values())), limit=eval_limit,
                          pairs=pairs, on_progress=advance)
    console.print(expert_vs_base_table(report, experts))
    write_json(out / "eval_experts.json", report)
    stage("eval")

    better = sum(report["results"][n][d]["loss"] < report["results"]["base"][d]["loss"]
                 for n, d in experts.items())
    total = time.perf_counter() - t0
    write_json(out / "demo_summary.json", {"timings_s": timings, "total_s": round(total, 1),
                                           "experts_better_than_base": better})
    console.print(f"[bold]{better}/{len(experts)} experts beat the base on their own domain. "
                  f"Demo wall time: {total / 60:.1f} min[/bold] ({json.dumps(timings)})")


if __name__ == "__main__":
    main()
