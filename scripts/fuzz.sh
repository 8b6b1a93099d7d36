#!/usr/bin/env bash
# Hostile input against every service through its served spec: schemathesis (pinned, in
# .tools/fuzz) generates valid and invalid requests from each `/openapi.json` and checks
# that no answer is a 5xx and that every status, body, content type and header is the one
# the spec documents. Settings and the reasons behind them: scripts/fuzz.toml.
#   scripts/fuzz.sh                    # every service (scripts/lib.sh `services`)
#   scripts/fuzz.sh sales-service      # some of them
# Runs the debug binaries the tests built ($CARGO_TARGET_DIR/debug, `cargo build --bins`),
# against the shared AWS emulator (started unless one answers) with fresh tables, and
# starts its own OIDC issuer and stand-ins; everything on free ports, so a running
# scripts/dev.sh is not disturbed. Stops what it started. Logs: .run/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked scripts/fuzz.sh "${1:-}"

VENV=.tools/fuzz
REQUIREMENTS=scripts/requirements-fuzz.txt
RUN=.run/fuzz
BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug"
mapfile -t SERVICES < <(services)
if [ $# -gt 0 ]; then
  only_known "fuzz: unknown service" "${SERVICES[*]}" "$@"
  SERVICES=("$@")
fi

for name in stand-ins "${SERVICES[@]}"; do
  if [ ! -x "$BIN/$name" ]; then
    echo "fuzz: $BIN/$name is missing; build it first (cargo build --bins)" >&2
    exit 1
  fi
done
venv_install "$VENV" "$REQUIREMENTS"
scripts/oidc-issuer.sh

rm -rf "$RUN"
mkdir -p "$RUN"
emulator_started=
stop_all() {
  stop_launched
  if [ -n "$emulator_started" ]; then scripts/emulator.sh stop; fi
}
trap stop_all EXIT

aws_emulator_env
if ! scripts/emulator.sh status >/dev/null 2>&1; then
  scripts/emulator.sh start
  emulator_started=1
fi

# Fresh tables and bucket per run: nothing left over from an earlier run or from dev.sh.
RUN_ID="fuzz-$(date +%s)-$$-"
export TABLE_PREFIX="$RUN_ID" AUTO_CREATE_RESOURCES=true SHUTDOWN_DRAIN_SECONDS=0
export LOG_FORMAT=pretty RUST_LOG="${RUST_LOG:-info}"

# --- peers ---------------------------------------------------------------------------
issuer_port=$(free_port)
ISSUER="http://127.0.0.1:$issuer_port"
SMS_URL="http://127.0.0.1:$(free_port)" SMS_API_KEY=fuzz-sms-key
OKTA_URL="http://127.0.0.1:$(free_port)" OKTA_TOKEN=fuzz-okta-token
PARTNER_URL="http://127.0.0.1:$(free_port)"
launch oidc-issuer node tools/oidc-issuer/issuer.mjs --port "$issuer_port"
# The Okta rate limit is raised: the fuzzer is not a throttling test, and a throttled
# upstream would only turn its requests into 503s.
launch stand-ins "$BIN/stand-ins" \
  sms --bind "${SMS_URL#http://}" --username sandbox --api-key "$SMS_API_KEY" \
  okta --bind "${OKTA_URL#http://}" --org acme --api-token "$OKTA_TOKEN" --users 30 \
  --rate-limit 100000 \
  partner --bind "${PARTNER_URL#http://}" --providers 40
wait_ready oidc-issuer "$ISSUER/.well-known/openid-configuration"
wait_ready stand-ins "$SMS_URL/__stand-in/messages"

# --- services (each one's settings: services/<name>/local.sh) -------------------------
declare -A port
for service in "${SERVICES[@]}"; do
  port[$service]=$(free_port)
  load_service "$service" fuzz
  service_env
  launch "$service" env BIND_ADDR="127.0.0.1:${port[$service]}" "${ENV[@]}" "$BIN/$service" "${ARGS[@]}"
done

# fuzz TOKEN [ST ARGS...]: schemathesis against $service's spec, as the bearer of TOKEN.
# scripts/fuzz.toml puts it in the headers, and takes from the environment what some
# operations need instead, which the service's fuzz_service sets: FUZZ_LOGOUT_TOKEN
# (user-service's logout, its own session), FUZZ_CUSTOMER_ID (sales-service's new orders,
# an existing customer).
failed=()
export FUZZ_LOGOUT_TOKEN='' FUZZ_CUSTOMER_ID=''
fuzz() {
  local token=$1
  shift
  echo "fuzz: $service $*" >&2
  if ! FUZZ_TOKEN=$token "$VENV/bin/st" \
    --config-file scripts/fuzz.toml run "http://127.0.0.1:${port[$service]}/openapi.json" \
    --report har --report-dir "$RUN/$service" "$@"; then
    failed+=("$service")
  fi
}

# --- credentials (each service's fuzz_service), then the fuzzer ------------------------
for service in "${SERVICES[@]}"; do
  base="http://127.0.0.1:${port[$service]}"
  wait_ready "$service" "$base/readyz"
  load_service "$service" fuzz
  fuzz_service "$base"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in ${failed[*]} (service logs in $RUN/)" >&2
  exit 1
fi
echo "fuzz: no failures" >&2
