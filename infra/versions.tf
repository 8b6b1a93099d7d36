terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # terraform-aws-modules/eks 20.x supports aws provider 5.x (>= 5.95).
      version = "~> 5.95"
    }
    # The cluster add-ons (addons.tf) and the platform namespace and deploy RBAC
    # (kubernetes.tf). helm 2.x: the 3.x provider changed its block syntax.
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17"
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
  kubernetes {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = local.cluster_ca
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = local.eks_token_cmd
    }
  }
}
