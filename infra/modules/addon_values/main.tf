# The Helm values of every cluster add-on (infra/addons.tf), as pure functions of the cluster's
# facts: no provider, no resource. scripts/check-infra.sh evaluates this module offline with
# `terraform console` (scripts/infra/check_addons.py) and checks what each add-on really gets:
# the Load Balancer Controller's Service webhook off, Karpenter's region, the EKS-tuned
# monitoring stack. Sources of each key are cited beside it.

terraform {
  required_version = ">= 1.6.0"
}

variable "cluster_name" {
  description = "EKS cluster name."
  type        = string
}

variable "cluster_endpoint" {
  description = "EKS API endpoint (Karpenter's settings.clusterEndpoint)."
  type        = string
}

variable "region" {
  description = "AWS region of the cluster."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cluster (the Load Balancer Controller's vpcId)."
  type        = string
}

variable "load_balancer_controller_role_arn" {
  description = "IRSA role of the AWS Load Balancer Controller."
  type        = string
}

variable "karpenter_queue_name" {
  description = "Karpenter's interruption queue (SQS)."
  type        = string
}

variable "karpenter_node_role_name" {
  description = "IAM role of Karpenter's nodes (the EC2NodeClass's role)."
  type        = string
}

variable "karpenter_discovery_tag" {
  description = "Value of the karpenter.sh/discovery tag on the private subnets and node security group."
  type        = string
}

variable "karpenter_cpu_limit" {
  description = "Most vCPUs the default NodePool may run at once."
  type        = number
}

variable "karpenter_ami_alias" {
  description = "amiSelectorTerms alias of the EC2NodeClass, pinned to an AMI release (al2023@vYYYYMMDD)."
  type        = string
}

variable "monitoring_retention" {
  description = "How long Prometheus keeps samples."
  type        = string
  default     = "15d"
}

locals {
  # aws-load-balancer-controller chart 1.14.0 (controller v2.14.0), values.yaml.
  aws_load_balancer_controller = {
    clusterName = var.cluster_name
    # Set explicitly: with an IMDS hop limit of 1 the pod cannot look them up.
    region = var.region
    vpcId  = var.vpc_id
    serviceAccount = {
      name        = "aws-load-balancer-controller"
      annotations = { "eks.amazonaws.com/role-arn" = var.load_balancer_controller_role_arn }
    }
    replicaCount = 2
    # The Service mutating webhook (mservice.elbv2.k8s.aws, failurePolicy Fail) makes the
    # controller the default for type LoadBalancer Services and rejects every Service while
    # its own pods are not up (aws-load-balancer-controller#4140): the other add-ons'
    # Services fail on a first install. The platform uses Ingress only; EKS Blueprints turn
    # it off for the same ordering problem (tests/complete/main.tf).
    enableServiceMutatorWebhook = false
  }

  metrics_server = { replicas = 2 }

  # karpenter chart 1.12.2, values.yaml. The CRDs come from the karpenter-crd chart (templates,
  # so chart bumps upgrade them); this release skips its crds/ directory.
  karpenter = {
    serviceAccount = { name = "karpenter" }
    settings = {
      clusterName       = var.cluster_name
      clusterEndpoint   = var.cluster_endpoint
      interruptionQueue = var.karpenter_queue_name
    }
    controller = {
      # Pod Identity injects AWS_REGION only into pods created after the association exists;
      # without it Karpenter asks IMDS (pkg/operator/operator.go), which one hop cannot reach.
      env = [{ name = "AWS_REGION", value = var.region }]
      # The getting-started guide's 1Gi (memory request = limit); half its 1 CPU request and
      # no CPU limit: it must fit the managed nodes next to the other add-ons.
      resources = {
        requests = { cpu = "500m", memory = "1Gi" }
        limits   = { memory = "1Gi" }
      }
    }
  }

  karpenter_nodepool = {
    discoveryTag = var.karpenter_discovery_tag
    nodeRole     = var.karpenter_node_role_name
    cpuLimit     = var.karpenter_cpu_limit
    amiAlias     = var.karpenter_ami_alias
  }

  # prometheus-operator-crds chart 23.0.0 (operator v0.85.0, the one kube-prometheus-stack
  # 77.7.0 runs): the CRDs as templates, so a chart bump upgrades them. Kept on uninstall.
  prometheus_operator_crds = {
    crds = { annotations = { "helm.sh/resource-policy" = "keep" } }
  }

  # kube-prometheus-stack chart 77.7.0, values.yaml.
  kube_prometheus_stack = {
    # The CRDs come from prometheus_operator_crds: a chart's crds/ directory is installed
    # once and never upgraded.
    crds = { enabled = false }
    # EKS runs the scheduler, controller manager and etcd itself: nothing to scrape, so their
    # *Down alerts (absent(up{job="kube-scheduler"} == 1), ...) would fire forever.
    kubeScheduler         = { enabled = false }
    kubeControllerManager = { enabled = false }
    kubeEtcd              = { enabled = false }
    prometheus = {
      prometheusSpec = {
        # Every namespace's ServiceMonitors and PrometheusRules, not only this release's.
        serviceMonitorSelectorNilUsesHelmValues = false
        ruleSelectorNilUsesHelmValues           = false
        retention                               = var.monitoring_retention
      }
    }
    grafana = {
      # The charts' dashboard ConfigMaps (label grafana_dashboard: "1") in any namespace.
      sidecar = { dashboards = { enabled = true, searchNamespace = "ALL" } }
    }
  }
}

output "aws_load_balancer_controller" {
  description = "Values of the aws-load-balancer-controller release."
  value       = local.aws_load_balancer_controller
}

output "metrics_server" {
  description = "Values of the metrics-server release."
  value       = local.metrics_server
}

output "karpenter" {
  description = "Values of the karpenter release."
  value       = local.karpenter
}

output "karpenter_nodepool" {
  description = "Values of infra/charts/karpenter-nodepool."
  value       = local.karpenter_nodepool
}

output "prometheus_operator_crds" {
  description = "Values of the prometheus-operator-crds release."
  value       = local.prometheus_operator_crds
}

output "kube_prometheus_stack" {
  description = "Values of the kube-prometheus-stack release (Grafana's admin password is set apart, sensitive)."
  value       = local.kube_prometheus_stack
}
