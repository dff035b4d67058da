"""Healing study (issue #14, must-show 2): eight FULL fine-tunes merged into one MoE, scored
against the true oracle (each dense expert from its own directory) before and after healing.

    python -m studies.heal_study --experts DIR --data DIR --work DIR [--limit N]
        [--variant NAME=NON_FFN:HEAL[:STEPS[:LR]]]...

Each variant assembles (or reuses) an MoE of the experts under --experts with --non-ffn
NON_FFN and the base's FFN as the `general` expert (as the demo does), trains its routers
(and, with HEAL = norms | lora, lightly the shared weights) for STEPS steps at LR (default:
the demo's 20 steps at 2e-3), and scores the MoE on the test and foreign splits. The dense
experts (the oracle) and the base are scored once per split. Every stage's result is kept under
--work, so a stopped run resumes where it stopped. Writes --out/heal-study.json and .md.
"""
from __future__ import annotations

import time
from pathlib import Path

import click

from smolmoe.core.base import resolve_base
from smolmoe.core.modeldir import expert_domain, load_model, load_tokenizer
from smolmoe.moe.meta import read_moe_meta as read_meta
from smolmoe.cli.kit import Finite, one_line_errors, quiet_transformers
from smolmoe.core.config import GENERAL_DOMAIN, MergeConfig
from smolmoe.core.errors import ModelError
from smolmoe.data.records import load_records, split_path
from smolmoe.evaluation.loss import evaluate, moe_routing
from smolmoe.core.io import read_json, write_json
from smolmoe.moe.router import train_router
from smolmoe.moe.assemble import WeightReader, assemble

from studies.common import DEMO_ROUTER, base_option, cached, data_option, md_table, timed, work_option

SPLITS = ("test", "foreign")
GOAL = 1.05
# Shared (non-FFN) tensors grouped the way a reader asks "what drifted": by their role.
TENSOR_GROUPS = {"embed": ("embed_tokens",), "q/k": ("q_proj", "k_proj"),
                 "v/o": ("v_proj", "o_proj"), "norms": ("norm",)}


def tensor_group(key: str) -> str:
    for group, parts in TENSOR_GROUPS.items():
        if any(p in key for p in parts):
            return group
    return "other"


def drift_by_group(experts: dict[str, Path], base: Path) -> dict:
    """Per expert and group of shared tensors: ||expert - base|| / ||base|| (relative L2)."""
    ref = WeightReader(base)
    keys = [k for k in ref.keys() if ".mlp." not in k]
    out = {}
    for name, path in experts.items():
        reader, num, den = WeightReader(path), {}, {}
        for k in keys:
            g, b = tensor_group(k), ref.get(k)
            num[g] = num.get(g, 0.0) + float((reader.get(k) - b).pow(2).sum())
            den[g] = den.get(g, 0.0) + float(b.pow(2).sum())
        out[name] = {g: (num[g] / den[g]) ** 0.5 for g in num}
    return out


def parse_variant(text: str) -> tuple[str, dict]:
    try:
        name, spec = text.split("=", 1)
        parts = spec.split(":")
        non_ffn, heal = parts[0], parts[1]
        steps = int(parts[2]) if len(parts) > 2 else DEMO_ROUTER.steps
        lr = float(parts[3]) if len(parts) > 3 else DEMO_ROUTER.lr
    except (ValueError, IndexError):
        raise click.BadParameter(f"{text!r}: expected NAME=NON_FFN:HEAL[:STEPS[:LR]]") from None
    return name, {"non_ffn": non_ffn, "heal": heal, "steps": steps, "lr": lr}


def ratio_table(report: dict) -> str:
    """Markdown: MoE/oracle per domain, one column per variant and split."""
    cols = [(v, s) for v in report["variants"] for s in SPLITS]
    domains = [d for d in report["oracle"]["test"] if d != GENERAL_DOMAIN]
    rows = []
    for d in domains:
        cells = []
        for v, s in cols:
            r = report["variants"][v]["moe_over_oracle"][s].get(d)
            cells.append("–" if r is None else f"{r:.3f}" + ("" if r <= GOAL else " ✗"))
        rows.append([d, *cells])
    rows.append(["within 1.05×", *(
        f"{report['variants'][v]['within_goal'][s]}/{len(report['variants'][v]['moe_over_oracle'][s])}"
        for v, s in cols)])
    return "\n".join(md_table(["domain", *(f"{v} {s}" for v, s in cols)], rows))


def drift_table(report: dict) -> str:
    """Markdown: how far each expert's shared tensors moved from the base, by group."""
    groups = list(TENSOR_GROUPS)
    rows = [[name, *(f"{row.get(g, 0):.4f}" for g in groups)]
            for name, row in report["drift_from_base"].items()]
    return "\n".join(md_table(["expert", *(f"{g} rel. L2" for g in groups)], rows))


