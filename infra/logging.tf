# Container logs off the nodes (enable_log_shipping): aws-for-fluent-bit (addons.tf) tails
# every container's log on each node and writes it to this log group, with its own IRSA role
# allowed to write there only. A pod's logs then outlive the pod and the node.

locals {
  container_log_group = "/${var.project}/${var.environment}/containers"
}

resource "aws_cloudwatch_log_group" "containers" {
  count             = var.enable_log_shipping ? 1 : 0
  name              = local.container_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
}

data "aws_iam_policy_document" "log_shipping" {
  count = var.enable_log_shipping ? 1 : 0

  statement {
    sid = "WriteContainerLogs"
    # What fluent-bit's cloudwatch_logs output calls with auto_create_group off.
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.containers[0].arn}:*"]
  }
}

module "log_shipping_role" {
  count             = var.enable_log_shipping ? 1 : 0
  source            = "./modules/irsa_role"
  name              = "${local.name}-log-shipping"
  description       = "fluent-bit writes the container logs of ${local.name} to ${local.container_log_group}"
  service_account   = "kube-system:aws-for-fluent-bit"
  oidc_provider_arn = module.eks.oidc_provider_arn
  policy_json       = data.aws_iam_policy_document.log_shipping[0].json
}
