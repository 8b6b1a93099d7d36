#!/usr/bin/env python3
"""Contract checks the generic linters cannot express (run by scripts/check-infra.sh).

  check_contracts.py dockerfile Dockerfile        runtime stage: distroless, non-root, no RUN
  check_contracts.py compose FILE                 compose wiring: secrets, peers, tenants
  check_contracts.py values-doc CHART_DIR         values.yaml documents every field
  check_contracts.py rendered DIR                 rendered manifests (helm template output)

Each prints one line per problem and exits 1 if there is any. Needs PyYAML (in the infra venv).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS: list[str] = []


def problem(message: str) -> None:
    PROBLEMS.append(message)
    print(f"PROBLEM: {message}")


# ---------------------------------------------------------------------------------------
# Dockerfile: the image that ships must be minimal and non-root.
# ---------------------------------------------------------------------------------------

def check_dockerfile(path: Path) -> None:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if re.match(r"(?i)^FROM\s", line):
            stages.append([])
        if stages:
            stages[-1].append(line)
    if len(stages) < 2:
        problem(f"{path}: expected a multi-stage build (builder + runtime), found {len(stages)} stage(s)")
        return
    runtime = stages[-1]
    base = runtime[0].split()[1]
    if not base.startswith("gcr.io/distroless/"):
        problem(f"{path}: runtime stage must be a distroless image (no shell, no package manager), is {base}")
    instructions = [line.split()[0].upper() for line in runtime]
    if "RUN" in instructions:
        problem(f"{path}: runtime stage runs commands (RUN): it must only copy the binary in")
    users = [line.split()[1] for line in runtime if line.split()[0].upper() == "USER"]
    if not users:
        problem(f"{path}: runtime stage sets no USER")
    elif not re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", users[-1]):
        problem(f"{path}: runtime USER must be a numeric non-root uid[:gid] (Kubernetes runAsNonRoot), is {users[-1]}")
    entrypoints = [line for line in runtime if line.split()[0].upper() == "ENTRYPOINT"]
    if not entrypoints or not entrypoints[-1].split(None, 1)[1].startswith("["):
        problem(f"{path}: runtime stage needs an exec-form ENTRYPOINT [\"/path/binary\"] (no shell to parse a string)")
    copies = [line for line in runtime if line.split()[0].upper() == "COPY"]
    if not copies or not all("--from=" in line for line in copies):
        problem(f"{path}: the runtime stage must copy only from the builder stage (COPY --from=...)")
    if not any(re.match(r"(?i)^ARG\s+SERVICE\b", line) for stage in stages for line in stage):
        problem(f"{path}: no ARG SERVICE: one Dockerfile must build any service (--build-arg SERVICE=...)")
    if not any("cargo chef cook" in line for stage in stages for line in stage):
        problem(f"{path}: dependencies are not built in their own cached layer (cargo chef cook)")
    if not PROBLEMS:
        print(f"ok: {path}: runtime {base}, USER {users[-1]}, {len(stages)} stages")


# ---------------------------------------------------------------------------------------
# Compose: the services' configuration matches what the init creates and who listens.
# ---------------------------------------------------------------------------------------

def workspace_binaries() -> set[str]:
    """Binary names of the workspace (package names of crates with a main.rs, or [[bin]])."""
    names = set()
    for manifest in list(ROOT.glob("services/*/Cargo.toml")) + list(ROOT.glob("crates/*/Cargo.toml")):
        text = manifest.read_text(encoding="utf-8")
        package = re.search(r'(?m)^name\s*=\s*"([^"]+)"', text)
        if (manifest.parent / "src/main.rs").exists() and package:
            names.add(package.group(1))
        names.update(re.findall(r'(?ms)^\[\[bin\]\]\s*name\s*=\s*"([^"]+)"', text))
    return names


def check_compose(path: Path) -> None:
    compose = yaml.safe_load(path.read_text(encoding="utf-8"))
    services = compose["services"]
    init_script = (ROOT / "scripts/infra/localstack-init.sh").read_text(encoding="utf-8")
    created_secrets = set(re.findall(r'put_secret "([^"]+)"', init_script))
    binaries = workspace_binaries()
    prefixes = set()
    for name, service in services.items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        build = service.get("build")
        if build:
            target = (build.get("args") or {}).get("SERVICE")
            if build.get("dockerfile", "Dockerfile") != "Dockerfile":
                problem(f"{path}: {name} is not built by the shared Dockerfile")
            # A crate that is still being written is reported, not failed: compose may name
            # it before its binary exists.
            if target not in binaries:
                print(f"WARNING: {path}: {name} builds SERVICE={target}, not (yet) a binary of the workspace")
        for key, value in env.items():
            value = str(value)
            if key.endswith("_SECRET_ID") and value not in created_secrets:
                problem(f"{path}: {name} {key}={value} but localstack-init.sh creates no such secret")
            for host in re.findall(r"https?://([a-z0-9-]+):\d+", value):
                if host not in services:
                    problem(f"{path}: {name} {key} points at {host!r}, not a service of this file")
            if key == "TENANTS_JSON":
                try:
                    tenants = json.loads(value)
                except json.JSONDecodeError as err:
                    problem(f"{path}: {name} TENANTS_JSON is not JSON: {err}")
                    continue
                for tenant, integrations in tenants.items():
                    for integration, settings in integrations.items():
                        if settings.get("auth", {}).get("method") in ("api_token", "oauth_private_key_jwt"):
                            secret = settings.get("secret", f"integrations/{tenant}/{integration}")
                            if secret not in created_secrets:
                                problem(f"{path}: tenant {tenant} {integration} needs secret {secret}; localstack-init.sh does not create it")
        if "TABLE_PREFIX" in env:
            prefixes.add(env["TABLE_PREFIX"])
        if build and env.get("AUTO_CREATE_RESOURCES", "false") != "false" and "TABLE_PREFIX" in env:
            problem(f"{path}: {name} creates its own resources; the init creates them (as Terraform does in AWS)")
        if build and str(service.get("user", "")).split(":")[0] in ("", "0", "root"):
            problem(f"{path}: {name} runs as root")
    if len(prefixes) > 1:
        problem(f"{path}: services and init disagree on TABLE_PREFIX: {sorted(prefixes)}")
    if not PROBLEMS:
        print(f"ok: {path}: {len(services)} services; secrets, peers, tenants and TABLE_PREFIX consistent")


# ---------------------------------------------------------------------------------------
# values.yaml: documented field by field, and in step with values.schema.json.
# ---------------------------------------------------------------------------------------

def schema_property_names(node, names: set[str], definitions: dict) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[-1]
            if ref not in definitions:
                problem(f"values.schema.json: $ref to missing definition {node['$ref']}")
            return
        for name, sub in (node.get("properties") or {}).items():
            names.add(name)
            schema_property_names(sub, names, definitions)
        for key in ("items", "additionalProperties", "then"):
            if isinstance(node.get(key), dict):
                schema_property_names(node[key], names, definitions)


def check_values_doc(chart: Path) -> None:
    lines = (chart / "values.yaml").read_text(encoding="utf-8").splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9_.-]*):", line)
        if not match:
            continue
        above = lines[number - 1].strip() if number else ""
        if not above.startswith("#"):
            undocumented.append(f"{number + 1}: {line.strip()}")
    for entry in undocumented:
        problem(f"values.yaml line {entry}: no comment directly above this field")
    schema = json.loads((chart / "values.schema.json").read_text(encoding="utf-8"))
    definitions = schema.get("definitions", {})
    names: set[str] = set()
    schema_property_names(schema, names, definitions)
    for definition in definitions.values():
        schema_property_names(definition, names, definitions)
    text = "\n".join(lines)
    for name in sorted(names - {"global"}):
        if not re.search(rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_-])", text):
            problem(f"values.schema.json allows {name!r} but values.yaml does not mention (document) it")
    if not PROBLEMS:
        print(f"ok: {chart}/values.yaml documents every field; {len(names)} schema properties all mentioned")


# ---------------------------------------------------------------------------------------
# Rendered manifests: what each release must contain, and how the parts fit together.
# ---------------------------------------------------------------------------------------

class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (kubectl/the API server would too)."""