@click.command(context_settings={"show_default": True})
@click.option("--experts", "experts_root", required=True, type=click.Path(exists=True, file_okay=False), help="Directory of the eight full fine-tunes (NAME/ each).")
@data_option
@work_option
@click.option("--out", default="docs/byo-results", type=click.Path(file_okay=False), help="Where heal-study.json and .md are written.")
@click.option("--limit", default=20, type=click.IntRange(1), help="Records per domain and split.")
@click.option("--variant", "variants", multiple=True, help="NAME=NON_FFN:HEAL[:STEPS[:LR]] (repeatable) [default: average with heal none, norms, lora].")
@click.option("--base-expert/--no-base-expert", default=True, help="Add the base's FFN as the `general` expert (as the demo does).")
@click.option("--router-batch", default=DEMO_ROUTER.batch_size, type=click.IntRange(1), help="Conversations per router step.")
@click.option("--alpha", default=0.01, type=Finite(0, 100), help="Load-balancing weight.")
@base_option
@one_line_errors
def main(experts_root, data_dir, work, out, limit, variants, base_expert, router_batch, alpha, base):
    quiet_transformers()
    experts_root, data_dir, work, out = map(Path, (experts_root, data_dir, work, out))
    work.mkdir(parents=True, exist_ok=True)
    base = resolve_base(base)
    experts = {p.name: p for p in sorted(experts_root.iterdir()) if (p / "config.json").is_file()}
    specs = dict(parse_variant(v) for v in variants) or {
        "router": parse_variant("x=average:none")[1], "norms": parse_variant("x=average:norms")[1],
        "lora": parse_variant("x=average:lora")[1]}
    report = {"experts": {n: str(p) for n, p in experts.items()}, "limit": limit,
              "base_expert": base_expert, "oracle": {}, "base": {}, "variants": {}}

    # The dense experts on their own domain (the true oracle) and the base, once per split.
    domains = {n: expert_domain(p) for n, p in experts.items()}
    for split in SPLITS:
        present = [d for d in [*domains.values(), GENERAL_DOMAIN]
                   if split_path(data_dir, d, split).is_file()]
        dense = cached(work / f"dense-{split}.json", lambda: evaluate(
            {**experts, "base": base}, data_dir, present, split=split, limit=limit,
            pairs=lambda m, d: m == "base" or domains.get(m) == d))
        res = dense["results"]
        report["base"][split] = {d: v["loss"] for d, v in res["base"].items()}
        report["oracle"][split] = {domains[n]: res[n][domains[n]]["loss"] for n in experts
                                   if domains[n] in res[n]}
        if GENERAL_DOMAIN in res["base"]:   # the base expert is the base: its own oracle
            report["oracle"][split][GENERAL_DOMAIN] = res["base"][GENERAL_DOMAIN]["loss"]
    report["drift_from_base"] = cached(work / "drift.json", lambda: drift_by_group(experts, base))
    report["expert_training"] = {n: {k: v for k, v in read_json(
        p / "smolmoe_expert.json", ModelError).items()
        if k in ("trainable", "trainable_params", "final_loss", "tokens", "seconds", "tokens_per_second")}
        for n, p in experts.items() if (p / "smolmoe_expert.json").is_file()}

    for name, spec in specs.items():
        click.echo(f"variant {name}: {spec}")
        moe = work / f"moe-{spec['non_ffn']}"
        if not (moe / "smolmoe.json").is_file():
            _, seconds = timed(assemble, MergeConfig(
                experts=[str(p) for p in experts.values()], output=str(moe), top_k=2,
                router_init="fit", data=str(data_dir), fit_samples=12, base=str(base),
                base_expert=base_expert, non_ffn=spec["non_ffn"]),
                experts_root=experts_root, overwrite=True)
            write_json(work / f"assemble-{spec['non_ffn']}.json", {"seconds": seconds})
        meta = read_meta(moe).doc
        trained = work / f"moe-{name}"
        if not (trained / "smolmoe.json").is_file():
            settings = DEMO_ROUTER.updated(steps=spec["steps"], lr=spec["lr"], batch_size=router_batch)
            train_router(moe, data_dir, settings, alpha=alpha, heal=spec["heal"], out_dir=trained,
                         overwrite=True)
        training = read_meta(trained).doc["router_training"]
        row = {**spec, "moe_dir": str(trained), "non_ffn_distance": meta["non_ffn_distance"],
               "parity_max_abs_logit_diff": meta["parity_max_abs_logit_diff"],
               "router_training": {k: training[k] for k in ("trainable_params", "seconds",
                                                            "tokens_per_second", "final")},
               "seconds_per_step": round(training["seconds"] / spec["steps"], 1),
               "moe": {}, "moe_over_oracle": {}, "within_goal": {}, "routing_accuracy": {}}
        for split in SPLITS:
            def score(split=split):
                model, tok = load_model(trained), load_tokenizer(trained)
                names = read_meta(trained).domains
                records = {d: load_records(split_path(data_dir, d, split), limit=limit)
                           for d in report["oracle"][split]}
                t0 = time.perf_counter()
                r = moe_routing(model, tok, records, names)
                return {"losses": {d: v["loss"] for d, v in r["losses"].items()},
                        "routing_accuracy": r["routing_accuracy"],
                        "seconds": round(time.perf_counter() - t0, 1)}
            scored = cached(work / f"moe-{name}-{split}.json", score)
            ratios = {d: scored["losses"][d] / report["oracle"][split][d]
                      for d in report["oracle"][split] if d != GENERAL_DOMAIN}
            row["moe"][split] = scored["losses"]
            row["moe_over_oracle"][split] = ratios
            row["within_goal"][split] = sum(r <= GOAL for r in ratios.values())
            row["routing_accuracy"][split] = scored["routing_accuracy"]
        report["variants"][name] = row
        click.echo(f"  within {GOAL}x oracle: " + ", ".join(
            f"{sp} {row['within_goal'][sp]}/{len(row['moe_over_oracle'][sp])}" for sp in SPLITS))

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "heal-study.json", report)
    (out / "heal-study.md").write_text(ratio_table(report) + "\n\n" + drift_table(report) + "\n")
    click.echo(ratio_table(report))


if __name__ == "__main__":
    main()
