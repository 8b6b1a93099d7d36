terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # terraform-aws-modules/eks 21.19.0 and vpc 6.6.0 need >= 6.28 (their versions.tf).
      version = "~> 6.28"
    }
    # The cluster add-ons (addons.tf) and the platform namespace and deploy RBAC
    # (kubernetes.tf). helm 3.x: `kubernetes` and `exec` are objects (v3 upgrade guide).
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.36"
    }
    # Grafana's admin password (addons.tf).
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# Both talk to the cluster this stack creates, with a token from the AWS CLI of whoever runs
# terraform (one of cluster_admin_principal_arns: main.tf checks it at plan time).
locals {
  cluster_ca    = base64decode(module.eks.cluster_certificate_authority_data)
  eks_token_cmd = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
}

provider "kubernetes" {
  host                   = module.eks.cluster_endpoint
  cluster_ca_certificate = local.cluster_ca
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = local.eks_token_cmd
  }
}

provider "helm" {
  kubernetes = {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = local.cluster_ca
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = local.eks_token_cmd
    }
  }
}
