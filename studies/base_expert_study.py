"""The base as an expert (issue #14, must-show 4): the same experts assembled with and without
the base's own FFN as the `general` expert, routers trained on the same budget, then compared on
the everyday test split (general requests outside every domain), each domain's test loss, and
refusal rates of greedy answers (everyday and guardian prompts).

    python -m studies.base_expert_study --experts DIR --data DIR --work DIR [--limit N]
        [--task-limit N] [--with-base MOE_DIR]

--with-base reuses an MoE already assembled with --base-expert and router-trained on the same
budget (e.g. the demo's), so only the MoE without it is built. Every stage's result is kept
under --work (a rerun resumes). Writes --out/base-expert-study.json and .md.
"""
from __future__ import annotations

import time
from pathlib import Path

import click

from smolmoe.core.base import resolve_base
from smolmoe.core.modeldir import load_model, load_tokenizer
from smolmoe.moe.meta import read_moe_meta as read_meta
from smolmoe.cli.kit import one_line_errors, quiet_transformers
from smolmoe.core.config import GENERAL_DOMAIN, MergeConfig
from smolmoe.data.records import load_records, split_path
from smolmoe.evaluation.loss import evaluate, loss_on_records, mean_loss, moe_routing
from smolmoe.core.io import write_json
from smolmoe.moe.router import train_router
from smolmoe.moe.assemble import assemble
from smolmoe.evaluation.tasks.run import evaluate_tasks

from studies.common import DEMO_ROUTER, base_option, cached, data_option, md_table, work_option


def build(experts: dict[str, Path], data_dir: Path, base: Path, out: Path, base_expert: bool,
          fit_samples: int) -> None:
    """Assemble (fit init) and train the routers in place, as the demo does."""
    if (out / "smolmoe.json").is_file() and "router_training" in read_meta(out).doc:
        return
    assemble(MergeConfig(experts=[str(p) for p in experts.values()], output=str(out), top_k=2,
                         router_init="fit", data=str(data_dir), fit_samples=fit_samples,
                         base=str(base), base_expert=base_expert),
             experts_root=out.parent, overwrite=True)
    train_router(out, data_dir, DEMO_ROUTER, alpha=0.01)


def losses(moe: Path, data_dir: Path, domains: list[str], limit: int) -> dict:
    """The MoE's loss per domain of the test split, and its routing accuracy."""
    model, tok = load_model(moe), load_tokenizer(moe)
    names = read_meta(moe).domains
    records = {d: load_records(split_path(data_dir, d, "test"), limit=limit) for d in domains}
    t0 = time.perf_counter()
    r = moe_routing(model, tok, records, names)
    for d in records:  # everyday, for the MoE without an expert for it
        if d not in r["losses"]:
            r["losses"][d] = loss_on_records(model, tok, records[d])
    return {"losses": {d: v["loss"] for d, v in r["losses"].items()},
            "tokens": {d: v["tokens"] for d, v in r["losses"].items()},
            "routing_accuracy": r["routing_accuracy"], "load_share": r["load_share"],
            "seconds": round(time.perf_counter() - t0, 1)}


def tables(report: dict) -> str:
    labels = list(report["moes"])
    loss = report["loss"]
    rows = [[d, f"{report['base'][d]:.3f}", *(f"{loss[m]['losses'][d]:.3f}" for m in labels)]
            for d in loss[labels[0]]["losses"]]
    rows.append(["experts' domains, token-weighted", "–",
                 *(f"{report['mixed_eight'][m]:.3f}" for m in labels)])
    replies = {m: {d: r.get("replies") for d, r in report["tasks"]["results"][m].items()}
               for m in labels}
    refusals = [[f"{kind} ({domain} replies: {replies[labels[0]].get(domain)})",
                 *(_rate(report["tasks"]["refusals"][m].get(kind)) for m in labels)]
                for kind, domain in (("everyday", GENERAL_DOMAIN), ("harmful", "guardian"),
                                     ("benign_risky", "guardian"))]
    return "\n".join([*md_table([f"test loss (n = {report['limit']} / domain)", "base model", *labels], rows),
                      "", *md_table(["refusal rate", *labels], refusals)])


def _rate(r) -> str:
    return "–" if r is None else f"{r:.1%}"


@click.command(context_settings={"show_default": True})
@click.option("--experts", "experts_root", required=True, type=click.Path(exists=True, file_okay=False), help="The MLP-only experts (NAME/ each).")
@data_option
@work_option
@click.option("--out", default="docs/byo-results", type=click.Path(file_okay=False), help="Where base-expert-study.json and .md are written.")
@click.option("--with-base", "with_base", default=None, type=click.Path(exists=True, file_okay=False), help="An MoE already built with --base-expert on the same budget (reused, not rebuilt).")
@click.option("--limit", default=20, type=click.IntRange(1), help="Test records per domain for the losses.")
@click.option("--task-limit", default=40, type=click.IntRange(1), help="Everyday prompts (and guardian harmful and benign each) for refusal rates.")
@click.option("--fit-samples", default=12, type=click.IntRange(1), help="Conversations per domain for the fit init (the demo's).")
@base_option
@one_line_errors
def main(experts_root, data_dir, work, out, with_base, limit, task_limit, fit_samples, base):
    quiet_transformers()
    experts_root, data_dir, work, out = map(Path, (experts_root, data_dir, work, out))
    work.mkdir(parents=True, exist_ok=True)
    base = resolve_base(base)
    experts = {p.name: p for p in sorted(experts_root.iterdir()) if (p / "config.json").is_file()}
    moes = {"with base expert": Path(with_base) if with_base else work / "moe-with-base",
            "without": work / "moe-without-base"}
    for label, moe in moes.items():
        if not with_base or label == "without":
            build(experts, data_dir, base, moe, label != "without", fit_samples)
    domains = list(dict.fromkeys(read_meta(moes["with base expert"]).domains))
    report = {"limit": limit, "task_limit": task_limit, "router_settings": vars(DEMO_ROUTER),
              "moes": {k: str(v) for k, v in moes.items()}}
    base_eval = cached(work / "base-loss.json", lambda: evaluate(
        {"base": base}, data_dir, domains, limit=limit))
    report["base"] = {d: v["loss"] for d, v in base_eval["results"]["base"].items()}
    report["loss"] = {label: cached(work / f"loss-{moe.name}.json",
                                    lambda moe=moe: losses(moe, data_dir, domains, limit))
                      for label, moe in moes.items()}
    eight = [d for d in domains if d != GENERAL_DOMAIN]
    report["mixed_eight"] = {m: mean_loss({d: {"loss": r["losses"][d], "tokens": r["tokens"][d]}
                                           for d in eight}) for m, r in report["loss"].items()}
    report["tasks"] = cached(work / "tasks.json", lambda: evaluate_tasks(
        {label: moe for label, moe in moes.items()}, data_dir, ["guardian"], limit=task_limit))
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "base-expert-study.json", report)
    (out / "base-expert-study.md").write_text(tables(report) + "\n")
    click.echo(tables(report))


if __name__ == "__main__":
    main()
