"""Model directories: every Hugging Face directory smolmoe reads or writes.

One home for what such a directory is: the base-model cache, an expert, an MoE, a scratch
model, a LoRA run (merged weights plus the adapter alone) and an export. Here live the metadata
file each kind carries, the checks that refuse a directory before anything is loaded, loading,
the metadata readers (an MoE's own: moe/meta.py), and the one atomic save (main process only) with the config
patches other tools need.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .distributed import process_state
from .errors import ModelError
from .io import atomic_dir, read_json, write_json

# The metadata file of each kind of directory (an export copies whichever its source has).
BASE_META = "smolmoe_base.json"        # the converted base model: where it came from
EXPERT_META = "smolmoe_expert.json"    # a fine-tuned expert: domain, settings, data hash
MOE_META = "smolmoe.json"              # an assembled (or adopted) MoE: experts, parity, routers
SCRATCH_META = "smolmoe_scratch.json"  # a from-scratch stage's model: its report
MERGE_META = "smolmoe_merge.json"      # a dense merge of experts: method, inputs (merge_dense.py)
META_FILES = (MOE_META, EXPERT_META, BASE_META, SCRATCH_META, MERGE_META)
ADAPTER = "adapter"                    # a LoRA run's adapter alone, inside the merged model's dir

# What to do about a missing default output (the demo writes them all under $SMOLMOE_HOME).
BUILD_HINT = "(run `bash scripts/demo.sh` or `smolmoe assemble` first)"


# ------------------------------------------------------------------ checks (nothing loaded)
def check_built(path: Path) -> Path:
    """A directory an earlier step should have made: say which step when it is missing."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path} does not exist {BUILD_HINT}")
    return path


def read_config(path: Path) -> dict:
    """A model directory's config.json as a dict, or one line saying what is wrong with it."""
    f = Path(path) / "config.json"
    if not f.is_file():
        raise ModelError(f"{path} has no config.json: not a Hugging Face model directory")
    config = read_json(f, ModelError)
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise ModelError(f"{path}/config.json must be a JSON object with a 'model_type'")
    return config


def check_model_dir(path: Path) -> Path:
    """A usable HF model dir has a config.json and safetensors weights."""
    if not path.exists():
        raise ModelError(f"model directory not found: {path}")
    if not path.is_dir():
        raise ModelError(f"not a model directory: {path}")
    read_config(path)
    if not any(path.glob("*.safetensors")):
        pickles = sorted(p.name for p in path.glob("*.bin")) + sorted(p.name for p in path.glob("*.pt"))
        if pickles:  # never unpickled: a pickle can run any code when loaded
            raise ModelError(f"{path} has no .safetensors weights, only pickle files "
                             f"({', '.join(pickles[:2])}), which smolmoe never loads; convert them "
                             f"to safetensors with a tool you trust")
        raise ModelError(f"{path} has no .safetensors weights")
    return path


def weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape, read from the safetensors headers (no weights are loaded)."""
    from safetensors import safe_open

    shapes = {}
    for f in sorted(Path(path).glob("*.safetensors")):
        try:
            with safe_open(f, framework="pt") as st:
                for key in st.keys():
                    shapes[key] = tuple(st.get_slice(key).get_shape())
        except Exception as e:
            raise ModelError(f"corrupt weights file {f}: {e}") from None
    return shapes


def expert_count(config) -> int:
    """How many routed experts a config (a transformers config or a config.json dict) has, under
    whichever name its family uses; 0 for a dense model."""
    get = config.get if isinstance(config, dict) else (lambda key: getattr(config, key, None))
    return int(get("num_local_experts") or get("num_experts") or 0)


def describe(path: Path) -> dict:
    """Architecture and parameter count read from config and safetensors headers (no load)."""
    path = check_model_dir(Path(path))
    config = read_config(path)
    params = sum(math.prod(shape) for shape in weight_shapes(path).values())
    return {
        "path": str(path),
        "architecture": (config.get("architectures") or [config.get("model_type")])[0],
        "model_type": config.get("model_type"),
        "parameters": params,
        "layers": config.get("num_hidden_layers"),
        "hidden_size": config.get("hidden_size"),
        "intermediate_size": config.get("intermediate_size"),
        "vocab_size": config.get("vocab_size"),
        "experts": expert_count(config) or None,
    }


def available_memory() -> int | None:
    """Bytes of memory a new allocation can still get: the machine's MemAvailable, or less
    when a container's cgroup limit is closer; None where neither can be read."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:   # cgroup v2; "max" means no limit
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def check_weights_fit(path: Path, dtype=None) -> int:
    """Refuse, before anything is allocated, a model whose config.json does not describe its
    own weights (a tensor's shape, or far more parameters than the files hold; a config that
    only names the model type would otherwise get the type's default, e.g. 47B-parameter,
    sizes) or that cannot fit in the memory available. Returns the parameter count."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    path = check_model_dir(Path(path))
    shapes = weight_shapes(path)
    try:
        config = AutoConfig.from_pretrained(path)
        with torch.device("meta"):   # shapes only: nothing is allocated
            skeleton = AutoModelForCausalLM.from_config(config)
    except Exception as e:
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot read {path}/config.json as a model: {msg}") from None
    for key, tensor in skeleton.state_dict().items():
        if key in shapes and shapes[key] != tuple(tensor.shape):
            raise ModelError(f"{path}/config.json does not match its weights: {key} is "
                             f"{list(shapes[key])} in the safetensors but {list(tensor.shape)} "
                             f"by the config")
    declared = sum(p.numel() for p in skeleton.parameters())
    stored = sum(math.prod(s) for s in shapes.values())
    if declared > 1.01 * stored:
        raise ModelError(f"{path}/config.json declares {declared:,} parameters but its weights "
                         f"hold {stored:,}: the config does not describe these weights")
    needed = declared * (dtype or torch.float32).itemsize
    free = available_memory()
    if free is not None and needed > free:
        raise ModelError(f"{path} needs {needed / 2**30:.1f} GiB to load ({declared:,} parameters)"
                         f" but only {free / 2**30:.1f} GiB of memory is available")
    return declared


# ------------------------------------------------------------------ loading
def load_model(path, dtype=None, **kwargs):
    """Load a causal LM from an HF dir with a one-line error for missing/corrupt weights.

    kwargs go to from_pretrained (e.g. experts_implementation="eager" for an MoE).
    """
    import torch
    from transformers import AutoModelForCausalLM

    path = check_model_dir(Path(path))
    check_weights_fit(path, dtype)
    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32, **kwargs)
    except Exception as e:
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot load model from {path}: {msg}") from None


def load_tokenizer(path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(Path(path))
    except Exception as e:
        raise ModelError(f"cannot load tokenizer from {path}: {type(e).__name__}") from None


# ------------------------------------------------------------------ saving
def checkpoint_dir_for(out_dir: str | os.PathLike, name: str = "checkpoint") -> Path:
    """Where a run writing out_dir keeps its resumable checkpoint: a hidden sibling."""
    out_dir = Path(out_dir)
    return out_dir.parent / f".{out_dir.name}.{name}"


def patch_config_for_other_readers(directory: Path) -> None:
    """Older readers (llama.cpp's converter, vLLM) look for rope_theta at the top level of
    config.json, where transformers 5 keeps it inside rope_parameters: copy it up."""
    cfg_file = Path(directory) / "config.json"
    cfg = json.loads(cfg_file.read_text())
    rope = (cfg.get("rope_parameters") or {}).get("rope_theta")
    if rope is not None and "rope_theta" not in cfg:
        cfg["rope_theta"] = rope
        cfg_file.write_text(json.dumps(cfg, indent=2))


def write_model(directory: Path, model, tokenizer, meta_file: str | None = None,
                meta: dict | None = None, *, for_other_readers: bool = False,
                adapter: bool = False):
    """Write weights, config, tokenizer and metadata into `directory` (a temp dir of an atomic
    write); return the model written. adapter: `model` is a peft model whose adapter is saved
    alone under ADAPTER before it is merged into the weights (which stay a stock checkpoint)."""
    if adapter:
        model.save_pretrained(directory / ADAPTER)
    if hasattr(model, "merge_and_unload"):   # a peft model: merged, loads without peft
        model = model.merge_and_unload()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    if for_other_readers:
        patch_config_for_other_readers(directory)
    if meta_file:
        write_json(directory / meta_file, meta or {})
    return model


def save_model_dir(model, tokenizer, out_dir: str | os.PathLike, meta_file: str | None = None,
                   meta: dict | None = None, *, overwrite: bool = False,
                   for_other_readers: bool = False, adapter: bool = False):
    """Atomically write an HF dir (loads with stock AutoModelForCausalLM) plus its metadata,
    from the main process only when several train together (the others wait until it is
    there). Returns the model written (merged, for a LoRA model) in every process."""
    state = process_state()
    if state.is_main_process:
        with atomic_dir(out_dir, overwrite=overwrite) as tmp:
            model = write_model(tmp, model, tokenizer, meta_file, meta,
                                for_other_readers=for_other_readers, adapter=adapter)
    elif hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    state.wait_for_everyone()
    return model


def copy_meta(source: Path, directory: Path) -> list[str]:
    """Copy every smolmoe metadata file `source` has into `directory` (an export keeps them)."""
    copied = []
    for name in META_FILES:
        if (Path(source) / name).is_file():
            (Path(directory) / name).write_bytes((Path(source) / name).read_bytes())
            copied.append(name)
    return copied


# ------------------------------------------------------------------ metadata
def read_expert_meta(path: Path) -> dict | None:
    """An expert directory's smolmoe_expert.json (None for a dense model made elsewhere)."""
    f = Path(path) / EXPERT_META
    if not f.is_file():
        return None
    info = read_json(f, ModelError)
    domain = info.get("domain", Path(path).name) if isinstance(info, dict) else None
    if not isinstance(domain, str):
        raise ModelError(f"{f} is malformed: 'domain' must be a string")
    return {**info, "domain": domain}


def expert_domain(path: Path) -> str:
    """The data domain an expert was trained on; its directory name when it has no metadata."""
    meta = read_expert_meta(path)
    return meta["domain"] if meta else Path(path).name


def read_scratch_meta(path: Path) -> dict:
    """A scratch stage's report, saved beside its model."""
    f = Path(path) / SCRATCH_META
    if not f.is_file():
        raise ModelError(f"{path} has no {SCRATCH_META}: not a smolmoe scratch model")
    meta = read_json(f, ModelError)
    if not isinstance(meta, dict):
        raise ModelError(f"{f} is malformed: it must be a JSON object")
    return meta
