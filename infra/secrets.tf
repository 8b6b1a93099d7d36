# Secrets Manager secrets: Terraform declares names, encryption and access; values are set
# out of band (`aws secretsmanager put-secret-value`, see docs/deploy.md) so they never
# appear in code or state.
locals {
  secret_names = {
    admin_password = "${var.environment}/user-service/admin-password"
    # Keys sealing user-service's page cursors (GET /users, GET /admin/accounts).
    user_cursor_keys      = "${var.environment}/user-service/cursor-keys"
    africastalking_apikey = "${var.environment}/sales-service/africastalking-api-key"
    # The token in the SMS delivery-report callback URL registered with Africa's Talking.
    sms_delivery_report_token = "${var.environment}/sales-service/sms-delivery-report-token"
    # Keys sealing sales-service's page cursors ("id:base64url32[,id:key...]", newest first).
    sales_cursor_keys = "${var.environment}/sales-service/cursor-keys"
    # Keys sealing integration-service's page cursors (Graph lists, /directory/list_users);
    # under its prefix, so its role already reads it.
    integration_cursor_keys = "${var.environment}/integration-service/cursor-keys"
    # The console's OIDC client secret (OIDC_CLIENT_SECRET_ID), from the operators' issuer.
    console_oidc_client_secret = "${var.environment}/console/oidc-client-secret"
  }

  # integration-service reads <env>/integration-service/<tenant>/<integration>: the deploy
  # names it in each tenant's `secret` (TENANTS_JSON), and its role may read this prefix only,
  # so one account can hold several environments.
  integration_secret_prefix = "${var.environment}/integration-service/"
  integration_secrets = toset(flatten([
    for tenant, integrations in var.integration_tenants : [
      for integration in integrations : "${local.integration_secret_prefix}${tenant}/${integration}"
    ]
  ]))
}

resource "aws_secretsmanager_secret" "service" {
  #checkov:skip=CKV2_AWS_57:Values are third-party API keys / a bootstrap password with no rotation API; rotated manually per docs/deploy.md runbook
  for_each = local.secret_names

  name                    = each.value
  description             = "${each.key} (${var.environment}); value managed outside Terraform"
  kms_key_id              = aws_kms_key.data.arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret" "integration" {
  #checkov:skip=CKV2_AWS_57:Tenant credentials are issued by the tenant's provider; rotated by re-onboarding, see docs/deploy.md
  for_each = local.integration_secrets

  name                    = each.value
  description             = "integration-service credentials (${each.value}); value managed outside Terraform"
  kms_key_id              = aws_kms_key.data.arn
  recovery_window_in_days = 7
}
