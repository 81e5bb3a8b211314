#!/usr/bin/env bash
# README command two: installs what it needs (scripts/setup.sh), then typecheck, lint and
# every test level: unit, workflow (time-skipping) and integration (real Postgres and
# Temporal). Extra arguments go to mocha, e.g. `npm test -- --grep gestation`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
source "${HORSE_TEMPO_CACHE:-$HOME/.cache/horse-tempo}/env.sh"
export PATH="$PWD/node_modules/.bin:$PATH"
echo "== typecheck (tsc)"
tsc --noEmit
echo "== lint (eslint)"
eslint . --max-warnings 0
echo "== tests (mocha)"
if [ "$#" -gt 0 ]; then
  mocha "$@"
else
  mocha 'test/unit/**/*.test.ts' 'test/workflows/**/*.test.ts' 'test/replay/**/*.test.ts' 'test/integration/**/*.test.ts' 'test/e2e/**/*.test.ts'
fi
