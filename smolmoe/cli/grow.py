"""`smolmoe add-expert` and `remove-expert`: grow or shrink an assembled MoE without training
(parse, call grow.py, print)."""
from __future__ import annotations

from pathlib import Path

import click

from ..core.config import MergeConfig
from .kit import CONTEXT, Whole, home_default, one_line_errors, quiet_transformers


def _report_parity(doc: dict, name: str) -> None:
    from ..moe.assemble import parity_warning
    click.echo(f"parity {name:14} max |logit diff| {doc['parity_max_abs_logit_diff'][name]:.2e}")
    warning = parity_warning(doc)
    if warning:
        click.secho(warning, err=True, fg="red", bold=True)


@click.command("add-expert", context_settings=CONTEXT)
@click.argument("moe_dir", type=click.Path())
@click.argument("expert_dir", type=click.Path())
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Data whose train splits the router rows are fitted on (the new expert's domain and the others').")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output MoE directory (not MOE_DIR).")
@click.option("--base", default=None, type=click.Path(), help="The base of a LoRA adapter EXPERT_DIR [default: its adapter_config's base_model_name_or_path].")
@click.option("--name", default=None, help="The new expert's name [default: EXPERT_DIR's name].")
@click.option("--fit-samples", "samples", default=None, type=Whole(1), help="Conversations per domain for the fit [default: the MoE's fit init's, else " f"{MergeConfig.fit_samples}].")
@click.option("--seed", default=None, type=int, help="Seed of the fit's samples [default: the MoE's fit init's, else 0].")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out directory.")
@one_line_errors
def add_expert_cmd(moe_dir, expert_dir, data_dir, out, base, name, samples, seed, overwrite):
    """Add EXPERT_DIR (a dense expert, or a LoRA adapter with its base) to the MoE in MOE_DIR:
    its FFN in every layer, its router rows fitted in closed form, the others unchanged."""
    from ..moe.grow import add_expert
    from .progress import console
    quiet_transformers()
    with console.status("adding...") as status:
        meta = add_expert(Path(moe_dir), Path(expert_dir), data_dir=Path(data_dir), out=Path(out),
                          base=base, name=name, samples=samples, seed=seed, overwrite=overwrite,
                          on_progress=lambda msg: status.update(msg))
    step = meta.doc["history"][-1]
    new = meta.experts[-1]
    click.echo(f"experts (in order): {', '.join(meta.names)}")
    click.echo(f"added {new['name']} ({new['domain']}): router rows fitted on "
               f"{step['fit']['tokens']:,} tokens of {len(step['fit']['domains'])} domains, "
               f"{step['seconds']} s")
    click.echo("fit accuracy per layer: " + " ".join(f"{a:.2f}" for a in step["fit"]["train_accuracy_per_layer"]))
    _report_parity(meta.doc, new["name"])
    click.echo(f"wrote {out}")


@click.command("remove-expert", context_settings=CONTEXT)
@click.argument("moe_dir", type=click.Path())
@click.argument("name")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output MoE directory (not MOE_DIR).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out directory.")
@one_line_errors
def remove_expert_cmd(moe_dir, name, out, overwrite):
    """Remove expert NAME (its FFN and router rows) from the MoE in MOE_DIR."""
    from ..moe.grow import remove_expert
    from .progress import console
    quiet_transformers()
    with console.status("removing...") as status:
        meta = remove_expert(Path(moe_dir), name, out=Path(out), overwrite=overwrite,
                             on_progress=lambda msg: status.update(msg))
    click.echo(f"experts (in order): {', '.join(meta.names)}; top_k {meta.top_k}")
    click.echo(f"wrote {out}")
