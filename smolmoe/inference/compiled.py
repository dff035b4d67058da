"""Opt-in `torch.compile` of the decoder (decode steps and prefills), its artefacts cached on disk.

`SMOLMOE_COMPILE=1` compiles the decoder of every model loaded for chat, serve, inspect and
task evaluation (quant.load_for_decoding), with dynamic shapes, so the growing KV cache and the
changing number of rows do not recompile at each step. Inductor's FX graph cache and AOT
autograd's cache live under $SMOLMOE_HOME/compile-cache (TORCHINDUCTOR_CACHE_DIR), so a second
start loads the compiled kernels instead of building them; dynamo still traces the Python at
each start (its own cache, `caching_precompile`, failed on this model in torch 2.13: "guards_state
must not be None"). Routing still shows per token: the router logits are outputs of the
forward (router_outputs.py), not hook side effects that a compiled graph would drop.

Off by default until it is measured faster (docs/serving.md). Eager is the fallback: a compile
that fails says so in one line on stderr and the model decodes eagerly from then on.
"""
from __future__ import annotations

import os
import sys

import torch

ENV = "SMOLMOE_COMPILE"


def wanted() -> bool:
    return os.environ.get(ENV, "") == "1"


def use_disk_cache() -> str:
    """Point inductor's and AOT autograd's caches at $SMOLMOE_HOME/compile-cache (before any
    compile: inductor reads the directory at each cache lookup)."""
    from ..core.config import home_path
    path = str(home_path("compile"))
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = path
    torch._inductor.config.fx_graph_cache = True
    torch._functorch.config.enable_autograd_cache = True
    return path


class CompiledForward:
    """A module's forward compiled, falling back to the eager forward (for good) on failure."""

    def __init__(self, forward):
        self.eager = forward
        self.compiled = torch.compile(forward, dynamic=True)
        self.reason: str | None = None        # why eager is used, once it is

    def __call__(self, *args, **kwargs):
        if self.reason is None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as e:     # any compile failure: the eager forward still works
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
                self.reason = f"torch.compile failed ({type(e).__name__}: {first})"
                print(f"smolmoe: decoding eagerly: {self.reason}", file=sys.stderr)
        return self.eager(*args, **kwargs)


def compile_for_decoding(model) -> CompiledForward:
    """Compile the model's decoder forward in place (the LM head runs on one position per row
    in a decode step: router_outputs.forward applies it eagerly)."""
    use_disk_cache()
    decoder = model.get_decoder()
    decoder.forward = CompiledForward(decoder.forward)
    return decoder.forward
