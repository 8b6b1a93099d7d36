# Where alerts go, and where the monitoring stack keeps its state (with
# monitoring = kube-prometheus-stack; the values are in modules/addon_values).
#
# Alerts: Alertmanager sends warning and critical alerts to the SNS topic below (signed with
# its own IRSA role: no secret anywhere) and/or to Slack (the webhook URL from the Secret
# monitoring/alertmanager-slack). scripts/infra/check_alert_routing.py proves the routing with
# amtool for every alert the charts define.
#
# State: the EBS CSI driver (an EKS add-on, network.tf) with its own role, a gp3 StorageClass,
# and volumes for Prometheus, Alertmanager and Grafana: Karpenter's consolidation moves pods,
# an emptyDir would lose the history each time.

locals {
  kube_prometheus_stack = var.monitoring == "kube-prometheus-stack"
  alerts_to_sns         = local.kube_prometheus_stack && contains(var.alert_receivers, "sns")
  # The ServiceAccount modules/addon_values gives Alertmanager.
  alertmanager_service_account = "${local.monitoring_namespace}:alertmanager"
}

resource "aws_sns_topic" "alerts" {
  count = local.alerts_to_sns ? 1 : 0
  name  = "${local.name}-alerts"
  # SNS's AWS-managed key: subscribers (e-mail, Chatbot, PagerDuty) need no key grant.
  kms_master_key_id = "alias/aws/sns"
}

resource "aws_sns_topic_subscription" "alert_email" {
  for_each  = local.alerts_to_sns ? toset(var.alert_email_addresses) : toset([])
  topic_arn = aws_sns_topic.alerts[0].arn
  protocol  = "email"
  endpoint  = each.value
}

data "aws_iam_policy_document" "alertmanager" {
  count = local.alerts_to_sns ? 1 : 0

  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts[0].arn]
  }
}

module "alertmanager_role" {
  count             = local.alerts_to_sns ? 1 : 0
  source            = "./modules/irsa_role"
  name              = "${local.name}-alertmanager"
  description       = "Alertmanager publishes the alerts of ${local.name} to its SNS topic"
  service_account   = local.alertmanager_service_account
  oidc_provider_arn = module.eks.oidc_provider_arn
  policy_json       = data.aws_iam_policy_document.alertmanager[0].json
}

# The EBS CSI driver's controller (kube-system/ebs-csi-controller-sa) creates and attaches
# the volumes: the module embeds the driver's published policy.
module "ebs_csi_irsa" {
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact version; registry releases are immutable
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.59.0"

  role_name             = "${local.name}-ebs-csi-driver"
  attach_ebs_csi_policy = true

  oidc_providers = {
    cluster = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["kube-system:ebs-csi-controller-sa"]
    }
  }
}

# The cluster's default StorageClass: encrypted gp3, bound where the pod is scheduled (an EBS
# volume lives in one AZ).
resource "kubernetes_storage_class_v1" "gp3" {
  metadata {
    name        = "gp3"
    annotations = { "storageclass.kubernetes.io/is-default-class" = "true" }
  }
  storage_provisioner    = "ebs.csi.aws.com"
  volume_binding_mode    = "WaitForFirstConsumer"
  reclaim_policy         = "Delete"
  allow_volume_expansion = true
  parameters = {
    type      = "gp3"
    encrypted = "true"
  }

  depends_on = [module.eks]
}
