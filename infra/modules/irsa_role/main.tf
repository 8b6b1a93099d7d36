# An IAM role one Kubernetes ServiceAccount assumes through the cluster's OIDC provider (IRSA),
# with one policy of the caller's: the add-ons that need AWS beyond what the community module
# embeds (Alertmanager publishing to SNS, fluent-bit writing logs).

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }
}

variable "name" {
  description = "Name of the role and of its policy."
  type        = string
}

variable "description" {
  description = "What the role does."
  type        = string
}

variable "service_account" {
  description = "The ServiceAccount that assumes it: <namespace>:<name>."
  type        = string
}

variable "oidc_provider_arn" {
  description = "The cluster's IAM OIDC provider (module eks's oidc_provider_arn)."
  type        = string
}

variable "policy_json" {
  description = "The role's permissions (an IAM policy document)."
  type        = string
}

resource "aws_iam_policy" "this" {
  name        = var.name
  description = var.description
  policy      = var.policy_json
}

module "role" {
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact version; registry releases are immutable
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.59.0"

  role_name        = var.name
  role_policy_arns = { policy = aws_iam_policy.this.arn }

  oidc_providers = {
    cluster = {
      provider_arn               = var.oidc_provider_arn
      namespace_service_accounts = [var.service_account]
    }
  }
}

output "iam_role_arn" {
  description = "ARN of the role (the ServiceAccount's eks.amazonaws.com/role-arn)."
  value       = module.role.iam_role_arn
}
