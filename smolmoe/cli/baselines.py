"""`smolmoe merge-dense`: the experts merged into one dense model, the baseline an MoE is
measured against (parse, call merge_dense.py, print)."""
from __future__ import annotations

from pathlib import Path

import click

from ..evaluation.merge_dense import DEFAULT_DENSITY, METHODS
from .kit import CONTEXT, home_default, one_line_errors, quiet_transformers


@click.command("merge-dense", context_settings=CONTEXT)
@click.argument("experts", nargs=-1, required=True)
@click.option("--method", required=True, type=click.Choice(METHODS), help="average: mean of the task vectors; ties: trim, elect sign, disjoint mean; dare: random drop and rescale, then average.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False), help="Output directory [default: $SMOLMOE_HOME/baselines/merge-METHOD].")
@click.option("--base", default=None, type=click.Path(), help="The experts' base [default: from their smolmoe_expert.json].")
@click.option("--experts-root", **home_default("experts"), type=click.Path(), help="Where expert names are looked up.")
@click.option("--density", default=None, type=click.FloatRange(0, 1, min_open=True), help=f"Share of each task vector kept (ties, dare) [default: {', '.join(f'{m} {d}' for m, d in DEFAULT_DENSITY.items())}].")
@click.option("--seed", default=0, type=int, help="Seed of DARE's random drop.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output (never an input).")
@one_line_errors
def merge_dense_cmd(experts, method, out_dir, base, experts_root, density, seed, overwrite):
    """Merge EXPERT... (names under --experts-root, or directories) into one dense checkpoint of
    their family: base + combine(expert - base) per tensor."""
    from ..evaluation.baselines import MERGE_PREFIX
    from ..core.config import home_path
    from ..evaluation.merge_dense import merge_dense
    from .progress import console
    quiet_transformers()
    out_dir = Path(out_dir) if out_dir else home_path("baselines") / f"{MERGE_PREFIX}{method}"
    with console.status("merging...") as status:
        meta = merge_dense(list(experts), method, out_dir, base=base, experts_root=Path(experts_root),
                           density=density, seed=seed, overwrite=overwrite,
                           on_progress=lambda msg: status.update(msg))
    click.echo(f"{method} of {', '.join(e['name'] for e in meta['experts'])}"
               + (f" (density {meta['density']})" if method != "average" else "")
               + f": {meta['tensors_changed']} tensors differ from the base, {meta['seconds']} s "
               f"-> {out_dir}")
