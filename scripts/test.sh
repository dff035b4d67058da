#!/usr/bin/env bash
# Install with the test extras (and headless Chromium for the web-page test), then run the suite.
#   WITH_LLAMA_CPP=1  also build llama.cpp for this CPU (scripts/install_llama_cpp.sh: its
#                     server, llama-bench and the llama_cpp Python package over one compile, into
#                     $SMOLMOE_HOME/tools; reused once built) so the GGUF-in-llama.cpp tests run
#                     instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -q && apt-get install -y -q chromium chromium-driver) >/dev/null 2>&1 \
    || echo "warning: could not install chromium; the web-page test will be skipped" >&2
fi
EXTRAS=serve,plot,scratch,test bash scripts/install.sh
if [ "${WITH_LLAMA_CPP:-0}" = 1 ]; then
  bash scripts/install_llama_cpp.sh
fi
exec ${PYTHON:-python3} -m pytest -q tests "$@"
