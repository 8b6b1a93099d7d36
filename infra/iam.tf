# IAM roles for service accounts (IRSA): one role per service, assumable only by that
# service's Kubernetes service account (namespace + name) through the cluster's OIDC
# provider, with access to that service's own tables, bucket and secrets and nothing else.

locals {
  # service => list of its table ARNs (tables and their indexes)
  service_table_arns = {
    for service in local.services : service => flatten([
      for name, table in local.dynamodb_tables : [
        module.dynamodb_table[name].arn,
        module.dynamodb_table[name].index_arns,
      ] if table.service == service
    ])
  }

  secret_arns = { for key, secret in aws_secretsmanager_secret.service : key => secret.arn }

  # service => secret ARNs it may read. integration-service's are matched by its
  # environment's prefix because tenants are onboarded at run time.
  service_secret_arns = {
    "user-service" = [local.secret_arns.admin_password, local.secret_arns.user_cursor_keys]
    "sales-service" = [
      local.secret_arns.africastalking_apikey,
      local.secret_arns.sms_delivery_report_token,
      local.secret_arns.sales_cursor_keys,
    ]
    "console"             = [local.secret_arns.console_oidc_client_secret]
    "integration-service" = ["arn:${local.partition}:secretsmanager:${var.region}:${local.account_id}:secret:${local.integration_secret_prefix}*"]
  }

  # Exactly the API actions each service's code calls, nothing more: scripts/infra/check_iam.py
  # reads the SDK calls in services/<service>/src and fails on any difference.
  # TransactWriteItems has no IAM action of its own: each item is authorised as the
  # PutItem/UpdateItem/DeleteItem/ConditionCheckItem it performs. DescribeTable is the
  # readiness check; table creation (AUTO_CREATE_RESOURCES) is for emulators only.
  service_dynamodb_actions = {
    # Its session table: read, write, delete a session by its id.
    "console" = [
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
    ]
    "user-service" = [
      "dynamodb:BatchWriteItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
    ]
    "sales-service" = [
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    # GetItem and DeleteItem: the provider-sync lease (read who holds it, give it back).
    "integration-service" = [
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
  }

  # Objects under avatars/ and the bucket itself (ListBucket also authorises HeadBucket,
  # the readiness check).
  service_s3_object_actions = {
    "user-service" = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
  }
  service_s3_bucket_actions = {
    "user-service" = ["s3:ListBucket"]
  }

  # Every service reads its secrets through common::secrets::AwsSecretStore.
  service_secret_actions = { for service in local.services : service => ["secretsmanager:GetSecretValue"] }
}

data "aws_iam_policy_document" "irsa_trust" {
  for_each = local.services

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [module.eks.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:sub"
      values   = ["system:serviceaccount:${var.kubernetes_namespace}:${each.key}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "service" {
  for_each = local.services

  dynamic "statement" {
    for_each = length(local.service_table_arns[each.key]) > 0 ? [1] : []
    content {
      sid       = "OwnTables"
      actions   = local.service_dynamodb_actions[each.key]
      resources = local.service_table_arns[each.key]
    }
  }

  statement {
    sid       = "OwnSecrets"
    actions   = local.service_secret_actions[each.key]
    resources = local.service_secret_arns[each.key]
  }

  # Decrypt table items, objects and secrets with the data key, only through those services.
  statement {
    sid       = "DataKeyViaServices"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = [
        "dynamodb.${var.region}.amazonaws.com",
        "s3.${var.region}.amazonaws.com",
        "secretsmanager.${var.region}.amazonaws.com",
      ]
    }
  }

  dynamic "statement" {
    for_each = contains(keys(local.service_s3_object_actions), each.key) ? [1] : []
    content {
      sid       = "AvatarObjects"
      actions   = local.service_s3_object_actions[each.key]
      resources = ["${aws_s3_bucket.avatars.arn}/avatars/*"]
    }
  }

  dynamic "statement" {
    for_each = contains(keys(local.service_s3_bucket_actions), each.key) ? [1] : []
    content {
      sid       = "AvatarBucket"
      actions   = local.service_s3_bucket_actions[each.key]
      resources = [aws_s3_bucket.avatars.arn]
    }
  }
}

resource "aws_iam_role" "service" {
  for_each = local.services

  name                 = "${local.name}-${each.key}"
  description          = "IRSA role of ${each.key} (${var.kubernetes_namespace}/${each.key})"
  assume_role_policy   = data.aws_iam_policy_document.irsa_trust[each.key].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "service" {
  for_each = local.services

  name   = "${each.key}-access"
  role   = aws_iam_role.service[each.key].id
  policy = data.aws_iam_policy_document.service[each.key].json
}
