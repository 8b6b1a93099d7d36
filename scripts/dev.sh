#!/usr/bin/env bash
# The run command: the whole platform on this machine, ready to curl.
#   scripts/dev.sh            # start everything; Ctrl-C stops everything
#   scripts/dev.sh --detach   # start everything in the background and return
#   scripts/dev.sh stop       # stop what --detach started
# Starts the AWS emulator (each service creates its tables and bucket at start), a local
# OpenID Connect issuer, the stand-ins for the external APIs (SMS, two Okta orgs, the
# partner providers API), and the three services. Logs: .run/dev/<name>.log
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

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

echo "building the services (debug profile, shared with the tests)..." >&2
cargo build --bins --quiet

# --- peers: the OIDC issuer and the stand-ins for the external APIs -----------------
launch oidc-issuer node tools/oidc-issuer/issuer.mjs --port 9000
launch stand-ins target/debug/stand-ins \
  sms --bind 127.0.0.1:9101 --username sandbox --api-key dev-sms-key \
  okta --bind 127.0.0.1:9102 --org acme --api-token stand-in-token-acme --users 30 \
  okta --bind 127.0.0.1:9103 --org globex --api-token stand-in-token-globex --users 30 \
  partner --bind 127.0.0.1:9104 --providers 40
wait_ready oidc-issuer "$ISSUER/.well-known/openid-configuration"
wait_ready stand-ins http://127.0.0.1:9101/__stand-in/messages

# --- the services --------------------------------------------------------------------
launch user-service env BIND_ADDR=127.0.0.1:8081 AVATAR_BUCKET=dev-avatars \
  ADMIN_USERNAME=admin ADMIN_PASSWORD=admin-password-1 \
  target/debug/user-service

launch sales-service env BIND_ADDR=127.0.0.1:8082 \
  OIDC_ISSUER_URL="$ISSUER" OIDC_AUDIENCE=api://sales \
  AFRICASTALKING_BASE_URL=http://127.0.0.1:9101 AFRICASTALKING_USERNAME=sandbox \
  AFRICASTALKING_API_KEY=dev-sms-key \
  target/debug/sales-service

# Two demo tenants (acme: Okta :9102 + partner :9104; globex: Okta :9103), credentials
# from env (SECRETS_BACKEND=env) so no secret has to be seeded into the emulator. Requests
# without X-Tenant-Id act for acme, as the original service's smoke test expects.
launch integration-service env BIND_ADDR=127.0.0.1:8083 \
  TENANTS_FILE=services/integration-service/dev/tenants.json DEFAULT_TENANT=acme SECRETS_BACKEND=env \
  SECRET_INTEGRATIONS_ACME_OKTA=stand-in-token-acme SECRET_INTEGRATIONS_GLOBEX_OKTA=stand-in-token-globex \
  OIDC_ISSUER_URL="$ISSUER" OIDC_AUDIENCE=api://integrations \
  target/debug/integration-service serve

wait_ready user-service http://127.0.0.1:8081/readyz
wait_ready sales-service http://127.0.0.1:8082/readyz
wait_ready integration-service http://127.0.0.1:8083/readyz

cat >&2 <<'MSG'

Platform running (logs in .run/dev/; each service has /swagger, /metrics, /readyz):
  user-service         http://127.0.0.1:8081   (admin / admin-password-1)
  sales-service        http://127.0.0.1:8082   (OIDC token, audience api://sales)
  integration-service  http://127.0.0.1:8083   (OIDC token, audience api://integrations)
  OIDC issuer          http://127.0.0.1:9000   (client platform-dev / platform-dev-secret;
                                               operator sign-in: operator / operator-password-1)
  SMS stand-in         http://127.0.0.1:9101/__stand-in/messages   (every SMS sent)
  Okta stand-ins       :9102 (acme), :9103 (globex); partner API :9104
MSG

if [ "${1:-}" = "--detach" ]; then
  echo "detached; stop with: scripts/dev.sh stop" >&2
  exit 0
fi
trap 'stop_all; exit 0' INT TERM
echo "Ctrl-C stops everything." >&2
wait
