# shellcheck shell=bash disable=SC2034  # what it sets is read by scripts/lib.sh callers
# How the repository's scripts run integration-service on this machine: read by
# scripts/lib.sh load_service, which describes what this file sets and what it may use.
DEV_PORT=8083
DEV_NOTE="OIDC token, audience api://integrations"
SMOKE_TEST="Okta users listed through the stand-in"

service_env() {
  ENV=(SECRETS_BACKEND=env SECRET_INTEGRATIONS_ACME_OKTA="$OKTA_TOKEN"
    OIDC_ISSUER_URL="$ISSUER" OIDC_AUDIENCE=api://integrations)
  ARGS=(serve)
  if [ "$MODE" = dev ]; then
    # Three demo tenants (acme: Okta :9102 + partner :9104; globex: Okta :9103; initech:
    # Microsoft Graph :9105, stand-ins' `graph`, its tenant id derived from the name), credentials
    # from env (SECRETS_BACKEND=env) so no secret has to be seeded into the emulator.
    # Requests without X-Tenant-Id act for acme, as the original service's smoke test expects.
    ENV+=(TENANTS_FILE=services/integration-service/dev/tenants.json DEFAULT_TENANT=acme
      SECRET_INTEGRATIONS_GLOBEX_OKTA=stand-in-token-globex
      SECRET_INTEGRATIONS_INITECH_GRAPH=stand-in-secret-initech)
    return
  fi
  ENV+=(TENANTS_JSON="{\"acme\":{
    \"callers\":{\"integrations:read\":[\"platform-dev\"],\"integrations:write\":[\"platform-dev\"]},
    \"okta\":{\"base_url\":\"$OKTA_URL\",\"auth\":{\"method\":\"api_token\"}},
    \"providers\":{\"base_url\":\"$PARTNER_URL\",\"auth\":{\"method\":\"checksum\"}}}}")
  # The image check calls without X-Tenant-Id; the fuzzer names the tenant (scripts/fuzz.toml).
  if [ "$MODE" = images ]; then ENV+=(DEFAULT_TENANT=acme); fi
}

smoke_test() {
  local token
  token=$(access_token api://integrations 'integrations:read integrations:write') &&
    curl -fsS -o /dev/null "$1/okta/list_users" -H "authorization: Bearer $token"
}

fuzz_service() {
  fuzz "$(access_token api://integrations 'integrations:read integrations:write')"
}
