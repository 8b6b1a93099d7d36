# DynamoDB tables of user-service. Must match `user-service print-tables` exactly
# (scripts/infra/check_table_drift.py fails CI otherwise). Names are WITHOUT the
# environment prefix; see tables.tf for the format.
locals {
  user_service_tables = {
    users = {
      hash_key      = { name = "username", type = "S" }
      range_key     = null
      ttl_attribute = null
      global_secondary_indexes = {
        "listing-index" = {
          hash_key   = { name = "listing", type = "S" }
          range_key  = { name = "username", type = "S" }
          projection = "ALL"
        }
      }
    }

    sessions = {
      hash_key      = { name = "token_hash", type = "S" }
      range_key     = null
      ttl_attribute = "expires_at"
      global_secondary_indexes = {
        "username-index" = {
          hash_key   = { name = "username", type = "S" }
          range_key  = null
          projection = "KEYS_ONLY"
        }
      }
    }
  }
}
