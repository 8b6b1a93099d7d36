#!/usr/bin/env bash
# The flakiness check: the whole suite (scripts/test.sh) RUNS times in a row while
# stress-ng keeps every core busy, as CI's machine may be right after a session.
#   scripts/test-under-load.sh [RUNS]     (default 3; installs stress-ng from Debian)
# Prints each run's result and time; exits non-zero if any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked scripts/test-under-load.sh "${1:-}"

runs="${1:-3}"
if ! command -v stress-ng >/dev/null; then
  echo "installing stress-ng (Debian)" >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq stress-ng >/dev/null
fi

# Build first, unloaded: the check is of the tests, not of the compiler's patience.
# shellcheck disable=SC2046  # progress_flag is one word or none
long_step "building the tests" "" cargo test --workspace --all-targets --no-run $(progress_flag)

stress-ng --cpu "$(nproc)" --timeout 0 --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null || true' EXIT

failed=0
log_dir=$(mktemp -d)
for run in $(seq 1 "$runs"); do
  started=$(date +%s)
  if scripts/test.sh >"$log_dir/run-$run.log" 2>&1; then
    result=passed
  else
    result=FAILED
    failed=$((failed + 1))
  fi
  counts=$(grep -E '^test result:' "$log_dir/run-$run.log" |
    awk '{p += $4; f += $6} END {printf "%d tests passed, %d failed", p, f}')
  printf 'run %d/%d under stress-ng --cpu %d: %s in %ss (%s)\n' \
    "$run" "$runs" "$(nproc)" "$result" "$(($(date +%s) - started))" "$counts"
  if [ "$result" = FAILED ]; then
    grep -E '^(test .* FAILED|---- |thread .* panicked)' "$log_dir/run-$run.log" | head -20 || true
  fi
done
echo "logs: $log_dir"
echo "$((runs - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
