# Cluster add-ons the platform needs, each pinned and each switchable off for a cluster that
# already runs it (variables enable_* and monitoring):
#   - AWS Load Balancer Controller: turns the charts' Ingresses into the one shared ALB
#     (without it `helm --wait` succeeds and nothing is reachable);
#   - metrics-server: the resource metrics the HPAs scale on;
#   - Karpenter with a default NodePool: nodes for pods the managed node group cannot fit;
#   - kube-prometheus-stack (or only the Prometheus Operator CRDs): scrapes the services'
#     ServiceMonitors, evaluates their PrometheusRules, loads their Grafana dashboards.

locals {
  # Chart versions: bump deliberately, one at a time.
  addon_chart_versions = {
    aws_load_balancer_controller = "1.14.0" # controller v2.14.0
    metrics_server               = "3.12.2" # metrics-server v0.7.2
    karpenter                    = "1.8.2"  # Kubernetes 1.29 - 1.34
    kube_prometheus_stack        = "77.7.0"
    prometheus_operator_crds     = "23.0.0"
  }
  monitoring_namespace = "monitoring"
  # The charts' ServiceMonitors and PrometheusRules render only when the CRDs exist.
  monitoring_crds = var.monitoring != "none"
}

# --- AWS Load Balancer Controller ---------------------------------------------------------

# Its own role (IRSA), with the controller's published policy (the module embeds it).
module "aws_load_balancer_controller_irsa" {
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact version; registry releases are immutable
  count   = var.enable_aws_load_balancer_controller ? 1 : 0
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.59.0"

  role_name                              = "${local.name}-aws-load-balancer-controller"
  attach_load_balancer_controller_policy = true

  oidc_providers = {
    cluster = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["kube-system:aws-load-balancer-controller"]
    }
  }
}

resource "helm_release" "aws_load_balancer_controller" {
  count      = var.enable_aws_load_balancer_controller ? 1 : 0
  name       = "aws-load-balancer-controller"
  namespace  = "kube-system"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = local.addon_chart_versions.aws_load_balancer_controller

  values = [yamlencode({
    clusterName = module.eks.cluster_name
    # Set explicitly: with an IMDS hop limit of 1 the pod cannot look them up.
    region = var.region
    vpcId  = module.vpc.vpc_id
    serviceAccount = {
      name        = "aws-load-balancer-controller"
      annotations = { "eks.amazonaws.com/role-arn" = module.aws_load_balancer_controller_irsa[0].iam_role_arn }
    }
    replicaCount = 2
  })]
}

# --- metrics-server -------------------------------------------------------------------------

resource "helm_release" "metrics_server" {
  count      = var.enable_metrics_server ? 1 : 0
  name       = "metrics-server"
  namespace  = "kube-system"
  repository = "https://kubernetes-sigs.github.io/metrics-server/"
  chart      = "metrics-server"
  version    = local.addon_chart_versions.metrics_server

  values = [yamlencode({ replicas = 2 })]
}

# --- Karpenter ------------------------------------------------------------------------------

# Controller role (Pod Identity), node role + access entry, interruption queue and rules.
module "karpenter" {
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact version; registry releases are immutable
  count   = var.enable_karpenter ? 1 : 0
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "20.37.2"

  cluster_name                    = module.eks.cluster_name
  enable_v1_permissions           = true
  enable_pod_identity             = true
  create_pod_identity_association = true
  namespace                       = "kube-system"
  service_account                 = "karpenter"
  node_iam_role_use_name_prefix   = false
  node_iam_role_name              = "${local.name}-karpenter-node"
}

resource "helm_release" "karpenter" {
  count      = var.enable_karpenter ? 1 : 0
  name       = "karpenter"
  namespace  = "kube-system"
  repository = "oci://public.ecr.aws/karpenter"
  chart      = "karpenter"
  version    = local.addon_chart_versions.karpenter

  values = [yamlencode({
    serviceAccount = { name = "karpenter" }
    settings = {
      clusterName       = module.eks.cluster_name
      interruptionQueue = module.karpenter[0].queue_name
    }
  })]
}

# The default NodePool and EC2NodeClass, as a local chart: their CRDs come with the release
# above, and a chart (unlike kubernetes_manifest) needs no CRD at plan time.
resource "helm_release" "karpenter_nodepool" {
  count     = var.enable_karpenter ? 1 : 0
  name      = "karpenter-nodepool"
  namespace = "kube-system"
  chart     = "${path.module}/charts/karpenter-nodepool"

  values = [yamlencode({
    discoveryTag = local.name
    nodeRole     = module.karpenter[0].node_iam_role_name
    cpuLimit     = var.karpenter_cpu_limit
  })]

  depends_on = [helm_release.karpenter]
}

# --- Prometheus Operator --------------------------------------------------------------------

resource "random_password" "grafana_admin" {
  count   = var.monitoring == "kube-prometheus-stack" ? 1 : 0
  length  = 32
  special = false
}

resource "helm_release" "kube_prometheus_stack" {
  count            = var.monitoring == "kube-prometheus-stack" ? 1 : 0
  name             = "kube-prometheus-stack"
  namespace        = local.monitoring_namespace
  create_namespace = true
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = local.addon_chart_versions.kube_prometheus_stack

  values = [yamlencode({
    prometheus = {
      prometheusSpec = {
        # Pick up every namespace's ServiceMonitors and PrometheusRules, not only the
        # ones labelled with this release.
        serviceMonitorSelectorNilUsesHelmValues = false
        ruleSelectorNilUsesHelmValues           = false
        retention                               = "15d"
      }
    }
    grafana = {
      adminPassword = random_password.grafana_admin[0].result
      # The charts' dashboard ConfigMaps (label grafana_dashboard: "1") in any namespace.
      sidecar = { dashboards = { enabled = true, searchNamespace = "ALL" } }
    }
  })]
}

resource "helm_release" "prometheus_operator_crds" {
  count      = var.monitoring == "crds-only" ? 1 : 0
  name       = "prometheus-operator-crds"
  namespace  = "kube-system"
  repository = "https://prometheus-community.github.io/helm-charts"
  chart      = "prometheus-operator-crds"
  version    = local.addon_chart_versions.prometheus_operator_crds
}
