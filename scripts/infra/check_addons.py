#!/usr/bin/env python3
"""The cluster add-ons (infra/addons.tf): what a first `terraform apply` needs to succeed once,
and what each add-on really gets.

  check_addons.py

1. Order (read from addons.tf with python-hcl2): every Helm release waits for the whole EKS
   module (node groups and CoreDNS, not only the access entry); every other release waits
   for the Load Balancer Controller; Karpenter waits for its whole module (the Pod Identity
   association); kube-prometheus-stack gets a long timeout; CRDs come from CRD charts
   (upgraded by chart bumps); ECR Public charts are pulled with a token; every release is
   pinned and switchable, and takes its values from modules/addon_values.
2. Versions: the default Kubernetes version is in EKS standard support today (calendar below),
   Karpenter's chart supports it, the EKS module carries Karpenter's IAM (>= 21.3.1).
3. Values: modules/addon_values evaluated offline with `terraform console` (sample inputs):
   the Load Balancer Controller's Service webhook is off, Karpenter has its region, the
   monitoring stack installs no CRDs itself; the NodePool chart renders a pinned AMI.
Prints one PROBLEM line per failure (WARNING lines for what needs attention soon); exit 1 if any.
Needs terraform and helm on PATH, python-hcl2.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import yaml

from hcl_tools import evaluate_modules, load, locals_of

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
PROBLEMS: list[str] = []

# EKS release calendar (awsdocs/amazon-eks-user-guide kubernetes-versions.adoc; endoflife.date
# amazon-eks for 1.35): version -> (end of standard support, end of extended support).
EKS_CALENDAR = {
    "1.32": (dt.date(2026, 3, 23), dt.date(2027, 3, 23)),
    "1.33": (dt.date(2026, 7, 29), dt.date(2027, 7, 29)),
    "1.34": (dt.date(2026, 12, 2), dt.date(2027, 12, 2)),
    "1.35": (dt.date(2027, 3, 27), dt.date(2028, 3, 27)),
}
WARN_DAYS = 90
# Karpenter's compatibility matrix (website/content/en/v1.14/upgrading/compatibility.md):
# Kubernetes minor -> lowest Karpenter that supports it.
KARPENTER_MIN = {"1.32": (1, 2, 0), "1.33": (1, 5, 0), "1.34": (1, 6, 0), "1.35": (1, 9, 0), "1.36": (1, 13, 0)}
# terraform-aws-eks: iam:ListInstanceProfiles in the Karpenter policy since v21.3.1 (c8bb1528),
# ec2:DescribeCapacityReservations since v21.2.0 (131db397); Karpenter v1.12 since v21.19.0.
EKS_MODULE_MIN = (21, 19, 0)

SAMPLE_INPUTS = {
    "cluster_name": "platform-prod",
    "cluster_endpoint": "https://0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com",
    "region": "eu-west-1",
    "vpc_id": "vpc-0123456789abcdef0",
    "load_balancer_controller_role_arn": "arn:aws:iam::123456789012:role/platform-prod-aws-load-balancer-controller",
    "karpenter_queue_name": "Karpenter-platform-prod",
    "karpenter_node_role_name": "platform-prod-karpenter-node",
    "karpenter_discovery_tag": "platform-prod",
    "karpenter_cpu_limit": 64,
    "karpenter_ami_alias": "al2023@v20260714",
    "storage_class": "gp3",
    "prometheus_storage_gi": 50,
    "alert_receivers": ["sns"],
    "api_domain": "api.example.com",
    "external_dns_role_arn": "arn:aws:iam::123456789012:role/platform-prod-external-dns",
    "log_shipping_role_arn": "arn:aws:iam::123456789012:role/platform-prod-log-shipping",
    "container_log_group": "/platform/prod/containers",
}


def problem(message: str) -> None:
    PROBLEMS.append(message)
    print(f"PROBLEM: {message}")


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def refs(value) -> list[str]:
    """`${module.eks}` -> module.eks, for each entry of a list attribute."""
    return [str(v).removeprefix("${").removesuffix("}") for v in (value or [])]


def helm_releases() -> dict[str, dict]:
    found = {}
    for block in load(INFRA / "addons.tf").get("resource", []):
        found.update(block.get("helm_release", {}))
    return found


def modules(name: str) -> dict[str, dict]:
    found = {}
    for path in INFRA.glob("*.tf"):
        for block in load(path).get("module", []):
            found.update(block)
    return found


def check_order(releases: dict[str, dict]) -> None:
    for name, release in releases.items():
        where = f"infra/addons.tf helm_release.{name}"
        depends = refs(release.get("depends_on"))
        if "module.eks" not in depends:
            problem(f"{where}: must depend on the whole module.eks (node groups, CoreDNS), not only on its outputs: "
                    "the outputs are ready once the access entry exists, before any node (N1)")
        if name != "aws_load_balancer_controller" and "helm_release.aws_load_balancer_controller" not in depends:
            problem(f"{where}: must install after helm_release.aws_load_balancer_controller, whose webhooks serve only once its pods run (N1)")
        if not re.search(r"var\.(enable_\w+|monitoring)", str(release.get("count", ""))):
            problem(f"{where}: no count switched by an enable_* / monitoring variable")
        chart_is_local = str(release.get("chart", "")).startswith("${path.module}")
        version_ref = str(release.get("version", ""))
        if not chart_is_local and not (re.fullmatch(r"\d+\.\d+\.\d+", version_ref) or "local.addon_chart_versions." in version_ref):
            problem(f"{where}: version {version_ref!r} is not pinned")
        values = " ".join(str(v) for v in release.get("values") or [])
        if values and f"module.addon_values.{name}" not in values:
            problem(f"{where}: values must be yamlencode(module.addon_values.{name}) (the values this check evaluates)")
        if str(release.get("repository", "")).startswith("oci://public.ecr.aws") and not (
            "aws_ecrpublic_authorization_token" in str(release.get("repository_password", ""))
        ):
            problem(f"{where}: pulls from ECR Public without a token (repository_username/password from "
                    "data.aws_ecrpublic_authorization_token): a stale public.ecr.aws login gives 403 (N16)")
    lbc = releases.get("aws_load_balancer_controller", {})
    if not lbc:
        problem("infra/addons.tf: no helm_release.aws_load_balancer_controller")
    kps = releases.get("kube_prometheus_stack", {})
    if int(kps.get("timeout", 300)) < 900:
        problem(f"infra/addons.tf helm_release.kube_prometheus_stack: timeout {kps.get('timeout', 300)} s (default 300): "
                "a fresh cluster needs longer for the whole stack, give it >= 900 (N1)")
    karpenter = releases.get("karpenter", {})
    if "module.karpenter" not in refs(karpenter.get("depends_on")):
        problem("infra/addons.tf helm_release.karpenter: must depend on the whole module.karpenter: its Pod Identity "
                "association must exist before the pods start, or they get no credentials or region (N4)")
    if karpenter.get("skip_crds") is not True or "helm_release.karpenter_crd" not in refs(karpenter.get("depends_on")):
        problem("infra/addons.tf helm_release.karpenter: CRDs must come from the karpenter-crd chart (skip_crds = true, "
                "depends on helm_release.karpenter_crd): crds/ is never upgraded by a chart bump (N17)")
    crds = releases.get("prometheus_operator_crds", {})
    if 'var.monitoring != "none"' not in str(crds.get("count", "")).replace('\\"', '"'):
        problem("infra/addons.tf helm_release.prometheus_operator_crds: must be installed whenever monitoring is not none "
                "(the CRDs as templates, upgraded by chart bumps), not only for crds-only (N17)")
    if "helm_release.prometheus_operator_crds" not in refs(kps.get("depends_on")):
        problem("infra/addons.tf helm_release.kube_prometheus_stack: must install after helm_release.prometheus_operator_crds (N17)")


def check_versions() -> None:
    variables = {k: v for block in load(INFRA / "variables.tf")["variable"] for k, v in block.items()}
    k8s = str(variables["kubernetes_version"].get("default"))
    today = dt.date.today()
    if k8s not in EKS_CALENDAR:
        problem(f"infra/variables.tf: kubernetes_version {k8s} has no support dates in check_addons.py's EKS calendar: add them from the EKS release calendar")
    else:
        standard_end, extended_end = EKS_CALENDAR[k8s]
        if today >= standard_end:
            problem(f"infra/variables.tf: kubernetes_version {k8s} left EKS standard support on {standard_end} "
                    f"(extended support, paid per cluster hour, until {extended_end}): a new cluster starts there (N3)")
        elif (standard_end - today).days < WARN_DAYS:
            print(f"WARNING: kubernetes_version {k8s} leaves EKS standard support on {standard_end} ({(standard_end - today).days} days): plan the upgrade")
        print(f"kubernetes {k8s}: EKS standard support until {standard_end}, extended until {extended_end}")
    chart_versions = locals_of(INFRA / "addons.tf").get("addon_chart_versions", {})
    karpenter = chart_versions.get("karpenter", "0.0.0")
    needed = KARPENTER_MIN.get(k8s)
    if needed is None or version(karpenter) < needed:
        problem(f"infra/addons.tf: Karpenter {karpenter} does not support Kubernetes {k8s} "
                f"(compatibility matrix: needs >= {'.'.join(map(str, needed)) if needed else 'unknown'}) (N3)")
    found = modules("eks")
    for name in ("eks", "karpenter"):
        module = found.get(name, {})
        pinned = str(module.get("version", "0.0.0"))
        if "terraform-aws-modules/eks/aws" not in str(module.get("source", "")) or version(pinned) < EKS_MODULE_MIN:
            problem(f"infra: module {name} is terraform-aws-modules/eks {pinned}; the Karpenter controller policy lacks "
                    f"iam:ListInstanceProfiles before 21.3.1 and Karpenter 1.12's permissions before 21.19.0 (N9, N3)")
    requirements = load(INFRA / "versions.tf")["terraform"][0]["required_providers"][0]
    aws = str(requirements["aws"]["version"])
    if not re.fullmatch(r"~> 6\.(2[8-9]|[3-9]\d)(\.\d+)?", aws):
        problem(f"infra/versions.tf: aws provider {aws!r}: terraform-aws-eks 21.19.0 needs >= 6.28 (N3)")
    helm = str(requirements["helm"]["version"])
    if not helm.startswith("~> 3."):
        problem(f"infra/versions.tf: helm provider {helm!r}: the v3 provider (objects, not blocks) is what addons.tf is written for")


def evaluate_values() -> dict:
    variables = {k: v for block in load(INFRA / "variables.tf")["variable"] for k, v in block.items()}
    inputs = {**SAMPLE_INPUTS, "karpenter_ami_alias": variables.get("karpenter_ami_alias", {}).get("default", "")}
    return evaluate_modules({"values": (INFRA / "modules/addon_values", inputs)})["values"]


def check_values(values: dict) -> None:
    lbc = values["aws_load_balancer_controller"]
    if lbc.get("enableServiceMutatorWebhook") is not False:
        problem("modules/addon_values: the Load Balancer Controller's Service mutating webhook is on: with failurePolicy Fail it "
                "rejects the other releases' Services until its pods run (aws-load-balancer-controller#4140); the platform uses Ingress only (N1)")
    if lbc.get("region") != SAMPLE_INPUTS["region"] or lbc.get("vpcId") != SAMPLE_INPUTS["vpc_id"]:
        problem("modules/addon_values: the Load Balancer Controller needs region and vpcId (IMDS is one hop away)")
    karpenter = values["karpenter"]
    env = {e["name"]: e["value"] for e in karpenter.get("controller", {}).get("env", [])}
    if env.get("AWS_REGION") != SAMPLE_INPUTS["region"]:
        problem("modules/addon_values: Karpenter's controller.env has no AWS_REGION: without Pod Identity's injection it asks IMDS, "
                "which a pod cannot reach with hop limit 1, and panics (N4)")
    settings = karpenter.get("settings", {})
    for key, sample in (("clusterName", "cluster_name"), ("interruptionQueue", "karpenter_queue_name")):
        if settings.get(key) != SAMPLE_INPUTS[sample]:
            problem(f"modules/addon_values: Karpenter's settings.{key} is {settings.get(key)!r}")
    kps = values["kube_prometheus_stack"]
    if kps.get("crds", {}).get("enabled") is not False:
        problem("modules/addon_values: kube-prometheus-stack installs the CRDs from crds/ (never upgraded): set crds.enabled false, "
                "they come from prometheus-operator-crds (N17)")
    if values["prometheus_operator_crds"].get("crds", {}).get("annotations", {}).get("helm.sh/resource-policy") != "keep":
        problem("modules/addon_values: the Prometheus Operator CRDs must survive an uninstall (helm.sh/resource-policy: keep): "
                "deleting them deletes every ServiceMonitor and PrometheusRule")
    check_storage(kps)
    dns = values.get("external_dns", {})
    if dns.get("policy") != "upsert-only" or dns.get("domainFilters") != [SAMPLE_INPUTS["api_domain"]] \
            or {"name": "AWS_DEFAULT_REGION", "value": SAMPLE_INPUTS["region"]} not in dns.get("env", []):
        problem(f"modules/addon_values: external-dns must only add/update records under api_domain (policy upsert-only, domainFilters) "
                f"and be given its region; has policy {dns.get('policy')!r}, domainFilters {dns.get('domainFilters')!r}")
    logs = values.get("aws_for_fluent_bit", {}).get("cloudWatchLogs", {})
    if logs.get("logGroupName") != SAMPLE_INPUTS["container_log_group"] or logs.get("autoCreateGroup") is not False \
            or logs.get("region") != SAMPLE_INPUTS["region"]:
        problem("modules/addon_values: aws-for-fluent-bit must write to Terraform's log group (retention, KMS), never create its own, "
                f"in the given region; has {logs}")
    nodepool = values["karpenter_nodepool"]
    alias = str(nodepool.get("amiAlias", ""))
    if not re.fullmatch(r"al2023@v\d{8}", alias):
        problem(f"modules/addon_values: Karpenter's AMI alias {alias!r} is not pinned to a release (al2023@vYYYYMMDD): "
                "with @latest every new AMI replaces every node (N13)")
    rendered = subprocess.run(
        ["helm", "template", "karpenter-nodepool", str(INFRA / "charts/karpenter-nodepool"), "-f", "-"],
        input=yaml.safe_dump(nodepool), capture_output=True, text=True)
    if rendered.returncode != 0:
        problem(f"infra/charts/karpenter-nodepool does not render with the evaluated values: {rendered.stderr.strip()}")
    else:
        docs = {d["kind"]: d for d in yaml.safe_load_all(rendered.stdout) if d}
        terms = docs.get("EC2NodeClass", {}).get("spec", {}).get("amiSelectorTerms", [])
        if [t.get("alias") for t in terms] != [alias]:
            problem(f"infra/charts/karpenter-nodepool: the EC2NodeClass selects {terms}, not the pinned alias {alias}")
    print(f"values evaluated: {', '.join(sorted(values))}")


def check_storage(kps: dict) -> None:
    """N10: the monitoring state on EBS volumes the cluster can provision."""
    gp3 = SAMPLE_INPUTS["storage_class"]
    prometheus = kps.get("prometheus", {}).get("prometheusSpec", {}).get("storageSpec", {})
    alertmanager = kps.get("alertmanager", {}).get("alertmanagerSpec", {}).get("storage", {})
    for name, spec in (("Prometheus", prometheus), ("Alertmanager", alertmanager)):
        claim = spec.get("volumeClaimTemplate", {}).get("spec", {})
        if claim.get("storageClassName") != gp3 or not claim.get("resources", {}).get("requests", {}).get("storage"):
            problem(f"modules/addon_values: {name} keeps its data on emptyDir (no volumeClaimTemplate on the {gp3} class): "
                    "every move by Karpenter's consolidation wipes it (N10)")
    grafana = kps.get("grafana", {})
    if not grafana.get("persistence", {}).get("enabled") or grafana.get("persistence", {}).get("storageClassName") != gp3:
        problem(f"modules/addon_values: Grafana has no persistent volume on the {gp3} class (N10)")
    elif grafana.get("deploymentStrategy", {}).get("type") != "Recreate":
        problem("modules/addon_values: Grafana on a ReadWriteOnce volume needs deploymentStrategy Recreate (a rolling update cannot attach it twice)")
    network = (INFRA / "network.tf").read_text(encoding="utf-8")
    if not re.search(r"aws-ebs-csi-driver\s*=\s*\{[^}]*service_account_role_arn\s*=\s*module\.ebs_csi_irsa\.iam_role_arn", network):
        problem("infra/network.tf: no aws-ebs-csi-driver add-on with its own role (module.ebs_csi_irsa): no PersistentVolumeClaim can bind (N10)")
    parsed = load(INFRA / "monitoring.tf") if (INFRA / "monitoring.tf").exists() else {}
    classes = {name: body for block in parsed.get("resource", []) for name, body in block.get("kubernetes_storage_class_v1", {}).items()}
    gp3_class = classes.get("gp3", {})
    wanted = {"storage_provisioner": "ebs.csi.aws.com", "volume_binding_mode": "WaitForFirstConsumer"}
    got = {key: gp3_class.get(key) for key in wanted} | {"parameters.type": (gp3_class.get("parameters") or {}).get("type")}
    if got != wanted | {"parameters.type": "gp3"}:
        problem(f"infra/monitoring.tf: kubernetes_storage_class_v1.gp3 must be the EBS CSI driver's gp3, bound where the pod runs; has {got} (N10)")
    irsa = next((body for block in parsed.get("module", []) for name, body in block.items() if name == "ebs_csi_irsa"), {})
    if irsa.get("attach_ebs_csi_policy") is not True:
        problem("infra/monitoring.tf: module ebs_csi_irsa must attach the EBS CSI driver's policy (N10)")


def main() -> int:
    releases = helm_releases()
    check_order(releases)
    check_versions()
    if (INFRA / "modules/addon_values").is_dir():
        check_values(evaluate_values())
    else:
        problem("infra/modules/addon_values is missing: the add-ons' values cannot be evaluated and checked")
    if not PROBLEMS:
        print(f"ok: {len(releases)} releases ordered after the compute and the Load Balancer Controller; versions supported; values checked")
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
