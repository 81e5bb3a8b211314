#!/usr/bin/env bash
# `npm run bench`: bench/run.ts with the project's tools on PATH. Benchmarks never share the
# CPU with a full test suite: both take BENCH_LOCK_FILE (default /tmp/ht-fullsuite.lock,
# empty to skip) when flock exists. --compare only reads files and takes no lock.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
[ -f "${HORSE_TEMPO_CACHE:-$HOME/.cache/horse-tempo}/env.sh" ] && source "${HORSE_TEMPO_CACHE:-$HOME/.cache/horse-tempo}/env.sh"
export PATH="$PWD/node_modules/.bin:$PATH"
lock="${BENCH_LOCK_FILE-/tmp/ht-fullsuite.lock}"
if [[ " $* " != *" --compare "* && -n "$lock" ]] && command -v flock >/dev/null; then
  exec flock "$lock" node --import tsx bench/run.ts "$@"
fi
exec node --import tsx bench/run.ts "$@"
