"""`smolmoe export --format gguf`: a GGUF file, checked against the source.

llama.cpp's own converter (`convert_hf_to_gguf.py`, shipped inside the llama-cpp-python sdist,
fetched once with pip into the cache) turns the clean HF export (hf.py) into f32/f16/bf16/q8_0.
`check_gguf` runs the file in llama.cpp (the llama-cpp-python package) and counts the positions
where its next-token argmax agrees with transformers'.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

import torch

from ..core.config import GGUF_DEFAULT_TYPE, GGUF_TYPES, LLAMA_CPP_PYTHON, home_path
from ..core.errors import ConfigError, ModelError
from ..core.io import atomic_dir, check_output_not_input, check_writable_target, temp_prefix
from ..core.modeldir import check_model_dir, load_model, load_tokenizer
from .hf import CHECK_CONVERSATIONS, conversation_ids, export_hf

CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def llama_cpp_converter(home: Path | None = None,
                        on_fetch: Callable[[str], None] | None = None) -> Path:
    """A directory holding llama.cpp's convert_hf_to_gguf.py (with its `conversion` package and
    gguf-py): $SMOLMOE_LLAMA_CPP, or extracted once from the pinned llama-cpp-python sdist.
    on_fetch(message) hears, before it starts, what is fetched from PyPI and where it goes."""
    if os.environ.get("SMOLMOE_LLAMA_CPP"):
        path = Path(os.environ["SMOLMOE_LLAMA_CPP"]).expanduser()
        if not (path / "convert_hf_to_gguf.py").is_file():
            raise ConfigError(f"SMOLMOE_LLAMA_CPP={path} has no convert_hf_to_gguf.py")
        return path
    target = home_path("tools", home) / f"llama.cpp-{LLAMA_CPP_PYTHON}"
    if (target / "convert_hf_to_gguf.py").is_file():
        return target
    sources = home_path("sources", home) / "llama-cpp-python"
    sdist = sources / f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"
    if not sdist.is_file():
        if on_fetch:
            on_fetch(f"fetching llama-cpp-python=={LLAMA_CPP_PYTHON}'s source from PyPI (once) into "
                     f"{sources} for llama.cpp's GGUF converter (or set SMOLMOE_LLAMA_CPP to a "
                     f"llama.cpp checkout)")
        sources.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                               "--no-binary", ":all:", f"llama-cpp-python=={LLAMA_CPP_PYTHON}",
                               "-d", str(sources)], capture_output=True, text=True)
        if proc.returncode != 0 or not sdist.is_file():
            last = (proc.stderr.strip().splitlines() or ["no sdist"])[-1]
            raise ModelError(f"cannot fetch llama-cpp-python=={LLAMA_CPP_PYTHON} (for llama.cpp's "
                             f"GGUF converter) from PyPI: {last}")
    prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
    with atomic_dir(target, overwrite=True) as tmp, tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            rel = member.name[len(prefix):] if member.name.startswith(prefix) else None
            if rel and member.isfile() and rel.startswith(CONVERTER_PARTS):
                member.name = rel
                tar.extract(member, tmp, filter="data")
    return target


# Qwen2-MoE in llama.cpp: its loader needs an output matrix of its own (its Llama and Qwen3-MoE
# loaders fall back to the tied embedding, this one stops: "tensor 'output.weight' not found"),
# and it computes the shared expert's sigmoid gate as silu(x)/x, which is 0/0 = NaN for a gate
# of zeros (every logit NaN, measured), the gate assemble writes for its zeroed shared expert.
NEEDS_LLAMA_CPP_FIXES = ("Qwen2MoeForCausalLM",)


def fit_for_llama_cpp(hf_dir: Path) -> None:
    """Rewrite a Qwen2-MoE HF export, in place, so llama.cpp computes the same function: a
    tied model gets lm_head.weight (a copy of the embedding); a shared expert whose down_proj is
    all zeros (its output is 0 whatever its gate) gets a gate of ones instead of zeros."""
    from safetensors.torch import load_file, save_file
    cfg_file = hf_dir / "config.json"
    cfg = json.loads(cfg_file.read_text())
    tied = bool(cfg.get("tie_word_embeddings"))
    index_file = hf_dir / "model.safetensors.index.json"
    for f in sorted(hf_dir.glob("*.safetensors")):
        tensors, changed = load_file(f), False
        if tied and "model.embed_tokens.weight" in tensors:
            tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"].clone()
            changed = True
            if index_file.is_file():
                index = json.loads(index_file.read_text())
                index["weight_map"]["lm_head.weight"] = f.name
                index_file.write_text(json.dumps(index, indent=2))
        for key in [k for k in tensors if k.endswith(".shared_expert_gate.weight")]:
            down = tensors.get(key.replace("shared_expert_gate", "shared_expert.down_proj"))
            if down is not None and not down.any() and not tensors[key].any():
                tensors[key] = torch.ones_like(tensors[key])
                changed = True
        if changed:
            save_file(tensors, f, metadata={"format": "pt"})
    if tied:
        cfg["tie_word_embeddings"] = False
        cfg_file.write_text(json.dumps(cfg, indent=2))


def export_gguf(model_dir: str | Path, out_file: str | Path, outtype: str = GGUF_DEFAULT_TYPE,
                overwrite: bool = False, on_fetch: Callable[[str], None] | None = None) -> dict:
    """Convert with llama.cpp's own converter via a clean HF export; the file appears whole."""
    if outtype not in GGUF_TYPES:
        raise ConfigError(f"GGUF type must be one of {', '.join(GGUF_TYPES)}, got {outtype!r}")
    model_dir, out_file = check_model_dir(Path(model_dir)), Path(out_file)
    check_output_not_input(out_file, [model_dir], "--out")
    out_file = check_writable_target(out_file, overwrite)
    converter = llama_cpp_converter(on_fetch=on_fetch)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=temp_prefix(out_file), dir=out_file.parent) as tmp:
        hf = export_hf(model_dir, Path(tmp) / "hf", verify=False)
        if hf["architecture"] in NEEDS_LLAMA_CPP_FIXES:
            fit_for_llama_cpp(Path(tmp) / "hf")
        part = Path(tmp) / "model.gguf"
        proc = subprocess.run([sys.executable, str(converter / "convert_hf_to_gguf.py"),
                               str(Path(tmp) / "hf"), "--outfile", str(part),
                               "--outtype", outtype], capture_output=True, text=True)
        if proc.returncode != 0 or not part.is_file():
            lines = [l for l in proc.stderr.strip().splitlines() if l.strip()] or ["no output"]
            raise ModelError(f"llama.cpp's converter failed on {model_dir}: {lines[-1][:300]}")
        os.replace(part, out_file)
    return {"path": str(out_file), "type": outtype, "bytes": out_file.stat().st_size,
            "architecture": hf["architecture"], "per_expert_layout": hf["per_expert_layout"]}


