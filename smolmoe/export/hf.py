"""`smolmoe export --format hf`: a clean HF directory, checked against the source.

Stock transformers loads the model and `save_pretrained` writes it again. transformers 5.x
stores Mixtral experts fused in memory but writes the per-expert layout
(`block_sparse_moe.experts.N.w1/w2/w3`) that other tools read; we check that layout and that
the reloaded logits are identical to the source's.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..core.errors import ModelError
from ..core.io import atomic_dir, check_output_not_input, check_writable_target
from ..core.modeldir import check_model_dir, copy_meta, load_model, load_tokenizer, read_config, write_model
from ..data.records import ensure_template, render_chat

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
