#!/usr/bin/env bash
# Supply-chain policy of the dependency tree (deny.toml), offline: every crate's license is
# one the platform accepts, banned crates stay out (openssl: the platform is rustls-only),
# every crate comes from crates.io.
#   scripts/deny.sh             # cargo deny check licenses bans sources
# cargo-deny (pinned) is installed from crates.io into .tools/cargo-deny on first use, again
# when the pin below changes; CI caches .tools/cargo-deny. A debug build: ~3 min on 2 busy
# cores instead of ~11 for a release build, and the check still takes seconds.
# Offline: `--offline` reads Cargo.lock and the local registry cache only (the advisory
# database, which needs the network, is not checked here).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked scripts/deny.sh "${1:-}"

CARGO_DENY_VERSION=0.20.2
TOOLS=.tools/cargo-deny
BIN="$TOOLS/bin/cargo-deny"

if [ ! -x "$BIN" ] || [ "$("$BIN" --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
  echo "deny: installing cargo-deny $CARGO_DENY_VERSION into $TOOLS" >&2
  started=$SECONDS
  rm -rf "$TOOLS"
  # Its own target dir: the workspace's is not polluted, and it goes away afterwards.
  CARGO_TARGET_DIR="$TOOLS/build" cargo install --quiet --locked --debug --root "$TOOLS" \
    cargo-deny --version "$CARGO_DENY_VERSION"
  rm -rf "$TOOLS/build"
  echo "deny: installed in $((SECONDS - started))s" >&2
fi

# The dependency graph (cargo metadata) needs the manifest of every crate in Cargo.lock, for
# every target, more than a build downloads: `cargo fetch` gets the missing ones once.
cargo fetch --locked --offline --quiet 2>/dev/null || cargo fetch --locked --quiet
"$BIN" --offline --locked check --hide-inclusion-graph licenses bans sources
