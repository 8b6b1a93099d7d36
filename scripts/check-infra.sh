#!/usr/bin/env bash
# Offline infrastructure checks: container, compose, Terraform, Helm, workflows, scripts
# and the DynamoDB table drift between Terraform, the services and the compose init.
#
#   scripts/check-infra.sh                    # all checks
#   scripts/check-infra.sh helm terraform     # only checks whose name contains a word
#   scripts/check-infra.sh --skip print-tables  # all but checks whose name contains it
#
# Tools come from ./.tools/infra (scripts/install-infra-tools.sh; run automatically when missing).
# Env: TOOLS_DIR (default ./.tools/infra), CARGO_TARGET_DIR (drift check looks in its debug/),
#      REQUIRE_ALL_SERVICES=1 (a missing service binary fails the drift check instead of
#      a loud warning), KEEP_RENDERED=DIR (keep the rendered manifests there).
# Prints PASS/FAIL per check and a summary; exits 1 if any check failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
. scripts/lib.sh
help_if_asked scripts/check-infra.sh "${1:-}"
TOOLS="${TOOLS_DIR:-$ROOT/.tools/infra}"  # .tools/ holds other tools too

# Idempotent and ~instant when the stamp matches; installs on a fresh clone.
TOOLS_DIR="$TOOLS" "$ROOT/scripts/install-infra-tools.sh" || { echo "FAIL  installing infra tools" >&2; exit 1; }
export PATH="$TOOLS/bin:$PATH"
export CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1
export HELM_CACHE_HOME="$TOOLS/helm/cache" HELM_CONFIG_HOME="$TOOLS/helm/config" HELM_DATA_HOME="$TOOLS/helm/data"
PY="$TOOLS/venv/bin/python"
CHECKOV=(checkov --skip-download --quiet --compact)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RENDERED="${KEEP_RENDERED:-$WORK/rendered}"
mkdir -p "$RENDERED"

FILTER=()
SKIP=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --skip) SKIP+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) FILTER+=("$1"); shift ;;
  esac
done
declare -a RESULTS=()
FAILED=0

