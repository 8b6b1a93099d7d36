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
  description = "EKS control plane version. 1.35: standard support until 27 Mar 2027, extended (paid) until 27 Mar 2028 (docs/deploy.md, \"Kubernetes version\"). Karpenter (addons.tf) must support it."
  type        = string
  default     = "1.35"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be <major>.<minor>, e.g. 1.35."
  }
}

variable "eks_support_type" {
  description = "What EKS does when kubernetes_version leaves standard support: EXTENDED keeps it for up to 12 more months at the extended-support price per cluster hour; STANDARD upgrades the control plane automatically (nodes and add-ons stay behind)."
  type        = string
  default     = "EXTENDED"

  validation {
    condition     = contains(["EXTENDED", "STANDARD"], var.eks_support_type)
    error_message = "eks_support_type must be EXTENDED or STANDARD."
  }
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

variable "cluster_endpoint_public_access" {
  description = "Expose the EKS API endpoint publicly (limited to cluster_endpoint_public_access_cidrs). Required, no default: true for GitHub-hosted deploy runners and operators outside the VPC; false when deploys run on a self-hosted runner inside the VPC (docs/deploy.md)."
  type        = bool
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public EKS API endpoint (operators' VPN, CI runners). Required non-empty when the endpoint is public; never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.cluster_endpoint_public_access_cidrs : can(cidrhost(cidr, 0))])
    error_message = "cluster_endpoint_public_access_cidrs must be CIDRs."
  }

  # The aws provider sends publicAccessCidrs only for a non-empty set (terraform-provider-aws
  # PR #11442), and EKS then defaults to 0.0.0.0/0: "public, limited to CIDRs" would be
  # public to the world.
  validation {
    condition     = !var.cluster_endpoint_public_access || length(var.cluster_endpoint_public_access_cidrs) > 0
    error_message = "cluster_endpoint_public_access_cidrs must list the CIDRs that may reach the public endpoint: an empty list opens it to 0.0.0.0/0. Or set cluster_endpoint_public_access = false (docs/deploy.md, \"Reaching the cluster\")."
  }

  validation {
    condition     = alltrue([for cidr in var.cluster_endpoint_public_access_cidrs : !endswith(cidr, "/0")])
    error_message = "cluster_endpoint_public_access_cidrs must not open the endpoint to the whole internet (/0): list your VPN's and runners' egress ranges, or keep the endpoint private."
  }
}

variable "cluster_admin_principal_arns" {
  description = "IAM role/user ARNs given cluster-admin through EKS access entries: the people who operate the cluster, break-glass roles, and every identity that runs `terraform apply` (it installs the add-ons through the cluster's API; the plan refuses to run for an identity not listed here). One access entry each; there is no separate cluster-creator entry."
  type        = list(string)

  validation {
    condition     = length(var.cluster_admin_principal_arns) > 0
    error_message = "cluster_admin_principal_arns must list at least the identity that runs terraform apply (it installs the add-ons)."
  }

  validation {
    condition     = alltrue([for arn in var.cluster_admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "cluster_admin_principal_arns must be IAM role or user ARNs (arn:aws:iam::<account>:role/<name>); for an assumed role give the role's ARN, not the sts:assumed-role session."
  }

  # Two access entries for one principal: the second fails with 409 ResourceInUseException.
  validation {
    condition     = length(distinct(var.cluster_admin_principal_arns)) == length(var.cluster_admin_principal_arns)
    error_message = "cluster_admin_principal_arns lists a principal twice: EKS allows one access entry per principal (409 ResourceInUseException)."
  }
}

variable "acm_certificate_arn" {
  description = "ACM certificate (in var.region) covering *.<api_domain>, for the shared ALB's HTTPS listener, requested by hand (docs/deploy.md step 2). null: Terraform requests it and validates it by DNS in route53_zone_id."
  type        = string
  default     = null

  validation {
    condition     = var.acm_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.acm_certificate_arn))
    error_message = "acm_certificate_arn must be an ACM certificate ARN."
  }

  validation {
    condition     = var.acm_certificate_arn != null || var.route53_zone_id != null
    error_message = "Give acm_certificate_arn, or route53_zone_id so that Terraform requests the certificate and validates it by DNS there."
  }
}

variable "api_domain" {
  description = "DNS domain of the APIs: each service answers at <service>.<api_domain> through the shared ALB, the console at console.<api_domain>."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.api_domain))
    error_message = "api_domain must be a lower-case DNS name, e.g. api.example.com."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of api_domain (or a parent). Optional, off by default: with it Terraform can request and DNS-validate the certificate (acm_certificate_arn = null) and external-dns can publish the hosts (enable_external_dns)."
  type        = string
  default     = null

  validation {
    condition     = var.route53_zone_id == null || can(regex("^Z[A-Z0-9]{1,31}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a hosted zone id (Z...)."
  }
}

variable "enable_external_dns" {
  description = "Install external-dns: it creates and updates the Route 53 records of the Ingress hosts (<service>.<api_domain>, console.<api_domain>) pointing at the ALB, in route53_zone_id only. Off: point them at the ALB by hand (docs/deploy.md step 7)."
  type        = bool
  default     = false

  validation {
    condition     = !var.enable_external_dns || var.route53_zone_id != null
    error_message = "enable_external_dns needs route53_zone_id (the only zone it may change)."
  }
}

variable "enable_log_shipping" {
  description = "Ship every container's logs to CloudWatch Logs (aws-for-fluent-bit, a DaemonSet) into the log group /<project>/<env>/containers, kept log_retention_days, encrypted with the data key. Off by default (cost); the example production tfvars turn it on."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the shipped container logs and the WAF's logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "enable_alb_access_logs" {
  description = "Write the shared ALB's access logs to an S3 bucket of this stack (<project>-<env>-alb-logs-<account>, SSE-S3: ALB delivers no other encryption), kept alb_access_log_days."
  type        = bool
  default     = false
}

variable "alb_access_log_days" {
  description = "Days the ALB's access logs are kept."
  type        = number
  default     = 90

  validation {
    condition     = var.alb_access_log_days >= 1
    error_message = "alb_access_log_days must be at least 1."
  }
}

variable "enable_waf" {
  description = "Put an AWS WAF web ACL in front of the shared ALB: AWS managed rules (common, known bad inputs, IP reputation) and a per-IP rate limit; its logs go to CloudWatch Logs."
  type        = bool
  default     = false
}

variable "waf_rate_limit" {
  description = "Requests one client IP may make in 5 minutes before the WAF blocks it (with enable_waf)."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit >= 100 && var.waf_rate_limit <= 2000000000
    error_message = "waf_rate_limit must be between 100 and 2000000000 (requests per 5 minutes per IP)."
  }
}

