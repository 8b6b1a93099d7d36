#!/usr/bin/env python3
"""What a first `terraform apply` must get right and `terraform validate` cannot see
(it cannot run offline here anyway): checked on infra/*.tf with python-hcl2.

  check_terraform.py RENDERED_RELEASE.yaml

- the VPC CNI enforces NetworkPolicies (enableNetworkPolicy);
- nodes (managed group and Karpenter's) allow one IMDS hop: pods cannot take the node role;
- state locks with use_lockfile (no DynamoDB lock table);
- the platform namespace enforces Pod Security `restricted` and gets the ALB readiness gate;
- the EKS endpoint's public access is an explicit choice (variable without default);
- the admins are the only cluster-admin access entries (no creator entry), the applier is one of
  them (N5);
- there is an admin access-entry variable; the deploy role has no cluster-wide policy, and
  its namespace Role grants exactly the kinds the release renders (RENDERED_RELEASE.yaml,
  the production render with the Prometheus Operator API) plus Helm's own needs;
- every secret name starts with the environment.
Prints one PROBLEM line per failure; exits 1 if any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from hcl_tools import load as load_hcl, locals_of

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
PROBLEMS: list[str] = []
# Kind -> (API group, resource) of what the platform chart renders.
RESOURCES = {
    "ConfigMap": ("", "configmaps"), "Service": ("", "services"), "ServiceAccount": ("", "serviceaccounts"),
    "Pod": ("", "pods"),  # the `helm test` hooks
    "Deployment": ("apps", "deployments"), "CronJob": ("batch", "cronjobs"),
    "HorizontalPodAutoscaler": ("autoscaling", "horizontalpodautoscalers"),
    "PodDisruptionBudget": ("policy", "poddisruptionbudgets"),
    "Ingress": ("networking.k8s.io", "ingresses"), "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
    "ServiceMonitor": ("monitoring.coreos.com", "servicemonitors"),
    "PrometheusRule": ("monitoring.coreos.com", "prometheusrules"),
}
MANAGE = {"get", "list", "watch", "create", "update", "patch", "delete"}
# Helm keeps release records as Secrets; --wait and rollout status read these.
HELM_MANAGES = {("", "secrets")}
HELM_READS = {("", "pods/log"), ("", "events"), ("apps", "replicasets"), ("batch", "jobs")}


def problem(message: str) -> None:
    PROBLEMS.append(message)
    print(f"PROBLEM: {message}")


def text(name: str) -> str:
    return (INFRA / name).read_text(encoding="utf-8")


def load(name: str) -> dict:
    return load_hcl(INFRA / name)


def resources(parsed: dict, kind: str) -> dict:
    found = {}
    for block in parsed.get("resource", []):
        for rtype, named in block.items():
            if rtype == kind:
                found.update(named)
    return found


def check_network() -> None:
    network = text("network.tf")
    if not re.search(r"vpc-cni\s*=\s*\{[^}]*enableNetworkPolicy\s*=\s*\"true\"", network, re.S):
        problem("infra/network.tf: the vpc-cni add-on must set configuration_values enableNetworkPolicy = \"true\" (else NetworkPolicies are not enforced)")
    hop = re.search(r"http_put_response_hop_limit\s*=\s*(\d+)", network)
    if not hop or hop.group(1) != "1" or not re.search(r'http_tokens\s*=\s*"required"', network):
        problem("infra/network.tf: the node group's metadata_options must require IMDSv2 with http_put_response_hop_limit = 1")
    nodepool = (INFRA / "charts/karpenter-nodepool/templates/nodepool.yaml").read_text(encoding="utf-8")
    if not re.search(r"httpPutResponseHopLimit:\s*1\b", nodepool):
        problem("infra/charts/karpenter-nodepool: the EC2NodeClass must set httpPutResponseHopLimit: 1")
    if not re.search(r"\bendpoint_public_access\s*=\s*var\.cluster_endpoint_public_access\b", network):
        problem("infra/network.tf: module eks's endpoint_public_access must come from var.cluster_endpoint_public_access")
    variables = {k: v for block in load("variables.tf")["variable"] for k, v in block.items()}
    if "default" in variables.get("cluster_endpoint_public_access", {"default": None}):
        problem("infra/variables.tf: cluster_endpoint_public_access must have no default: reaching the API is an explicit choice")
    if "cluster_admin_principal_arns" not in variables or "var.cluster_admin_principal_arns" not in network:
        problem("infra: an admin access-entry variable (cluster_admin_principal_arns) must feed the cluster's access entries")
    deploy = re.search(r"github-deploy\s*=\s*\{(.*?)\n\s{6}\}", network, re.S)
    if not deploy or "policy_associations" in deploy.group(1) or "kubernetes_groups" not in deploy.group(1):
        problem("infra/network.tf: the github-deploy access entry must map to a Kubernetes group only (no EKS access policy)")


def check_alb_sources() -> None:
    """N7: the NetworkPolicies admit the ALB from the public subnets, never from the VPC CIDR
    (the VPC CNI gives pods addresses from it: every pod would reach the services)."""
    outputs = text("outputs.tf")
    if not re.search(r"albSourceCidrs\s*=\s*module\.subnet_layout\.public_subnets\b", outputs):
        found = re.search(r"albSourceCidrs\s*=\s*([^,}\n]+)", outputs)
        problem(f"infra/outputs.tf: helm_values networkPolicy.albSourceCidrs is {found.group(1).strip() if found else 'missing'}, "
                "not module.subnet_layout.public_subnets (N7)")


def check_access() -> None:
    """N5: one cluster-admin access entry per principal, stable whoever applies."""
    network = text("network.tf")
    if not re.search(r"enable_cluster_creator_admin_permissions\s*=\s*false", network):
        problem("infra/network.tf: enable_cluster_creator_admin_permissions must be false: the creator's entry collides (409) with "
                "the same principal in cluster_admin_principal_arns and moves to whoever applies next (terraform-aws-eks #2968, #2911)")
    if not re.search(r'data\s+"aws_iam_session_context"\s+"applier"(.|\n)*?contains\(var\.cluster_admin_principal_arns,\s*self\.issuer_arn\)', text("main.tf")):
        problem("infra/main.tf: the plan must refuse an applier that is not in cluster_admin_principal_arns "
                "(data.aws_iam_session_context.applier postcondition): it would have no access to install the add-ons")
    if re.search(r"for\s+i\s*,\s*arn\s+in\s+var\.cluster_admin_principal_arns", network):
        problem("infra/network.tf: admin access entries keyed by list position: reordering the list replaces them")


def blocks(name: str, kind: str) -> dict:
    """Resources of one type (or data sources) in infra/<name>, {} when the file is missing."""
    if not (INFRA / name).exists():
        return {}
    section = "data" if kind.startswith("data.") else "resource"
    kind = kind.removeprefix("data.")
    return {n: b for block in load(name).get(section, []) for n, b in block.get(kind, {}).items()}


def check_edge() -> None:
    """DNS and certificate, WAF and the ALB's access logs (optional, off by default), and log
    shipping: each present, wired to the chart, and safe when switched on."""
    variables = {k: v for block in load("variables.tf")["variable"] for k, v in block.items()}
    for switch in ("route53_zone_id", "enable_external_dns", "enable_waf", "enable_alb_access_logs", "enable_log_shipping"):
        if switch not in variables:
            problem(f"infra/variables.tf: no {switch} (DNS/certificate, WAF, ALB access logs, log shipping are options)")
        elif variables[switch].get("default") not in (None, False):
            problem(f"infra/variables.tf: {switch} must be off by default, is {variables[switch].get('default')!r}")
    certificate = blocks("edge.tf", "aws_acm_certificate").get("api", {})
    if certificate.get("validation_method") != "DNS" or not blocks("edge.tf", "aws_acm_certificate_validation"):
        problem("infra/edge.tf: the certificate must be requested with DNS validation and waited for (aws_acm_certificate_validation)")
    outputs = text("outputs.tf")
    for needed, why in (("certificateArn = local.certificate_arn", "the requested or given certificate"),
                        ("wafAclArn", "the web ACL"), ("accessLogs", "the access-log bucket")):
        if needed not in outputs:
            problem(f"infra/outputs.tf: helm_values does not pass {why} to the chart ({needed})")
    waf = blocks("edge.tf", "aws_wafv2_web_acl").get("alb", {})
    waf_text = text("edge.tf") if (INFRA / "edge.tf").exists() else ""
    for group in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList"):
        if group not in waf_text:
            problem(f"infra/edge.tf: the web ACL lacks the managed rule group {group}")
    if waf and "rate_based_statement" not in waf_text:
        problem("infra/edge.tf: the web ACL has no per-IP rate limit")
    if waf and not re.search(r'rule_action_override\s*\{\s*name\s*=\s*"SizeRestrictions_BODY"\s*action_to_use\s*\{\s*count', waf_text):
        problem("infra/edge.tf: the common rule set's SizeRestrictions_BODY (8 KB) would block avatar uploads (5 MiB): override it to count")
    if not blocks("edge.tf", "aws_wafv2_web_acl_logging_configuration"):
        problem("infra/edge.tf: the web ACL's requests are not logged")
    encryption = blocks("edge.tf", "aws_s3_bucket_server_side_encryption_configuration").get("alb_logs", {})
    if "AES256" not in str(encryption):
        problem("infra/edge.tf: the ALB log bucket must use SSE-S3 (AES256): ALB delivers access logs to no other encryption")
    if "logdelivery.elasticloadbalancing.amazonaws.com" not in waf_text or "aws_elb_service_account" not in waf_text:
        problem("infra/edge.tf: the ALB log bucket policy must admit the log delivery service and, in older regions, the ELB account")
    if not blocks("edge.tf", "aws_s3_bucket_public_access_block").get("alb_logs"):
        problem("infra/edge.tf: the ALB log bucket has no public access block")
    for group, where in ((blocks("logging.tf", "aws_cloudwatch_log_group").get("containers"), "logging.tf containers"),
                         (blocks("edge.tf", "aws_cloudwatch_log_group").get("waf"), "edge.tf waf")):
        if not group or "aws_kms_key.data" not in str(group.get("kms_key_id", "")) or "var.log_retention_days" not in str(group.get("retention_in_days", "")):
            problem(f"infra/{where}: the log group must exist with the data key and log_retention_days")
    if "logs.${var.region}.amazonaws.com" not in text("kms.tf"):
        problem("infra/kms.tf: the key policy must let CloudWatch Logs use the data key for this account's log groups")


def check_backend() -> None:
    for path in [INFRA / "backend.tf", *INFRA.glob("backend/*")]:
        body = "\n".join(l for l in path.read_text(encoding="utf-8").splitlines() if not l.lstrip().startswith("#"))
        if re.search(r"dynamodb_table\s*=", body):
            problem(f"{path.relative_to(ROOT)}: locks state with the deprecated dynamodb_table; use use_lockfile = true")
    if not re.search(r"use_lockfile\s*=\s*true", text("backend/example.s3.tfbackend")):
        problem("infra/backend/example.s3.tfbackend: set use_lockfile = true")


def check_namespace() -> None:
    namespaces = resources(load("kubernetes.tf"), "kubernetes_namespace_v1")
    if not namespaces:
        problem("infra/kubernetes.tf: Terraform must create the platform namespace")
    for name, ns in namespaces.items():
        metadata = ns["metadata"][0] if isinstance(ns["metadata"], list) else ns["metadata"]
        labels = metadata.get("labels", {})
        if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
            problem(f"infra/kubernetes.tf: namespace {name} must enforce Pod Security 'restricted', has {labels.get('pod-security.kubernetes.io/enforce')!r}")
        if labels.get("elbv2.k8s.aws/pod-readiness-gate-inject") != "enabled":
            problem(f"infra/kubernetes.tf: namespace {name} needs elbv2.k8s.aws/pod-readiness-gate-inject: enabled")


def check_deploy_role(rendered: Path) -> None:
    kinds = {doc["kind"] for doc in yaml.safe_load_all(rendered.read_text(encoding="utf-8")) if doc}
    needed = set()
    for kind in kinds:
        if kind not in RESOURCES:
            problem(f"{rendered.name}: the release renders {kind}, which check_terraform.py cannot map to an RBAC resource")
        else:
            needed.add(RESOURCES[kind])
    if not re.search(r'dynamic\s+"rule"\s*\{\s*for_each\s*=\s*local\.deployer_rules', text("kubernetes.tf")):
        problem("infra/kubernetes.tf: kubernetes_role_v1.deployer must take its rules from local.deployer_rules")
    values = locals_of(INFRA / "kubernetes.tf")
    managed, read = set(), set()
    for rule in values.get("deployer_rules", []):
        verbs = rule["verbs"]
        if isinstance(verbs, str):
            verbs = values.get(verbs.removeprefix("${").removesuffix("}").removeprefix("local."), [])
        for group in rule["api_groups"]:
            for resource in rule["resources"]:
                if set(verbs) >= MANAGE:
                    managed.add((group, resource))
                elif set(verbs) <= {"get", "list", "watch"}:
                    read.add((group, resource))
                else:
                    problem(f"infra/kubernetes.tf: deployer rule {group or 'core'}/{resource} has partial verbs {verbs}")
    for group, resource in sorted(needed - managed):
        problem(f"infra/kubernetes.tf: the deploy Role cannot manage {group or 'core'}/{resource}, which the release renders: helm upgrade would be forbidden")
    for group, resource in sorted(managed - needed - HELM_MANAGES):
        problem(f"infra/kubernetes.tf: the deploy Role manages {group or 'core'}/{resource}, which the release never renders")
    for group, resource in sorted(read - HELM_READS):
        problem(f"infra/kubernetes.tf: the deploy Role reads {group or 'core'}/{resource}, which Helm's --wait does not need")


def check_secrets() -> None:
    secrets = text("secrets.tf")
    names = re.findall(r'=\s*"([^"]*)"', secrets.split("integration_secrets")[0])
    for name in names + re.findall(r'integration_secret_prefix\s*=\s*"([^"]*)"', secrets):
        if not name.startswith("${var.environment}/"):
            problem(f"infra/secrets.tf: secret name {name!r} does not start with the environment (${{var.environment}}/)")
    if "secret:${local.integration_secret_prefix}*" not in text("iam.tf"):
        problem("infra/iam.tf: integration-service may read secrets only under local.integration_secret_prefix")


def main() -> int:
    check_network()
    check_alb_sources()
    check_access()
    check_edge()
    check_backend()
    check_namespace()
    check_deploy_role(Path(sys.argv[1]))
    check_secrets()
    if not PROBLEMS:
        print("ok: network, access entries, backend, namespace, deploy role, secret names")
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
