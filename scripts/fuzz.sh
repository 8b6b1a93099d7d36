#!/usr/bin/env bash
# Hostile input against every service through its served spec: schemathesis (pinned, in
# .tools/fuzz) generates valid and invalid requests from each `/openapi.json` and checks
# that no answer is a 5xx and that every status, body, content type and header is the one
# the spec documents. Settings and the reasons behind them: scripts/fuzz.toml.
#   scripts/fuzz.sh                    # all three services
#   scripts/fuzz.sh sales-service      # some of them
# Runs the debug binaries the tests built ($CARGO_TARGET_DIR/debug, `cargo build --bins`),
# against the shared AWS emulator (started unless one answers) with fresh tables, and
# starts its own OIDC issuer and stand-ins; everything on free ports, so a running
# scripts/dev.sh is not disturbed. Stops what it started. Logs: .run/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

VENV=.tools/fuzz
REQUIREMENTS=scripts/requirements-fuzz.txt
RUN=.run/fuzz
BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug"
SERVICES=(user-service sales-service integration-service)
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
run_id="fuzz-$(date +%s)-$$-"
export TABLE_PREFIX="$run_id" AUTO_CREATE_RESOURCES=true SHUTDOWN_DRAIN_SECONDS=0
export LOG_FORMAT=pretty RUST_LOG="${RUST_LOG:-info}"

# A free loopback port, picked by the kernel.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json_field FIELD: reads a JSON object on stdin and prints one of its string fields.
json_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# --- peers ---------------------------------------------------------------------------
issuer_port=$(free_port)
ISSUER="http://127.0.0.1:$issuer_port"
sms_port=$(free_port)
okta_port=$(free_port)
partner_port=$(free_port)
launch oidc-issuer node tools/oidc-issuer/issuer.mjs --port "$issuer_port"
# The Okta rate limit is raised: the fuzzer is not a throttling test, and a throttled
# upstream would only turn its requests into 503s.
launch stand-ins "$BIN/stand-ins" \
  sms --bind "127.0.0.1:$sms_port" --username sandbox --api-key fuzz-sms-key \
  okta --bind "127.0.0.1:$okta_port" --org acme --api-token fuzz-okta-token --users 30 \
  --rate-limit 100000 \
  partner --bind "127.0.0.1:$partner_port" --providers 40
wait_ready oidc-issuer "$ISSUER/.well-known/openid-configuration"
wait_ready stand-ins "http://127.0.0.1:$sms_port/__stand-in/messages"

# access_token RESOURCE SCOPES: a client-credentials token from the issuer.
access_token() {
  curl -fsS -u platform-dev:platform-dev-secret "$ISSUER/token" \
    -d grant_type=client_credentials -d "resource=$1" -d "scope=$2" | json_field access_token
}

# --- services ------------------------------------------------------------------------
declare -A port
for service in "${SERVICES[@]}"; do
  port[$service]=$(free_port)
  case "$service" in
    user-service)
      # The fuzzer is one address sending thousands of sign-ups: the per-address sign-up
      # limit (tested in tests/api/security.rs) would leave the route's logic unfuzzed.
      launch "$service" env BIND_ADDR="127.0.0.1:${port[$service]}" \
        AVATAR_BUCKET="${run_id}avatars" ADMIN_USERNAME=admin ADMIN_PASSWORD=fuzz-admin-password \
        SIGNUPS_PER_ADDRESS_PER_MINUTE=1000000 \
        "$BIN/$service"
      ;;
    sales-service)
      launch "$service" env BIND_ADDR="127.0.0.1:${port[$service]}" \
        OIDC_ISSUER_URL="$ISSUER" OIDC_AUDIENCE=api://sales \
        AFRICASTALKING_BASE_URL="http://127.0.0.1:$sms_port" AFRICASTALKING_USERNAME=sandbox \
        AFRICASTALKING_API_KEY=fuzz-sms-key \
        "$BIN/$service"
      ;;
    integration-service)
      tenants="{\"acme\":{
        \"callers\":{\"integrations:read\":[\"platform-dev\"],\"integrations:write\":[\"platform-dev\"]},
        \"okta\":{\"base_url\":\"http://127.0.0.1:$okta_port\",\"auth\":{\"method\":\"api_token\"}},
        \"providers\":{\"base_url\":\"http://127.0.0.1:$partner_port\",\"auth\":{\"method\":\"checksum\"}}}}"
      launch "$service" env BIND_ADDR="127.0.0.1:${port[$service]}" \
        TENANTS_JSON="$tenants" SECRETS_BACKEND=env SECRET_INTEGRATIONS_ACME_OKTA=fuzz-okta-token \
        OIDC_ISSUER_URL="$ISSUER" OIDC_AUDIENCE=api://integrations \
        "$BIN/$service" serve
      ;;
  esac
done

# sign_up BASE USERNAME: a new account whose password is USERNAME-password.
sign_up() {
  curl -fsS -o /dev/null -X POST "$1/user" -H 'content-type: application/json' \
    -d "{\"username\":\"$2\",\"password\":\"$2-password\",\"name\":\"$2\",\"email\":\"$2@example.com\"}"
}
# session BASE USERNAME PASSWORD: a session token of that account.
session() {
  curl -fsS -X POST "$1/auth" -d "username=$2" -d "password=$3" | json_field token
}

# fuzz SERVICE TOKEN [ST ARGS...]: schemathesis against the service's spec, as the bearer of
# TOKEN. scripts/fuzz.toml puts it in the headers, and takes from the environment what
# some operations need instead: user-service's logout its own session ($logout_token),
# sales-service's new orders an existing customer ($customer_id).
failed=()
logout_token=
customer_id=
fuzz() {
  local service=$1 token=$2
  shift 2
  echo "fuzz: $service $*" >&2
  if ! FUZZ_TOKEN=$token FUZZ_LOGOUT_TOKEN=$logout_token FUZZ_CUSTOMER_ID=$customer_id \
    "$VENV/bin/st" \
    --config-file scripts/fuzz.toml run "http://127.0.0.1:${port[$service]}/openapi.json" \
    --report har --report-dir "$RUN/$service" "$@"; then
    failed+=("$service")
  fi
}

# --- credentials, then the fuzzer ----------------------------------------------------
for service in "${SERVICES[@]}"; do
  base="http://127.0.0.1:${port[$service]}"
  wait_ready "$service" "$base/readyz"
  case "$service" in
    user-service)
      # As the admin, every account route reaches its real work (on fuzzer's account,
      # among others); then as the plain user owner, the owner's and the others' answers
      # (not deleting itself, which would leave nothing but 401s). Logout gets a session
      # of its own: it would revoke the one the other operations use.
      sign_up "$base" fuzzer
      logout_token=$(session "$base" fuzzer fuzzer-password)
      token=$(session "$base" admin fuzz-admin-password)
      fuzz "$service" "$token"
      sign_up "$base" owner
      logout_token=$(session "$base" owner owner-password)
      token=$(session "$base" owner owner-password)
      fuzz "$service" "$token" --include-path-regex '^/user/' --exclude-method DELETE
      ;;
    sales-service)
      token=$(access_token api://sales 'sales:read sales:write')
      customer_id=$(curl -fsS -X POST "$base/api/v1/sales/customers" \
        -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"name":"Fuzzer","phone_number":"+254711000000"}' | json_field id)
      fuzz "$service" "$token"
      ;;
    integration-service)
      token=$(access_token api://integrations 'integrations:read integrations:write')
      fuzz "$service" "$token"
      ;;
  esac
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in ${failed[*]} (service logs in $RUN/)" >&2
  exit 1
fi
echo "fuzz: no failures" >&2
