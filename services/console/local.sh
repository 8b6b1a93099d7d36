# shellcheck shell=bash disable=SC2034  # what it sets is read by scripts/lib.sh callers
# How the repository's scripts run the console on this machine: read by scripts/lib.sh
# load_service, which describes what this file sets and what it may use.
DEV_PORT=8080
DEV_NOTE="the web console for people: open it in a browser"
SMOKE_TEST="its start page, and a cross-site form post refused"

# dev_port SERVICE: another service's port in the dev stack (its own local.sh says).
dev_port() { (load_service "$1" dev && echo "$DEV_PORT"); }

service_env() {
  ENV=(OIDC_ISSUER_URL="$ISSUER" OIDC_CLIENT_SECRET=console-dev-secret)
  ARGS=()
  if [ "$MODE" = dev ]; then
    # The services it is a client of; avatars' presigned URLs point at the emulator.
    ENV+=(PUBLIC_URL="http://127.0.0.1:$DEV_PORT"
      USER_SERVICE_URL="http://127.0.0.1:$(dev_port user-service)"
      SALES_SERVICE_URL="http://127.0.0.1:$(dev_port sales-service)"
      INTEGRATION_SERVICE_URL="http://127.0.0.1:$(dev_port integration-service)"
      IMAGE_ORIGINS="$AWS_ENDPOINT_URL")
    return
  fi
  # The fuzzer and the image check run it on a port of their own, before the services it
  # calls: its spec (the operations endpoints) and its start page need none of them.
  ENV+=(USER_SERVICE_URL=http://127.0.0.1:9 SALES_SERVICE_URL=http://127.0.0.1:9
    INTEGRATION_SERVICE_URL=http://127.0.0.1:9)
}

# The start page renders, and a form posted from another site is refused (CSRF check).
smoke_test() {
  curl -fsS "$1/" | grep -q 'Platform console' &&
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$1/login" \
      -H 'sec-fetch-site: cross-site' -d username=x -d password=y)" = 403 ]
}

# Its spec lists only the operations endpoints (its pages are HTML for people).
fuzz_service() {
  fuzz ""
}