wanted() {
  local word
  for word in "${SKIP[@]}"; do [[ "$1" == *"$word"* ]] && return 1; done
  [[ ${#FILTER[@]} -eq 0 ]] && return 0
  for word in "${FILTER[@]}"; do [[ "$1" == *"$word"* ]] && return 0; done
  return 1
}

# check NAME COMMAND...: runs COMMAND, prints PASS/FAIL with its duration, and the output
# (last 60 lines) on failure.
check() {
  local name="$1"; shift
  wanted "$name" || return 0
  local log="$WORK/${name//[^A-Za-z0-9_-]/_}.log" start=$SECONDS rc
  "$@" >"$log" 2>&1
  rc=$?
  local took=$((SECONDS - start))
  if [[ $rc -eq 0 ]]; then
    printf 'PASS  %-34s (%ss)\n' "$name" "$took"
    RESULTS+=("PASS $name")
    # Surface loud warnings (e.g. a skipped service) even on success.
    grep -h '^WARNING' "$log" | sort -u | sed 's/^/      /' || true
  else
    printf 'FAIL  %-34s (%ss, exit %s)\n' "$name" "$took" "$rc"
    tail -n 60 "$log" | sed 's/^/      | /'
    RESULTS+=("FAIL $name")
    FAILED=1
  fi
}

# --- Helm helpers ------------------------------------------------------------------------
# platform-service renders any one service; charts/platform installs all three as aliased
# instances of it (one release). Both must render on their own.
CHART=charts/platform-service
UMBRELLA=charts/platform
# Kubernetes versions the manifests must be valid for: the EKS version Terraform creates
# (infra/variables.tf) and the newest schema kubernetes-validate ships.
CLUSTER_K8S="$(awk '/variable "kubernetes_version"/,/^}/' infra/variables.tf | sed -n 's/.*default *= *"\([0-9.]*\)".*/\1/p')"
LATEST_K8S=1.37
# A cluster with the Prometheus Operator's CRDs (kube-prometheus-stack, infra/addons.tf).
MONITORING_API=(--api-versions monitoring.coreos.com/v1)

# The umbrella's dependencies are the local chart, packaged into charts/platform/charts/
# (git-ignored): repackaged before every lint and render (offline, ~0.1 s), never stale.
helm_dependencies() { helm dependency build --skip-refresh "$UMBRELLA" >/dev/null; }

# shellcheck disable=SC2329  # invoked through check()
helm_lint_all() (
  set -e
  helm_dependencies
  helm lint --strict "$CHART"
  helm lint --strict "$UMBRELLA"
  helm lint --strict "$UMBRELLA" -f "$UMBRELLA/values-production.yaml"
)

# Renders platform-service with its defaults, and the whole platform with its defaults and
# with the production values, on a cluster without and with the Prometheus Operator, for
# the cluster's Kubernetes version (the charts' kubeVersion must accept it). File names
# tell check_contracts.py what to expect (-production, -monitoring).
# shellcheck disable=SC2329  # invoked through check()
helm_render_all() (
  set -e
  helm_dependencies
  local -a common=(--namespace platform --kube-version "$CLUSTER_K8S")
  helm template default "$CHART" "${common[@]}" >"$RENDERED/default.yaml"
  helm template platform "$UMBRELLA" "${common[@]}" >"$RENDERED/platform.yaml"
  helm template platform "$UMBRELLA" "${common[@]}" \
    -f "$UMBRELLA/values-production.yaml" >"$RENDERED/platform-production.yaml"
  helm template platform "$UMBRELLA" "${common[@]}" "${MONITORING_API[@]}" \
    -f "$UMBRELLA/values-production.yaml" >"$RENDERED/platform-production-monitoring.yaml"
  # With the console (off until its image exists), and with the API docs closed on the ALB.
  helm template platform "$UMBRELLA" "${common[@]}" \
    -f "$UMBRELLA/values-production.yaml" --set console.enabled=true >"$RENDERED/platform-production-console.yaml"
  local svc closed=()
  for svc in user-service sales-service integration-service console; do closed+=(--set "$svc.ingress.alb.apiDocs=false"); done
  helm template platform "$UMBRELLA" "${common[@]}" \
    -f "$UMBRELLA/values-production.yaml" --set console.enabled=true "${closed[@]}" >"$RENDERED/platform-production-nodocs.yaml"
  ls -l "$RENDERED"
)

# kube_validate_files VERSION FILE...: strict schema validation (unknown fields are errors).
# The Prometheus Operator's kinds have no schema there: they are checked by promtool and the
# manifest contracts instead.
# shellcheck disable=SC2329  # invoked through the checks below
kube_validate_files() (
  local version="$1" file rc=0
  shift
  for file in "$@"; do
    "$PY" -c 'import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and not d["apiVersion"].startswith("monitoring.coreos.com/")]
yaml.safe_dump_all(docs, sys.stdout)' "$file" | kubernetes-validate --quiet --strict -k "$version.0" - || rc=1
  done
  return "$rc"
)
# shellcheck disable=SC2329  # invoked through check()
kube_validate_all() { kube_validate_files "$1" "$RENDERED"/*.yaml; }

# The kind install test (images.yml runs `scripts/infra/kind/install.sh install` on a kind
# cluster): here its render half, validated and checked for wiring.
# shellcheck disable=SC2329  # invoked through check()
kind_install_render() (
  set -e
  local dir="$WORK/kind"
  scripts/infra/kind/install.sh render "$dir" >/dev/null
  kube_validate_files "$CLUSTER_K8S" "$dir/peers.yaml" "$dir/platform-kind-monitoring.yaml"
  "$PY" scripts/infra/check_kind.py "$dir"
)

# Alerts: the production release's PrometheusRules, unit-tested with promtool; each alert's
# runbook entry exists (docs/runbook.md).
# shellcheck disable=SC2329  # invoked through check()
alert_rules_test() (
  set -e
  local dir="$WORK/alerts"
  "$PY" scripts/infra/alert_rules.py "$RENDERED/platform-production-monitoring.yaml" \
    "$CHART/alerts/tests" docs/runbook.md "$dir"
  promtool check rules "$dir"/*.rules.yaml
  cd "$dir" && promtool test rules ./*.test.yaml
)

# Bad values must be rejected. values.schema.json makes `helm lint` fail on type/enum/
# pattern/unknown-field errors; cross-field rules (min <= max replicas, ingress needs hosts)
# are `fail` calls in the templates, which `helm lint` only reports as INFO but
# `helm template`/`install`/`upgrade` refuse. So a case passes if lint OR template fails.
# shellcheck disable=SC2329  # invoked through check()
helm_rejects_bad_values() (
  local bad=0 case
  # A chart that fails anyway would "reject" every case: the good values must pass first.
  if ! helm lint --strict "$CHART" >/dev/null 2>&1 || ! helm template good "$CHART" >/dev/null 2>&1; then
    echo "the chart fails with its default values: cannot test that bad values are rejected"
    return 1
  fi
  local -a cases=(
    'replicaCount: two'
    'unknownField: 1'
    'autoscaling: {enabled: true, minReplicas: 5, maxReplicas: 2}'
    'containerPort: 80'
    'shutdown: {preStopSleepSeconds: 5, drainSeconds: 5, graceSeconds: 0, marginSeconds: 5}'
    'serviceAccount: {create: true, roleArn: not-an-arn}'
    'cronJobs: {sync: {schedule: "every minute", args: [x]}}'
    'image: {pullPolicy: Sometimes}'
    'ingress: {enabled: true}'
    'env: {TABLE_PREFIX: prod-}'
    'env: {lower-case: x}'
    'resources: {requests: {cpu: lots}}'
    'probes: {startup: {periodSeconds: 0, failureThreshold: 1, timeoutSeconds: 1}}'
    'shutdown: {preStopSleepSeconds: 5, drainSeconds: 5, graceSeconds: 20, marginSeconds: 0}'
    'serviceMonitor: {enabled: true, interval: 30}'
    'readiness: {intervalSeconds: 5, checkTimeoutSeconds: 3, unreadyAfterSeconds: 30}'
    'env: {READINESS_INTERVAL_SECONDS: 1}'
    'ingress: {enabled: true, className: alb, hosts: [{host: a.example.com, paths: [{path: /, pathType: Prefix}]}]}'
    'prometheusRule: {enabled: true, latencyThresholdSeconds: 0.3}'
    'networkPolicy: {enabled: true, albSourceCidrs: [10.0.0.0]}'
    'networkPolicy: {enabled: true, fromServices: [Console]}'
    'helmTest: {image: curlimages/curl:8.12.1, route: readyz, expectStatus: 200}'
    'helmTest: {image: curlimages/curl:8.12.1, route: /, expectStatus: 99}'
    'ingress: {enabled: false, alb: {apiDocs: "no"}}'
    'env: {TRUSTED_PROXY_CIDRS: 10.40.0.0/16}'
    'trustedProxyCidrs: [alb]'
  )
  for case in "${cases[@]}"; do
    printf '%s\n' "$case" >"$WORK/bad-values.yaml"
    if helm lint --strict "$CHART" -f "$WORK/bad-values.yaml" >/dev/null 2>&1 &&
       helm template bad "$CHART" -f "$WORK/bad-values.yaml" >/dev/null 2>&1; then
      echo "NOT REJECTED: $case"; bad=1
    else
      echo "rejected as expected: $case"
    fi
  done
  return "$bad"
)

# The slowest check (~25 s of AWS CLI calls) runs in the background from the start.
# shellcheck disable=SC2329  # invoked through check()
background_result() { wait "$1"; local rc=$?; cat "$2"; return "$rc"; }
if wanted "compose init against moto"; then
  scripts/infra/check-compose-init.sh >"$WORK/compose-init.log" 2>&1 &
  COMPOSE_INIT_PID=$!
fi

# --- the checks ----------------------------------------------------------------------------
CONTRACTS=("$PY" scripts/infra/check_contracts.py)
DRIFT=("$PY" scripts/infra/check_table_drift.py)
# Container
check "hadolint Dockerfile"           hadolint --no-color Dockerfile
check "checkov Dockerfile"            "${CHECKOV[@]}" -f Dockerfile --framework dockerfile
check "Dockerfile runtime contract"   "${CONTRACTS[@]}" dockerfile Dockerfile
# Compose
check "compose config"                docker-compose -f docker-compose.localstack.yml config -q
check "compose contract"              "${CONTRACTS[@]}" compose docker-compose.localstack.yml
check "compose init tables generated from terraform" \
                                      "${DRIFT[@]}" --check-localstack scripts/infra/localstack-tables.sh
# Terraform
check "terraform fmt"                 terraform fmt -check -recursive -diff infra
check "checkov terraform"             "${CHECKOV[@]}" -d infra --framework terraform
check "subnets never overlap (terraform console, every AZ count)" "$PY" scripts/infra/check_subnets.py
check "IAM actions = what each service's code calls" "$PY" scripts/infra/check_iam.py
check "terraform variable validations (terraform plan per case)" "$PY" scripts/infra/check_variables.py
check "add-ons: order, versions, evaluated values" "$PY" scripts/infra/check_addons.py
check "table drift self-test"         "${DRIFT[@]}" --self-test
check "table drift (terraform vs print-tables)" "${DRIFT[@]}"
# Helm
check "helm values documented"        "${CONTRACTS[@]}" values-doc "$CHART"
check "helm lint"                     helm_lint_all
check "helm rejects bad values"       helm_rejects_bad_values
check "helm template"                 helm_render_all
# The manifest checks need the manifests even when "helm template" was filtered out.
[[ -s "$RENDERED/default.yaml" ]] || helm_render_all >/dev/null 2>&1
if [[ -s "$RENDERED/default.yaml" ]]; then
  check "manifest contracts (rendered)" "${CONTRACTS[@]}" rendered "$RENDERED"
  check "kubernetes-validate $CLUSTER_K8S (EKS)" kube_validate_all "$CLUSTER_K8S"
  check "kubernetes-validate $LATEST_K8S (latest)" kube_validate_all "$LATEST_K8S"
  check "checkov kubernetes (rendered)" "${CHECKOV[@]}" -d "$RENDERED" --framework kubernetes
  check "alerts: promtool test rules, runbook" alert_rules_test
  check "alerts reach a person: amtool routes every alert" \
                                      "$PY" scripts/infra/check_alert_routing.py "$RENDERED/platform-production-monitoring.yaml"
  check "terraform: network policy, IMDS, access, namespace, deploy RBAC" \
                                      "$PY" scripts/infra/check_terraform.py "$RENDERED/platform-production-monitoring.yaml"
elif wanted "manifest" || wanted "kubernetes-validate" || wanted "checkov kubernetes" || wanted "alerts" || wanted "terraform:"; then
  echo "FAIL  manifests not rendered: manifest checks skipped"; RESULTS+=("FAIL helm template"); FAILED=1
fi
check "kind install test: render, validate, wiring" kind_install_render
# Workflows and scripts
check "yamllint"                      yamllint --strict -c scripts/infra/yamllint.yml \
                                        docker-compose.localstack.yml .github charts
check "actionlint"                    actionlint -shellcheck="$TOOLS/bin/shellcheck"
check "workflow contract (umbrella deploy, terraform validate)" "${CONTRACTS[@]}" workflows .github/workflows
check "shellcheck scripts"            bash -c 'shellcheck scripts/*.sh scripts/infra/*.sh scripts/infra/kind/*.sh services/*/local.sh .ci/run'
check "compose init against moto"     background_result "${COMPOSE_INIT_PID:-}" "$WORK/compose-init.log"

echo
passed=0; failed=0
for r in "${RESULTS[@]}"; do [[ $r == PASS* ]] && passed=$((passed + 1)) || failed=$((failed + 1)); done
echo "infra checks: ${passed} passed, ${failed} failed (${SECONDS}s)"
exit $FAILED
