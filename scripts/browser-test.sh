#!/usr/bin/env bash
# The browser suite: tests/browser (pytest + Playwright for Python, pinned) drives Debian's
# chromium through the console on the dev stack: every flow with JavaScript and without,
# axe-core on every page, a forged cross-site form, no token in any page, page weights.
#   scripts/browser-test.sh [PYTEST ARGS...]     # e.g. -k operator
# Installs what it needs: Debian's chromium (apt-get, when /usr/bin/chromium is missing)
# and the pinned Python packages into .tools/browser; never `playwright install` (it
# downloads a browser). Builds the binaries with the caller's cargo flags (CI passes its
# test step's clippy wrapper, so nothing compiles twice), starts scripts/dev.sh (fixed
# ports 8080-8083, 9000, 9101-9105: on a shared machine run it in a network namespace of
# your own, see docs/development.md), runs the suite, stops the stack.
# Screenshots of every page and the report (axe, weights): .run/browser/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked scripts/browser-test.sh "${1:-}"
started=$(date +%s)

if [ ! -x /usr/bin/chromium ]; then
  echo "browser-test: installing Debian's chromium (apt-get)" >&2
  sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
venv_install .tools/browser tests/browser/requirements.txt
echo "browser-test: $(/usr/bin/chromium --version 2>/dev/null | head -n1)" >&2

echo "browser-test: building the binaries (a no-op after CI's test step)" >&2
cargo build --workspace --all-targets --quiet
trap 'scripts/dev.sh stop >/dev/null' EXIT
# What dev.sh prints (the console's URL, the operator sign-in) is what the Done-when walk
# (tests/browser/test_walk.py) starts from, as a new person would.
mkdir -p .run
if ! DEV_SKIP_BUILD=1 scripts/dev.sh --detach 2>.run/dev-printed.txt; then
  cat .run/dev-printed.txt >&2
  exit 1
fi
cat .run/dev-printed.txt >&2

rm -rf .run/browser
DEV_PRINTED=.run/dev-printed.txt SHOTS_DIR=.run/browser .tools/browser/bin/python -m pytest tests/browser -p no:cacheprovider -q "$@"
echo "browser-test: done in $(( $(date +%s) - started ))s (screenshots and report: .run/browser/)" >&2
