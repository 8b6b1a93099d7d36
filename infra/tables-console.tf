# DynamoDB tables of the console. Must match `console print-tables` exactly
# (scripts/infra/check_table_drift.py fails CI otherwise). Names are WITHOUT the
# environment prefix; see tables.tf for the format.
locals {
  console_tables = {
    # Server-side sessions: keyed by the SHA-256 of the cookie's secret (never the secret
    # itself), contents sealed with a key derived from it, expired by TTL.
    "console-sessions" = {
      hash_key                 = { name = "id", type = "S" }
      range_key                = null
      ttl_attribute            = "expires_at"
      global_secondary_indexes = {}
    }
  }
}
