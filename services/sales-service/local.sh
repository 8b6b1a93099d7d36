# shellcheck shell=bash disable=SC2034  # what it sets is read by scripts/lib.sh callers
# How the repository's scripts run sales-service on this machine: read by scripts/lib.sh
# load_service, which describes what this file sets and what it may use.
DEV_PORT=8082
DEV_NOTE="OIDC token, audience api://sales"
SMOKE_TEST="a customer created with an OIDC token"

service_env() {
  ENV=(OIDC_ISSUER_URL="$ISSUER" OIDC_AUDIENCE=api://sales
    AFRICASTALKING_BASE_URL="$SMS_URL" AFRICASTALKING_USERNAME=sandbox
    AFRICASTALKING_API_KEY="$SMS_API_KEY"
    SMS_DELIVERY_REPORT_TOKEN="${SMS_REPORT_TOKEN:-local-delivery-report-token-0123456789}")
  ARGS=()
}

# new_customer URL TOKEN: creates a customer, prints its id.
new_customer() {
  curl -fsS -X POST "$1/api/v1/sales/customers" -H "authorization: Bearer $2" \
    -H 'content-type: application/json' -d '{"name":"Fuzzer","phone_number":"+254711000000"}' |
    json_field id
}

smoke_test() {
  local token
  token=$(access_token api://sales 'sales:read sales:write') && new_customer "$1" "$token" >/dev/null
}

# New orders need an existing customer (FUZZ_CUSTOMER_ID, scripts/fuzz.toml).
fuzz_service() {
  local token
  token=$(access_token api://sales 'sales:read sales:write')
  FUZZ_CUSTOMER_ID=$(new_customer "$1" "$token")
  fuzz "$token"
}
