"""Grow study (issue #25, must-show 2): add the eighth expert to the MoE of the other seven.

    python -m studies.grow_study --home $SMOLMOE_HOME [--expert NAME] [--work DIR] [--limit N]

From the demo's MoE (HOME/moe) it removes expert NAME (default: the last routed expert that is
not the base's `general`) with `remove-expert` -> the MoE of the other seven, adds it back from
HOME/experts/NAME with `add-expert` (router rows fitted on HOME/data) -> the grown MoE, and
times both on ONE thread (the limit is 2 min per operation). Then remove-expert + add-expert
once more from the grown MoE: the routing must come back (router rows equal). Losses on the
test and foreign splits: the grown MoE on NAME's domain within 1.05x of both the demo MoE and
the dense expert alone; on every other domain within 1 % of the seven-expert MoE. Writes
WORK/grow-study.json and .md; exit 1 when a goal is missed.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
import torch

from smolmoe.cli.kit import one_line_errors, quiet_transformers
from smolmoe.core.config import GENERAL_DOMAIN
from smolmoe.data.records import split_path
from smolmoe.evaluation.loss import evaluate
from smolmoe.moe.grow import add_expert, remove_expert
from smolmoe.core.io import write_json
from smolmoe.moe.meta import read_moe_meta

from studies.common import timed

SPLITS = ("test", "foreign")
GOAL_NEW, GOAL_OTHERS, GOAL_SECONDS = 1.05, 0.01, 120


def router_rows(moe_dir: Path) -> dict[str, torch.Tensor]:
    """Every layer's router weights by expert name (rows follow smolmoe.json's order)."""
    from safetensors.torch import load_file
    names = read_moe_meta(moe_dir).names
    rows = {}
    for f in sorted(moe_dir.glob("*.safetensors")):
        for key, w in load_file(f).items():
            if key.endswith("gate.weight") and "shared_expert" not in key:
                for name, row in zip(names, w):
                    rows[f"{key}:{name}"] = row
    return rows


@click.command()
@click.option("--home", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--expert", default=None, help="The expert to remove and add back [default: the last routed one].")
@click.option("--work", default=None, type=click.Path(path_type=Path), help="[default: HOME/grow-study]")
@click.option("--limit", default=40, type=click.IntRange(1), help="Records per domain and split.")
@one_line_errors
def main(home, expert, work, limit):
    torch.set_num_threads(1)   # the goal is per operation on one thread
    quiet_transformers()
    work = work or home / "grow-study"
    moe, data = home / "moe", home / "data"
    meta = read_moe_meta(moe)
    expert = expert or [n for n, d in zip(meta.names, meta.domains) if d != GENERAL_DOMAIN][-1]
    domain = meta.domains[meta.names.index(expert)]
    seven, grown = work / "moe-7", work / "moe-grown"
    again_minus, again = work / "moe-grown-minus", work / "moe-grown-again"
    ops = {}
    _, ops["remove-expert"] = timed(remove_expert, moe, expert, out=seven, overwrite=True)
    _, ops["add-expert"] = timed(add_expert, seven, home / "experts" / expert, data_dir=data,
                                 out=grown, overwrite=True)
    remove_expert(grown, expert, out=again_minus, overwrite=True)
    add_expert(again_minus, home / "experts" / expert, data_dir=data, out=again, overwrite=True)
    first, second = router_rows(grown), router_rows(again)
    row_diff = max(float((first[k] - second[k]).abs().max()) for k in first)
    domains = meta.domains
    report = {"expert": expert, "domain": domain, "seconds": ops, "threads": 1,
              "same_routing_max_abs_row_diff": row_diff, "splits": {}}
    ok = all(s <= GOAL_SECONDS for s in ops.values()) and row_diff <= 1e-6
    for split in SPLITS:
        have = [d for d in domains if split_path(data, d, split).is_file()]
        models = {"demo": moe, "seven": seven, "grown": grown, expert: home / "experts" / expert}
        res = evaluate(models, data, have, split=split, limit=limit,
                       pairs=lambda m, d: m != expert or d == domain)["results"]
        loss = {m: {d: r["loss"] for d, r in v.items()} for m, v in res.items()}
        new = {"grown": loss["grown"].get(domain), "demo": loss["demo"].get(domain),
               "expert": loss[expert].get(domain)}
        others = {d: loss["grown"][d] / loss["seven"][d] - 1 for d in have if d != domain}
        split_ok = new["grown"] is None or (new["grown"] <= GOAL_NEW * new["demo"]
                                            and new["grown"] <= GOAL_NEW * new["expert"])
        split_ok = split_ok and all(abs(r) <= GOAL_OTHERS for r in others.values())
        ok = ok and split_ok
        report["splits"][split] = {"loss": loss, "new_domain": new, "others_relative": others,
                                   "ok": split_ok}
    report["ok"] = ok
    write_json(work / "grow-study.json", report)
    lines = [f"# grow study: {expert} ({domain}) removed and added back", "",
             f"remove-expert {ops['remove-expert']} s, add-expert {ops['add-expert']} s (one thread; "
             f"goal <= {GOAL_SECONDS} s each); remove+add again: max |router row diff| {row_diff:.2g}", ""]
    for split, r in report["splits"].items():
        n = r["new_domain"]
        lines += [f"## {split}", "", "| | loss |", "|---|---|"]
        lines += [f"| {k} on {domain} | {v:.4f} |" for k, v in n.items() if v is not None]
        lines += ["", "| other domain | grown / seven - 1 |", "|---|---|"]
        lines += [f"| {d} | {v:+.2%} |" for d, v in r["others_relative"].items()]
        lines += ["", f"goals met: {r['ok']}", ""]
    (work / "grow-study.md").write_text("\n".join(lines))
    click.echo("\n".join(lines))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
