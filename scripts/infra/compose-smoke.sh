#!/usr/bin/env bash
# The try-it flows of docs/services/*.md against a running local stack, from the host:
# `docker compose -f docker-compose.localstack.yml up --wait` (the compose job of
# .github/workflows/compose.yml), or scripts/dev.sh with its ports. Exits non-zero at the
# first flow that does not answer as documented.
#
#   scripts/infra/compose-smoke.sh
#
# Flows: every service ready; sign-up (JSON, and multipart with an avatar), log-in, the
# account, the directory, and the avatar fetched through its presigned URL from the host
# (the URL's host must resolve here: localhost.localstack.cloud); a token from the issuer,
# a customer and an order whose SMS reaches the SMS stand-in; an integrations token and
# Okta users listed through integration-service.
# Env: USERS_URL (default http://127.0.0.1:8081), SALES_URL (:8082), INTEGRATIONS_URL (:8083),
#      ISSUER_URL (http://127.0.0.1:9000), SMS_URL (http://127.0.0.1:9101).
# Needs curl and jq.
set -euo pipefail

USERS="${USERS_URL:-http://127.0.0.1:8081}"
SALES="${SALES_URL:-http://127.0.0.1:8082}"
INTEGRATIONS="${INTEGRATIONS_URL:-http://127.0.0.1:8083}"
ISSUER="${ISSUER_URL:-http://127.0.0.1:9000}"
SMS="${SMS_URL:-http://127.0.0.1:9101}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n--- %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect STATUS CURL_ARGS...: the body goes to $WORK/body, the status must match.
expect() {
  local want="$1" got
  shift
  got=$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 20 "$@") || fail "curl $* did not answer"
  [[ "$got" == "$want" ]] || fail "curl $* answered $got, not $want: $(head -c 400 "$WORK/body")"
}
token() {
  curl -fsS -u platform-dev:platform-dev-secret "$ISSUER/token" \
    -d grant_type=client_credentials -d "resource=$1" -d "scope=$2" | jq -er .access_token
}

step "every service ready"
for url in "$USERS" "$SALES" "$INTEGRATIONS"; do
  curl -fsS --retry 60 --retry-delay 2 --retry-all-errors --max-time 5 "$url/readyz" >/dev/null || fail "$url/readyz"
  echo "$url ready"
done
curl -fsS --retry 30 --retry-delay 2 --retry-all-errors "$ISSUER/.well-known/openid-configuration" >/dev/null

step "user-service: sign up, log in, the account, the directory"
name="smoke$(date +%s)$RANDOM"
password="correct horse battery $RANDOM"
expect 201 -X POST "$USERS/user" -H 'content-type: application/json' \
  -d "{\"username\":\"$name\",\"password\":\"$password\",\"name\":\"Smoke Test\",\"email\":\"$name@example.com\"}"
# A 1x1 PNG, as in docs/services/user-service.md.
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\0\x01\0\0\x05\0\x01\r\n-\xb4\0\0\0\0IEND\xaeB`\x82' >"$WORK/avatar.png"
expect 201 -X POST "$USERS/user" -F "username=${name}a" -F "password=$password" -F name='Avatar Owner' \
  -F "email=${name}a@example.com" -F "avatar=@$WORK/avatar.png"
expect 200 -X POST "$USERS/auth" -d "username=$name" -d "password=$password"
session=$(jq -er .token "$WORK/body")
expect 200 "$USERS/user/$name" -H "authorization: Bearer $session"
jq -e --arg email "$name@example.com" '.email == $email' "$WORK/body" >/dev/null || fail "GET /user/$name: $(cat "$WORK/body")"
avatar_url=""
next="$USERS/users?limit=100"
while [[ -z "$avatar_url" && -n "$next" ]]; do
  curl -fsS -D "$WORK/headers" -o "$WORK/body" "$next" -H "authorization: Bearer $session"
  avatar_url=$(jq -r --arg email "${name}a@example.com" '.[] | select(.email == $email) | .avatar_url // empty' "$WORK/body")
  next=$(sed -n 's/^[Ll]ink: *<\([^>]*\)>; *rel="next".*/\1/p' "$WORK/headers" | tr -d '\r')
  [[ -z "$next" || "$next" == http* ]] || next="$USERS$next"
done
[[ -n "$avatar_url" ]] || fail "the directory has no avatar_url for ${name}a"

step "the avatar through its presigned URL, from this host"
echo "$avatar_url" | cut -c1-120
expect 200 "$avatar_url"
cmp -s "$WORK/body" "$WORK/avatar.png" || fail "the presigned URL returned other bytes than the uploaded avatar"

step "sales-service: a customer, an order, its SMS"
sales_token=$(token api://sales 'sales:read sales:write')
auth=(-H "authorization: Bearer $sales_token" -H 'content-type: application/json')
expect 401 "$SALES/api/v1/sales/orders"
expect 201 -X POST "$SALES/api/v1/sales/customers" "${auth[@]}" \
  -d "{\"name\":\"Smoke Customer\",\"phone_number\":\"+254 711 000 $((RANDOM % 900 + 100))\"}"
customer=$(jq -er .id "$WORK/body")
expect 201 -X POST "$SALES/api/v1/sales/orders" "${auth[@]}" \
  -d "{\"customer\":\"$customer\",\"item\":\"Bag of rice\",\"amount\":\"56000.68\"}"
order=$(jq -er .id "$WORK/body")
status=""
for _ in $(seq 1 60); do
  expect 200 "$SALES/api/v1/sales/orders/$order" "${auth[@]}"
  status=$(jq -r '.sms.status // empty' "$WORK/body")
  [[ "$status" == sent || "$status" == delivered ]] && break
  sleep 1
done
[[ "$status" == sent || "$status" == delivered ]] || fail "the order's SMS is $status after 60 s: $(cat "$WORK/body")"
curl -fsS "$SMS/__stand-in/messages" | grep -q 'Bag of rice' || fail "the SMS stand-in got no message about the order"
echo "order $order: SMS $status"

step "integration-service: Okta users of the default tenant"
integrations_token=$(token api://integrations 'integrations:read integrations:write')
expect 200 "$INTEGRATIONS/okta/list_users?limit=2" -H "authorization: Bearer $integrations_token"
jq -e '.users | length > 0' "$WORK/body" >/dev/null || fail "list_users: $(head -c 400 "$WORK/body")"
expect 200 "$INTEGRATIONS/integrations" -H "authorization: Bearer $integrations_token"

echo
echo "compose smoke: every flow answered as documented"
