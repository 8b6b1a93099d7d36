#!/usr/bin/env bash
# Runs the compose stack's one-shot init (scripts/infra/localstack-init.sh) against the moto
# emulator, as docker-compose.localstack.yml runs it against LocalStack, twice (it must be
# idempotent), then checks what it created: every table as Terraform defines it (keys, GSIs,
# TTL), the avatar bucket and the secrets. No Docker needed.
# Needs: .tools/infra/awscli (scripts/install-infra-tools.sh), moto (scripts/emulator.sh install).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TOOLS="${TOOLS_DIR:-$ROOT/.tools/infra}"

scripts/emulator.sh install
port="$("$TOOLS/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
work="$(mktemp -d)"
mkdir -p "$work/described"
.tools/moto/bin/moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

export PATH="$TOOLS/awscli/bin:$PATH" AWS_PAGER=""
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export TABLE_PREFIX=local- AVATAR_BUCKET=local-avatars
for _ in $(seq 1 100); do
  aws dynamodb list-tables >/dev/null 2>&1 && break
  sleep 0.1
done

echo "--- first run"
sh scripts/infra/localstack-init.sh
echo "--- second run (idempotent)"
sh scripts/infra/localstack-init.sh

echo "--- what it created"
# One boto3 process (moto's venv) instead of a CLI call per table: same API answers.
.tools/moto/bin/python - "$work/described" <<'PY'
import json, os, sys
import boto3

out = sys.argv[1]
dynamodb = boto3.client("dynamodb")
for table in dynamodb.list_tables()["TableNames"]:
    for suffix, answer in ((".json", dynamodb.describe_table(TableName=table)),
                           (".ttl.json", dynamodb.describe_time_to_live(TableName=table))):
        answer.pop("ResponseMetadata", None)
        with open(os.path.join(out, table + suffix), "w") as f:
            json.dump(answer, f, default=str)
boto3.client("s3").head_bucket(Bucket=os.environ["AVATAR_BUCKET"])
print("ok: bucket", os.environ["AVATAR_BUCKET"])
secrets = boto3.client("secretsmanager")
for name in ("local/user-service/admin-password", "local/sales-service/africastalking-api-key",
             "local/sales-service/sms-delivery-report-token", "local/sales-service/cursor-keys",
             "local/user-service/cursor-keys",
             "local/integration-service/cursor-keys",
             "integrations/acme/okta", "integrations/globex/okta"):
    secrets.get_secret_value(SecretId=name)
    print("ok: secret", name)
PY
"$TOOLS/venv/bin/python" scripts/infra/check_table_drift.py --check-described "$work/described" --prefix "$TABLE_PREFIX"
