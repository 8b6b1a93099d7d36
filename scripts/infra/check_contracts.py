#!/usr/bin/env python3
"""Contract checks the generic linters cannot express (run by scripts/check-infra.sh).

  check_contracts.py dockerfile Dockerfile        runtime stage: distroless, non-root, no RUN;
                                                  bases pinned by digest, one shared build
  check_contracts.py compose FILE                 compose wiring: secrets, peers, tenants
  check_contracts.py values-doc CHART_DIR         values.yaml documents every field
  check_contracts.py rendered DIR                 rendered manifests (helm template output)
  check_contracts.py workflows .github/workflows   deploy = one atomic umbrella release; PRs validate Terraform;
                                                  actions pinned by commit; PRs build the images

Each prints one line per problem and exits 1 if there is any. Needs PyYAML (in the infra venv).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

from platform_services import image_names
from platform_services import services as platform_services

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
    args = dict(re.findall(r"(?m)^\s*ARG\s+(\w+)=(\S+)", text))
    base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), runtime[0].split()[1])
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
    check_dockerfile_supply_chain(path, text, stages)
    if not PROBLEMS:
        print(f"ok: {path}: runtime {base}, USER {users[-1]}, {len(stages)} stages")


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def check_dockerfile_supply_chain(path: Path, text: str, stages: list[list[str]]) -> None:
    """Bases pinned by digest, binaries built once for every image and auditable."""
    args = dict(re.findall(r"(?m)^\s*ARG\s+(\w+)=(\S+)", text))
    names: set[str] = set()
    for stage in stages:
        words = stage[0].split()
        base = next(w for w in words[1:] if not w.startswith("--"))
        ref = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), base)
        if base not in names and not DIGEST.search(ref):
            problem(f"{path}: `{stage[0]}`: base image {ref} is not pinned by digest (image:tag@sha256:...)")
        if len(words) >= 4 and words[-2].upper() == "AS":
            names.add(words[-1])
    if any("sharing=locked" in line for stage in stages for line in stage):
        problem(f"{path}: a cache mount with sharing=locked (buildah 1.28 hangs on the second one; cargo locks its own cache)")
    for stage in stages[:-1]:
        if any(re.match(r"(?i)^ARG\s+SERVICE\b", line) for line in stage):
            problem(f"{path}: `{stage[0]}` depends on SERVICE: every image would compile the workspace again")
    if not any(re.search(r"cargo auditable build", line) for stage in stages for line in stage):
        problem(f"{path}: binaries not built with `cargo auditable build` (no dependency list in the image)")


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


# LocalStack's images after 4.14.0 (26 Feb 2026) need LOCALSTACK_AUTH_TOKEN (one unified
# image since 23 Mar 2026: LocalStack's notices, e.g. spring-cloud-aws#1586); 4.14.0 is the
# last that starts without an account (quickwit PR #6303).
LOCALSTACK_FREE_TAG = "4.14.0"
# A name public DNS maps to 127.0.0.1 (LocalStack's docs, network troubleshooting): with a
# compose network alias it reaches LocalStack from the containers AND from the host, so the
# presigned avatar URLs user-service hands out open in the host's browser.
HOST_VISIBLE_ENDPOINT = "localhost.localstack.cloud"
# Node.js end of life (nodejs/Release README, release schedule): a major past it gets no
# security fixes.
NODE_END_OF_LIFE = {"18": "2025-04-30", "20": "2026-04-30", "22": "2027-04-30", "24": "2028-04-30", "26": "2029-04-30"}


def check_compose_images(path: Path, services: dict) -> None:
    """The third-party images of the local stack: LocalStack pinned to the last free tag (or
    given an auth token), Node.js still supported, presigned URLs the host can open."""
    import datetime as dt

    localstack = services.get("localstack", {})
    image = str(localstack.get("image", ""))
    env = localstack.get("environment") or {}
    if not re.fullmatch(rf"\$\{{LOCALSTACK_IMAGE:-localstack/localstack:{re.escape(LOCALSTACK_FREE_TAG)}\}}", image):
        problem(f"{path}: localstack image {image!r}: pin localstack/localstack:{LOCALSTACK_FREE_TAG}, the last tag that starts without "
                "an auth token, overridable with LOCALSTACK_IMAGE (later tags need LOCALSTACK_AUTH_TOKEN)")
    if "LOCALSTACK_AUTH_TOKEN" not in env:
        problem(f"{path}: localstack does not pass LOCALSTACK_AUTH_TOKEN through (needed with any newer LOCALSTACK_IMAGE)")
    for name, service in services.items():
        match = re.match(r"node:(\d+)", str(service.get("image", "")))
        if match and dt.date.today().isoformat() >= NODE_END_OF_LIFE.get(match.group(1), "0000"):
            problem(f"{path}: {name} runs {service['image']}: Node.js {match.group(1)} is past its end of life "
                    f"({NODE_END_OF_LIFE.get(match.group(1), 'unknown')})")
    aliases = {alias for network in (localstack.get("networks") or {}).values() for alias in (network or {}).get("aliases", [])}
    user_env = (services.get("user-service") or {}).get("environment") or {}
    endpoint = str(user_env.get("AWS_ENDPOINT_URL", ""))
    host, _, port = endpoint.removeprefix("http://").partition(":")
    published = [str(p) for p in localstack.get("ports", [])]
    if host != HOST_VISIBLE_ENDPOINT or HOST_VISIBLE_ENDPOINT not in aliases or not any(p.endswith(f":{port}:{port}") for p in published):
        problem(f"{path}: user-service presigns avatar URLs with AWS_ENDPOINT_URL={endpoint!r}, which the host cannot resolve: use "
                f"http://{HOST_VISIBLE_ENDPOINT}:4566 with that name as a network alias of localstack and the port published")


def check_compose(path: Path) -> None:
    compose = yaml.safe_load(path.read_text(encoding="utf-8"))
    services = compose["services"]
    check_compose_images(path, services)
    aliases = {alias for service in services.values() for network in (service.get("networks") or {}).values()
               for alias in (network or {}).get("aliases", [])}
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
            for host in re.findall(r"https?://([a-z0-9.-]+):\d+", value):
                if host not in services and host not in aliases:
                    problem(f"{path}: {name} {key} points at {host!r}, not a service of this file")
            if key == "TENANTS_JSON":
                try:
                    tenants = json.loads(value)
                except json.JSONDecodeError as err:
                    problem(f"{path}: {name} TENANTS_JSON is not JSON: {err}")
                    continue
                for tenant, integrations in tenants.items():
                    if "callers" not in integrations:
                        problem(f"{path}: tenant {tenant} lists no callers (the service refuses to start)")
                    for integration, settings in integrations.items():
                        if integration == "callers":
                            continue
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
    built = {str(((service.get("build") or {}).get("args") or {}).get("SERVICE")) for service in services.values()}
    for missing in sorted(set(platform_services()) - built):
        problem(f"{path}: no container builds {missing} (services/{missing}): add it (docs/development.md#adding-a-service)")
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

# Which CronJobs each service renders (charts/platform/values.yaml); a service not named
# here renders none.
EXPECTED_CRONJOBS = {"integration-service": {"sync-providers": ["sync-providers"]}}
# The ALB must never publish these (the chart's ingress.alb.blockedPaths).
OPERATIONS_PATHS = ("/metrics",)
# The API docs: public through the ALB by default, answered 404 there in *-nodocs renders
# (ingress.alb.apiDocs: false).
API_DOCS_PATHS = ("/swagger", "/swagger/", "/openapi.json")
SERVICE_NAME_LABEL = "app.kubernetes.io/name"


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_templates(docs: list[dict]) -> list[tuple[str, dict]]:
    """(where, pod template) of every workload in the documents."""
    pods = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Deployment":
            pods.append((where, doc["spec"]["template"]))
        elif doc["kind"] == "CronJob":
            pods.append((where, doc["spec"]["jobTemplate"]["spec"]["template"]))
    return pods


def check_pod(where: str, pod: dict, configmaps: dict, probes: bool) -> None:
    spec = pod["spec"]
    psc = spec.get("securityContext") or {}
    if not psc.get("runAsNonRoot") or (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problem(f"{where}: pod securityContext needs runAsNonRoot and seccompProfile RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        problem(f"{where}: automountServiceAccountToken must be false (IRSA uses its own projected token)")
    if not pod["metadata"]["labels"].get("app.kubernetes.io/component"):
        problem(f"{where}: pod template has no app.kubernetes.io/component label")
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
            check_timeout = float(env["READINESS_CHECK_TIMEOUT_SECONDS"])
        except (KeyError, ValueError):
            problem(f"{where}: the ConfigMap must set SHUTDOWN_DRAIN_SECONDS, SHUTDOWN_GRACE_SECONDS and READINESS_CHECK_TIMEOUT_SECONDS")
            continue
        for probe in expected:
            timeout = (container.get(probe) or {}).get("timeoutSeconds", 1)
            if timeout <= check_timeout:
                problem(f"{where}: {probe} timeoutSeconds {timeout} must exceed READINESS_CHECK_TIMEOUT_SECONDS {check_timeout:g}")
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


def path_matches(rule: dict, request: str) -> bool:
    """Kubernetes path semantics: Exact is equality, Prefix matches whole path elements."""
    path = rule["path"]
    if rule["pathType"] == "Exact":
        return request == path
    return path == "/" or request == path.rstrip("/") or request.startswith(path.rstrip("/") + "/")


def check_ingress(where: str, ingress: dict, service: str, check_timeout: float, docs_public: bool) -> None:
    annotations = ingress["metadata"].get("annotations") or {}
    if ingress["spec"].get("ingressClassName") != "alb":
        return
    if not annotations.get("alb.ingress.kubernetes.io/group.name"):
        problem(f"{where}: an ALB Ingress must join the shared IngressGroup (alb.ingress.kubernetes.io/group.name)")
    if not annotations.get("alb.ingress.kubernetes.io/certificate-arn", "").startswith("arn:aws"):
        problem(f"{where}: an ALB Ingress needs an ACM certificate (HTTPS)")
    if annotations.get("alb.ingress.kubernetes.io/ssl-redirect") != "443":
        problem(f"{where}: HTTP must redirect to HTTPS (alb.ingress.kubernetes.io/ssl-redirect: '443')")
    if float(annotations.get("alb.ingress.kubernetes.io/healthcheck-timeout-seconds", 5)) <= check_timeout:
        problem(f"{where}: the ALB health check timeout must exceed READINESS_CHECK_TIMEOUT_SECONDS {check_timeout:g}")
    if annotations.get("alb.ingress.kubernetes.io/healthcheck-path") != "/readyz":
        problem(f"{where}: the ALB must health-check /readyz")
    attributes = dict(a.split("=", 1) for a in annotations.get("alb.ingress.kubernetes.io/load-balancer-attributes", "").split(",") if "=" in a)
    if attributes.get("routing.http.drop_invalid_header_fields.enabled") != "true":
        problem(f"{where}: the ALB must drop invalid header fields (load-balancer-attributes routing.http.drop_invalid_header_fields.enabled=true)")
    if attributes.get("access_logs.s3.enabled") == "true" and not attributes.get("access_logs.s3.bucket"):
        problem(f"{where}: access logs on without a bucket")
    waf = annotations.get("alb.ingress.kubernetes.io/wafv2-acl-arn")
    if waf is not None and not re.match(r"arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/", waf):
        problem(f"{where}: wafv2-acl-arn {waf!r} is no regional web ACL")
    for rule in ingress["spec"]["rules"]:
        paths = rule["http"]["paths"]
        closed = OPERATIONS_PATHS + (() if docs_public else API_DOCS_PATHS)
        for request in OPERATIONS_PATHS + API_DOCS_PATHS:
            # ALB evaluates an Ingress's paths in order: the first that matches wins.
            first = next((p for p in paths if path_matches(p, request)), None)
            backend = (first or {}).get("backend", {}).get("service", {})
            reaches_service = backend.get("name") == service
            if request in closed and reaches_service:
                problem(f"{where}: host {rule.get('host')} publishes {request} through the ALB (path {first['path']} reaches the service first)")
            elif request not in closed and not reaches_service:
                problem(f"{where}: host {rule.get('host')} answers {request} with {backend.get('name') or 'no rule'}, not the service: "
                        "the API docs promised at /swagger are unreachable on the public URL")
            elif backend.get("name") and backend.get("port", {}).get("name") == "use-annotation":
                action = annotations.get(f"alb.ingress.kubernetes.io/actions.{backend['name']}", "")
                if '"fixed-response"' not in action:
                    problem(f"{where}: {request} goes to action {backend['name']}, which is no fixed response")


def check_test_pods(where: str, pods: list[dict], services: list[dict]) -> None:
    """`helm test`: one hook Pod per service asks its Service for /readyz, the spec and a real
    route, under Pod Security `restricted` like the service itself."""
    tests = [p for p in pods if (p["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"]
    if len(tests) != 1:
        problem(f"{where}: expected one `helm test` Pod (annotation helm.sh/hook: test), found {len(tests)}")
        return
    pod = tests[0]
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value", "") for e in container.get("env") or []}
    script = " ".join(container.get("args") or []) + " ".join(container.get("command") or [])
    service = next(iter(services), {}).get("metadata", {}).get("name", "")
    if f"http://{service}." not in env.get("BASE", ""):
        problem(f"{where}: the test Pod asks {env.get('BASE')!r}, not the service's Service {service}")
    for needed in ("/readyz", "/openapi.json", "$ROUTE"):
        if needed not in script:
            problem(f"{where}: the test Pod does not request {needed}")
    if not env.get("ROUTE", "").startswith("/") or not env.get("EXPECT", "").isdigit():
        problem(f"{where}: the test Pod needs a real ROUTE and the EXPECTed status")
    psc = pod["spec"].get("securityContext") or {}
    csc = container.get("securityContext") or {}
    if not psc.get("runAsNonRoot") or csc.get("allowPrivilegeEscalation") is not False or "ALL" not in (csc.get("capabilities") or {}).get("drop", []):
        problem(f"{where}: the test Pod does not meet Pod Security restricted (the namespace enforces it)")


def check_service(name: str, docs: list[dict], file: str, production: bool, docs_public: bool = True) -> None:
    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    where = f"{file} [{name}]"
    configmaps = {c["metadata"]["name"]: c.get("data") or {} for c in by_kind.get("ConfigMap", [])}
    deployments = by_kind.get("Deployment", [])
    if len(deployments) != 1:
        problem(f"{where}: expected exactly one Deployment, found {len(deployments)}")
        return
    deployment = deployments[0]
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    check_pod(f"{where} Deployment/{name}", pod, configmaps, probes=True)
    for required in ("Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"):
        if required not in by_kind:
            problem(f"{where}: no {required}")
    for service in by_kind.get("Service", []):
        if not matches(service["spec"]["selector"], pod_labels):
            problem(f"{where}: Service/{service['metadata']['name']} selects no pod of the Deployment")
    job_pods = [(w, p) for w, p in pod_templates(docs) if w.startswith("CronJob/")]
    for pdb in by_kind.get("PodDisruptionBudget", []):
        selector = pdb["spec"]["selector"]["matchLabels"]
        if not matches(selector, pod_labels):
            problem(f"{where}: PodDisruptionBudget selects no pod of the Deployment")
        for job_where, job_pod in job_pods:
            # A PDB over finished Job pods fails safe to disruptionsAllowed: 0 (drains block).
            if matches(selector, job_pod["metadata"]["labels"]):
                problem(f"{where}: PodDisruptionBudget/{pdb['metadata']['name']} also selects the pods of {job_where}")
    for service in by_kind.get("Service", []):
        for job_where, job_pod in job_pods:
            if matches(service["spec"]["selector"], job_pod["metadata"]["labels"]):
                problem(f"{where}: Service/{service['metadata']['name']} also selects the pods of {job_where}")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        if hpa["spec"]["scaleTargetRef"]["name"] != name:
            problem(f"{where}: HPA targets {hpa['spec']['scaleTargetRef']['name']}, not {name}")
        resources = {m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"}
        if resources != {"cpu", "memory"}:
            problem(f"{where}: HPA must scale on cpu and memory, scales on {sorted(resources)}")
    spread = {c["topologyKey"] for c in pod["spec"].get("topologySpreadConstraints") or []}
    if not {"topology.kubernetes.io/zone", "kubernetes.io/hostname"} <= spread:
        problem(f"{where}: pods must spread over zones and nodes, spread over {sorted(spread)}")
    accounts = {a["metadata"]["name"]: a for a in by_kind.get("ServiceAccount", [])}
    if pod["spec"].get("serviceAccountName") not in accounts:
        problem(f"{where}: the Deployment's ServiceAccount is not part of the release")
    for monitor in by_kind.get("ServiceMonitor", []):
        endpoint = monitor["spec"]["endpoints"][0]
        seconds = {k: int(endpoint[k].rstrip("s")) for k in ("interval", "scrapeTimeout")}
        if endpoint.get("port") != "http" or endpoint.get("path") != "/metrics":
            problem(f"{where}: ServiceMonitor must scrape port http, path /metrics")
        if seconds["scrapeTimeout"] >= seconds["interval"]:
            problem(f"{where}: ServiceMonitor scrapeTimeout must be shorter than interval")
        if not any(matches(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"]) for s in by_kind["Service"]):
            problem(f"{where}: ServiceMonitor selects no Service of the release")
    cronjobs = {}
    for cronjob in by_kind.get("CronJob", []):
        job_pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]
        check_pod(f"{where} CronJob/{cronjob['metadata']['name']}", job_pod, configmaps, probes=False)
        if job_pod["spec"].get("serviceAccountName") not in accounts:
            problem(f"{where}: CronJob/{cronjob['metadata']['name']} runs without the release's ServiceAccount (IRSA)")
        component = cronjob["metadata"]["labels"].get("app.kubernetes.io/component")
        cronjobs[component] = job_pod["spec"]["containers"][0].get("args")
    if cronjobs != EXPECTED_CRONJOBS.get(name, {}):
        problem(f"{where}: CronJobs {cronjobs} != expected {EXPECTED_CRONJOBS.get(name, {})}")
    check_test_pods(where, by_kind.get("Pod", []), by_kind.get("Service", []))
    data = configmaps.get(name, {})
    check_timeout = float(data.get("READINESS_CHECK_TIMEOUT_SECONDS", 0))
    for ingress in by_kind.get("Ingress", []):
        check_ingress(f"{where} Ingress/{ingress['metadata']['name']}", ingress, name, check_timeout, docs_public)
        policies = by_kind.get("NetworkPolicy", [])
        if policies and not any(
            "ipBlock" in peer for policy in policies for rule in policy["spec"].get("ingress") or [] for peer in rule.get("from") or []
        ):
            problem(f"{where}: an Ingress behind a NetworkPolicy that admits no ipBlock: the ALB (target-type ip) cannot reach the pods")
    for policy in by_kind.get("NetworkPolicy", []):
        if "Egress" in policy["spec"].get("policyTypes", []):
            dns = any(port.get("port") == 53 for rule in policy["spec"].get("egress") or [] for port in rule.get("ports") or [])
            if not dns:
                problem(f"{where}: NetworkPolicy/{policy['metadata']['name']} restricts egress without allowing DNS (port 53)")
        peers = [peer for rule in policy["spec"].get("ingress") or [] for peer in rule.get("from") or []]
        if not any("namespaceSelector" in peer and "prometheus" in json.dumps(peer) for peer in peers):
            problem(f"{where}: NetworkPolicy/{policy['metadata']['name']} does not let Prometheus scrape")
    if production:
        annotations = next(iter(accounts.values()), {}).get("metadata", {}).get("annotations") or {}
        if not annotations.get("eks.amazonaws.com/role-arn", "").startswith("arn:aws"):
            problem(f"{where}: production ServiceAccount has no IRSA role annotation")
        for required in ("Ingress", "NetworkPolicy"):
            if required not in by_kind:
                problem(f"{where}: production values render no {required}")
        if data.get("AUTO_CREATE_RESOURCES") != "false" or data.get("AWS_ENDPOINT_URL"):
            problem(f"{where}: production must not auto-create resources or use an emulator endpoint")


# The pods `helm test` starts (templates/tests/): admitted by pod selector, never selected by
# the services' NetworkPolicy (their own egress must reach the Services).
TEST_POD_COMPONENT = "helm-test"
CONSOLE = "console"


def selects(selector: dict, labels: dict) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) selects these labels."""
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if (operator == "In" and labels.get(key) not in values) or (operator == "NotIn" and labels.get(key) in values) \
                or (operator == "Exists" and key not in labels) or (operator == "DoesNotExist" and key in labels):
            return False
    return True


