"""SMOLMOE_COMPILE=1: the compiled decoder gives the eager replies and routing, its kernels are
cached under $SMOLMOE_HOME, and a compile that fails falls back to eager with one line."""
from __future__ import annotations

import torch

from smolmoe.inference import compiled
from smolmoe.inference.generate import ChatModel, GenerationSettings

ASK = [{"role": "user", "content": "add 3 plus 4"}]


def test_a_failed_compile_decodes_eagerly_and_says_why_once(tiny_moe, tmp_path, monkeypatch, capsys):
    def broken(fn, **_kw):
        def run(*_a, **_k):
            raise RuntimeError("no C++ compiler\nmore detail")
        return run
    eager = ChatModel.load(tiny_moe).reply(ASK, GenerationSettings(max_new_tokens=6))
    monkeypatch.setenv("SMOLMOE_HOME", str(tmp_path))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "unused"))   # restored after
    monkeypatch.setenv(compiled.ENV, "1")
    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setattr(torch._inductor.config, "fx_graph_cache", torch._inductor.config.fx_graph_cache)
    monkeypatch.setattr(torch._functorch.config, "enable_autograd_cache",
                        torch._functorch.config.enable_autograd_cache)
    chat = ChatModel.load(tiny_moe)
    assert isinstance(chat.model.get_decoder().forward, compiled.CompiledForward)
    reply = chat.reply(ASK, GenerationSettings(max_new_tokens=6))
    assert (reply.text, reply.experts) == (eager.text, eager.experts)
    err = [line for line in capsys.readouterr().err.splitlines() if "smolmoe" in line]
    assert err == ["smolmoe: decoding eagerly: torch.compile failed (RuntimeError: no C++ compiler)"]
    assert "compile-cache" in __import__("os").environ["TORCHINDUCTOR_CACHE_DIR"]


def test_the_compiled_moe_replies_and_routes_as_eager_and_caches_its_kernels(tiny_moe, tmp_path, monkeypatch):
    import os
    monkeypatch.setenv("SMOLMOE_HOME", str(tmp_path))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "unused"))   # restored after
    monkeypatch.setattr(torch._inductor.config, "fx_graph_cache", torch._inductor.config.fx_graph_cache)
    monkeypatch.setattr(torch._functorch.config, "enable_autograd_cache",
                        torch._functorch.config.enable_autograd_cache)
    settings = GenerationSettings(max_new_tokens=6)
    eager = ChatModel.load(tiny_moe).reply(ASK, settings)
    monkeypatch.setenv(compiled.ENV, "1")
    chat = ChatModel.load(tiny_moe)
    reply = chat.reply(ASK, settings)
    assert chat.model.get_decoder().forward.reason is None          # it really ran compiled
    assert reply.text == eager.text and reply.experts == eager.experts and reply.experts
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "compile-cache")
    assert any((tmp_path / "compile-cache").rglob("*.py"))          # kernels on disk
    torch._dynamo.reset()
