#!/usr/bin/env bash
# Install with the test extras, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test bash scripts/install.sh
exec ${PYTHON:-python3} -m pytest -q tests "$@"
