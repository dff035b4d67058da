"""`smolmoe export`: a clean HF directory or a GGUF file, each checked against the source.

- hf: stock transformers loads the model and `save_pretrained` writes it again. transformers 5.x
  stores Mixtral experts fused in memory but writes the per-expert layout
  (`block_sparse_moe.experts.N.w1/w2/w3`) that other tools read; we check that layout and that
  the reloaded logits are identical to the source's.
- gguf: llama.cpp's own converter (`convert_hf_to_gguf.py`, shipped inside the llama-cpp-python
  sdist, fetched once with pip into the cache) turns the clean HF export into f32/f16/bf16/q8_0.
  `check_gguf` runs the file in llama.cpp (the llama-cpp-python package) and counts the
  positions where its next-token argmax agrees with transformers'.
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
from ..core.modeldir import check_model_dir, copy_meta, load_model, load_tokenizer, read_config, write_model
from ..data.records import ensure_template, render_chat

CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")

# Conversations whose every position is compared (prompt and answer alike).
CHECK_CONVERSATIONS = [
    ("What is 17 plus 25?", "17 plus 25 is 42."),
    ("Write a Python function that reverses a string.",
     "def reverse(s):\n    return s[::-1]"),
    ("Tell me a short story about a dragon.",
     "Once upon a time, a small dragon guarded a quiet library in the mountains."),
    ("Translate 'good morning' into French.", "Bonjour."),
    ("Write a SQL query that counts the rows of a table named users.",
     "SELECT COUNT(*) FROM users;"),
    ("What causes the seasons on Earth?",
     "The tilt of Earth's axis changes how directly sunlight reaches each hemisphere."),
    ("Give me three tips for sleeping better.",
     "Keep a regular schedule, avoid screens before bed, and keep your room cool."),
    ("Solve for x: 3x + 5 = 20.", "3x = 15, so x = 5."),
]


def conversation_ids(tokenizer, user: str, assistant: str) -> list[int]:
    ensure_template(tokenizer)
    text = render_chat(tokenizer, [{"role": "user", "content": user},
                                   {"role": "assistant", "content": assistant}])
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def per_expert_layout(path: Path) -> bool:
    """True when an MoE checkpoint stores each expert's weights separately (what llama.cpp,
    vLLM and older transformers read: Mixtral's experts.N.w1/w2/w3, Qwen-MoE's
    experts.N.gate_proj/up_proj/down_proj), False for a dense model; an error for anything else."""
    from safetensors import safe_open
    keys = []
    for f in sorted(path.glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as st:
            keys += list(st.keys())
    moe = [k for k in keys if ".block_sparse_moe." in k or ".experts." in k]
    if not moe:
        return False
    fused = [k for k in moe if k.endswith(("gate_up_proj", "down_proj")) and ".experts." in k]
    # Mixtral names an expert's weights w1/w2/w3, Qwen2-MoE and Qwen3-MoE gate/up/down_proj.
    if fused or not any(k.endswith((".experts.0.w1.weight", ".experts.0.gate_proj.weight")) for k in moe):
        raise ModelError(f"{path} does not store experts one by one as experts.N.w1/w2/w3 or "
                         f"experts.N.gate_proj/up_proj/down_proj (found e.g. {(fused or moe)[0]})")
    return True


def export_hf(model_dir: str | Path, out_dir: str | Path, overwrite: bool = False,
              verify: bool = True) -> dict:
    """Write a clean HF directory that stock transformers loads; logits checked identical."""
    model_dir, out_dir = check_model_dir(Path(model_dir)), Path(out_dir)
    check_output_not_input(out_dir, [model_dir], "--out")
    check_writable_target(out_dir, overwrite)
    model, tokenizer = load_model(model_dir), load_tokenizer(model_dir)
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        write_model(tmp, model, tokenizer, for_other_readers=True)
        copy_meta(model_dir, tmp)
        report = {"path": str(out_dir), "architecture": read_config(tmp)["architectures"][0],
                  "per_expert_layout": per_expert_layout(tmp)}
        if verify:
            report["max_abs_logit_diff"] = _logit_diff(model, load_model(tmp), tokenizer)
            if report["max_abs_logit_diff"] != 0.0:
                raise ModelError(f"the exported model's logits differ from the source's by "
                                 f"{report['max_abs_logit_diff']:.3g}")
    return report


@torch.no_grad()
def _logit_diff(a, b, tokenizer) -> float:
    ids = torch.tensor([conversation_ids(tokenizer, *CHECK_CONVERSATIONS[0])])
    return float((a(input_ids=ids).logits - b(input_ids=ids).logits).abs().max())


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
