#!/usr/bin/env python3
"""Each service's IAM policy (infra/iam.tf) grants exactly the AWS actions its code calls.

Reads the AWS SDK calls in services/<service>/src (DynamoDB, S3, Secrets Manager, and the
shared readiness checks and secret store of crates/common it uses), maps them to IAM
actions, and compares them with the service's lists in infra/iam.tf: a missing action is an
AccessDenied in production, an extra one is privilege nobody uses. Also fails when the
shared crate calls an SDK operation this script does not know (so a new helper cannot
slip by), and when iam.tf's policy stops using the lists. Needs python-hcl2.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hcl_tools import locals_of, report
from platform_services import services

ROOT = Path(__file__).resolve().parents[2]
SERVICES = services()

# SDK fluent builders (`.put_item()`, no arguments) -> IAM action.
SDK_CALLS = {
    "put_item": "dynamodb:PutItem",
    "get_item": "dynamodb:GetItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "query": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "batch_write_item": "dynamodb:BatchWriteItem",
    "batch_get_item": "dynamodb:BatchGetItem",
    "describe_table": "dynamodb:DescribeTable",
    "get_object": "s3:GetObject",
    "head_object": "s3:GetObject",
    "put_object": "s3:PutObject",
    "delete_object": "s3:DeleteObject",
    "head_bucket": "s3:ListBucket",
    "list_objects_v2": "s3:ListBucket",
    "get_secret_value": "secretsmanager:GetSecretValue",
    "describe_secret": "secretsmanager:DescribeSecret",
}
# TransactWriteItems/TransactGetItems items, authorised one by one.
TRANSACT_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
# What a service gets by using a crates/common type.
COMMON_USES = {
    "DynamoTablesCheck": {"dynamodb:DescribeTable"},
    "S3BucketCheck": {"s3:ListBucket"},
    "AwsSecretStore": {"secretsmanager:GetSecretValue"},
    "get_consistent": {"dynamodb:GetItem"},
}
# SDK calls of crates/common and why each is covered: the types above, or the
# emulator-only bootstrap (AUTO_CREATE_RESOURCES=false in AWS; Terraform creates them).
COMMON_CALLS = {
    "describe_table": "DynamoTablesCheck; ensure_table (bootstrap)",
    "head_bucket": "S3BucketCheck; ensure_bucket (bootstrap)",
    "get_secret_value": "AwsSecretStore",
    "get_item": "get_consistent (the stores' consistent read)",
    "create_table": "bootstrap",
    "update_time_to_live": "bootstrap",
    "create_bucket": "bootstrap",
}
SDK_OPERATION = re.compile(r"\.([a-z][a-z0-9_]*)\(\)\s*(?://[^\n]*)?\s*\.")
TRANSACT_ITEM = re.compile(r"\b(Put|Update|Delete|ConditionCheck|Get)::builder\(\)")


def sdk_operations(source: str) -> set[str]:
    """`.operation()` followed by a builder call (`.table_name(...)`, `.send()`, ...), in
    code that sends SDK requests (`.send()`; `uri().query()` elsewhere is no AWS call)."""
    return set(SDK_OPERATION.findall(source)) if ".send()" in source else set()


def code_actions(service: str) -> dict[str, set[str]]:
    """action -> files calling it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "services" / service / "src").rglob("*.rs")):
        text = path.read_text(encoding="utf-8")
        text = re.split(r"\n#\[cfg\(test\)\]", text)[0]  # unit tests do not run in AWS
        where = str(path.relative_to(ROOT))
        for op in sdk_operations(text):
            if op in SDK_CALLS:
                found.setdefault(SDK_CALLS[op], set()).add(where)
        uses_transactions = "transact_write_items" in text or "transact_get_items" in text
        for item in TRANSACT_ITEM.findall(text) if uses_transactions or "TransactWriteItem" in text else []:
            found.setdefault(TRANSACT_ITEMS[item], set()).add(f"{where} (transaction item)")
        for name, actions in COMMON_USES.items():
            if re.search(rf"\b{name}\b", text):
                for action in actions:
                    found.setdefault(action, set()).add(f"{where} (common::{name})")
    return found


def terraform_actions() -> dict[str, set[str]]:
    local_values = locals_of(ROOT / "infra/iam.tf")
    granted = {service: set() for service in SERVICES}
    for name in ("service_dynamodb_actions", "service_s3_object_actions", "service_s3_bucket_actions", "service_secret_actions"):
        value = local_values.get(name, {})
        if isinstance(value, str):
            # `{ for service in local.services : service => [...] }`: the same list for all.
            same = re.search(r"for service in local\.services : service => \[(.*)\]", value)
            if not same:
                raise SystemExit(f"infra/iam.tf: cannot read local.{name}: {value}")
            value = {service: re.findall(r'"([^"]+)"', same.group(1)) or same.group(1).split(",") for service in SERVICES}
        for service, actions in value.items():
            granted.setdefault(service, set()).update(a.strip().strip('"') for a in actions)
    return granted


def main() -> int:
    problems = []
    policy = (ROOT / "infra/iam.tf").read_text(encoding="utf-8")
    for name in ("service_dynamodb_actions", "service_s3_object_actions", "service_s3_bucket_actions", "service_secret_actions"):
        if f"local.{name}[each.key]" not in policy:
            problems.append(f"infra/iam.tf: the service policy no longer grants local.{name}[each.key]")
    if re.search(r'actions\s*=\s*\[[^\]]*"(dynamodb|s3|secretsmanager):', policy.split('data "aws_iam_policy_document" "service"')[1]):
        problems.append("infra/iam.tf: the service policy lists actions inline; keep them in the per-service locals")
    common = set().union(*(sdk_operations(p.read_text(encoding="utf-8")) for p in (ROOT / "crates/common/src").rglob("*.rs")))
    for op in sorted(common):
        if op in SDK_CALLS and op not in COMMON_CALLS:
            problems.append(f"crates/common calls {op} ({SDK_CALLS[op]}): add it to COMMON_USES/COMMON_CALLS in {Path(__file__).name}")
    granted = terraform_actions()
    for service in SERVICES:
        needed = code_actions(service)
        for action in sorted(set(needed) - granted.get(service, set())):
            problems.append(f"{service}: the code calls {action} ({', '.join(sorted(needed[action]))}) but infra/iam.tf does not grant it")
        for action in sorted(granted.get(service, set()) - set(needed)):
            problems.append(f"{service}: infra/iam.tf grants {action}, which the code never calls")
        print(f"{service}: {', '.join(sorted(needed))}")
    return report(problems)


if __name__ == "__main__":
    sys.exit(main())
