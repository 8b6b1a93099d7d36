# The platform's namespace and exactly the Kubernetes access the deploy needs.

locals {
  # Kubernetes group of the GitHub deploy role (its EKS access entry, network.tf).
  deployer_group = "platform-deployers"
  manage         = ["get", "list", "watch", "create", "update", "patch", "delete"]
  read           = ["get", "list", "watch"]

  # What `helm upgrade --install platform charts/platform --atomic --wait` and
  # `helm test platform --logs` touch in the namespace: the kinds the chart renders (the test
  # Pods included; scripts/infra/check_terraform.py compares them), Helm's release records
  # (Secrets; the services keep theirs in Secrets Manager), and read access to what --wait,
  # `kubectl rollout status` and the test logs need.
  deployer_rules = [
    { api_groups = [""], resources = ["configmaps", "services", "serviceaccounts", "secrets", "pods"], verbs = local.manage },
    { api_groups = ["apps"], resources = ["deployments"], verbs = local.manage },
    { api_groups = ["batch"], resources = ["cronjobs"], verbs = local.manage },
    { api_groups = ["autoscaling"], resources = ["horizontalpodautoscalers"], verbs = local.manage },
    { api_groups = ["policy"], resources = ["poddisruptionbudgets"], verbs = local.manage },
    { api_groups = ["networking.k8s.io"], resources = ["ingresses", "networkpolicies"], verbs = local.manage },
    { api_groups = ["monitoring.coreos.com"], resources = ["servicemonitors", "prometheusrules"], verbs = local.manage },
    { api_groups = [""], resources = ["pods/log", "events"], verbs = local.read },
    { api_groups = ["apps"], resources = ["replicasets"], verbs = local.read },
    { api_groups = ["batch"], resources = ["jobs"], verbs = local.read },
  ]
}

resource "kubernetes_namespace_v1" "platform" {
  metadata {
    name = var.kubernetes_namespace
    labels = {
      # Pod Security Admission: the services' pods meet `restricted` (non-root, no
      # privilege escalation, all capabilities dropped, seccomp RuntimeDefault).
      "pod-security.kubernetes.io/enforce" = "restricted"
      "pod-security.kubernetes.io/audit"   = "restricted"
      "pod-security.kubernetes.io/warn"    = "restricted"
      # The AWS Load Balancer Controller injects a readiness gate into new pods: a pod
      # counts as ready only once the ALB target is healthy, so rollouts never outrun it.
      "elbv2.k8s.aws/pod-readiness-gate-inject" = "enabled"
    }
  }
}

resource "kubernetes_role_v1" "deployer" {
  metadata {
    name      = "platform-deployer"
    namespace = kubernetes_namespace_v1.platform.metadata[0].name
  }

  dynamic "rule" {
    for_each = local.deployer_rules
    content {
      api_groups = rule.value.api_groups
      resources  = rule.value.resources
      verbs      = rule.value.verbs
    }
  }
}

resource "kubernetes_role_binding_v1" "deployer" {
  metadata {
    name      = "platform-deployer"
    namespace = kubernetes_namespace_v1.platform.metadata[0].name
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = kubernetes_role_v1.deployer.metadata[0].name
  }
  subject {
    kind      = "Group"
    name      = local.deployer_group
    api_group = "rbac.authorization.k8s.io"
  }
}
