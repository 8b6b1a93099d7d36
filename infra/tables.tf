# DynamoDB tables of every service.
#
# WHERE TO ADD A TABLE: infra/tables-<service>.tf, in the local `<service_with_underscores>_tables`
# (e.g. sales-service -> local.sales_service_tables). One entry per table, keyed by the table
# name WITHOUT the environment prefix, mirroring the service's `print-tables` JSON:
#
#   <table> = {
#     hash_key                 = { name = "<attr>", type = "S" | "N" }
#     range_key                = null | { name = "<attr>", type = "S" | "N" }
#     ttl_attribute            = null | "<attr>"
#     global_secondary_indexes = {                     # {} when none
#       "<index-name>" = {
#         hash_key   = { name = "<attr>", type = "S" | "N" }
#         range_key  = null | { name = "<attr>", type = "S" | "N" }
#         projection = "KEYS_ONLY" | "ALL"
#       }
#     }
#   }
#
# A new service: create infra/tables-<service>.tf and add it to `service_tables` below (an
# empty map if it has no table): `local.services` (main.tf) is its keys. Everything else follows: the table (PAY_PER_REQUEST, PITR,
# SSE-KMS, deletion protection, TTL, GSIs), the service's IAM access to it and its indexes,
# the outputs for Helm. CI (scripts/check-infra.sh -> table drift) compares these entries
# with `<service> print-tables`, so a mismatch fails the pull request.
locals {
  service_tables = {
    "user-service"        = local.user_service_tables
    "sales-service"       = local.sales_service_tables
    "integration-service" = local.integration_service_tables
    "console"             = local.console_tables
  }

  # table name (unprefixed) => spec + owning service
  dynamodb_tables = merge([
    for service, tables in local.service_tables : {
      for name, spec in tables : name => merge(spec, { service = service })
    }
  ]...)
}

module "dynamodb_table" {
  source   = "./modules/dynamodb_table"
  for_each = local.dynamodb_tables

  name                     = "${local.table_prefix}${each.key}"
  hash_key                 = each.value.hash_key
  range_key                = each.value.range_key
  ttl_attribute            = each.value.ttl_attribute
  global_secondary_indexes = each.value.global_secondary_indexes
  kms_key_arn              = aws_kms_key.data.arn
  deletion_protection      = var.deletion_protection

  tags = { Service = each.value.service }
}