def pod_network() -> list:
    """The private subnets (every pod's address, VPC CNI) of the default VPC and AZ count."""
    import ipaddress

    from hcl_tools import evaluate_modules, load

    variables = {k: v for block in load(ROOT / "infra/variables.tf")["variable"] for k, v in block.items()}
    layout = evaluate_modules({"layout": (ROOT / "infra/modules/subnet_layout", {
        "vpc_cidr": variables["vpc_cidr"]["default"], "az_count": variables["availability_zone_count"]["default"]})})["layout"]
    return [ipaddress.ip_network(cidr) for cidr in layout["private_subnets"]]


# The controller's "exclusive" annotations: every Ingress of one IngressGroup must give the
# same value, or the group is not reconciled (aws-load-balancer-controller annotations.md).
GROUP_EXCLUSIVE = ("alb.ingress.kubernetes.io/load-balancer-attributes", "alb.ingress.kubernetes.io/wafv2-acl-arn",
                   "alb.ingress.kubernetes.io/scheme", "alb.ingress.kubernetes.io/ssl-policy")


def check_ingress_group(file: str, docs: list[dict]) -> None:
    groups: dict[str, list[dict]] = {}
    for doc in docs:
        if doc["kind"] == "Ingress":
            annotations = doc["metadata"].get("annotations") or {}
            if group := annotations.get("alb.ingress.kubernetes.io/group.name"):
                groups.setdefault(group, []).append(annotations)
    for group, members in groups.items():
        for key in GROUP_EXCLUSIVE:
            values = {m.get(key) for m in members}
            if len(values) > 1:
                problem(f"{file}: IngressGroup {group}: {key} differs between its Ingresses ({sorted(map(str, values))}): the controller refuses the group")


