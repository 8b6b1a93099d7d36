data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# Whoever runs terraform installs the add-ons through the cluster's API, so it must be one of
# the cluster admins: their access entries are the only cluster-admin ones (network.tf), and
# the plan stops here, before anything is created, for an identity that is not listed.
data "aws_iam_session_context" "applier" {
  arn = data.aws_caller_identity.current.arn

  lifecycle {
    postcondition {
      condition     = contains(var.cluster_admin_principal_arns, self.issuer_arn)
      error_message = "The identity running terraform (${self.issuer_arn}) is not in cluster_admin_principal_arns: add it, or the add-on installs cannot reach the cluster."
    }
  }
}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:We take a fixed count of AZs (slice below) so a new AZ does not widen the set; subnets are created once per env
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  name         = "${var.project}-${var.environment}"
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  table_prefix = coalesce(var.table_prefix, "${var.environment}-")
  azs          = slice(data.aws_availability_zones.available.names, 0, var.availability_zone_count)

  # The Kubernetes service accounts the Helm charts create (one per service): the services
  # with a table list in infra/tables/ (tables.tf), so a new service is named by its file
  # (scripts/infra/check_table_drift.py fails when one of services/ has none).
  services = toset(keys(local.service_tables))

  tags = {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  }
}
