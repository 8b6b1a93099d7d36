# DynamoDB tables of integration-service. Must match `integration-service print-tables`
# exactly (CI drift check). Add one entry per table; format and example in tables.tf and
# tables-sales-service.tf.
locals {
  integration_service_tables = {
    # Providers synced from the partner API, per tenant, upserted by provider id.
    providers = {
      hash_key      = { name = "tenant_id", type = "S" }
      range_key     = { name = "provider_id", type = "S" }
      ttl_attribute = null
      global_secondary_indexes = {
        # A tenant's providers by lowercased name: a name prefix is one Query (begins_with).
        "name-index" = {
          hash_key   = { name = "tenant_id", type = "S" }
          range_key  = { name = "name_key", type = "S" }
          projection = "ALL"
        }
      }
    }

    # One item per tenant while a provider sync runs: a lease taken with a conditional
    # put, so a second sync of the tenant is refused (409 with the running run's id).
    # expires_at (epoch seconds) ends a lease whose process died; TTL removes it later.
    "provider-sync-locks" = {
      hash_key                 = { name = "tenant_id", type = "S" }
      range_key                = null
      ttl_attribute            = "expires_at"
      global_secondary_indexes = {}
    }

    # One record per sync run; run_id is a UUIDv7, so a reverse Query lists newest first.
    "provider-sync-runs" = {
      hash_key                 = { name = "tenant_id", type = "S" }
      range_key                = { name = "run_id", type = "S" }
      ttl_attribute            = null
      global_secondary_indexes = {}
    }
  }
}
