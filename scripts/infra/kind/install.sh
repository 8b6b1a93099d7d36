#!/usr/bin/env bash
# The server-side install test: the whole platform release on a kind cluster, then its
# `helm test` hooks. GitHub Actions runs it (.github/workflows/install-test.yml) after
# building the images in the same job; it needs a container runtime, which the development
# machines lack, so scripts/check-infra.sh runs the `render` half only.
#
#   scripts/infra/kind/install.sh render DIR   # write what would be applied (offline)
#   scripts/infra/kind/install.sh install      # apply it to the current kubectl context
#
# Order: the Prometheus Operator and Karpenter CRDs (the NodePool chart is validated by the
# API server against Karpenter's CRDs, dry run); the namespaces (platform with Pod Security
# `restricted`, as Terraform makes it); the peers and their init Job (tables, bucket,
# secrets); `helm install --wait` of charts/platform with values-kind.yaml; `helm test`.
# Env: KIND_CLUSTER (default chart-testing, kind-action's), IMAGE_TAG (default kind).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"

. scripts/lib.sh

CLUSTER="${KIND_CLUSTER:-chart-testing}"
mapfile -t IMAGES < <(image_names)   # built and loaded by images.yml
PROMETHEUS_CRDS_VERSION=23.0.0   # infra/addons.tf addon_chart_versions.prometheus_operator_crds
KARPENTER_VERSION=1.12.2         # infra/addons.tf addon_chart_versions.karpenter
RELEASE=(platform charts/platform --namespace platform -f charts/platform/values-kind.yaml)

namespaces() {
  cat <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: platform
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/audit: restricted
    pod-security.kubernetes.io/warn: restricted
---
apiVersion: v1
kind: Namespace
metadata:
  name: peers
YAML
}

# The project's files the peers run, as ConfigMaps (kubectl builds them offline).
configmaps() {
  local issuer_files=()
  mapfile -t issuer_files < <(git ls-files tools/oidc-issuer | grep -E '\.(mjs|json)$' | grep -v test)
  kubectl create configmap emulator-files --namespace peers --dry-run=client -o yaml \
    --from-file=scripts/emulator_server.py --from-file=scripts/requirements-emulator.txt
  echo ---
  kubectl create configmap issuer-files --namespace peers --dry-run=client -o yaml \
    "${issuer_files[@]/#/--from-file=}"
  echo ---
  kubectl create configmap init-files --namespace peers --dry-run=client -o yaml \
    --from-file=scripts/infra/localstack-init.sh --from-file=scripts/infra/localstack-tables.sh
}

nodepool() {
  helm template karpenter-nodepool infra/charts/karpenter-nodepool \
    --set nodeRole=kind-test --set discoveryTag=kind-test --set amiAlias=al2023@v20260714
}

render() {
  local dir="$1"
  mkdir -p "$dir"
  { namespaces; echo ---; configmaps; echo ---; cat scripts/infra/kind/peers.yaml; } >"$dir/peers.yaml"
  helm dependency build --skip-refresh charts/platform >/dev/null
  helm template "${RELEASE[@]}" --api-versions monitoring.coreos.com/v1 >"$dir/platform-kind-monitoring.yaml"
  nodepool >"$dir/karpenter-nodepool.yaml"
  ls -l "$dir"
}

install() {
  local work svc
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  render "$work"
  for svc in "${IMAGES[@]}"; do
    kind load docker-image "platform/$svc:${IMAGE_TAG:-kind}" --name "$CLUSTER"
  done
  helm upgrade --install prometheus-operator-crds prometheus-operator-crds \
    --repo https://prometheus-community.github.io/helm-charts --version "$PROMETHEUS_CRDS_VERSION" \
    --namespace kube-system --wait
  helm upgrade --install karpenter-crd oci://public.ecr.aws/karpenter/karpenter-crd \
    --version "$KARPENTER_VERSION" --namespace kube-system --wait
  kubectl apply --dry-run=server -f "$work/karpenter-nodepool.yaml"

  kubectl apply -f "$work/peers.yaml"
  for svc in emulator oidc-issuer stand-ins; do
    kubectl -n peers rollout status "deployment/$svc" --timeout=10m
  done
  kubectl -n peers wait job/init --for=condition=complete --timeout=5m
  kubectl -n peers logs job/init

  helm upgrade --install "${RELEASE[@]}" --wait --timeout 10m ||
    { kubectl -n platform get pods -o wide; kubectl -n platform describe pods | tail -n 80; exit 1; }
  helm test platform --namespace platform --logs --timeout 5m
}

case "${1:-}" in
  render) render "${2:?render DIR}" ;;
  install) install ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
