#!/usr/bin/env bash
# Installs the local OpenID Connect issuer's npm packages (tools/oidc-issuer: oidc-provider,
# pinned by its lockfile), again whenever the lockfile changes (~2 s). Tests start issuers
# on random ports (test_support::oidc); scripts/dev.sh runs one on 127.0.0.1:9000.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
help_if_asked scripts/oidc-issuer.sh "${1:-}"
cd tools/oidc-issuer

stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "oidc-issuer: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
