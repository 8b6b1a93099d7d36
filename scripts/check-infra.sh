#!/usr/bin/env bash
# Offline infrastructure checks: container, compose, Terraform, Helm, workflows, scripts
# and the DynamoDB table drift between Terraform and the services.
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
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
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
CHART=charts/platform-service
SERVICES=(user-service sales-service integration-service)

# shellcheck disable=SC2329  # invoked through check()
helm_lint_all() (
  set -e
  helm lint --strict "$CHART"
  for svc in "${SERVICES[@]}"; do
    helm lint --strict "$CHART" -f "$CHART/services/$svc.yaml"
    helm lint --strict "$CHART" -f "$CHART/services/$svc.yaml" -f "$CHART/values-production.yaml"
  done
)

# shellcheck disable=SC2329  # invoked through check()
helm_render_all() (
  set -e
  helm template default "$CHART" --namespace platform >"$RENDERED/default.yaml"
  for svc in "${SERVICES[@]}"; do
    helm template "$svc" "$CHART" --namespace platform \
      -f "$CHART/services/$svc.yaml" >"$RENDERED/$svc.yaml"
    helm template "$svc" "$CHART" --namespace platform \
      -f "$CHART/services/$svc.yaml" -f "$CHART/values-production.yaml" >"$RENDERED/$svc-production.yaml"
  done
  # Contract checks kubernetes-validate cannot express.
  grep -q 'args:' "$RENDERED/integration-service.yaml"
  grep -A1 'args:' "$RENDERED/integration-service.yaml" | grep -q -- '- sync-providers'
  if grep -q 'kind: CronJob' "$RENDERED/user-service.yaml"; then exit 1; fi
  grep -q 'eks.amazonaws.com/role-arn' "$RENDERED/user-service-production.yaml"
  ls -l "$RENDERED"
)

# shellcheck disable=SC2329  # invoked through check()
kube_validate_all() (
  local file rc=0
  for file in "$RENDERED"/*.yaml; do
    kubernetes-validate --quiet --strict -k 1.34.0 "$file" || rc=1
  done
  return "$rc"
)

# Bad values must be rejected. values.schema.json makes `helm lint` fail on type/enum/
# pattern/unknown-field errors; cross-field rules (min <= max replicas, ingress needs hosts)
# are `fail` calls in the templates, which `helm lint` only reports as INFO but
# `helm template`/`install`/`upgrade` refuse. So a case passes if lint OR template fails.
# shellcheck disable=SC2329  # invoked through check()
helm_rejects_bad_values() (
  local bad=0 case
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

# --- the checks ----------------------------------------------------------------------------
check "hadolint Dockerfile"           hadolint --no-color Dockerfile
check "checkov Dockerfile"            "${CHECKOV[@]}" -f Dockerfile --framework dockerfile
check "compose config"                docker-compose -f docker-compose.localstack.yml config -q
check "terraform fmt"                 terraform fmt -check -recursive -diff infra
check "checkov terraform"             "${CHECKOV[@]}" -d infra --framework terraform
check "helm lint"                     helm_lint_all
check "helm rejects bad values"       helm_rejects_bad_values
check "helm template"                 helm_render_all
# kubernetes-validate / checkov need the manifests even when "helm template" was filtered out.
[[ -s "$RENDERED/default.yaml" ]] || helm_render_all >/dev/null 2>&1
if [[ -s "$RENDERED/default.yaml" ]]; then
  check "kubernetes-validate 1.34"    kube_validate_all
  check "checkov kubernetes (rendered)" "${CHECKOV[@]}" -d "$RENDERED" --framework kubernetes
elif wanted "kubernetes-validate 1.34" || wanted "checkov kubernetes (rendered)"; then
  echo "FAIL  manifests not rendered: kubernetes-validate / checkov kubernetes skipped"; FAILED=1
fi
check "yamllint"                      yamllint --strict -c scripts/infra/yamllint.yml \
                                        docker-compose.localstack.yml .github charts
check "actionlint"                    actionlint -shellcheck="$TOOLS/bin/shellcheck"
check "shellcheck scripts"            bash -c 'shellcheck scripts/*.sh scripts/infra/*.sh'
check "table drift self-test"         "$PY" scripts/infra/check_table_drift.py --self-test
check "table drift (terraform vs print-tables)" "$PY" scripts/infra/check_table_drift.py

echo
passed=0; failed=0
for r in "${RESULTS[@]}"; do [[ $r == PASS* ]] && passed=$((passed + 1)) || failed=$((failed + 1)); done
echo "infra checks: ${passed} passed, ${failed} failed (${SECONDS}s)"
exit $FAILED
