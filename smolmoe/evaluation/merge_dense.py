"""Dense merges of experts: one checkpoint of the experts' own family, no routing.

The baselines a user would reach for instead of an MoE (mergekit's linear, TIES and DARE
methods), defined on task vectors: tau_i = expert_i - base, tensor by tensor, and
merged = base + combine(tau_1..tau_n). MLP-only experts differ from the base only in their
mlp.* tensors, so every other tensor is the base's (its task vectors are all zero).

- average: the mean of the task vectors (= the mean of the experts' weights).
- ties (Yadav et al. 2023): trim each task vector to its `density` largest magnitudes, elect
  each entry's sign as the sign of the sum of the trimmed vectors, and take the mean over the
  experts whose trimmed entry is non-zero and has that sign (the disjoint mean).
- dare (Yu et al. 2023): drop each entry of each task vector with probability 1 - density and
  rescale the kept ones by 1 / density (seeded, one generator per expert and tensor), then
  average.

The merges are small and exact (measured against mergekit 0.1.5 in docs/eval.md), so they
are written here instead of pulling mergekit's ~300 MB of dependencies into the install.
"""
from __future__ import annotations

import hashlib
import platform
import time
from pathlib import Path
from typing import Callable

import torch

from ..core.errors import ConfigError, ModelError
from ..core.io import check_writable_target

METHODS = ("average", "ties", "dare")
DEFAULT_DENSITY = {"ties": 0.2, "dare": 0.5}   # the TIES and DARE papers' defaults


def trim_top_k(delta: torch.Tensor, density: float) -> torch.Tensor:
    """`delta` with all but its int(density * numel) largest magnitudes set to zero."""
    k = int(density * delta.numel())
    if k >= delta.numel():
        return delta.clone()
    out = torch.zeros_like(delta)
    if k <= 0:
        return out
    flat = delta.flatten()
    keep = flat.abs().topk(k).indices
    out.view(-1)[keep] = flat[keep]
    return out


def ties(deltas: list[torch.Tensor], density: float) -> torch.Tensor:
    """TIES: trim, elect the sign, disjoint mean (entries nobody kept stay zero)."""
    trimmed = torch.stack([trim_top_k(d, density) for d in deltas])
    sign = torch.sign(trimmed.sum(0))
    agree = (torch.sign(trimmed) == sign) & (trimmed != 0)
    count = agree.sum(0)
    return (trimmed * agree).sum(0) / count.clamp(min=1)


def dare(deltas: list[torch.Tensor], density: float, generators: list[torch.Generator]) -> torch.Tensor:
    """DARE: drop with probability 1 - density, rescale by 1 / density, then average."""
    kept = [d * (torch.rand(d.shape, generator=g) < density) / density
            for d, g in zip(deltas, generators)]
    return torch.stack(kept).mean(0)


def average(deltas: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(deltas).mean(0)


def tensor_seed(seed: int, expert: int, key: str) -> int:
    """The seed of one expert's DARE mask on one tensor: stable across runs and orders."""
    digest = hashlib.sha256(f"{seed}:{expert}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def merge_tensor(base: torch.Tensor, experts: list[torch.Tensor], method: str, *,
                 density: float = 1.0, seed: int = 0, key: str = "") -> torch.Tensor:
    """One merged tensor: base + combine(expert_i - base)."""
    deltas = [e - base for e in experts]
    if not any(bool(d.any()) for d in deltas):
        return base.clone()
    if method == "average":
        merged = average(deltas)
    elif method == "ties":
        merged = ties(deltas, density)
    elif method == "dare":
        gens = [torch.Generator().manual_seed(tensor_seed(seed, i, key)) for i in range(len(deltas))]
        merged = dare(deltas, density, gens)
    else:
        raise ConfigError(f"unknown merge method {method!r} (known: {', '.join(METHODS)})")
    return base + merged


def check_density(method: str, density: float | None) -> float:
    if method == "average":
        return 1.0
    density = DEFAULT_DENSITY[method] if density is None else density
    if not 0 < density <= 1:
        raise ConfigError(f"--density must be in (0, 1], got {density}")
    return density


def _base_of(experts: dict[str, Path]) -> Path:
    """The base the experts were fine-tuned from (their metadata), when they all agree."""
    from ..core.modeldir import read_expert_meta
    bases = {(read_expert_meta(p) or {}).get("base") for p in experts.values()}
    if len(bases) != 1 or None in bases:
        raise ConfigError("cannot tell the experts' base from their metadata: pass --base")
    return Path(bases.pop())


def merge_dense(experts: list[str | Path], method: str, out_dir: str | Path, *,
                base: str | Path | None = None, experts_root: Path | None = None,
                density: float | None = None, seed: int = 0, overwrite: bool = False,
                on_progress: Callable[[str], None] | None = None) -> dict:
    """Merge dense experts into one model of their family at out_dir (written atomically;
    never over an input). Returns the metadata written beside it (MERGE_META)."""
    from ..moe.assemble import WeightReader, check_compatible, resolve_experts, weights_sha256
    from ..core.modeldir import MERGE_META, load_model, load_tokenizer, save_model_dir

    say = on_progress or (lambda _msg: None)
    if method not in METHODS:
        raise ConfigError(f"unknown merge method {method!r} (known: {', '.join(METHODS)})")
    density = check_density(method, density)
    if len(experts) < 2:
        raise ConfigError("a merge needs at least two experts")
    dirs = resolve_experts([str(e) for e in experts], Path(experts_root or "."))
    base_dir = Path(base) if base else _base_of(dirs)
    target = Path(out_dir).resolve()
    for name, p in {**dirs, "base": base_dir}.items():
        if Path(p).resolve() == target:
            raise ModelError(f"--out {out_dir} is the input {name}: a merge never overwrites its inputs")
    check_writable_target(target, overwrite)
    check_compatible({**dirs, "base": base_dir})
    t0 = time.perf_counter()
    say(f"merging {len(dirs)} experts ({method})")
    model = load_model(base_dir)
    readers = [WeightReader(p) for p in dirs.values()]
    changed = 0
    with torch.no_grad():
        for key, param in model.state_dict().items():
            if key not in readers[0].keys():   # tied weights saved once (lm_head)
                continue
            merged = merge_tensor(param.float(), [r.get(key) for r in readers], method,
                                  density=density, seed=seed, key=key)
            if not torch.equal(merged, param.float()):
                changed += 1
            param.copy_(merged.to(param.dtype))
    meta = {"format": "smolmoe-merge/1", "method": method, "density": density,
            "seed": seed if method == "dare" else None, "base": str(base_dir),
            "experts": [{"name": n, "source": str(p), "weights_sha256": weights_sha256(p)}
                        for n, p in dirs.items()],
            "tensors_changed": changed, "seconds": round(time.perf_counter() - t0, 2),
            "versions": {"torch": torch.__version__, "python": platform.python_version()}}
    say("saving")
    save_model_dir(model, load_tokenizer(base_dir), target, MERGE_META, meta, overwrite=overwrite)
    return meta
