#!/usr/bin/env bash
# The run command: the whole platform on this machine, ready to curl.
#   scripts/dev.sh            # start everything; Ctrl-C stops everything
#   scripts/dev.sh --detach   # start everything in the background and return
#   scripts/dev.sh stop       # stop what --detach started
# Starts the AWS emulator (resources are created by the services at start), the
# stand-ins for the external APIs, a local OIDC issuer, and the three services.
# Logs: .run/dev/<name>.log
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=.run/dev
mkdir -p "$RUN"

stop_all() {
  if [ -f "$RUN/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$RUN/pids"
    rm -f "$RUN/pids"
  fi
  if [ -f "$RUN/emulator-started" ]; then
    scripts/emulator.sh stop
    rm -f "$RUN/emulator-started"
  fi
}

if [ "${1:-}" = "stop" ]; then
  stop_all
  echo "stopped"
  exit 0
fi
stop_all

export AWS_ENDPOINT_URL="http://127.0.0.1:${EMULATOR_PORT:-4566}"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export LOG_FORMAT=pretty RUST_LOG="${RUST_LOG:-info}"
export TABLE_PREFIX=dev- AUTO_CREATE_RESOURCES=true SHUTDOWN_DRAIN_SECONDS=0

if ! scripts/emulator.sh status >/dev/null 2>&1; then
  scripts/emulator.sh start
  touch "$RUN/emulator-started"
fi

echo "building the services (debug profile, shared with the tests)..." >&2
cargo build --bins --quiet

# launch NAME COMMAND... : runs in the background, logs to .run/dev/NAME.log
launch() {
  local name=$1
  shift
  "$@" >"$RUN/$name.log" 2>&1 &
  echo $! >>"$RUN/pids"
}

wait_ready() {
  local name=$1 url=$2
  for _ in $(seq 1 150); do
    if curl -fsS -m 2 "$url" >/dev/null 2>&1; then
      echo "  $name ready at ${url%/*}" >&2
      return 0
    fi
    sleep 0.2
  done
  echo "  $name did not become ready; see $RUN/$name.log" >&2
  return 1
}

# --- user-service ----------------------------------------------------------------
launch user-service env BIND_ADDR=127.0.0.1:8081 AVATAR_BUCKET=dev-avatars \
  ADMIN_USERNAME=admin ADMIN_PASSWORD=admin-password-1 \
  target/debug/user-service

# --- stand-ins and OIDC issuer (BEGIN dev-peers) ---------------------------------
# (END dev-peers)

# --- sales-service (BEGIN sales-service) -----------------------------------------
# (END sales-service)

# --- integration-service (BEGIN integration-service) -----------------------------
# (END integration-service)

wait_ready user-service http://127.0.0.1:8081/readyz

cat >&2 <<'MSG'

Platform running (logs in .run/dev/):
  user-service         http://127.0.0.1:8081   (admin / admin-password-1)   /swagger
MSG

if [ "${1:-}" = "--detach" ]; then
  echo "detached; stop with: scripts/dev.sh stop" >&2
  exit 0
fi
trap 'stop_all; exit 0' INT TERM
echo "Ctrl-C stops everything." >&2
wait