def check_network_policies(file: str, docs: list[dict], private_subnets: list) -> None:
    """N7: who reaches the services' http port. The ALB from the public subnets only (an ipBlock
    over the pod network admits every pod of the cluster), Prometheus, the helm test pods and
    the console by pod selector; the console's egress reaches the services' http port."""
    import ipaddress

    pods = []  # (service, component, labels)
    for doc in docs:
        if doc["kind"] == "Deployment":
            labels = doc["spec"]["template"]["metadata"]["labels"]
        elif doc["kind"] == "Pod":
            labels = doc["metadata"]["labels"]
        else:
            continue
        pods.append((labels.get(SERVICE_NAME_LABEL), labels.get("app.kubernetes.io/component"), labels))
    policies = {d["metadata"]["labels"][SERVICE_NAME_LABEL]: d for d in docs if d["kind"] == "NetworkPolicy"}
    servers = {name: labels for name, component, labels in pods if component == "server"}
    for name, policy in policies.items():
        where = f"{file} [{name}] NetworkPolicy/{policy['metadata']['name']}"
        spec = policy["spec"]
        peers = [peer for rule in spec.get("ingress") or [] for peer in rule.get("from") or []]
        for peer in peers:
            cidr = (peer.get("ipBlock") or {}).get("cidr")
            if cidr and any(ipaddress.ip_network(cidr).overlaps(net) for net in private_subnets):
                problem(f"{where}: admits ipBlock {cidr}, which holds pod addresses (private subnets {[str(n) for n in private_subnets]}): "
                        "every pod of the cluster reaches the http port, /metrics included; admit the public (ALB) subnets (N7)")
        pod_peers = [peer["podSelector"] for peer in peers if "podSelector" in peer and "namespaceSelector" not in peer]
        instance = (servers.get(name) or {}).get("app.kubernetes.io/instance")
        test_labels = {"app.kubernetes.io/instance": instance, "app.kubernetes.io/component": TEST_POD_COMPONENT}
        if not any(selects(selector, test_labels) and selector for selector in pod_peers):
            problem(f"{where}: does not admit the helm test pods (podSelector {test_labels}) (N7)")
        for service, component, labels in pods:
            if selects(spec["podSelector"], labels) and component == TEST_POD_COMPONENT:
                problem(f"{where}: selects the helm test pod of {service}: its egress would be limited to DNS and 443 (N7)")
        if CONSOLE in servers and name != CONSOLE and not any(selects(selector, servers[CONSOLE]) and selector for selector in pod_peers):
            problem(f"{where}: does not admit the console's pods (contract 9, N7)")
    console = policies.get(CONSOLE)
    if console:
        egress = console["spec"].get("egress") or []
        for name, labels in servers.items():
            if name == CONSOLE:
                continue
            reaches = any(any(selects(peer.get("podSelector") or {}, labels) and "podSelector" in peer for peer in rule.get("to") or [])
                          and any(port.get("port") == "http" for port in rule.get("ports") or []) for rule in egress)
            if not reaches:
                problem(f"{file} [console]: the console's NetworkPolicy does not let it reach {name}'s http port (contract 9, N7)")


