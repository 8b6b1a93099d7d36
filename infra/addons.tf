# Cluster add-ons the platform needs, each pinned and each switchable off for a cluster that
# already runs it (variables enable_* and monitoring):
#   - AWS Load Balancer Controller: turns the charts' Ingresses into the one shared ALB
#     (without it `helm --wait` succeeds and nothing is reachable);
#   - metrics-server: the resource metrics the HPAs scale on;
#   - Karpenter (CRDs, controller) with a default NodePool: nodes for pods the managed node
#     group cannot fit;
#   - kube-prometheus-stack (or only the Prometheus Operator CRDs): scrapes the services'
#     ServiceMonitors, evaluates their PrometheusRules, loads their Grafana dashboards;
#   - optional, off by default: external-dns (edge.tf) and aws-for-fluent-bit (logging.tf).
#
# Order of a first apply (scripts/infra/check_addons.py checks it): every release depends on
# the whole EKS module, whose last add-ons (CoreDNS) become ACTIVE only once the managed nodes
# run pods; then the Load Balancer Controller, whose Service webhook is off (it rejected the
# other releases' Services until its pods ran); then everything else. The values themselves
# are in modules/addon_values, evaluated offline by the same check.

locals {
  # Chart versions: bump deliberately, one at a time.
  addon_chart_versions = {
    aws_load_balancer_controller = "1.14.0" # controller v2.14.0
    metrics_server               = "3.12.2" # metrics-server v0.7.2
    karpenter                    = "1.12.2" # Kubernetes 1.29 - 1.35 (compatibility matrix)
    kube_prometheus_stack        = "77.7.0" # Prometheus Operator v0.85.0
    prometheus_operator_crds     = "23.0.0" # the CRDs of Prometheus Operator v0.85.0
    external_dns                 = "1.21.1" # external-dns v0.21.0
    aws_for_fluent_bit           = "0.2.0"  # AWS for Fluent Bit 3.2.1
  }
  monitoring_namespace = "monitoring"
  # The charts' ServiceMonitors and PrometheusRules render only when the CRDs exist.
  monitoring_crds = var.monitoring != "none"
}

module "addon_values" {
  source = "./modules/addon_values"

  cluster_name                      = module.eks.cluster_name
  cluster_endpoint                  = module.eks.cluster_endpoint
  region                            = var.region
  vpc_id                            = module.vpc.vpc_id
  load_balancer_controller_role_arn = var.enable_aws_load_balancer_controller ? module.aws_load_balancer_controller_irsa[0].iam_role_arn : ""
  karpenter_queue_name              = var.enable_karpenter ? module.karpenter[0].queue_name : ""
  karpenter_node_role_name          = var.enable_karpenter ? module.karpenter[0].node_iam_role_name : ""
  karpenter_discovery_tag           = local.name
  karpenter_cpu_limit               = var.karpenter_cpu_limit
  karpenter_ami_alias               = var.karpenter_ami_alias
  storage_class                     = kubernetes_storage_class_v1.gp3.metadata[0].name
  prometheus_storage_gi             = var.prometheus_storage_gi
  alert_receivers                   = var.alert_receivers
  alerts_topic_arn                  = local.alerts_to_sns ? aws_sns_topic.alerts[0].arn : ""
  alertmanager_role_arn             = local.alerts_to_sns ? module.alertmanager_role[0].iam_role_arn : ""
  alerts_slack_channel              = var.alerts_slack_channel
  api_domain                        = var.api_domain
  external_dns_role_arn             = var.enable_external_dns ? module.external_dns_irsa[0].iam_role_arn : ""
  log_shipping_role_arn             = var.enable_log_shipping ? module.log_shipping_role[0].iam_role_arn : ""
  container_log_group               = var.enable_log_shipping ? aws_cloudwatch_log_group.containers[0].name : ""
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
  values     = [yamlencode(module.addon_values.aws_load_balancer_controller)]

  depends_on = [module.eks]
}

# --- metrics-server -------------------------------------------------------------------------

resource "helm_release" "metrics_server" {
  count      = var.enable_metrics_server ? 1 : 0
  name       = "metrics-server"
  namespace  = "kube-system"
  repository = "https://kubernetes-sigs.github.io/metrics-server/"
  chart      = "metrics-server"
  version    = local.addon_chart_versions.metrics_server
  values     = [yamlencode(module.addon_values.metrics_server)]

  depends_on = [module.eks, helm_release.aws_load_balancer_controller]
}

# --- external-dns (optional: edge.tf) -------------------------------------------------------

resource "helm_release" "external_dns" {
  count      = var.enable_external_dns ? 1 : 0
  name       = "external-dns"
  namespace  = "kube-system"
  repository = "https://kubernetes-sigs.github.io/external-dns/"
  chart      = "external-dns"
  version    = local.addon_chart_versions.external_dns
  values     = [yamlencode(module.addon_values.external_dns)]

  depends_on = [module.eks, helm_release.aws_load_balancer_controller]
}

