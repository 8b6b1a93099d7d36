#!/usr/bin/env python3
"""The kind install test, as far as it runs without a cluster: what
`scripts/infra/kind/install.sh render DIR` wrote must fit together, so the GitHub job fails
only on what a real API server and real pods can show.

  check_kind.py DIR

- the release (platform-kind-monitoring.yaml) passes the same manifest contracts as the
  production renders (check_contracts.py rendered), helm test pods and network policies
  included;
- every peer URL in the services' ConfigMaps names a Service of peers.yaml on that port, and
  the services' NetworkPolicy lets them connect to it;
- every secret id the services read is created by the init Job's script, and the table
  prefix and bucket are the ones it creates;
- every image of the release and the peers is either built and loaded by install.sh (never
  pulled) or a pinned public image;
- the Karpenter NodePool chart renders with a pinned AMI (the job validates it server-side).
Prints one PROBLEM line per failure; exit 1 if any.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

import check_contracts
from platform_services import image_names

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS: list[str] = []


def problem(message: str) -> None:
    PROBLEMS.append(message)
    print(f"PROBLEM: {message}")


def docs_of(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def main() -> int:
    rendered = Path(sys.argv[1])
    release, peers = docs_of(rendered / "platform-kind-monitoring.yaml"), docs_of(rendered / "peers.yaml")
    with tempfile.TemporaryDirectory() as work:
        shutil.copy(rendered / "platform-kind-monitoring.yaml", work)
        check_contracts.check_rendered(Path(work))
    PROBLEMS.extend(check_contracts.PROBLEMS)

    services = {(d["metadata"]["name"], d["metadata"]["namespace"]): {p["port"] for p in d["spec"]["ports"]}
                for d in peers if d["kind"] == "Service"}
    init_script = (ROOT / "scripts/infra/localstack-init.sh").read_text(encoding="utf-8")
    created_secrets = set(re.findall(r'put_secret "([^"]+)"', init_script))
    init_job = next(d for d in peers if d["kind"] == "Job" and d["metadata"]["name"] == "init")
    init_env = {e["name"]: e.get("value") for e in init_job["spec"]["template"]["spec"]["containers"][0]["env"]}
    policies = {d["metadata"]["name"]: d for d in release if d["kind"] == "NetworkPolicy"}
    for config in (d for d in release if d["kind"] == "ConfigMap" and "grafana_dashboard" not in d["metadata"].get("labels", {})):
        name, data = config["metadata"]["name"], config.get("data") or {}
        egress = {p.get("port") for rule in policies.get(name, {}).get("spec", {}).get("egress", []) for p in rule.get("ports") or []}
        for key, value in data.items():
            for host, namespace, port in re.findall(r"https?://([a-z0-9-]+)\.([a-z0-9-]+):(\d+)", str(value)):
                if int(port) not in services.get((host, namespace), set()):
                    problem(f"{name}: {key} points at {host}.{namespace}:{port}, which no Service of peers.yaml serves")
                if int(port) not in egress:
                    problem(f"{name}: {key} needs egress to port {port}, which its NetworkPolicy does not allow")
            if key.endswith("_SECRET_ID") and value not in created_secrets:
                problem(f"{name}: {key}={value}, a secret the init Job (localstack-init.sh) does not create")
        if data.get("TABLE_PREFIX") != init_env.get("TABLE_PREFIX"):
            problem(f"{name}: TABLE_PREFIX {data.get('TABLE_PREFIX')!r}, the init Job creates {init_env.get('TABLE_PREFIX')!r}")
        if "AVATAR_BUCKET" in data and data["AVATAR_BUCKET"] != init_env.get("AVATAR_BUCKET"):
            problem(f"{name}: AVATAR_BUCKET {data['AVATAR_BUCKET']!r}, the init Job creates {init_env.get('AVATAR_BUCKET')!r}")
        if data.get("AUTO_CREATE_RESOURCES") != "false":
            problem(f"{name}: creates its own resources; in the test, as in production, the init (Terraform) does")

    loaded = set(image_names())  # install.sh loads scripts/lib.sh image_names
    for doc in release + peers:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec") or (spec if doc["kind"] == "Pod" else None)
        for container in (pod or {}).get("containers", []):
            image, policy = container["image"], container.get("imagePullPolicy", "IfNotPresent")
            where = f"{doc['kind']}/{doc['metadata']['name']}"
            own = re.fullmatch(r"platform/([a-z-]+):kind", image)
            if own and (own.group(1) not in loaded or policy != "Never"):
                problem(f"{where}: {image} must be built and loaded by install.sh (IMAGES) and never pulled (imagePullPolicy Never)")
            elif not own and (image.startswith("platform/") or not re.search(r":[\w.-]+$", image) or image.endswith(":latest")):
                problem(f"{where}: {image} is neither a loaded image of this repository nor a pinned public image")

    nodepool = {d["kind"]: d for d in docs_of(rendered / "karpenter-nodepool.yaml")}
    alias = [t.get("alias") for t in nodepool.get("EC2NodeClass", {}).get("spec", {}).get("amiSelectorTerms", [])]
    if not alias or not all(re.fullmatch(r"al2023@v\d{8}", a or "") for a in alias):
        problem(f"karpenter-nodepool.yaml: the EC2NodeClass selects {alias}, not a pinned AMI release")
    if not PROBLEMS:
        print(f"ok: kind release {len(release)} objects, peers {len(peers)} objects: wired together; NodePool renders")
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
