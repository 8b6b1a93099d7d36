# The VPC's subnet layout, as pure functions of the VPC CIDR and the AZ count (no provider,
# no resource): scripts/check-infra.sh evaluates it offline with `terraform console` for every
# allowed AZ count and proves the subnets never overlap.
#
# /16 VPC: private /20s (4,096 addresses each, for nodes and pods: the VPC CNI gives every pod
# a VPC address) from the bottom, 10.x.0.0 - 10.x.95.255 for six AZs; public /24s (load
# balancers only) from the top, 10.x.240.0 - 10.x.245.255.

terraform {
  required_version = ">= 1.6.0"
}

variable "vpc_cidr" {
  description = "CIDR of the VPC (a /16)."
  type        = string

  validation {
    condition     = endswith(var.vpc_cidr, "/16")
    error_message = "The layout is sized for a /16 VPC."
  }
}

variable "az_count" {
  description = "Number of availability zones (2-6)."
  type        = number

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6
    error_message = "az_count must be between 2 and 6."
  }
}

output "private_subnets" {
  description = "One private /20 per AZ."
  value       = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, 4, i)]
}

output "public_subnets" {
  description = "One public /24 per AZ, from the top of the VPC."
  value       = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, 8, 240 + i)]
}
