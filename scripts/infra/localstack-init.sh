#!/bin/sh
# One-shot init for docker-compose.localstack.yml: creates what Terraform creates in AWS,
# in LocalStack: the DynamoDB tables of every service, the avatar bucket and the Secrets
# Manager secrets (with local values). The services then run with AUTO_CREATE_RESOURCES=false,
# as in production.
#
# The tables come from localstack-tables.sh, GENERATED from infra/tables/*.json (which CI
# compares with each service's `print-tables`), so there is no hand-kept second copy.
# CI also runs this script against the moto emulator (scripts/check-infra.sh, "compose init").
#
# Idempotent: existing tables and the bucket are kept, existing secrets get the new value.
# Runs in the amazon/aws-cli image (sh, no bash) against AWS_ENDPOINT_URL.
# Env: TABLE_PREFIX (default local-), AVATAR_BUCKET (default local-avatars),
#      LOCAL_ADMIN_PASSWORD, LOCAL_AFRICASTALKING_API_KEY.
set -eu
export AWS_PAGER=""
TABLE_PREFIX="${TABLE_PREFIX-local-}"
AVATAR_BUCKET="${AVATAR_BUCKET:-local-avatars}"

# create_table SERVICE TABLE CREATE_TABLE_JSON [TTL_ATTRIBUTE] (called by localstack-tables.sh)
create_table() {
  table="${TABLE_PREFIX}$2"
  if aws dynamodb describe-table --table-name "$table" >/dev/null 2>&1; then
    echo "table $table exists ($1)"
    return 0
  fi
  aws dynamodb create-table --table-name "$table" --cli-input-json "$3" >/dev/null
  aws dynamodb wait table-exists --table-name "$table"
  if [ -n "${4:-}" ]; then
    aws dynamodb update-time-to-live --table-name "$table" \
      --time-to-live-specification "Enabled=true,AttributeName=$4" >/dev/null
  fi
  echo "created table $table ($1)"
}

put_secret() {
  if aws secretsmanager describe-secret --secret-id "$1" >/dev/null 2>&1; then
    aws secretsmanager put-secret-value --secret-id "$1" --secret-string "$2" >/dev/null
    echo "updated secret $1"
  else
    aws secretsmanager create-secret --name "$1" --secret-string "$2" >/dev/null
    echo "created secret $1"
  fi
}

# shellcheck source=scripts/infra/localstack-tables.sh
. "$(dirname "$0")/localstack-tables.sh"

if aws s3api head-bucket --bucket "$AVATAR_BUCKET" >/dev/null 2>&1; then
  echo "bucket $AVATAR_BUCKET exists"
else
  aws s3api create-bucket --bucket "$AVATAR_BUCKET" >/dev/null
  echo "created bucket $AVATAR_BUCKET"
fi

# Names as in infra/secrets.tf with environment "local"; values are local stand-ins.
put_secret "local/user-service/admin-password" "${LOCAL_ADMIN_PASSWORD:-change-me-locally-please}"
put_secret "local/sales-service/africastalking-api-key" "${LOCAL_AFRICASTALKING_API_KEY:-stand-in-api-key}"
put_secret "local/sales-service/sms-delivery-report-token" "${LOCAL_SMS_DELIVERY_REPORT_TOKEN:-local-delivery-report-token-0123456789abcdef}"
put_secret "local/user-service/cursor-keys" "${LOCAL_USER_CURSOR_KEYS:-local1:VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU}"
put_secret "local/sales-service/cursor-keys" "${LOCAL_SALES_CURSOR_KEYS:-local1:WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo}"
put_secret "local/integration-service/cursor-keys" "${LOCAL_INTEGRATION_CURSOR_KEYS:-local1:SUlJSUlJSUlJSUlJSUlJSUlJSUlJSUlJSUlJSUlJSUk}"
# The local issuer's `console` client (tools/oidc-issuer).
put_secret "local/console/oidc-client-secret" "console-dev-secret"
# integration-service: integrations/<tenant>/<integration>, the Okta API tokens the Okta
# stand-ins accept (the partner `providers` integration uses checksum auth: no secret).
put_secret "integrations/acme/okta" '{"api_token":"stand-in-token-acme"}'
put_secret "integrations/globex/okta" '{"api_token":"stand-in-token-globex"}'
echo "localstack init: done"
