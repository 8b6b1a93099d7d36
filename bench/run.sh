#!/usr/bin/env bash
# The benchmark command: each service's main routes under concurrent load on loopback,
# against a private AWS emulator, beside a plain axum hello route (the machine's ceiling).
#   bench/run.sh                  # build (release), run (~2 min), print the figures and
#                                 # write them to bench/results/latest.md
#   bench/run.sh --duration 10    # options: bench/run.sh --help
# Installs what it needs (the emulator's venv, the issuer's npm packages) like the other
# scripts; uses spare ports, so a running scripts/dev.sh is not disturbed. Logs: .run/bench/
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  script_header bench/run.sh
  # The options are the bench binary's; any build of it lists them.
  for bench in target/release/bench target/debug/bench; do
    if [ -x "$bench" ]; then echo; exec "$bench" --help; fi
  done
  echo "(the options are listed once the bench binary is built: cargo build -p bench)"
  exit 0
fi

scripts/emulator.sh install
scripts/oidc-issuer.sh
if [[ " $* " == *" --profile "* ]]; then
  # Flamegraphs of perf's samples (bench --profile): inferno, pinned, under .tools/.
  [[ -x .tools/inferno/bin/inferno-flamegraph ]] ||
    cargo install --quiet --locked inferno --version 0.12.3 --root .tools/inferno
  command -v perf >/dev/null || { echo "bench: --profile needs perf (apt-get install linux-perf)" >&2; exit 2; }
fi

cold=
[ -x target/release/bench ] || cold="compiles the workspace optimised, ~13 min on 2 cores"
# shellcheck disable=SC2046  # progress_flag is one word or none
long_step "bench: building release binaries" "$cold" cargo build --release --bins $(progress_flag)

exec target/release/bench "$@"
