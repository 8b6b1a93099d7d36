# VPC and EKS through the community modules (versions pinned exactly; bump deliberately).

# The subnet layout: pure functions of the VPC CIDR and AZ count, proven overlap-free for
# every allowed AZ count by scripts/check-infra.sh (scripts/infra/check_subnets.py).
module "subnet_layout" {
  source = "./modules/subnet_layout"

  vpc_cidr = var.vpc_cidr
  az_count = var.availability_zone_count
}

module "vpc" {
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact version; registry releases are immutable
  source  = "terraform-aws-modules/vpc/aws"
  version = "6.6.0"

  name = local.name
  cidr = var.vpc_cidr
  azs  = local.azs

  # /20 private subnets for nodes and pods (VPC CNI), small public ones for load balancers.
  private_subnets = module.subnet_layout.private_subnets
  public_subnets  = module.subnet_layout.public_subnets

  enable_nat_gateway     = true
  single_nat_gateway     = var.environment != "prod" # prod: one NAT per AZ for AZ independence
  one_nat_gateway_per_az = var.environment == "prod"
  enable_dns_hostnames   = true
  enable_dns_support     = true

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_cloudwatch_log_group_retention_in_days = 90

  public_subnet_tags = { "kubernetes.io/role/elb" = 1 }
  # Karpenter finds the subnets for its nodes by this tag (EC2NodeClass, addons.tf).
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = 1
    "karpenter.sh/discovery"          = local.name
  }
}

# DynamoDB and S3 traffic stays on the AWS network (and off the NAT bill).
resource "aws_vpc_endpoint" "gateway" {
  for_each = toset(["dynamodb", "s3"])

  vpc_id            = module.vpc.vpc_id
  service_name      = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = module.vpc.private_route_table_ids
}

module "eks" {
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact version; registry releases are immutable
  source  = "terraform-aws-modules/eks/aws"
  version = "21.19.0"

  name               = local.name
  kubernetes_version = var.kubernetes_version
  # At the end of standard support: extended support (paid) or an automatic upgrade.
  upgrade_policy      = { support_type = var.eks_support_type }
  deletion_protection = var.deletion_protection

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets

  # Nodes always use the private endpoint. The public one is an explicit choice
  # (docs/deploy.md, "Reaching the cluster"): GitHub-hosted runners and operators outside the
  # VPC need it, limited to cluster_endpoint_public_access_cidrs.
  endpoint_private_access      = true
  endpoint_public_access       = var.cluster_endpoint_public_access
  endpoint_public_access_cidrs = var.cluster_endpoint_public_access_cidrs

  # IRSA: creates the IAM OIDC provider the service roles (iam.tf) trust.
  enable_irsa = true

  # No separate entry for whoever created the cluster: it would collide (409) with the same
  # principal in cluster_admin_principal_arns and move to whoever applies next
  # (terraform-aws-eks #2968, #2911). The applier must be one of those admins instead
  # (data.aws_iam_session_context.applier, main.tf).
  enable_cluster_creator_admin_permissions = false
  enabled_log_types                        = ["api", "audit", "authenticator"]

  # Add-ons without before_compute are created after the node groups and wait until ACTIVE
  # (CoreDNS running): addons.tf's releases depend on the whole module, so they start on a
  # cluster that can run pods.
  addons = {
    coredns    = {}
    kube-proxy = {}
    # enableNetworkPolicy: the VPC CNI's network policy agent enforces the charts'
    # NetworkPolicies (without it they are rendered and ignored).
    vpc-cni = {
      before_compute       = true
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
    }
    # Before the nodes: Karpenter's credentials (Pod Identity) must exist when its pods start.
    eks-pod-identity-agent = { before_compute = true }
    # Volumes for the monitoring stack (monitoring.tf).
    aws-ebs-csi-driver = { service_account_role_arn = module.ebs_csi_irsa.iam_role_arn }
  }

  # Karpenter's nodes join through the access entry its module creates; this tag lets its
  # EC2NodeClass find the node security group.
  node_security_group_tags = { "karpenter.sh/discovery" = local.name }

  eks_managed_node_groups = {
    default = {
      ami_type       = "AL2023_x86_64_STANDARD"
      instance_types = var.node_instance_types
      min_size       = var.node_group_sizes.min
      max_size       = var.node_group_sizes.max
      desired_size   = var.node_group_sizes.desired

      # IMDSv2 with one hop: pods (one hop further) cannot reach the node role's
      # credentials; they use IRSA / Pod Identity.
      metadata_options = {
        http_endpoint               = "enabled"
        http_tokens                 = "required"
        http_put_response_hop_limit = 1
      }
    }
  }

  access_entries = merge(
    # Cluster administrators (people, break-glass roles, the identities that apply).
    # Keyed by ARN, not position: reordering the list changes no entry.
    { for arn in var.cluster_admin_principal_arns : "admin ${arn}" => {
      principal_arn = arn
      policy_associations = {
        admin = {
          policy_arn   = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
          access_scope = { type = "cluster" }
        }
      }
    } },
    # The GitHub deploy role: no access policy, only the Kubernetes group bound to the
    # namespace Role in kubernetes.tf (exactly what `helm upgrade platform` needs).
    var.github_repository == null ? {} : {
      github-deploy = {
        principal_arn     = aws_iam_role.github_deploy[0].arn
        kubernetes_groups = [local.deployer_group]
      }
    },
  )
}
