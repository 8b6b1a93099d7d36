# DynamoDB tables of every service.
#
# WHERE TO ADD A TABLE: in the service's code (its `TableSpec`s, which `<service>
# print-tables` prints); then write that list here, as it is printed:
#
#   cargo build -p <service> && target/debug/<service> print-tables > infra/tables/<service>.json
#
# infra/tables/<service>.json holds one entry per table, named WITHOUT the environment prefix:
#
#   {"name": "<table>",
#    "hash_key": {"name": "<attr>", "type": "S" | "N"},
#    "range_key": null | {"name": "<attr>", "type": "S" | "N"},
#    "ttl_attribute": null | "<attr>",
#    "global_secondary_indexes": [                  # [] when none
#      {"name": "<index>", "hash_key": {..}, "range_key": null | {..},
#       "projection": "KEYS_ONLY" | "ALL"}]}
#
# A service without tables has `[]`. The files name the services too: `local.services`
# (main.tf) is their names, so a new service's IAM role, Kubernetes service account and Helm
# values follow from its file. Everything else follows from the entries: the table
# (PAY_PER_REQUEST, PITR, SSE-KMS, deletion protection, TTL, GSIs), the service's IAM access
# to it and its indexes, the outputs for Helm. CI (scripts/check-infra.sh -> table drift)
# fails when a file differs from `<service> print-tables`, or a service has no file.
locals {
  # service => table name (unprefixed) => spec
  service_tables = {
    for listing in fileset("${path.module}/tables", "*.json") : trimsuffix(listing, ".json") => {
      for table in jsondecode(file("${path.module}/tables/${listing}")) : table.name => {
        hash_key      = table.hash_key
        range_key     = table.range_key
        ttl_attribute = table.ttl_attribute
        global_secondary_indexes = {
          for index in table.global_secondary_indexes : index.name => {
            hash_key   = index.hash_key
            range_key  = index.range_key
            projection = index.projection
          }
        }
      }
    }
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
