variable "environment" {
  description = "Environment name (dev, staging, prod). Used in resource names and as the default table prefix."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "region" {
  description = "AWS region for every resource of this stack."
  type        = string
  default     = "eu-west-1"
}

variable "project" {
  description = "Short project name used as a prefix in resource names."
  type        = string
  default     = "platform"
}

variable "table_prefix" {
  description = "Prefix of every DynamoDB table name (the services' TABLE_PREFIX). Defaults to \"<environment>-\"."
  type        = string
  default     = null
}

variable "kubernetes_namespace" {
  description = "Namespace the services are installed into (IRSA trust is scoped to it)."
  type        = string
  default     = "platform"
}

variable "kubernetes_version" {
  description = "EKS control plane version."
  type        = string
  default     = "1.34"
}

variable "vpc_cidr" {
  description = "CIDR of the VPC created for the cluster."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zone_count" {
  description = "How many AZs the VPC and node groups span (>= 2; 3 recommended for prod)."
  type        = number
  default     = 3

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 6
    error_message = "availability_zone_count must be between 2 and 6."
  }
}

variable "node_instance_types" {
  description = "Instance types of the default managed node group."
  type        = list(string)
  default     = ["m6i.large", "m6a.large"]
}

variable "node_group_sizes" {
  description = "min/max/desired size of the default managed node group."
  type = object({
    min     = number
    max     = number
    desired = number
  })
  default = { min = 3, max = 9, desired = 3 }
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public EKS API endpoint (CI runners, VPN). Empty = private endpoint only."
  type        = list(string)
  default     = []
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose main-branch workflows may assume the deploy role via OIDC. null = no deploy role."
  type        = string
  default     = null
}

variable "create_github_oidc_provider" {
  description = "Create the token.actions.githubusercontent.com OIDC provider (only once per AWS account)."
  type        = bool
  default     = true
}

variable "integration_tenants" {
  description = "Tenants whose integration secrets (integrations/<tenant>/<integration>) Terraform declares, e.g. { acme = [\"okta\"] }. Values are set out of band."
  type        = map(list(string))
  default     = {}
}

variable "deletion_protection" {
  description = "Protect tables and the KMS key from deletion (disable only for ephemeral environments)."
  type        = bool
  default     = true
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which non-current avatar object versions are deleted."
  type        = number
  default     = 30
}
