#!/usr/bin/env bash
# The test command: installs and starts what the tests need, then runs the whole suite.
#   - the AWS emulator (moto, pinned, under .tools/), started unless one already answers;
#   - the OIDC issuer's npm packages (tools/oidc-issuer), installed from its lockfile;
#   - every crate's unit and integration tests, with the services' warnings in the output
#     of any test that fails (TEST_LOG, see crates/test-support/src/logs.rs);
#   - with no arguments, also the OIDC issuer's own tests (node --test, about a second).
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p user-service`).
# Needs nothing set. Optional: EMULATOR_PORT (default 4566; one per person on a shared
# machine), TEST_LOG (default warn), CARGO_TARGET_DIR. The first run compiles everything
# (.ci/run, whose main step this is, takes ~19 min cold on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked scripts/test.sh "${1:-}"

aws_emulator_env

if ! scripts/emulator.sh status >/dev/null 2>&1; then
  scripts/emulator.sh start
  trap 'scripts/emulator.sh stop' EXIT
fi

scripts/oidc-issuer.sh

export TEST_LOG="${TEST_LOG:-warn}"

cargo test --workspace --all-targets "$@"

if [ $# -eq 0 ]; then
  node --test tools/oidc-issuer/
fi
