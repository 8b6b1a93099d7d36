#!/usr/bin/env python3
"""Extracts the PrometheusRules of a rendered release for promtool, and checks that every
alert links to a runbook entry that exists, is exercised by a promtool test, and queries only
metrics the services' code registers (or kube-state-metrics / the process collector export).

  alert_rules.py RENDERED.yaml TESTS_DIR RUNBOOK.md OUT_DIR

Writes OUT_DIR/<service>.rules.yaml (the rule groups) and copies TESTS_DIR/*.test.yaml next
to them; prints one PROBLEM line per gap and exits 1 if there is any.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import yaml


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    found = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


ROOT = Path(__file__).resolve().parents[2]
# Exported by others: kube-state-metrics, and the prometheus crate's process collector.
EXTERNAL_METRICS = {
    "kube_cronjob_status_last_successful_time", "kube_cronjob_created", "kube_cronjob_spec_suspend",
    "kube_deployment_status_replicas_available", "process_resident_memory_bytes",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def registered_metrics() -> set[str]:
    """Metric names the Rust code registers (first string argument of a metric constructor)."""
    names = set()
    pattern = re.compile(r'(?:Opts::new|IntCounter::new|IntGauge::new|Histogram::new|counter)\(\s*"([a-z_:][a-z0-9_:]*)"')
    for source in [*ROOT.glob("crates/*/src/**/*.rs"), *ROOT.glob("services/*/src/**/*.rs")]:
        names.update(pattern.findall(source.read_text(encoding="utf-8")))
    return names


def queried_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\b([a-z_:][a-z0-9_:]*)\s*\{", expr))


def main() -> int:
    rendered, tests_dir, runbook, out = (Path(a) for a in sys.argv[1:5])
    out.mkdir(parents=True, exist_ok=True)
    problems = []
    known = anchors(runbook.read_text(encoding="utf-8"))
    tests = {p.name: p.read_text(encoding="utf-8") for p in sorted(tests_dir.glob("*.test.yaml"))}
    tested = set(re.findall(r"alertname:\s*(\S+)", "\n".join(tests.values())))
    alerts = 0
    exported = registered_metrics() | EXTERNAL_METRICS
    for doc in yaml.safe_load_all(rendered.read_text(encoding="utf-8")):
        if not doc or doc.get("kind") != "PrometheusRule":
            continue
        name = doc["metadata"]["name"]
        groups = doc["spec"]["groups"]
        (out / f"{name}.rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
        for rule in (r for g in groups for r in g["rules"] if "alert" in r):
            alerts += 1
            for metric in queried_metrics(rule["expr"]):
                base = next((metric.removesuffix(s) for s in HISTOGRAM_SUFFIXES if metric.removesuffix(s) in exported), metric)
                if base not in exported:
                    problems.append(f"{name}: alert {rule['alert']} queries {metric}, which no service registers")
            url = rule.get("annotations", {}).get("runbook_url", "")
            anchor = url.partition("#")[2]
            if anchor not in known:
                problems.append(f"{name}: alert {rule['alert']} links to runbook anchor #{anchor!r}, which {runbook} has no heading for")
            # Each service's file tests its own alerts; the common ones are tested on user-service.
            common = rule["alert"].removeprefix(name.title().replace("-", ""))
            if rule["alert"] not in tested and f"UserService{common}" not in tested:
                problems.append(f"{name}: alert {rule['alert']} has no promtool test (alertname: in {tests_dir}/*.test.yaml)")
    for test in tests:
        shutil.copy(tests_dir / test, out / test)
    for line in problems:
        print(f"PROBLEM: {line}")
    print(f"{alerts} alerts extracted into {out}; {len(tests)} test files")
    return 1 if problems or not alerts else 0


if __name__ == "__main__":
    sys.exit(main())
