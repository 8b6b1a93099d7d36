#!/usr/bin/env bash
# The run command: the whole platform on this machine, ready to curl.
#   scripts/dev.sh            # start everything; Ctrl-C stops everything
#   scripts/dev.sh --detach   # start everything in the background and return
#   scripts/dev.sh stop       # stop what --detach started
# Starts the AWS emulator (each service creates its tables and bucket at start), a local
# OpenID Connect issuer, the stand-ins for the external APIs (SMS, two Okta orgs, the
# partner providers API), and every service (scripts/lib.sh `services`; each one's settings
# come from its services/<name>/local.sh). Logs: .run/dev/<name>.log
# Needs nothing set. Optional: EMULATOR_PORT (default 4566), RUST_LOG (default info),
# DEV_SKIP_BUILD=1 (run target/debug's binaries as they are: scripts/readme-test.sh).
# Fixed ports 8080-8083, 9000, 9101-9105: on a shared machine, run it in a network
# namespace of your own. The first run compiles the workspace (~6 min on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked scripts/dev.sh "${1:-}"

RUN=.run/dev
mkdir -p "$RUN"

stop_all() {
  stop_launched
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

aws_emulator_env
export LOG_FORMAT=pretty RUST_LOG="${RUST_LOG:-info}"
export TABLE_PREFIX=dev- AUTO_CREATE_RESOURCES=true SHUTDOWN_DRAIN_SECONDS=0
ISSUER=http://127.0.0.1:9000

if ! scripts/emulator.sh status >/dev/null 2>&1; then
  scripts/emulator.sh start
  touch "$RUN/emulator-started"
fi
scripts/oidc-issuer.sh

cold=
[ -x "target/debug/$(services | head -n1)" ] || cold="compiles the workspace, ~6 min on 2 cores"
if [ -z "${DEV_SKIP_BUILD:-}" ]; then
  # shellcheck disable=SC2046  # progress_flag is one word or none
  long_step "building the services (debug profile, shared with the tests)" "$cold" \
    cargo build --bins $(progress_flag)
fi

# --- peers: the OIDC issuer and the stand-ins for the external APIs -----------------
# shellcheck disable=SC2034  # RUN_ID: read by services/<name>/local.sh
RUN_ID=dev- SMS_URL=http://127.0.0.1:9101 SMS_API_KEY=dev-sms-key
# The SMS stand-in posts delivery reports to sales-service (port 8082) as Africa's Talking
# does to the URL registered on the account; the token is that URL's secret.
SMS_REPORT_TOKEN=dev-delivery-report-token-0123456789abcdef
OKTA_URL=http://127.0.0.1:9102 OKTA_TOKEN=stand-in-token-acme PARTNER_URL=http://127.0.0.1:9104
launch oidc-issuer node tools/oidc-issuer/issuer.mjs --port 9000
launch stand-ins target/debug/stand-ins \
  sms --bind "${SMS_URL#http://}" --username sandbox --api-key "$SMS_API_KEY" \
      --delivery-reports "http://127.0.0.1:8082/api/v1/sales/sms/delivery-reports/$SMS_REPORT_TOKEN" \
  okta --bind "${OKTA_URL#http://}" --org acme --api-token "$OKTA_TOKEN" --users 30 \
  okta --bind 127.0.0.1:9103 --org globex --api-token stand-in-token-globex --users 30 \
  partner --bind "${PARTNER_URL#http://}" --providers 40 \
  graph --bind 127.0.0.1:9105 --tenant initech --client-id dev-graph-app \
        --client-secret stand-in-secret-initech --users 30
wait_ready oidc-issuer "$ISSUER/.well-known/openid-configuration"
wait_ready stand-ins "$SMS_URL/__stand-in/messages"

# --- the services (each one's port and settings: services/<name>/local.sh) ------------
mapfile -t SERVICES < <(services)
banner=()
for service in "${SERVICES[@]}"; do
  load_service "$service" dev
  service_env
  launch "$service" env BIND_ADDR="127.0.0.1:$DEV_PORT" "${ENV[@]}" "target/debug/$service" "${ARGS[@]}"
  banner+=("$(printf '  %-20s http://127.0.0.1:%s   (%s)' "$service" "$DEV_PORT" "$DEV_NOTE")")
done
for service in "${SERVICES[@]}"; do
  load_service "$service" dev
  wait_ready "$service" "http://127.0.0.1:$DEV_PORT/readyz"
done

{
  echo
  if [ -f services/console/local.sh ]; then
    echo "Open the console in a browser: http://127.0.0.1:$(load_service console dev && echo "$DEV_PORT")"
    echo
  fi
  echo "Platform running (logs in .run/dev/; each service has /swagger, /metrics, /readyz):"
  printf '%s\n' "${banner[@]}"
  cat <<'MSG'
  OIDC issuer          http://127.0.0.1:9000   (client platform-dev / platform-dev-secret;
                                               operator sign-in: operator / operator-password-1)
  SMS stand-in         http://127.0.0.1:9101/__stand-in/messages   (every SMS sent)
  Okta stand-ins       :9102 (acme), :9103 (globex); partner API :9104
  Microsoft Graph      :9105 (initech: tenant id cbe7439a-6adc-49da-82c3-863036017297)
MSG
} >&2

if [ "${1:-}" = "--detach" ]; then
  echo "detached; stop with: scripts/dev.sh stop" >&2
  exit 0
fi
trap 'stop_all; exit 0' INT TERM
echo "Ctrl-C stops everything." >&2
wait
