#!/usr/bin/env bash
# Runs every test: the C++ suites (unit, storage, HTTP) against SQLite and a throwaway
# PostgreSQL that this script starts, then the browser tests against a real server.
# Exits non-zero if anything failed; the last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=$(nproc)

failed=0
passed=0

echo "== C++ tests (SQLite and PostgreSQL)"
log=$(mktemp)
bash scripts/with-postgres.sh ctest --test-dir "$build" --output-on-failure -j "$jobs" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
if [[ $line =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
  failed=$((failed + BASH_REMATCH[1]))
  passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
elif ((rc != 0)); then
  failed=$((failed + 1))
fi
((rc != 0 && failed == 0)) && failed=1
rm -f "$log"

echo "== Browser tests (Chromium)"
log=$(mktemp)
(cd web && REGULARS_BIN="$PWD/../$build/regulars" npm run --silent test:e2e) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
p=$(grep -E "^# pass [0-9]+" "$log" | tail -1 | awk '{print $3}')
f=$(grep -E "^# fail [0-9]+" "$log" | tail -1 | awk '{print $3}')
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
((rc != 0 && ${f:-0} == 0)) && failed=$((failed + 1))
rm -f "$log"

echo "${passed} passed, ${failed} failed"
((failed == 0))
