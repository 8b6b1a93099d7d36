#!/usr/bin/env bash
# The local AWS emulator (moto in server mode): DynamoDB, S3 and Secrets Manager on loopback.
#   scripts/emulator.sh install   # venv under .tools/ (pinned, idempotent)
#   scripts/emulator.sh start     # start unless something already answers on the port
#   scripts/emulator.sh stop
#   scripts/emulator.sh status
# Port: EMULATOR_PORT (default 4566, LocalStack's, so one AWS_ENDPOINT_URL fits both).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked scripts/emulator.sh "${1:-}"

PORT="${EMULATOR_PORT:-4566}"
VENV=.tools/moto
RUN_DIR=.run
REQUIREMENTS=scripts/requirements-emulator.txt
ENDPOINT="http://127.0.0.1:${PORT}"
# Per port: a test run (EMULATOR_PORT=46xx) and a dev stack (4566) in one checkout each
# stop only their own emulator.
PID_FILE="$RUN_DIR/moto-$PORT.pid"
LOG_FILE="$RUN_DIR/moto-$PORT.log"

healthy() {
  curl -fsS -m 2 -X POST "$ENDPOINT/" \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{}' 2>/dev/null | grep -q TableNames
}

install() {
  venv_install "$VENV" "$REQUIREMENTS"
}

start() {
  if healthy; then
    echo "emulator: already answering at $ENDPOINT" >&2
    return 0
  fi
  install
  mkdir -p "$RUN_DIR"
  # moto's server with DynamoDB requests one at a time: see emulator_server.py.
  nohup "$VENV/bin/python" scripts/emulator_server.py -H 127.0.0.1 -p "$PORT" >"$LOG_FILE" 2>&1 &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 300); do
    if healthy; then
      echo "emulator: ready at $ENDPOINT (pid $(cat "$PID_FILE"))" >&2
      return 0
    fi
    sleep 0.1
  done
  echo "emulator: did not become healthy; see $LOG_FILE" >&2
  return 1
}

stop() {
  if [ -f "$PID_FILE" ]; then
    kill "$(cat "$PID_FILE")" 2>/dev/null || true
    rm -f "$PID_FILE"
  fi
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) if healthy; then echo "up at $ENDPOINT"; else echo "down"; exit 1; fi ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
