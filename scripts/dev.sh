#!/usr/bin/env bash
# README command one: installs what it needs, then starts Postgres, Temporal (with its
# Web UI), the local stand-ins, the workers and the API. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
source "${HORSE_TEMPO_CACHE:-$HOME/.cache/horse-tempo}/env.sh"
export PATH="$PWD/node_modules/.bin:$PATH"
exec node --import tsx scripts/dev-stack.ts
