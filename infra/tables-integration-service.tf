# DynamoDB tables of integration-service. Must match `integration-service print-tables`
# exactly (CI drift check). Add one entry per table; format and example in tables.tf and
# tables-sales-service.tf.
locals {
  integration_service_tables = {}
}
