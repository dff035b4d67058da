"""Issue #24's measurement on a finished demo home: the MoE against the dense merges of its
experts (and, with --multitask, a multitask fine-tune with the experts' budget together).

    python -m studies.baselines_study --home DIR [--limit N] [--threads 1] [--multitask]
        [--tasks] [--mergekit-python PATH] [--json FILE]

The home is a SMOLMOE_HOME the demo finished in (data/, experts/NAME, moe/ with smolmoe.json).
Nothing is written there: the merges (and the multitask model) go to a temp dir. The base, the
merges, each expert on its own domain (the oracle) and the MoE are scored on the test and the
foreign split at the demo's eval limit (from its eval.json), on `--threads` threads; then the
retention tables, the goal on each split, the cost table, and the seconds each baseline adds
to the demo's eval. --mergekit-python: a Python with mergekit installed (kept out of smolmoe's
own environment) to check our merges against mergekit's on these experts, and time both.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import click
import torch

from smolmoe.evaluation.baselines import build_merges, compare, compare_lines
from smolmoe.core.base import resolve_base
from smolmoe.cli.kit import one_line_errors, quiet_transformers
from smolmoe.core.config import home_path, list_manifests
from smolmoe.evaluation.cost import model_costs
from smolmoe.evaluation.loss import moe_evaluate
from smolmoe.training.experts import MULTITASK, train_multitask
from smolmoe.core.io import read_json, write_json
from smolmoe.cli.progress import console
from smolmoe.cli.tables import cost_table, retention_table

from studies.common import ROOT


def timed_progress(seconds: dict):
    """An on_progress that adds the time since the previous call to the label it names."""
    last = [time.perf_counter()]

    def on_progress(label, _domain):
        now = time.perf_counter()
        seconds[label] = round(seconds.get(label, 0.0) + now - last[0], 1)
        last[0] = now
    return on_progress


@click.command()
@click.option("--home", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--limit", default=None, type=int, help="Records per domain [default: the demo's eval limit].")
@click.option("--threads", default=1, type=click.IntRange(1))
@click.option("--base", default=None, help="The experts' base [default: the packaged SmolLM2].")
@click.option("--multitask", is_flag=True, help="Also train the multitask baseline (as long as the experts' training).")
@click.option("--tasks", is_flag=True, help="Also the task metrics of the baselines (generation: minutes).")
@click.option("--mergekit-python", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "json_out", default="runs/baselines_study.json", type=click.Path(dir_okay=False))
@one_line_errors
def main(home, limit, threads, base, multitask, tasks, mergekit_python, json_out):
    quiet_transformers()
    torch.set_num_threads(threads)
    home = Path(home)
    moe, data = home_path("moe", home), home_path("data", home)
    demo_eval = read_json(home / "eval.json") if (home / "eval.json").is_file() else {}
    limit = limit or demo_eval.get("settings", {}).get("limit") or 20
    base = resolve_base(base)
    manifests = list_manifests()
    experts = [home_path("experts", home) / m.name for m in manifests]
    result = {"home": str(home), "limit": limit, "threads": threads, "added_seconds": {}}
    with tempfile.TemporaryDirectory(prefix="baselines-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        merges = build_merges(experts, root, base)
        result["merge_seconds"] = {k: m["seconds"] for k, m in merges.items()}
        console.print(f"merges built in {time.perf_counter() - t0:.1f} s: {result['merge_seconds']}")
        baselines = {label: root / label for label in merges}
        if multitask:
            s = train_multitask(manifests, base=base, data_dir=data, out_dir=root / MULTITASK)
            result["multitask_training"] = {k: s[k] for k in ("seconds", "tokens", "final_loss")}
            baselines[MULTITASK] = root / MULTITASK
        if mergekit_python:
            env = {**os.environ, "PYTHONPATH": str(ROOT)}   # smolmoe and studies/ from here
            out = subprocess.run([mergekit_python, "-m", "studies.mergekit_check", *map(str, experts),
                                  "--base", str(base), "--out", str(root / "mergekit")],
                                 capture_output=True, text=True, env=env)
            result["mergekit"] = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 \
                else {"error": out.stderr.strip().splitlines()[-1:]}
        for split in ("test", "foreign"):
            seconds: dict = {}
            report = moe_evaluate(moe, data, base=base, split=split, limit=limit,
                                  experts_on_all=False, baselines=baselines,
                                  on_progress=timed_progress(seconds))
            result[split] = {"results": report["results"], "baselines": report["baselines"],
                             "comparison": compare(report), "seconds": seconds}
            for label in baselines:
                result["added_seconds"][label] = round(
                    result["added_seconds"].get(label, 0.0) + seconds.get(label, 0.0), 1)
            console.rule(f"{split} split")
            console.print(retention_table(report))
            for line in compare_lines(result[split]["comparison"]):
                console.print(line, markup=False)
        if tasks:
            from smolmoe.evaluation.tasks.run import moe_evaluate_tasks
            t0 = time.perf_counter()
            report = moe_evaluate_tasks(moe, data, base=base, limit=6, refusal_limit=40,
                                        baselines=baselines)
            result["tasks"] = {"results": report["results"], "refusals": report["refusals"],
                               "seconds": round(time.perf_counter() - t0, 1)}
        result["cost"] = model_costs({"base": base, **baselines, "moe": moe})
        console.print(cost_table(result["cost"]))
    write_json(json_out, result)
    console.print(f"wrote {json_out}")


if __name__ == "__main__":
    main()
