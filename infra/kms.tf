# One customer-managed key per environment for the platform's data at rest: DynamoDB tables,
# the avatar bucket, Secrets Manager secrets, ECR images and CloudWatch log groups. Principals
# get to use it through their IAM policies (the key policy delegates to the account),
# restricted by kms:ViaService; CloudWatch Logs through the key policy.
data "aws_iam_policy_document" "data_key" {
  #checkov:skip=CKV_AWS_111:Key policy: resource "*" is this key only; the account root statement is AWS's default delegation to IAM policies
  #checkov:skip=CKV_AWS_356:Key policy: resource "*" is this key only (key policies cannot name their own ARN)
  #checkov:skip=CKV_AWS_109:Key policy: administration is delegated to the account's IAM policies, which are least-privilege (iam.tf)
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts this account's log groups (shipped container logs, WAF logs)
  # with the key: it needs a grant in the key policy itself (CloudWatch Logs user guide,
  # "Encrypt log data using AWS KMS"), bound to log groups of this account and region.
  statement {
    sid       = "CloudWatchLogsEncryptsLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"] # in a key policy "*" means this key

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "data" {
  description             = "${local.name} data at rest (DynamoDB, S3, Secrets Manager, ECR)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.data_key.json
}

resource "aws_kms_alias" "data" {
  name          = "alias/${local.name}-data"
  target_key_id = aws_kms_key.data.key_id
}
