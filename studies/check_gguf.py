#!/usr/bin/env python3
"""Export real models to GGUF with llama.cpp's converter and check them in llama.cpp.

For each model and type, the next-token argmax of llama.cpp (llama-cpp-python) is compared with
transformers' at every position of a fixed set of chat conversations; f32 must agree on >= 99%.

    python -m studies.check_gguf [MODEL_DIR ...] [--types f32,f16,bf16] [--out DIR] [--json FILE]

With no MODEL_DIR: the demo MoE at $SMOLMOE_HOME/moe when it exists; otherwise the real base model
and an 8-expert MoE assembled from perturbed copies of the base's MLPs (quick stand-ins for
fine-tuned experts, so routing changes the output), built under --out.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import torch

from smolmoe.core.base import resolve_base
from smolmoe.core.modeldir import MOE_META, load_model, load_tokenizer, save_model_dir
from smolmoe.cli.kit import one_line_errors, quiet_transformers
from smolmoe.core.config import MergeConfig, home_path
from smolmoe.export.gguf import check_gguf, export_gguf
from smolmoe.core.io import write_json
from smolmoe.cli.progress import console
from smolmoe.moe.assemble import assemble



def perturbed_experts(base: Path, root: Path, n: int, scale: float = 0.1) -> list[Path]:
    """Copies of the base whose MLP weights get noise of `scale` x each tensor's std."""
    dirs = []
    for i in range(n):
        out = root / f"copy{i}"
        dirs.append(out)
        if (out / "config.json").is_file():
            continue
        model, tok = load_model(base), load_tokenizer(base)
        gen = torch.Generator().manual_seed(i)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if ".mlp." in name:
                    p.add_(scale * p.std() * torch.randn(p.shape, generator=gen))
        save_model_dir(model, tok, out)
    return dirs


def stand_in_moe(base: Path, root: Path, n: int = 8) -> Path:
    moe = root / "moe-copies"
    if not (moe / MOE_META).is_file():
        experts = perturbed_experts(base, root, n)
        assemble(MergeConfig(experts=[str(d) for d in experts], output=str(moe), top_k=2,
                             router_init="random", base=str(base)), experts_root=root)
    return moe


@click.command()
@click.argument("model_dirs", nargs=-1, type=click.Path())
# No q8_0 by default: the native llama.cpp build crashes on it on CPUs with AMX (docs/serving.md).
@click.option("--types", default="f32,f16,bf16", help="Comma-separated GGUF types (f32, f16, bf16, q8_0).")
@click.option("--out", default="runs/check_gguf", type=click.Path(file_okay=False), help="Where GGUF files go.")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False))
@one_line_errors
def main(model_dirs, types, out, json_out):
    quiet_transformers()
    out = Path(out)
    if not model_dirs:
        if home_path("moe").is_dir():
            model_dirs = [str(home_path("moe"))]
        else:
            base = resolve_base()
            with console.status("building an 8-expert stand-in MoE from perturbed base copies..."):
                model_dirs = [str(base), str(stand_in_moe(base, out / "models"))]
    rows, failed = [], False
    for model_dir in map(Path, model_dirs):
        name = model_dir.name
        model = load_model(model_dir)
        for outtype in types.split(","):
            target = out / f"{name}-{outtype}.gguf"
            t0 = time.perf_counter()
            with console.status(f"{name}: converting to {outtype}"):
                export = export_gguf(model_dir, target, outtype, overwrite=True)
            convert_s = time.perf_counter() - t0
            with console.status(f"{name} {outtype}: llama.cpp vs transformers"):
                result = check_gguf(target, model_dir, model=model)
            row = {"model": str(model_dir), "type": outtype, "mib": export["bytes"] / 2**20,
                   "convert_s": round(convert_s, 1), **result}
            rows.append(row)
            failed |= outtype == "f32" and result["agreement"] < 0.99
            click.echo(f"{name:28} {outtype:5} {row['mib']:8.1f} MiB  argmax agree "
                       f"{result['agree']:4}/{result['positions']} = {result['agreement']:7.2%}  "
                       f"max|dlogit| {result['max_abs_logit_diff']:.3g}  ({convert_s:.0f} s convert)")
        del model
    if json_out:
        write_json(json_out, rows)
    if failed:
        click.echo("FAIL: an f32 GGUF agrees with transformers on fewer than 99% of positions", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
