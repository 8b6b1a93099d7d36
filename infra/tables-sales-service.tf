# DynamoDB tables of sales-service. Must match `sales-service print-tables` exactly
# (CI drift check). Add one entry per table; format in tables.tf. Example:
#
#    orders = {
#      hash_key      = { name = "customer_id", type = "S" }
#      range_key     = { name = "order_id", type = "S" }
#      ttl_attribute = null
#      global_secondary_indexes = {
#        "status-index" = {
#          hash_key   = { name = "status", type = "S" }
#          range_key  = { name = "created_at", type = "N" }
#          projection = "ALL"
#        }
#      }
#    }
locals {
  sales_service_tables = {}
}