def check_client_addresses(file: str, docs: list[dict]) -> None:
    """Contract 5 (issue 23.3): a service behind the ALB believes X-Forwarded-For from the ALB's
    subnets only (TRUSTED_PROXY_CIDRS = the NetworkPolicy's ALB sources), and a service that
    verifies OIDC tokens trusts the console's forwarder token when the console calls it."""
    configs = {d["metadata"]["name"]: d.get("data") or {} for d in docs
               if d["kind"] == "ConfigMap" and "grafana_dashboard" not in (d["metadata"].get("labels") or {})}
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    ingresses = {d["metadata"]["name"] for d in docs if d["kind"] == "Ingress" and d["spec"].get("ingressClassName") == "alb"}
    console_client = configs.get(CONSOLE, {}).get("OIDC_CLIENT_ID")
    for name in sorted(ingresses):
        sources = sorted(peer["ipBlock"]["cidr"] for rule in policies.get(name, {}).get("spec", {}).get("ingress") or []
                         for peer in rule.get("from") or [] if "ipBlock" in peer)
        trusted = sorted(c for c in configs.get(name, {}).get("TRUSTED_PROXY_CIDRS", "").split(",") if c)
        if trusted != sources:
            problem(f"{file} [{name}]: TRUSTED_PROXY_CIDRS {trusted} is not the ALB's subnets {sources}: X-Forwarded-For must be "
                    "believed from the ALB only (contract 5, issue 23.3)")
    for name, data in sorted(configs.items()):
        if console_client and name != CONSOLE and "OIDC_ISSUER_URL" in data:
            if console_client not in data.get("TRUSTED_FORWARDER_CLIENTS", "").split(","):
                problem(f"{file} [{name}]: TRUSTED_FORWARDER_CLIENTS {data.get('TRUSTED_FORWARDER_CLIENTS')!r} lacks the console's client "
                        f"{console_client!r}: the person's address it forwards is dropped (contract 5)")


