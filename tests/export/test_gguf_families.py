"""llama.cpp accepts every MoE format assemble writes (issue #14 must-show 3): tiny random
Llama, Qwen2 and Qwen3 experts -> Mixtral, Qwen2-MoE, Qwen3-MoE -> llama.cpp's own converter ->
the GGUF runs in llama.cpp with transformers' next-token argmax (Qwen2-MoE: see below). Opt-in: runs where llama.cpp is
installed (`WITH_LLAMA_CPP=1 bash scripts/test.sh`), skipped otherwise."""
from __future__ import annotations

import importlib.util

import pytest

from helpers import families
from smolmoe.core.config import MergeConfig
from smolmoe.export.gguf import check_gguf, export_gguf
from smolmoe.moe.assemble import assemble

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason="llama.cpp is not installed (WITH_LLAMA_CPP=1 bash scripts/test.sh)")

EXPECTED = {"llama": "MixtralForCausalLM", "qwen2": "Qwen2MoeForCausalLM", "qwen3": "Qwen3MoeForCausalLM"}


@pytest.fixture(scope="module")
def real_tokenizer():
    from smolmoe.core.base import resolve_base
    from smolmoe.core.modeldir import load_tokenizer
    return load_tokenizer(resolve_base())


@pytest.mark.parametrize("family", list(EXPECTED))
def test_family_moe_converts_and_runs_in_llama_cpp(family, tmp_path, monkeypatch, real_tokenizer):
    # llama.cpp's converter refuses tokenizers whose pre-tokenizer it does not know (the tests'
    # tiny trained one), so the experts borrow the real SmolLM2 tokenizer; weights stay tiny.
    def save_real(directory):
        real_tokenizer.save_pretrained(directory)
        return real_tokenizer
    monkeypatch.setattr(families, "make_tokenizer", save_real)
    dirs = families.make_family_experts(tmp_path, family, n=3)
    moe = tmp_path / "moe"
    assemble(MergeConfig(experts=[str(d) for d in dirs], output=str(moe), top_k=2,
                         router_init="random", base=str(tmp_path / "base")), experts_root=tmp_path)
    # assemble re-saves the tokenizer through the family's class; Qwen2Tokenizer rewrites the
    # borrowed tokenizer's pre-tokenizer into one the converter does not know (a real Qwen2
    # expert's own tokenizer is known to it), so the MoE gets the borrowed one back verbatim.
    real_tokenizer.save_pretrained(moe)
    report = export_gguf(moe, tmp_path / "moe-f32.gguf", "f32")
    assert report["architecture"] == EXPECTED[family] and report["bytes"] > 0
    result = check_gguf(report["path"], moe)
    print(f"{family}: {result['agree']}/{result['positions']} ({result['agreement']:.2%}), "
          f"max|dlogit| {result['max_abs_logit_diff']:.3g}")
    # Qwen2-MoE: llama.cpp's qwen2moe graph never renormalises the top-k routing weights
    # (build_moe_ffn with norm_w=false), while the Qwen2-MoE assemble writes has
    # norm_topk_prob=True: the same weights, a slightly different function (measured 97.2% of
    # argmax agree, max |dlogit| 0.03). A broken file agrees nowhere (all-NaN logits: 0%).
    floor = 0.9 if family == "qwen2" else 0.99
    assert result["positions"] > 300 and result["agreement"] >= floor