@torch.no_grad()
def check_gguf(gguf_file: str | Path, model_dir: str | Path, model=None,
               conversations=CHECK_CONVERSATIONS) -> dict:
    """Next-token argmax agreement, position by position, of llama.cpp on the GGUF and
    transformers on the source, over the same token ids."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ModelError("llama-cpp-python is not installed: cannot run the GGUF in llama.cpp "
                         "(pip install llama-cpp-python)") from None
    import numpy as np
    tokenizer = load_tokenizer(model_dir)
    model = model or load_model(model_dir)
    batches = [conversation_ids(tokenizer, u, a) for u, a in conversations]
    n_ctx = max(len(ids) for ids in batches) + 8
    llm = Llama(model_path=str(gguf_file), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True,
                verbose=False, n_threads=max(1, min(4, os.cpu_count() or 1)))
    agree = positions = 0
    max_diff = 0.0
    for ids in batches:
        ref = model(input_ids=torch.tensor([ids])).logits[0].float().numpy()
        llm.reset()
        llm.eval(ids)
        got = np.asarray(llm.scores[:len(ids)], dtype=np.float32)
        agree += int((got.argmax(-1) == ref.argmax(-1)).sum())
        positions += len(ids)
        max_diff = max(max_diff, float(np.abs(got - ref).max()))
    llm.close() if hasattr(llm, "close") else None
    return {"gguf": str(gguf_file), "positions": positions, "agree": agree,
            "agreement": agree / positions, "max_abs_logit_diff": max_diff,
            "conversations": len(batches)}
