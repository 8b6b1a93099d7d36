#!/usr/bin/env bash
# The README's promises, checked: its links and the docs' links reach real files and
# headings, the scripts it names answer --help, and every shell block marked
# `<!-- readme-test: expect STATUS... -->` (the README's "Try it" calls, and any doc block
# marked so) runs under sh against the local stack TWICE, its calls answering those
# statuses in order; the README's local links (Swagger UI) answer 200.
#
#   scripts/readme-test.sh            # all of it: builds, starts scripts/dev.sh --detach,
#                                     # runs the blocks twice, stops what it started (~1 min warm)
#   scripts/readme-test.sh links      # only the links and scripts (seconds, no stack)
#
# The binaries are built with `cargo build --workspace --all-targets` and whatever
# RUSTC_WORKSPACE_WRAPPER/CLIPPY_ARGS are set, so after .ci/run's test step nothing
# compiles again. dev.sh's fixed ports (8080-8083, 9000, 9101-9105) must be free: on a
# shared machine run it in a network namespace of your own. Logs: .run/dev/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked scripts/readme-test.sh "${1:-}"

python3 scripts/readme_test.py links
[ "${1:-}" = links ] && exit 0

# shellcheck disable=SC2046  # progress_flag is one word or none
long_step "readme-test: building the binaries" "" cargo build --workspace --all-targets $(progress_flag)
trap 'scripts/dev.sh stop >/dev/null' EXIT
DEV_SKIP_BUILD=1 scripts/dev.sh --detach
python3 scripts/readme_test.py run 2
