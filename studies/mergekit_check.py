"""Our merges (smolmoe.evaluation.merge_dense) against mergekit's on the same experts: max |difference|
and seconds per method; prints one JSON line. Run it with a Python that has mergekit (kept out
of smolmoe's environment: it brings ~300 MB of dependencies), from the repository root (so
smolmoe imports from this checkout):

    /path/to/venv/bin/python -m studies.mergekit_check EXPERT_DIR... --base DIR --out DIR

average ~ mergekit linear (weights 1/n), ties ~ ties (weight 1, normalize), dare ~ dare_linear
(weights 1/n): the same definitions; DARE's random masks differ (mergekit draws them from
torch's global generator, smolmoe from one seeded generator per expert and tensor).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

PAIRS = (("average", "linear", None), ("ties", "ties", 0.2), ("dare", "dare_linear", 0.5))


def weights(path: Path) -> dict:
    from safetensors.torch import load_file
    out = {}
    for f in sorted(path.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


def mergekit_config(method: str, experts: list[Path], base: Path, density) -> dict:
    n = len(experts)
    params = lambda: {"weight": 1.0 if method == "ties" else 1 / n,  # noqa: E731
                      **({"density": density} if density else {})}
    cfg = {"merge_method": method, "dtype": "float32",
           "models": [{"model": str(e), "parameters": params()} for e in experts]}
    if method != "linear":
        cfg.update(base_model=str(base), parameters={"normalize": method == "ties"})
    return cfg


def main():
    from mergekit.config import MergeConfiguration
    from mergekit.merge import MergeOptions, run_merge
    from smolmoe.evaluation.merge_dense import merge_dense

    ap = argparse.ArgumentParser()
    ap.add_argument("experts", nargs="+", type=Path)
    ap.add_argument("--base", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    # Absolute paths: mergekit takes a relative "a/b" for a Hugging Face hub id.
    args.experts, args.base = [e.resolve() for e in args.experts], args.base.resolve()
    report = {}
    for ours, theirs, density in PAIRS:
        t0 = time.perf_counter()
        run_merge(MergeConfiguration.model_validate(mergekit_config(theirs, args.experts, args.base, density)),
                  str(args.out / f"mergekit-{ours}"),
                  options=MergeOptions(copy_tokenizer=True, random_seed=0, lazy_unpickle=False, quiet=True))
        t_theirs = time.perf_counter() - t0
        t0 = time.perf_counter()
        merge_dense(args.experts, ours, args.out / f"smolmoe-{ours}", base=args.base,
                    density=density, overwrite=True)
        t_ours = time.perf_counter() - t0
        a, b = weights(args.out / f"mergekit-{ours}"), weights(args.out / f"smolmoe-{ours}")
        keys = [k for k in b if k in a]
        report[ours] = {"mergekit_method": theirs, "density": density,
                        "max_abs_diff": max(float((a[k] - b[k]).abs().max()) for k in keys),
                        "tensors_compared": len(keys), "seconds_mergekit": round(t_theirs, 2),
                        "seconds_smolmoe": round(t_ours, 2)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