def _unique_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)

# Which CronJobs each service's release renders (services/<service>.yaml).
EXPECTED_CRONJOBS = {"user-service": {}, "sales-service": {}, "integration-service": {"sync-providers": ["sync-providers"]}}


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_pod(where: str, pod: dict, configmaps: dict, probes: bool) -> None:
    spec = pod["spec"]
    psc = spec.get("securityContext") or {}
    if not psc.get("runAsNonRoot") or (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problem(f"{where}: pod securityContext needs runAsNonRoot and seccompProfile RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        problem(f"{where}: automountServiceAccountToken must be false (IRSA uses its own projected token)")
    for container in spec["containers"]:
        csc = container.get("securityContext") or {}
        wanted = {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "runAsNonRoot": True}
        for key, value in wanted.items():
            if csc.get(key) is not value:
                problem(f"{where}: container {container['name']} securityContext.{key} must be {value}")
        if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
            problem(f"{where}: container {container['name']} must drop ALL capabilities")
        requests = (container.get("resources") or {}).get("requests") or {}
        limits = (container.get("resources") or {}).get("limits") or {}
        if not requests.get("cpu") or not requests.get("memory") or not limits.get("memory"):
            problem(f"{where}: container {container['name']} needs cpu+memory requests and a memory limit")
        refs = [e["configMapRef"]["name"] for e in container.get("envFrom") or [] if "configMapRef" in e]
        if not refs or any(ref not in configmaps for ref in refs):
            problem(f"{where}: container {container['name']} envFrom names no ConfigMap of the release: {refs}")
        if not probes:
            continue
        expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
        for probe, path in expected.items():
            got = ((container.get(probe) or {}).get("httpGet") or {}).get("path")
            if got != path:
                problem(f"{where}: {probe} must GET {path}, has {got}")
        env = {}
        for ref in refs:
            env.update(configmaps.get(ref, {}))
        try:
            drain, grace = int(env["SHUTDOWN_DRAIN_SECONDS"]), int(env["SHUTDOWN_GRACE_SECONDS"])
        except (KeyError, ValueError):
            problem(f"{where}: the ConfigMap must set SHUTDOWN_DRAIN_SECONDS and SHUTDOWN_GRACE_SECONDS")
            continue
        pre_stop = ((((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep")) or {}).get("seconds", 0)
        budget = pre_stop + drain + grace
        termination = spec.get("terminationGracePeriodSeconds", 30)
        if termination <= budget:
            problem(
                f"{where}: terminationGracePeriodSeconds {termination} must exceed preStop {pre_stop} + "
                f"drain {drain} + grace {grace} = {budget}, or the kubelet kills requests in flight"
            )
        if pre_stop <= 0:
            problem(f"{where}: no preStop sleep: the pod would stop before endpoints/load balancers drop it")


def check_rendered(directory: Path) -> None:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        problem(f"{directory}: no rendered manifests")
    for path in files:
        try:
            docs = [d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader) if d]
        except yaml.YAMLError as err:
            problem(f"{path.name}: {err}")
            continue
        by_kind: dict[str, list[dict]] = {}
        for doc in docs:
            by_kind.setdefault(doc["kind"], []).append(doc)
        release = path.stem.removesuffix("-production")
        production = path.stem.endswith("-production")
        configmaps = {c["metadata"]["name"]: c.get("data") or {} for c in by_kind.get("ConfigMap", [])}
        deployments = by_kind.get("Deployment", [])
        if len(deployments) != 1:
            problem(f"{path.name}: expected exactly one Deployment, found {len(deployments)}")
            continue
        deployment = deployments[0]
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]
        pod_labels = pod["metadata"]["labels"]
        check_pod(f"{path.name} Deployment/{name}", pod, configmaps, probes=True)
        for required in ("Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"):
            if required not in by_kind:
                problem(f"{path.name}: no {required}")
        for service in by_kind.get("Service", []):
            if not matches(service["spec"]["selector"], pod_labels):
                problem(f"{path.name}: Service/{service['metadata']['name']} selects no pod of the Deployment")
        for pdb in by_kind.get("PodDisruptionBudget", []):
            if not matches(pdb["spec"]["selector"]["matchLabels"], pod_labels):
                problem(f"{path.name}: PodDisruptionBudget selects no pod of the Deployment")
        for hpa in by_kind.get("HorizontalPodAutoscaler", []):
            if hpa["spec"]["scaleTargetRef"]["name"] != name:
                problem(f"{path.name}: HPA targets {hpa['spec']['scaleTargetRef']['name']}, not {name}")
            resources = {m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"}
            if resources != {"cpu", "memory"}:
                problem(f"{path.name}: HPA must scale on cpu and memory, scales on {sorted(resources)}")
        spread = {c["topologyKey"] for c in pod["spec"].get("topologySpreadConstraints") or []}
        if not {"topology.kubernetes.io/zone", "kubernetes.io/hostname"} <= spread:
            problem(f"{path.name}: pods must spread over zones and nodes, spread over {sorted(spread)}")
        accounts = {a["metadata"]["name"]: a for a in by_kind.get("ServiceAccount", [])}
        if pod["spec"].get("serviceAccountName") not in accounts:
            problem(f"{path.name}: the Deployment's ServiceAccount is not part of the release")
        for monitor in by_kind.get("ServiceMonitor", []):
            endpoint = monitor["spec"]["endpoints"][0]
            seconds = {k: int(endpoint[k].rstrip("s")) for k in ("interval", "scrapeTimeout")}
            if endpoint.get("port") != "http" or endpoint.get("path") != "/metrics":
                problem(f"{path.name}: ServiceMonitor must scrape port http, path /metrics")
            if seconds["scrapeTimeout"] >= seconds["interval"]:
                problem(f"{path.name}: ServiceMonitor scrapeTimeout must be shorter than interval")
            if not any(matches(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"]) for s in by_kind["Service"]):
                problem(f"{path.name}: ServiceMonitor selects no Service of the release")
        cronjobs = {}
        for cronjob in by_kind.get("CronJob", []):
            job_pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]
            check_pod(f"{path.name} CronJob/{cronjob['metadata']['name']}", job_pod, configmaps, probes=False)
            if job_pod["spec"].get("serviceAccountName") not in accounts:
                problem(f"{path.name}: CronJob/{cronjob['metadata']['name']} runs without the release's ServiceAccount (IRSA)")
            component = cronjob["metadata"]["labels"].get("app.kubernetes.io/component")
            cronjobs[component] = job_pod["spec"]["containers"][0].get("args")
        if release in EXPECTED_CRONJOBS and cronjobs != EXPECTED_CRONJOBS[release]:
            problem(f"{path.name}: CronJobs {cronjobs} != expected {EXPECTED_CRONJOBS[release]}")
        if production:
            annotations = next(iter(accounts.values()), {}).get("metadata", {}).get("annotations") or {}
            if not annotations.get("eks.amazonaws.com/role-arn", "").startswith("arn:aws"):
                problem(f"{path.name}: production ServiceAccount has no IRSA role annotation")
            for required in ("Ingress", "ServiceMonitor", "NetworkPolicy"):
                if required not in by_kind:
                    problem(f"{path.name}: production values render no {required}")
            data = next(iter(configmaps.values()), {})
            if data.get("AUTO_CREATE_RESOURCES") != "false" or data.get("AWS_ENDPOINT_URL"):
                problem(f"{path.name}: production must not auto-create resources or use an emulator endpoint")
        print(f"{'ok' if not PROBLEMS else '..'}: {path.name}: {len(docs)} objects")


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("dockerfile", "compose", "values-doc", "rendered"):
        print(__doc__)
        return 2
    kind, target = sys.argv[1], Path(sys.argv[2])
    {"dockerfile": check_dockerfile, "compose": check_compose, "values-doc": check_values_doc, "rendered": check_rendered}[kind](target)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
