#!/usr/bin/env python3
"""Alerts reach a person: Alertmanager's configuration, as Terraform gives it to
kube-prometheus-stack (infra/modules/addon_values evaluated offline), routes every alert the
charts define, and the cluster alerts, to the receivers, not to 'null'.

  check_alert_routing.py RENDERED_RELEASE.yaml

For each receiver choice (sns, slack, both): `amtool check-config`, then
`amtool config routes test --verify.receivers=...` for fixed cases (Watchdog and info to
'null', cluster criticals and warnings to 'platform') and for every alert of the rendered
PrometheusRules (its labels: alertname, severity, service, namespace). Also checks that the
configuration sets every top-level key of the chart's default (nothing merged in unseen), that
the receivers' credentials are wired (the SNS role on Alertmanager's ServiceAccount, the Slack
Secret mounted where api_url_file points), and that the scrapes EKS cannot serve are off.
Needs terraform and amtool on PATH.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from check_addons import INFRA, SAMPLE_INPUTS
from hcl_tools import evaluate_modules, report

# kube-prometheus-stack 77.7.0 values.yaml, alertmanager.config: the keys its default sets.
DEFAULT_CONFIG_KEYS = {"global", "inhibit_rules", "route", "receivers", "templates"}
# The control plane components EKS runs itself: their scrapes have no target, so the
# chart's KubeSchedulerDown / KubeControllerManagerDown / etcd alerts would fire forever.
EKS_MANAGED = ("kubeScheduler", "kubeControllerManager", "kubeEtcd")
RECEIVER_CHOICES = {"sns": ["sns"], "slack": ["slack"], "both": ["sns", "slack"]}
SAMPLE_ALERTING = {
    "alerts_topic_arn": "arn:aws:sns:eu-west-1:123456789012:platform-prod-alerts",
    "alertmanager_role_arn": "arn:aws:iam::123456789012:role/platform-prod-alertmanager",
    "alerts_slack_channel": "#platform-alerts",
}
# (labels, receiver) that must hold whatever the chart alerts are.
FIXED_CASES = [
    ({"alertname": "Watchdog", "severity": "none"}, "null"),
    ({"alertname": "InfoInhibitor", "severity": "none", "namespace": "platform"}, "null"),
    ({"alertname": "CPUThrottlingHigh", "severity": "info", "namespace": "platform"}, "null"),
    ({"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "kube-system"}, "platform"),
    ({"alertname": "KubeNodeNotReady", "severity": "warning"}, "platform"),
    ({"alertname": "TargetDown", "severity": "warning", "namespace": "monitoring"}, "platform"),
    ({"alertname": "KubeAPIErrorBudgetBurn", "severity": "critical"}, "platform"),
]


def chart_alerts(rendered: Path) -> list[dict]:
    alerts = []
    for doc in yaml.safe_load_all(rendered.read_text(encoding="utf-8")):
        if doc and doc.get("kind") == "PrometheusRule":
            for group in doc["spec"]["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        alerts.append({"alertname": rule["alert"], "namespace": doc["metadata"]["namespace"], **rule.get("labels", {})})
    return alerts


def route(config: Path, labels: dict, receiver: str) -> str | None:
    """None when the labels reach exactly `receiver`, else what amtool said."""
    result = subprocess.run(
        ["amtool", "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={receiver}",
         *[f"{k}={v}" for k, v in sorted(labels.items())]],
        capture_output=True, text=True)
    return None if result.returncode == 0 else (result.stdout.strip().splitlines() or ["?"])[0]


def main() -> int:
    rendered = Path(sys.argv[1])
    problems: list[str] = []
    monitoring_tf = (INFRA / "monitoring.tf").read_text(encoding="utf-8") if (INFRA / "monitoring.tf").exists() else ""
    alerts = chart_alerts(rendered)
    if not alerts:
        problems.append(f"{rendered.name}: no alerts rendered: nothing to route")
    calls = {name: (INFRA / "modules/addon_values", {**SAMPLE_INPUTS, **SAMPLE_ALERTING, "alert_receivers": receivers})
             for name, receivers in RECEIVER_CHOICES.items()}
    try:
        evaluated = evaluate_modules(calls)
    except subprocess.CalledProcessError as err:
        problems.append(f"infra/modules/addon_values does not evaluate with alert receivers: {(err.stderr or '').strip()[-600:]}")
        return report(problems)
    with tempfile.TemporaryDirectory() as work:
        for choice, values in evaluated.items():
            kps = values["kube_prometheus_stack"]
            config = kps.get("alertmanager", {}).get("config")
            where = f"alert receivers {RECEIVER_CHOICES[choice]}"
            for component in EKS_MANAGED:
                if kps.get(component, {}).get("enabled") is not False:
                    problems.append(f"{where}: kube-prometheus-stack scrapes {component}, which EKS runs out of reach: its *Down alert fires forever (N8)")
            if not config:
                problems.append(f"{where}: kube-prometheus-stack gets no alertmanager.config: its default routes every alert to 'null' (N8)")
                continue
            if missing := DEFAULT_CONFIG_KEYS - set(config):
                problems.append(f"{where}: alertmanager.config lacks {sorted(missing)}: the chart's defaults would be merged in unseen")
            path = Path(work, f"alertmanager-{choice}.yaml")
            path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
            check = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True)
            if check.returncode != 0:
                problems.append(f"{where}: amtool check-config: {(check.stdout + check.stderr).strip()}")
                continue
            cases = FIXED_CASES + [(labels, "platform") for labels in alerts]
            for labels, receiver in cases:
                if (got := route(path, labels, receiver)) is not None:
                    problems.append(f"{where}: {labels} goes to {got!r}, not {receiver!r} (N8)")
            platform = next((r for r in config.get("receivers", []) if r.get("name") == "platform"), {})
            spec = kps["alertmanager"].get("alertmanagerSpec", {})
            if "sns" in RECEIVER_CHOICES[choice]:
                sns = platform.get("sns_configs") or [{}]
                if sns[0].get("topic_arn") != SAMPLE_ALERTING["alerts_topic_arn"]:
                    problems.append(f"{where}: the platform receiver does not publish to the alerts topic")
                account = kps["alertmanager"].get("serviceAccount", {})
                if account.get("annotations", {}).get("eks.amazonaws.com/role-arn") != SAMPLE_ALERTING["alertmanager_role_arn"]:
                    problems.append(f"{where}: Alertmanager's ServiceAccount has no IRSA role: SNS refuses its unsigned publishes")
                if f'"${{local.monitoring_namespace}}:{account.get("name")}"' not in monitoring_tf:
                    problems.append(f"{where}: Alertmanager's ServiceAccount {account.get('name')!r} is not the one its IRSA role trusts (infra/monitoring.tf)")
            if "slack" in RECEIVER_CHOICES[choice]:
                slack = platform.get("slack_configs") or [{}]
                mounted = {f"/etc/alertmanager/secrets/{name}/" for name in spec.get("secrets", [])}
                if not any(str(slack[0].get("api_url_file", "")).startswith(m) for m in mounted):
                    problems.append(f"{where}: Slack's api_url_file {slack[0].get('api_url_file')!r} is not in a mounted Secret {sorted(mounted)}")
            print(f"{where}: amtool check-config ok; {len(cases)} routing cases tested")
    if not re.search(r'resource\s+"aws_sns_topic"\s+"alerts"', monitoring_tf):
        problems.append("infra/monitoring.tf: no SNS topic for the alerts")
    return report(problems)


if __name__ == "__main__":
    sys.exit(main())
