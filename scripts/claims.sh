#!/usr/bin/env bash
# The claims check: re-measure the README's and docs' headline figures as a fresh machine
# would, from an empty $SMOLMOE_HOME and with no pip cache (so a source that is gone fails it).
#   CLAIMS_HOME  keep the run's home here instead of a new temporary one
#   CLAIMS_OUT   where claims.json, claims.md and the logs go (default runs/claims)
# Extra arguments go to scripts/claims.py (e.g. --stages demo,bench).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_NO_CACHE_DIR=1
export SMOLMOE_HOME=${CLAIMS_HOME:-$(mktemp -d -t smolmoe-claims-XXXXXX)}
echo "claims: SMOLMOE_HOME=$SMOLMOE_HOME"
bash scripts/install.sh
exec ${PYTHON:-python3} scripts/claims.py --out "${CLAIMS_OUT:-runs/claims}" "$@"