def check_rendered(directory: Path) -> None:
    """Every rendered file (one release each); objects are grouped by service name label.
    Files named *-production* hold production renders; *-monitoring* ones were rendered for
    a cluster serving monitoring.coreos.com/v1 and must hold a ServiceMonitor and a
    PrometheusRule per service, the others none (the CRDs may be missing)."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        problem(f"{directory}: no rendered manifests")
    private_subnets = pod_network()
    for path in files:
        try:
            docs = [d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader) if d]
        except yaml.YAMLError as err:
            problem(f"{path.name}: {err}")
            continue
        services: dict[str, list[dict]] = {}
        for doc in docs:
            name = (doc["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
            if not name:
                problem(f"{path.name}: {doc['kind']}/{doc['metadata']['name']} has no {SERVICE_NAME_LABEL} label")
                continue
            services.setdefault(name, []).append(doc)
        if path.stem.startswith("platform"):
            for missing in sorted(set(platform_services()) - set(services)):
                problem(f"{path.name}: the umbrella chart renders nothing of {missing} (services/{missing}): "
                        "add it to charts/platform (docs/development.md#adding-a-service)")
        monitoring = "-monitoring" in path.stem
        check_network_policies(path.name, docs, private_subnets)
        check_ingress_group(path.name, docs)
        check_client_addresses(path.name, docs)
        for name, service_docs in sorted(services.items()):
            check_service(name, service_docs, path.name, "-production" in path.stem, "-nodocs" not in path.stem)
            kinds = {d["kind"] for d in service_docs}
            for kind in ("ServiceMonitor", "PrometheusRule"):
                if monitoring and kind not in kinds:
                    problem(f"{path.name} [{name}]: rendered for a cluster with the Prometheus Operator, but no {kind}")
                if not monitoring and kind in kinds:
                    problem(f"{path.name} [{name}]: a {kind} rendered for a cluster without monitoring.coreos.com/v1: the install would fail")
        print(f"{'ok' if not PROBLEMS else '..'}: {path.name}: {len(docs)} objects, services {sorted(services)}")


# ---------------------------------------------------------------------------------------
# Workflows: the deploy installs the whole platform as one release; PRs validate Terraform.
# ---------------------------------------------------------------------------------------

def run_scripts(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def check_actions_pinned(directory: Path) -> None:
    """Every action from another repository is pinned by commit, its version in a comment."""
    for workflow in sorted(directory.glob("*.yml")):
        for number, line in enumerate(workflow.read_text(encoding="utf-8").splitlines(), 1):
            match = re.match(r"^\s*(?:- )?uses:\s*(\S+)(.*)$", line)
            if not match or match.group(1).startswith("./"):
                continue
            action, comment = match.group(1), match.group(2).strip()
            if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action):
                problem(f"{workflow.name}:{number}: {action} is not pinned by commit SHA (owner/action@<40 hex>)")
            elif not re.fullmatch(r"# v\d+(\.\d+)*", comment):
                problem(f"{workflow.name}:{number}: {action} has no `# vX.Y.Z` comment naming the pinned version")


def check_image_builds(directory: Path) -> None:
    """Some workflow builds every image (scripts/lib.sh `image_names`, so a new service is
    included without an edit) on pull requests that change them, in one job."""
    for workflow in sorted(directory.glob("*.yml")):
        doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        on = doc.get("on") or doc.get(True) or {}
        pull_request = on.get("pull_request") if isinstance(on, dict) else None
        if not isinstance(on, dict) or "pull_request" not in on:
            continue
        paths = set((pull_request or {}).get("paths", ["**"]))
        builds_all = any(
            ". scripts/lib.sh" in script and "image_names" in script
            and re.search(r"docker buildx build [^\n]*--build-arg \"?SERVICE=\$", script)
            for script in (run_scripts(job) for job in doc.get("jobs", {}).values())
        )
        if builds_all and (paths >= {"Dockerfile", "Cargo.lock", "services/**", "crates/**"} or "**" in paths):
            return
    problem(f"{directory}: no workflow job builds every image of scripts/lib.sh image_names ({', '.join(image_names())}) "
            "on pull requests touching Dockerfile, Cargo.lock, services/, crates/")


def declared_variables(workflow_text: str, scope: str) -> set[str]:
    """Variable names a workflow's header declares: `# <scope> variables: A, B, ...` (the
    list may continue on `#   ` lines)."""
    match = re.search(rf"^# {scope} variables[^:]*:((?:.*\n)(?:#   .*\n)*)", workflow_text, re.M)
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+)\b", match.group(1))) if match else set()


def check_variable_scopes(path: Path, deploy_doc: Path) -> None:
    """N2: GitHub gives environment variables only to jobs that name the environment, and
    evaluates `environment:` itself (and a job's name and concurrency) before any environment
    is selected: everything else must be a repository variable, declared as such, and
    docs/deploy.md must tell operators the same."""
    text = path.read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    repository = declared_variables(text, "Repository")
    environment = declared_variables(text, "Environment")
    if not repository:
        problem(f"{path.name}: the header declares no `# Repository variables:` (what a job without an environment may read)")
    for job_name, job in workflow.get("jobs", {}).items():
        selected = "environment" in job
        before_selection = yaml.safe_dump({k: job.get(k) for k in ("name", "environment", "concurrency", "runs-on") if k in job})
        for var in sorted(set(re.findall(r"vars\.([A-Z][A-Z0-9_]+)", before_selection)) - repository):
            problem(f"{path.name} job {job_name}: its name/environment/concurrency read vars.{var} before an environment is selected: "
                    "only repository variables exist there; declare it under `# Repository variables:` (N2)")
        used = set(re.findall(r"vars\.([A-Z][A-Z0-9_]+)", yaml.safe_dump(job)))
        for var in sorted(used - repository - (environment if selected else set())):
            where = "an environment variable, but the job names no environment" if var in environment else "declared nowhere"
            problem(f"{path.name} job {job_name}: reads vars.{var}, {where}: it is empty there (N2)")
    doc = deploy_doc.read_text(encoding="utf-8")
    section = doc[doc.find("### 9. Continuous deployment"):]
    said = re.search(r"[Rr]epository variables?([^.]*)", section)
    for var in sorted(repository):
        if not said or var not in said.group(1):
            problem(f"docs/deploy.md step 9: does not tell operators to create {var} as a repository variable (N2)")


def check_image_pipeline(main: dict, main_text: str) -> None:
    """N11: re-running the workflow for a built commit must not push the same immutable tag
    again. N12: the images go to, and the release pulls from, the repositories Terraform
    created (<project>/<service>), not a hard-coded `platform/`."""
    images = run_scripts(main["jobs"].get("images", {}))
    check, build = images.find("ecr describe-images"), images.find("docker buildx build")
    if check < 0 or build < 0 or check > build or not re.search(r"then\s*\n[^\n]*\n\s*continue", images[check:build]):
        problem("main.yml images: before each build, ask ECR whether the commit's image exists (aws ecr describe-images) and skip "
                "it then: a re-run pushes an existing immutable tag again and fails (N11)")
    pushed = re.findall(r"--tag\s+\"?([^\s\"]+)", images)
    if not pushed or any("/platform/" in tag for tag in pushed):
        problem(f"main.yml images: pushes to {pushed}: the repository must come from IMAGE_REPOSITORY_PREFIX "
                "(terraform's project), not a hard-coded platform/ (N12)")
    deploy = run_scripts(main["jobs"].get("deploy", {}))
    if "ecr describe-images" not in deploy:
        problem("main.yml deploy: does not check that the release's images exist in the repositories Terraform names before installing (N12)")
    outputs = (ROOT / "infra/outputs.tf").read_text(encoding="utf-8")
    if not re.search(r"image\s*=\s*\{[^}]*repository\s*=\s*aws_ecr_repository\.service\[service\]\.name", outputs):
        problem("infra/outputs.tf: helm_values image must carry repository = aws_ecr_repository.service[service].name (N12)")


def check_terraform_lock(pr: dict) -> None:
    """N15: providers are locked; the lock can only be generated where the registry answers,
    so the PR job generates it when it is missing (an artifact to commit) and otherwise
    refuses a lock that does not match."""
    job = pr["jobs"].get("terraform", {})
    script = run_scripts(job)
    uploads = [s for s in job.get("steps", []) if "actions/upload-artifact" in s.get("uses", "")]
    if "terraform providers lock" not in script or not all(f"-platform={p}" in script for p in ("linux_amd64", "darwin_arm64")):
        problem("pr.yml terraform: must generate the provider lock (terraform providers lock -platform=linux_amd64 -platform=darwin_arm64 ...) (N15)")
    if "-lockfile=readonly" not in script:
        problem("pr.yml terraform: a committed .terraform.lock.hcl must be used read-only (terraform init -lockfile=readonly) (N15)")
    if not any(".terraform.lock.hcl" in str((s.get("with") or {}).get("path", "")) for s in uploads):
        problem("pr.yml terraform: the generated .terraform.lock.hcl must be uploaded as an artifact to commit (N15)")


def check_install_test(directory: Path) -> None:
    """A server-side install test: on pull requests, a job builds the images, creates a kind
    cluster and runs scripts/infra/kind/install.sh install (CRDs, peers, helm install
    --wait, helm test), the script scripts/check-infra.sh renders offline."""
    for workflow in sorted(directory.glob("*.yml")):
        doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        on = doc.get("on") or doc.get(True) or {}
        if not isinstance(on, dict) or "pull_request" not in on:
            continue
        paths = set((on.get("pull_request") or {}).get("paths", ["**"]))
        for job in doc.get("jobs", {}).values():
            steps = job.get("steps", [])
            uses = [s.get("uses", "") for s in steps]
            runs = [i for i, s in enumerate(steps) if "scripts/infra/kind/install.sh install" in s.get("run", "")]
            kind = [i for i, u in enumerate(uses) if u.startswith("helm/kind-action@")]
            loads = [i for i, s in enumerate(steps) if re.search(r"docker buildx build [^\n]*--load", s.get("run", ""))
                     and "image_names" in s.get("run", "")]
            if runs and kind and loads and max(loads) < runs[0] and kind[0] < runs[0]:
                if "**" in paths or {"charts/**", "scripts/infra/kind/**"} <= paths:
                    return
                problem(f"{workflow.name}: the kind install test does not run on pull requests touching charts/** and scripts/infra/kind/**")
                return
    problem(f"{directory}: no pull-request job builds every image (--load), creates a kind cluster (helm/kind-action) and then runs "
            "scripts/infra/kind/install.sh install (helm install --wait, helm test)")


def check_compose_job(directory: Path) -> None:
    """The Docker path: a job runs `docker compose up --wait` of the local stack, then the
    try-it flows (scripts/infra/compose-smoke.sh) from the host."""
    for workflow in sorted(directory.glob("*.yml")):
        doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        for job in doc.get("jobs", {}).values():
            script = run_scripts(job)
            up = script.find("docker compose -f docker-compose.localstack.yml up")
            smoke = script.find("scripts/infra/compose-smoke.sh")
            if up >= 0 and "--wait" in script[up:].splitlines()[0] and smoke > up:
                return
    problem(f"{directory}: no job runs `docker compose -f docker-compose.localstack.yml up --wait` and then scripts/infra/compose-smoke.sh")


def check_workflows(directory: Path) -> None:
    main = yaml.safe_load((directory / "main.yml").read_text(encoding="utf-8"))
    pr = yaml.safe_load((directory / "pr.yml").read_text(encoding="utf-8"))
    deploy = run_scripts(main["jobs"].get("deploy", {}))
    upgrades = re.findall(r"helm upgrade --install (\S+) (\S+)((?:.*\\\n)*.*)", deploy)
    if [(name, chart) for name, chart, _ in upgrades] != [("platform", "charts/platform")]:
        problem(f"main.yml deploy: must run exactly one `helm upgrade --install platform charts/platform`, runs {[(n, c) for n, c, _ in upgrades]}")
    for _, _, flags in upgrades:
        for flag in ("--atomic", "--wait", "charts/platform/values-production.yaml"):
            if flag not in flags:
                problem(f"main.yml deploy: helm upgrade lacks {flag}")
        for values in re.findall(r"-f (charts/\S+)", flags):
            if not (ROOT / values).exists():
                problem(f"main.yml deploy: values file {values} does not exist")
    if "helm dependency build charts/platform" not in deploy:
        problem("main.yml deploy: must `helm dependency build charts/platform` before installing it")
    if "PLATFORM_VALUES_JSON" not in deploy:
        problem("main.yml deploy: the environment's values must come from terraform output helm_values (PLATFORM_VALUES_JSON)")
    check_actions_pinned(directory)
    check_image_builds(directory)
    check_variable_scopes(directory / "main.yml", ROOT / "docs/deploy.md")
    check_image_pipeline(main, (directory / "main.yml").read_text(encoding="utf-8"))
    check_terraform_lock(pr)
    check_install_test(directory)
    check_compose_job(directory)
    terraform = "\n".join(run_scripts(job) for job in pr["jobs"].values())
    for command in ("terraform init -backend=false", "terraform validate", "tflint"):
        if command not in terraform:
            problem(f"pr.yml: no job runs `{command}`")
    if not PROBLEMS:
        print("ok: main.yml deploys charts/platform as one atomic release; pr.yml validates and lints Terraform")


def main() -> int:
    modes = {"dockerfile": check_dockerfile, "compose": check_compose, "values-doc": check_values_doc,
             "rendered": check_rendered, "workflows": check_workflows}
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        print(__doc__)
        return 2
    kind, target = sys.argv[1], Path(sys.argv[2])
    modes[kind](target)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
