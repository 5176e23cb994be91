#!/usr/bin/env bash
# Installs what token-agent needs to build and run: pnpm, the npm packages, then builds.
# Used by `npm run demo` and `npm test`; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: installing pnpm 10 (npm install -g pnpm@10)" >&2
  npm install -g pnpm@10 >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent
pnpm -s build
