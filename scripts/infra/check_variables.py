#!/usr/bin/env python3
"""Proves infra/variables.tf's validations: every bad input below is refused with a message
naming the variable, and the good ones pass.

Copies infra/variables.tf alone into a scratch module (no provider, no resource) and runs
`terraform plan` once per case with the case's -var-file: Terraform evaluates every
validation, cross-variable ones included (Terraform >= 1.9), offline, in ~0.1 s a case.

  check_variables.py            all cases, PASS/FAIL each
Needs terraform on PATH.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What terraform.tfvars.example sets: a valid production environment. Each case overrides it.
GOOD = {
    "environment": "prod",
    "api_domain": "api.example.com",
    "acm_certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
    "cluster_endpoint_public_access": True,
    "cluster_endpoint_public_access_cidrs": ["203.0.113.0/24"],
    "cluster_admin_principal_arns": [
        "arn:aws:iam::123456789012:role/platform-admins",
        "arn:aws:iam::123456789012:role/ci-terraform",
    ],
}

# (why, overrides, None = accepted | the variable the refusal must name)
CASES: list[tuple[str, dict, str | None]] = [
    ("the example environment", {}, None),
    ("a private endpoint needs no CIDRs", {"cluster_endpoint_public_access": False, "cluster_endpoint_public_access_cidrs": []}, None),
    # N6: the provider sends no publicAccessCidrs for an empty set and EKS opens the endpoint
    # to 0.0.0.0/0 (terraform-provider-aws PR #11442).
    ("N6: public endpoint with no CIDRs (EKS would open it to 0.0.0.0/0)",
     {"cluster_endpoint_public_access_cidrs": []}, "cluster_endpoint_public_access_cidrs"),
    ("N6: public endpoint open to the world on purpose",
     {"cluster_endpoint_public_access_cidrs": ["0.0.0.0/0"]}, "cluster_endpoint_public_access_cidrs"),
    ("a CIDR that is no CIDR", {"cluster_endpoint_public_access_cidrs": ["203.0.113.0"]}, "cluster_endpoint_public_access_cidrs"),
    # N5: the admins are the only access entries with cluster-admin (no separate creator
    # entry): the same principal twice is a 409 ResourceInUseException at apply.
    ("N5: the same admin twice (two access entries for one principal: 409)",
     {"cluster_admin_principal_arns": ["arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/a"]},
     "cluster_admin_principal_arns"),
    ("N5: nobody administers the cluster (terraform itself could not install the add-ons)",
     {"cluster_admin_principal_arns": []}, "cluster_admin_principal_arns"),
    ("N5: an admin that is no IAM role/user ARN", {"cluster_admin_principal_arns": ["platform-admins"]}, "cluster_admin_principal_arns"),
    ("an environment name with capitals", {"environment": "Prod"}, "environment"),
    # N13: @latest replaces every Karpenter node whenever AWS publishes an AMI.
    ("N13: Karpenter nodes on whatever AMI is latest", {"karpenter_ami_alias": "al2023@latest"}, "karpenter_ami_alias"),
    ("a Kubernetes patch version (EKS takes <major>.<minor>)", {"kubernetes_version": "1.35.2"}, "kubernetes_version"),
    ("an EKS support policy that does not exist", {"eks_support_type": "FOREVER"}, "eks_support_type"),
    # N8: alerts must reach someone.
    ("alerts to Slack and SNS", {"alert_receivers": ["sns", "slack"], "alerts_slack_channel": "#platform-alerts"}, None),
    ("N8: alerts to no receiver at all", {"alert_receivers": []}, "alert_receivers"),
    ("N8: a receiver the stack cannot configure", {"alert_receivers": ["pagerduty"]}, "alert_receivers"),
    ("N8: Slack without a channel", {"alert_receivers": ["slack"]}, "alerts_slack_channel"),
    ("an alert e-mail that is no address", {"alert_email_addresses": ["oncall"]}, "alert_email_addresses"),
    ("N10: a Prometheus volume too small to hold 15 days", {"prometheus_storage_gi": 1}, "prometheus_storage_gi"),
    # DNS, certificate, WAF, logs: optional, and refused when half-configured.
    ("the certificate requested by Terraform in a Route 53 zone, external-dns on",
     {"acm_certificate_arn": None, "route53_zone_id": "Z0123456789ABCDEFGHIJ", "enable_external_dns": True}, None),
    ("every option on", {"enable_waf": True, "enable_alb_access_logs": True, "enable_log_shipping": True, "log_retention_days": 90}, None),
    ("no certificate and no zone to request one in", {"acm_certificate_arn": None}, "acm_certificate_arn"),
    ("external-dns without a zone it may change", {"enable_external_dns": True}, "enable_external_dns"),
    ("a hosted zone id that is none", {"route53_zone_id": "example.com"}, "route53_zone_id"),
    ("a log retention CloudWatch does not offer", {"log_retention_days": 10}, "log_retention_days"),
    ("a WAF rate limit below WAF's minimum", {"waf_rate_limit": 10}, "waf_rate_limit"),
    ("an API domain with capitals", {"api_domain": "API.Example.com"}, "api_domain"),
]


def run_case(workdir: Path, index: int, overrides: dict) -> tuple[bool, str]:
    varfile = workdir / f"case-{index}.tfvars.json"
    varfile.write_text(json.dumps({**GOOD, **overrides}), encoding="utf-8")
    result = subprocess.run(
        ["terraform", "plan", "-input=false", "-refresh=false", "-lock=false", "-no-color", f"-var-file={varfile.name}"],
        cwd=workdir, capture_output=True, text=True,
    )
    return result.returncode == 0, result.stdout + result.stderr


def main() -> int:
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        workdir = Path(work)
        shutil.copy(ROOT / "infra/variables.tf", workdir / "variables.tf")
        subprocess.run(["terraform", "init", "-backend=false", "-input=false", "-no-color"], cwd=workdir, check=True, capture_output=True)
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda item: run_case(workdir, item[0], item[1][1]), enumerate(CASES)))
    for (why, overrides, refused_var), (accepted, output) in zip(CASES, results):
        if refused_var is None and not accepted:
            failures += 1
            print(f"FAIL  refused, should pass: {why}\n" + "\n".join("      | " + l for l in output.strip().splitlines()[-8:]))
        elif refused_var is not None and accepted:
            failures += 1
            print(f"FAIL  NOT REFUSED: {why}: {json.dumps(overrides)}")
        elif refused_var is not None and f"var.{refused_var}" not in output:
            failures += 1
            print(f"FAIL  refused, but not by a validation of {refused_var}: {why}\n" + "\n".join("      | " + l for l in output.strip().splitlines()[-8:]))
        else:
            print(f"ok    {'refused' if refused_var else 'accepted'}: {why}")
    print(f"{len(CASES) - failures} of {len(CASES)} variable cases as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