variable "enable_aws_load_balancer_controller" {
  description = "Install the AWS Load Balancer Controller (turns the charts' Ingresses into the shared ALB). false if the cluster already runs one."
  type        = bool
  default     = true
}

variable "enable_metrics_server" {
  description = "Install metrics-server (the HPAs scale on its CPU/memory metrics). false if the cluster already runs one."
  type        = bool
  default     = true
}

variable "enable_karpenter" {
  description = "Install Karpenter with a default NodePool (nodes for pods the managed node group cannot fit). false if the cluster has another node autoscaler."
  type        = bool
  default     = true
}

variable "monitoring" {
  description = "kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana, kube-state-metrics), crds-only (only the Prometheus Operator CRDs, for a cluster scraped from elsewhere), or none (the charts then skip ServiceMonitors and PrometheusRules)."
  type        = string
  default     = "kube-prometheus-stack"

  validation {
    condition     = contains(["kube-prometheus-stack", "crds-only", "none"], var.monitoring)
    error_message = "monitoring must be kube-prometheus-stack, crds-only or none."
  }
}

variable "alert_receivers" {
  description = "Where Alertmanager sends warning and critical alerts (with monitoring = kube-prometheus-stack): sns (the topic <project>-<env>-alerts; subscribe people with alert_email_addresses, or PagerDuty / AWS Chatbot to the topic) and/or slack (the webhook URL comes from the Kubernetes Secret monitoring/alertmanager-slack, key webhook-url, created by hand: docs/deploy.md)."
  type        = list(string)
  default     = ["sns"]

  validation {
    condition     = length(var.alert_receivers) > 0 && alltrue([for r in var.alert_receivers : contains(["sns", "slack"], r)])
    error_message = "alert_receivers must name sns and/or slack: alerts that reach no receiver reach nobody."
  }
}

variable "alert_email_addresses" {
  description = "E-mail addresses subscribed to the alerts topic (each confirms the subscription AWS mails it)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for address in var.alert_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "alert_email_addresses must be e-mail addresses."
  }
}

variable "alerts_slack_channel" {
  description = "Slack channel of the alerts, e.g. #platform-alerts (required when alert_receivers has slack)."
  type        = string
  default     = ""

  validation {
    condition     = var.alerts_slack_channel == "" || can(regex("^[#@][a-z0-9_.-]+$", var.alerts_slack_channel))
    error_message = "alerts_slack_channel must be a channel (#name) or a user (@name)."
  }

  validation {
    condition     = !contains(var.alert_receivers, "slack") || var.alerts_slack_channel != ""
    error_message = "alerts_slack_channel is required when alert_receivers has slack."
  }
}

variable "prometheus_storage_gi" {
  description = "Size of Prometheus's EBS volume in GiB (retention 15 days, stops at 90 % of it)."
  type        = number
  default     = 50

  validation {
    condition     = var.prometheus_storage_gi >= 10 && var.prometheus_storage_gi <= 16384
    error_message = "prometheus_storage_gi must be between 10 and 16384 (an EBS gp3 volume)."
  }
}

variable "karpenter_ami_alias" {
  description = "AMI of Karpenter's nodes: an EKS-optimized AL2023 release (al2023@vYYYYMMDD, awslabs/amazon-eks-ami releases), never @latest, which would replace every node whenever AWS publishes an AMI. Bump it deliberately; Karpenter then rolls the nodes (drift)."
  type        = string
  default     = "al2023@v20260714"

  validation {
    condition     = can(regex("^al2023@v[0-9]{8}$", var.karpenter_ami_alias))
    error_message = "karpenter_ami_alias must pin an AL2023 AMI release, e.g. al2023@v20260714 (not @latest)."
  }
}

variable "karpenter_cpu_limit" {
  description = "Most vCPUs Karpenter's default NodePool may run at once (a cost ceiling)."
  type        = number
  default     = 64
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
