#!/usr/bin/env bash
# The main job on an embedded default: a local demo OP, a private agent, an account, a token.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx scripts/demo.ts
