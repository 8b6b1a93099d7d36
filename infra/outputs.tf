# Everything the Helm values and the deploy workflow need. `terraform output -json helm_values`
# gives one object per service, shaped like the chart's values (see docs/deploy.md).

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.eks.cluster_name
}

output "region" {
  description = "AWS region."
  value       = var.region
}

output "table_prefix" {
  description = "TABLE_PREFIX of every service."
  value       = local.table_prefix
}

output "table_names" {
  description = "Full DynamoDB table names by unprefixed name."
  value       = { for name, table in module.dynamodb_table : name => table.name }
}

output "avatar_bucket" {
  description = "AVATAR_BUCKET of user-service."
  value       = aws_s3_bucket.avatars.bucket
}

output "secret_names" {
  description = "Secrets Manager secret names (values are set out of band)."
  value = merge(
    { for key, secret in aws_secretsmanager_secret.service : key => secret.name },
    { for name, secret in aws_secretsmanager_secret.integration : name => secret.name },
  )
}

output "service_role_arns" {
  description = "IRSA role ARN per service (serviceAccount.roleArn in Helm)."
  value       = { for service, role in aws_iam_role.service : service => role.arn }
}

output "ecr_repository_urls" {
  description = "ECR repository URL per service."
  value       = { for service, repo in aws_ecr_repository.service : service => repo.repository_url }
}

output "github_deploy_role_arn" {
  description = "Role for aws-actions/configure-aws-credentials (repository variable AWS_DEPLOY_ROLE_ARN)."
  value       = var.github_repository == null ? null : aws_iam_role.github_deploy[0].arn
}

locals {
  # Service-specific environment Terraform knows (resource names; a service without any has
  # no entry); everything else comes from the chart's overlay (charts/platform/values.yaml).
  helm_service_env = {
    "user-service" = {
      AVATAR_BUCKET            = aws_s3_bucket.avatars.bucket
      ADMIN_PASSWORD_SECRET_ID = aws_secretsmanager_secret.service["admin_password"].name
      CURSOR_KEYS_SECRET_ID    = aws_secretsmanager_secret.service["user_cursor_keys"].name
    }
    "sales-service" = {
      AFRICASTALKING_API_KEY_SECRET_ID    = aws_secretsmanager_secret.service["africastalking_apikey"].name
      SMS_DELIVERY_REPORT_TOKEN_SECRET_ID = aws_secretsmanager_secret.service["sms_delivery_report_token"].name
      CURSOR_KEYS_SECRET_ID               = aws_secretsmanager_secret.service["sales_cursor_keys"].name
    }
    "integration-service" = {
      CURSOR_KEYS_SECRET_ID = aws_secretsmanager_secret.service["integration_cursor_keys"].name
    }
    # Used once services/console and its tables are in local.services (contract 9).
    "console" = {
      PUBLIC_URL            = "https://console.${var.api_domain}"
      OIDC_CLIENT_SECRET_ID = aws_secretsmanager_secret.service["console_oidc_client_secret"].name
      # Avatars load from the bucket's presigned URLs (the page's img-src).
      IMAGE_ORIGINS = "https://${aws_s3_bucket.avatars.bucket}.s3.${var.region}.amazonaws.com"
    }
  }
}

output "helm_values" {
  description = "Values of charts/platform for this environment, one key per service: terraform output -json helm_values > env.json; helm upgrade --install platform charts/platform -f charts/platform/values-production.yaml -f env.json ..."
  value = {
    for service in local.services : service => {
      # Chart keys, not env entries: the chart renders AWS_REGION, TABLE_PREFIX and
      # AUTO_CREATE_RESOURCES from these (and its schema refuses them under env).
      image = {
        registry   = split("/", aws_ecr_repository.service[service].repository_url)[0]
        repository = aws_ecr_repository.service[service].name # <project>/<service>
      }
      aws                 = { region = var.region }
      tablePrefix         = local.table_prefix
      autoCreateResources = false
      serviceAccount      = { roleArn = aws_iam_role.service[service].arn }
      env                 = lookup(local.helm_service_env, service, {})
      ingress = {
        alb = {
          certificateArn = local.certificate_arn
          wafAclArn      = var.enable_waf ? aws_wafv2_web_acl.alb[0].arn : ""
          accessLogs = {
            bucket = var.enable_alb_access_logs ? aws_s3_bucket.alb_logs[0].bucket : ""
            prefix = local.alb_log_prefix
          }
        }
        hosts = [{ host = "${service}.${var.api_domain}", paths = [{ path = "/", pathType = "Prefix" }] }]
      }
      # The internet-facing ALB's interfaces live in the public subnets; the VPC CIDR would
      # admit every pod (the VPC CNI gives pods VPC addresses).
      networkPolicy    = { albSourceCidrs = module.subnet_layout.public_subnets, prometheusNamespace = local.monitoring_namespace }
      serviceMonitor   = { enabled = local.monitoring_crds }
      prometheusRule   = { enabled = local.monitoring_crds }
      grafanaDashboard = { enabled = var.monitoring == "kube-prometheus-stack" }
    }
  }
}

output "integration_secret_prefix" {
  description = "Secrets Manager prefix of integration-service's tenant secrets: <prefix><tenant>/<integration> (the `secret` of each TENANTS_JSON entry)."
  value       = local.integration_secret_prefix
}

output "vpc_cidr" {
  description = "CIDR of the VPC."
  value       = var.vpc_cidr
}

output "public_subnet_cidrs" {
  description = "The public subnets, where the ALB's interfaces live: the services' NetworkPolicies admit them (helm_values networkPolicy.albSourceCidrs)."
  value       = module.subnet_layout.public_subnets
}

output "grafana_admin_password" {
  description = "Grafana's admin password (kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80)."
  value       = var.monitoring == "kube-prometheus-stack" ? random_password.grafana_admin[0].result : null
  sensitive   = true
}

output "alerts_topic_arn" {
  description = "SNS topic Alertmanager publishes warning and critical alerts to (subscribe on-call e-mail, PagerDuty or AWS Chatbot); null without it."
  value       = local.alerts_to_sns ? aws_sns_topic.alerts[0].arn : null
}
