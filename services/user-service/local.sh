# shellcheck shell=bash disable=SC2034  # what it sets is read by scripts/lib.sh callers
# How the repository's scripts run user-service on this machine: read by scripts/lib.sh
# load_service, which describes what this file sets and what it may use.
DEV_PORT=8081
DEV_NOTE="admin / admin-password-1"
SMOKE_TEST="sign-up and login (DynamoDB, argon2)"

admin_password() {
  if [ "$MODE" = dev ]; then echo admin-password-1; else echo "$MODE-admin-password"; fi
}

service_env() {
  # The issuer's users:admin tokens act as admins (operators, through the console), and
  # the console's own token names the person's address it forwards.
  ENV=(AVATAR_BUCKET="${RUN_ID}avatars" ADMIN_USERNAME=admin ADMIN_PASSWORD="$(admin_password)"
    OIDC_ISSUER_URL="$ISSUER" OIDC_AUDIENCE=api://users TRUSTED_FORWARDER_CLIENTS=console)
  ARGS=()
  # The fuzzer is one address sending thousands of sign-ups: the per-address sign-up
  # limit (tested in tests/api/security.rs) would leave the route's logic unfuzzed.
  if [ "$MODE" = fuzz ]; then ENV+=(SIGNUPS_PER_ADDRESS_PER_MINUTE=1000000); fi
}

# sign_up URL USERNAME: a new account whose password is USERNAME-password.
sign_up() {
  curl -fsS -o /dev/null -X POST "$1/user" -H 'content-type: application/json' \
    -d "{\"username\":\"$2\",\"password\":\"$2-password\",\"name\":\"$2\",\"email\":\"$2@example.com\"}"
}

# session URL USERNAME PASSWORD: a session token of that account.
session() {
  curl -fsS -X POST "$1/auth" -d "username=$2" -d "password=$3" | json_field token
}

smoke_test() {
  sign_up "$1" imagecheck && session "$1" imagecheck imagecheck-password >/dev/null
}

# As the admin, every account route reaches its real work (on fuzzer's account, among
# others); then as the plain user owner, the owner's and the others' answers (not deleting
# itself, which would leave nothing but 401s). Logout gets a session of its own
# (FUZZ_LOGOUT_TOKEN, scripts/fuzz.toml): it would revoke the one the other operations use.
fuzz_service() {
  local token
  sign_up "$1" fuzzer
  FUZZ_LOGOUT_TOKEN=$(session "$1" fuzzer fuzzer-password)
  token=$(session "$1" admin "$(admin_password)")
  fuzz "$token"
  sign_up "$1" owner
  FUZZ_LOGOUT_TOKEN=$(session "$1" owner owner-password)
  token=$(session "$1" owner owner-password)
  fuzz "$token" --include-path-regex '^/user/' --exclude-method DELETE
  # As an operator (an access token with users:admin): the routes an admin reads.
  fuzz "$(access_token api://users users:admin)" --include-path-regex '^/(admin/|users$|user/)' \
    --exclude-method DELETE
}
