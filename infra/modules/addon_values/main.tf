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

variable "storage_class" {
  description = "StorageClass of the monitoring volumes (the gp3 class on the EBS CSI driver, infra/kubernetes.tf)."
  type        = string
}

variable "prometheus_storage_gi" {
  description = "Size of Prometheus's volume, GiB."
  type        = number
}

variable "alert_receivers" {
  description = "Where warning and critical alerts go: sns (the alerts topic, through Alertmanager's IRSA role) and/or slack (webhook URL read from the Secret alertmanager-slack)."
  type        = list(string)
}

variable "alerts_topic_arn" {
  description = "SNS topic of the alerts (with sns in alert_receivers)."
  type        = string
  default     = ""
}

variable "alertmanager_role_arn" {
  description = "IRSA role of Alertmanager (sns:Publish on the alerts topic)."
  type        = string
  default     = ""
}

variable "alerts_slack_channel" {
  description = "Slack channel of the alerts (with slack in alert_receivers)."
  type        = string
  default     = ""
}

variable "api_domain" {
  description = "DNS domain of the platform's hosts (external-dns manages records under it only)."
  type        = string
  default     = "api.example.com"
}

variable "external_dns_role_arn" {
  description = "IRSA role of external-dns (changes records in the one hosted zone)."
  type        = string
  default     = ""
}

variable "log_shipping_role_arn" {
  description = "IRSA role of aws-for-fluent-bit (writes to the container log group)."
  type        = string
  default     = ""
}