# --- log shipping (optional: logging.tf) -----------------------------------------------------

resource "helm_release" "aws_for_fluent_bit" {
  count      = var.enable_log_shipping ? 1 : 0
  name       = "aws-for-fluent-bit"
  namespace  = "kube-system"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-for-fluent-bit"
  version    = local.addon_chart_versions.aws_for_fluent_bit
  values     = [yamlencode(module.addon_values.aws_for_fluent_bit)]

  depends_on = [module.eks, helm_release.aws_load_balancer_controller]
}

# --- Karpenter ------------------------------------------------------------------------------

# Controller role (Pod Identity) and its association, node role + access entry, interruption
# queue and rules.
module "karpenter" {
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact version; registry releases are immutable
  count   = var.enable_karpenter ? 1 : 0
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "21.19.0"

  cluster_name                  = module.eks.cluster_name
  namespace                     = "kube-system"
  service_account               = "karpenter"
  node_iam_role_use_name_prefix = false
  node_iam_role_name            = "${local.name}-karpenter-node"
}

# Karpenter's charts live in ECR Public: pulled with a token (us-east-1 only), never with
# whatever stale credentials the runner's Docker config holds for public.ecr.aws.
data "aws_ecrpublic_authorization_token" "karpenter" {
  count  = var.enable_karpenter ? 1 : 0
  region = "us-east-1"
}

# The CRDs as templates of their own chart: unlike a chart's crds/ directory, a version bump
# upgrades them (Karpenter's upgrade guide, "CRD Upgrades").
resource "helm_release" "karpenter_crd" {
  count               = var.enable_karpenter ? 1 : 0
  name                = "karpenter-crd"
  namespace           = "kube-system"
  repository          = "oci://public.ecr.aws/karpenter"
  repository_username = data.aws_ecrpublic_authorization_token.karpenter[0].user_name
  repository_password = data.aws_ecrpublic_authorization_token.karpenter[0].password
  chart               = "karpenter-crd"
  version             = local.addon_chart_versions.karpenter

  depends_on = [module.eks, helm_release.aws_load_balancer_controller]
}

resource "helm_release" "karpenter" {
  count               = var.enable_karpenter ? 1 : 0
  name                = "karpenter"
  namespace           = "kube-system"
  repository          = "oci://public.ecr.aws/karpenter"
  repository_username = data.aws_ecrpublic_authorization_token.karpenter[0].user_name
  repository_password = data.aws_ecrpublic_authorization_token.karpenter[0].password
  chart               = "karpenter"
  version             = local.addon_chart_versions.karpenter
  skip_crds           = true
  values              = [yamlencode(module.addon_values.karpenter)]

  # The whole Karpenter module: its Pod Identity association must exist before the pods start,
  # or they run without credentials or region.
  depends_on = [module.eks, module.karpenter, helm_release.karpenter_crd, helm_release.aws_load_balancer_controller]
}

# The default NodePool and EC2NodeClass, as a local chart: a chart (unlike kubernetes_manifest)
# needs no CRD at plan time.
resource "helm_release" "karpenter_nodepool" {
  count     = var.enable_karpenter ? 1 : 0
  name      = "karpenter-nodepool"
  namespace = "kube-system"
  chart     = "${path.module}/charts/karpenter-nodepool"
  values    = [yamlencode(module.addon_values.karpenter_nodepool)]

  depends_on = [module.eks, helm_release.aws_load_balancer_controller, helm_release.karpenter_crd, helm_release.karpenter]
}

# --- Prometheus Operator --------------------------------------------------------------------

# The CRDs, for both monitoring modes: as templates, so chart bumps upgrade them.
resource "helm_release" "prometheus_operator_crds" {
  count      = var.monitoring != "none" ? 1 : 0
  name       = "prometheus-operator-crds"
  namespace  = "kube-system"
  repository = "https://prometheus-community.github.io/helm-charts"
  chart      = "prometheus-operator-crds"
  version    = local.addon_chart_versions.prometheus_operator_crds
  values     = [yamlencode(module.addon_values.prometheus_operator_crds)]

  depends_on = [module.eks, helm_release.aws_load_balancer_controller]
}

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
  values           = [yamlencode(module.addon_values.kube_prometheus_stack)]
  set_sensitive = [{
    name  = "grafana.adminPassword"
    value = random_password.grafana_admin[0].result
  }]
  # Operator, Prometheus, Alertmanager, Grafana, kube-state-metrics and node exporters on a
  # fresh cluster take longer than the default 300 s.
  timeout = 900

  depends_on = [module.eks, helm_release.aws_load_balancer_controller, helm_release.prometheus_operator_crds, kubernetes_storage_class_v1.gp3]
}
