#!/usr/bin/env bash
# The main job: install, then run the demo pipeline on the embedded default base model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec ${PYTHON:-python3} scripts/demo.py "$@"
