#!/bin/sh
# One-shot init for docker-compose.localstack.yml: creates the Secrets Manager secrets the
# services read at start. Tables and the avatar bucket are NOT created here: in compose the
# services run with AUTO_CREATE_RESOURCES=true and create them from their own table specs
# (the same specs `print-tables` prints and CI compares with Terraform), so there is one
# definition of every table, not a second copy in this script.
#
# Idempotent: an existing secret gets a new value instead of failing the init.
# Runs in the amazon/aws-cli image (sh, no bash) against AWS_ENDPOINT_URL.
set -eu

put_secret() {
  name="$1"
  value="$2"
  if aws secretsmanager describe-secret --secret-id "$name" >/dev/null 2>&1; then
    aws secretsmanager put-secret-value --secret-id "$name" --secret-string "$value" >/dev/null
    echo "updated secret $name"
  else
    aws secretsmanager create-secret --name "$name" --secret-string "$value" >/dev/null
    echo "created secret $name"
  fi
}

put_secret "local/user-service/admin-password" "${LOCAL_ADMIN_PASSWORD:-change-me-locally-please}"
put_secret "local/sales-service/africastalking-api-key" "${LOCAL_AFRICASTALKING_API_KEY:-stand-in-api-key}"
# integration-service: one secret per tenant and integration (JSON credentials).
put_secret "integrations/acme/okta" '{"base_url":"http://stand-ins:9102","api_token":"stand-in-token-acme"}'
put_secret "integrations/globex/okta" '{"base_url":"http://stand-ins:9103","api_token":"stand-in-token-globex"}'
put_secret "integrations/acme/partner" '{"base_url":"http://stand-ins:9104","api_key":"stand-in-partner-key"}'
echo "localstack init: done"
