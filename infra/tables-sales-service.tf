# DynamoDB tables of sales-service. Must match `sales-service print-tables` exactly
# (scripts/infra/check_table_drift.py fails CI otherwise). Names are WITHOUT the
# environment prefix; format in tables.tf. The service writes across these tables with
# TransactWriteItems (e.g. an order together with its SMS outbox entry); IAM has no
# TransactWriteItems action: the items are authorised as PutItem/UpdateItem/DeleteItem/
# ConditionCheckItem, which iam.tf grants on the service's own tables.
locals {
  sales_service_tables = {
    customers = {
      hash_key      = { name = "id", type = "S" }
      range_key     = null
      ttl_attribute = null
      global_secondary_indexes = {
        # Every customer newest first: one partition (listing = "customers") sorted by
        # created_at, so a page is one Query of `limit` items (docs/performance.md).
        "newest-index" = {
          hash_key   = { name = "listing", type = "S" }
          range_key  = { name = "created_at", type = "S" }
          projection = "ALL"
        }
      }
    }

    # Atomic counters (UpdateItem ADD) that number the customer codes.
    sequences = {
      hash_key                 = { name = "name", type = "S" }
      range_key                = null
      ttl_attribute            = null
      global_secondary_indexes = {}
    }

    orders = {
      hash_key      = { name = "id", type = "S" }
      range_key     = null
      ttl_attribute = null
      global_secondary_indexes = {
        # A customer's orders, read newest first (ordered_at sorts as text in time order).
        "customer-index" = {
          hash_key   = { name = "customer_id", type = "S" }
          range_key  = { name = "ordered_at", type = "S" }
          projection = "ALL"
        }
        # Every order newest first: one partition (listing = "orders") sorted by ordered_at.
        "newest-index" = {
          hash_key   = { name = "listing", type = "S" }
          range_key  = { name = "ordered_at", type = "S" }
          projection = "ALL"
        }
        # The orders whose SMS is pending / sent / delivered / failed, newest first (the
        # console's orders by SMS status; sms_status is on every order).
        "sms-status-index" = {
          hash_key   = { name = "sms_status", type = "S" }
          range_key  = { name = "ordered_at", type = "S" }
          projection = "ALL"
        }
      }
    }

    # Transactional outbox: one SMS per order, written with the order, sent afterwards.
    "sms-outbox" = {
      hash_key      = { name = "order_id", type = "S" }
      range_key     = null
      ttl_attribute = null
      global_secondary_indexes = {
        # The records by due time (a claim moves it to the lease's end), in 4 shards from
        # the order id, keys only: a dispatcher's poll reads the due ones and never the
        # waiting ones, and the backlog is counted from it (docs/performance.md).
        "due-index" = {
          hash_key   = { name = "due_shard", type = "N" }
          range_key  = { name = "next_attempt_at", type = "N" }
          projection = "KEYS_ONLY"
        }
      }
    }

    # Replayed responses of Idempotency-Key requests; DynamoDB purges them after expires_at.
    "idempotency-keys" = {
      hash_key                 = { name = "key", type = "S" }
      range_key                = null
      ttl_attribute            = "expires_at"
      global_secondary_indexes = {}
    }

    # The orders whose SMS went to a number in one clock hour ("<number>#<hour>"), for the
    # per-number limit, and each caller's count of SMS in an hour ("caller:<sha256>#<hour>"),
    # for the per-caller limit; DynamoDB purges them an hour after their hour (expires_at).
    "sms-sends" = {
      hash_key                 = { name = "number_hour", type = "S" }
      range_key                = null
      ttl_attribute            = "expires_at"
      global_secondary_indexes = {}
    }

    # The order of each sent SMS by Africa's Talking's message id: what a delivery report
    # names. Written with the order's `sent` status; DynamoDB purges it a week later.
    "sms-messages" = {
      hash_key                 = { name = "message_id", type = "S" }
      range_key                = null
      ttl_attribute            = "expires_at"
      global_secondary_indexes = {}
    }
  }
}