variable "container_log_group" {
  description = "CloudWatch Logs group of the containers' logs."
  type        = string
  default     = ""
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

  # external-dns chart 1.21.1 (app 0.21.0), values.yaml: the Ingress hosts under api_domain,
  # as records it owns (TXT registry) and never deletes (upsert-only).
  external_dns = {
    provider      = { name = "aws" }
    sources       = ["ingress"]
    policy        = "upsert-only"
    registry      = "txt"
    txtOwnerId    = var.cluster_name
    domainFilters = [var.api_domain]
    serviceAccount = {
      name        = "external-dns"
      annotations = { "eks.amazonaws.com/role-arn" = var.external_dns_role_arn }
    }
    # One IMDS hop: the region must be given.
    env = [{ name = "AWS_DEFAULT_REGION", value = var.region }]
  }

  # aws-for-fluent-bit chart 0.2.0 (AWS for Fluent Bit 3.2.1), values.yaml: every container's
  # log to one CloudWatch Logs group Terraform made (retention, KMS), streams per pod.
  aws_for_fluent_bit = {
    cloudWatchLogs = {
      enabled         = true
      region          = var.region
      logGroupName    = var.container_log_group
      autoCreateGroup = false
      logStreamPrefix = "${var.cluster_name}."
    }
    serviceAccount = {
      name        = "aws-for-fluent-bit"
      annotations = { "eks.amazonaws.com/role-arn" = var.log_shipping_role_arn }
    }
  }

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

  # Alertmanager's configuration (kube-prometheus-stack renders it into its Secret). Every
  # top-level key of the chart's default is set here, so the chart merges nothing of its own
  # into it (values.yaml 77.7.0, alertmanager.config, which routes everything to 'null') and
  # scripts/infra/check_alert_routing.py tests exactly what runs, with amtool.
  slack_secret = "alertmanager-slack"
  alert_text   = "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}"
  alert_title  = "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.namespace }})"
  alertmanager_config = {
    global    = { resolve_timeout = "5m" }
    templates = ["/etc/alertmanager/config/*.tmpl"]
    # A critical alert silences the warning and info of the same alert; a warning its info.
    inhibit_rules = [
      { source_matchers = ["severity = critical"], target_matchers = ["severity =~ warning|info"], equal = ["namespace", "alertname"] },
      { source_matchers = ["severity = warning"], target_matchers = ["severity = info"], equal = ["namespace", "alertname"] },
      { source_matchers = ["alertname = InfoInhibitor"], target_matchers = ["severity = info"], equal = ["namespace"] },
      { target_matchers = ["alertname = InfoInhibitor"] },
    ]
    # Every alert reaches the people on call, but the always-firing Watchdog (a heartbeat for
    # an external dead man's switch), InfoInhibitor and severity info.
    route = {
      receiver        = "platform"
      group_by        = ["namespace", "alertname"]
      group_wait      = "30s"
      group_interval  = "5m"
      repeat_interval = "4h"
      routes = [
        { receiver = "null", matchers = ["alertname =~ Watchdog|InfoInhibitor"] },
        { receiver = "null", matchers = ["severity =~ info|none"] },
      ]
    }
    receivers = [
      { name = "null" },
      merge(
        { name = "platform" },
        contains(var.alert_receivers, "sns") ? {
          sns_configs = [{
            topic_arn     = var.alerts_topic_arn
            sigv4         = { region = var.region }
            subject       = local.alert_title
            message       = local.alert_text
            send_resolved = true
          }]
        } : {},
        contains(var.alert_receivers, "slack") ? {
          slack_configs = [{
            api_url_file  = "/etc/alertmanager/secrets/${local.slack_secret}/webhook-url"
            channel       = var.alerts_slack_channel
            title         = local.alert_title
            text          = local.alert_text
            send_resolved = true
          }]
        } : {},
      ),
    ]
  }

  # A PersistentVolumeClaim template on the gp3 class (EBS CSI driver, add-on in network.tf).
  volume = { for name, gi in { prometheus = var.prometheus_storage_gi, alertmanager = 2 } : name => {
    volumeClaimTemplate = {
      spec = {
        storageClassName = var.storage_class
        accessModes      = ["ReadWriteOnce"]
        resources        = { requests = { storage = "${gi}Gi" } }
      }
    }
  } }

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
        # Stop at 90 % of the volume rather than fill it.
        retentionSize = "${floor(var.prometheus_storage_gi * 0.9)}GB"
        # On an EBS volume: Karpenter's consolidation moves the pod, not its history.
        storageSpec = local.volume.prometheus
      }
    }
    alertmanager = {
      # A fixed name: Alertmanager's IRSA role trusts monitoring/alertmanager.
      serviceAccount = {
        name        = "alertmanager"
        annotations = var.alertmanager_role_arn == "" ? {} : { "eks.amazonaws.com/role-arn" = var.alertmanager_role_arn }
      }
      config = local.alertmanager_config
      alertmanagerSpec = {
        # Mounted at /etc/alertmanager/secrets/<name>/ (the Slack webhook URL).
        secrets = contains(var.alert_receivers, "slack") ? [local.slack_secret] : []
        # Silences and the notification log survive a restart.
        storage = local.volume.alertmanager
      }
    }
    grafana = {
      # The charts' dashboard ConfigMaps (label grafana_dashboard: "1") in any namespace.
      sidecar = { dashboards = { enabled = true, searchNamespace = "ALL" } }
      # Users, folders and edits survive a restart (grafana chart 9.4.5). A ReadWriteOnce
      # volume cannot be attached to the old and the new pod at once: no rolling update.
      persistence        = { enabled = true, type = "pvc", storageClassName = var.storage_class, size = "5Gi" }
      deploymentStrategy = { type = "Recreate" }
    }
  }
}

output "aws_load_balancer_controller" {
  description = "Values of the aws-load-balancer-controller release."
  value       = local.aws_load_balancer_controller
}

output "external_dns" {
  description = "Values of the external-dns release."
  value       = local.external_dns
}

output "aws_for_fluent_bit" {
  description = "Values of the aws-for-fluent-bit release."
  value       = local.aws_for_fluent_bit
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

output "alertmanager_config" {
  description = "Alertmanager's configuration (also inside kube_prometheus_stack), for the routing tests."
  value       = local.alertmanager_config
}

output "kube_prometheus_stack" {
  description = "Values of the kube-prometheus-stack release (Grafana's admin password is set apart, sensitive)."
  value       = local.kube_prometheus_stack
}
