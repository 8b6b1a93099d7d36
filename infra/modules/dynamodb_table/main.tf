# One DynamoDB table with the platform's fixed policy: on-demand capacity, point-in-time
# recovery, server-side encryption with the environment's customer-managed KMS key,
# deletion protection, optional TTL and GSIs.

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "name" {
  description = "Full table name (environment prefix included)."
  type        = string
}

variable "hash_key" {
  description = "Partition key: { name, type = S|N }."
  type = object({
    name = string
    type = string
  })
}

variable "range_key" {
  description = "Sort key or null."
  type = object({
    name = string
    type = string
  })
  default = null
}

variable "ttl_attribute" {
  description = "Attribute holding the expiry epoch seconds, or null for no TTL."
  type        = string
  default     = null
}

variable "global_secondary_indexes" {
  description = "GSIs by name: { hash_key, range_key (or null), projection = KEYS_ONLY|ALL }."
  type = map(object({
    hash_key = object({
      name = string
      type = string
    })
    range_key = optional(object({
      name = string
      type = string
    }))
    projection = string
  }))
  default = {}
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for server-side encryption."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse DeleteTable."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}

locals {
  key_attributes = concat(
    [var.hash_key],
    var.range_key == null ? [] : [var.range_key],
    flatten([
      for index in values(var.global_secondary_indexes) :
      concat([index.hash_key], index.range_key == null ? [] : [index.range_key])
    ]),
  )
  # DynamoDB wants each key attribute declared once.
  attributes = { for attr in local.key_attributes : attr.name => attr.type... }
}

resource "aws_dynamodb_table" "this" {
  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.hash_key.name
  range_key                   = var.range_key == null ? null : var.range_key.name
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = local.attributes
    content {
      name = attribute.key
      type = attribute.value[0]
    }
  }

  dynamic "global_secondary_index" {
    for_each = var.global_secondary_indexes
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key.name
      range_key       = global_secondary_index.value.range_key == null ? null : global_secondary_index.value.range_key.name
      projection_type = global_secondary_index.value.projection
    }
  }

  dynamic "ttl" {
    for_each = var.ttl_attribute == null ? [] : [var.ttl_attribute]
    content {
      attribute_name = ttl.value
      enabled        = true
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition = alltrue([
        for attr in local.key_attributes : contains(["S", "N", "B"], attr.type)
      ])
      error_message = "Key attribute types must be S, N or B."
    }
    precondition {
      condition = alltrue([
        for name, types in local.attributes : length(distinct(types)) == 1
      ])
      error_message = "An attribute used in several keys must have one type everywhere."
    }
  }
}

output "name" {
  description = "Table name."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "Table ARN."
  value       = aws_dynamodb_table.this.arn
}

output "index_arns" {
  description = "ARN pattern covering the table's indexes."
  value       = "${aws_dynamodb_table.this.arn}/index/*"
}
