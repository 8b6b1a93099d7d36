#!/usr/bin/env python3
"""Table drift check: Terraform's DynamoDB tables vs. each service's own specs.

Terraform side: infra/tables/<service>.json, one file per service, holding the list that
`<service> print-tables` prints (infra/tables.tf reads them; `[]` for a service without
tables). Service side: `<target>/debug/<service> print-tables` prints the service's
TableSpec list as JSON (names without the environment prefix).

Any difference (missing/extra table, key name or type, TTL attribute, GSI name, keys or
projection) fails, and so does a service under services/ without its file. A service whose
binary is not built yet is skipped with a loud warning, or is an error when
REQUIRE_ALL_SERVICES=1.

The same Terraform entries also generate scripts/infra/localstack-tables.sh, the table
list the compose stack's one-shot init creates in LocalStack; --check-localstack FILE fails
when that committed file is stale, so compose, Terraform and the services cannot disagree.

Usage:
  check_table_drift.py [--infra DIR] [--bin-dir DIR]   # real check
  check_table_drift.py --self-test                      # proves mismatches are caught
  check_table_drift.py --write-localstack FILE          # regenerate the compose init's tables
  check_table_drift.py --check-localstack FILE          # fail if FILE is not what it would be
  check_table_drift.py --check-described DIR --prefix P # tables created in an emulator vs Terraform
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from platform_services import services

ROOT = Path(__file__).resolve().parents[2]


class SpecError(Exception):
    """The Terraform definitions themselves are malformed."""


TABLE_FIELDS = {"name", "hash_key", "range_key", "ttl_attribute", "global_secondary_indexes"}
INDEX_FIELDS = {"name", "hash_key", "range_key", "projection"}


def _check_key(raw, where: str, optional: bool) -> None:
    if raw is None and optional:
        return
    if not isinstance(raw, dict) or set(raw) != {"name", "type"} or raw["type"] not in ("S", "N"):
        raise SpecError(f'{where}: expected {{"name": "...", "type": "S" | "N"}}, got {raw!r}')


def _check_fields(raw, fields: set, where: str) -> None:
    if not isinstance(raw, dict) or set(raw) != fields:
        got = set(raw) if isinstance(raw, dict) else set()
        raise SpecError(
            f"{where}: fields must be exactly {sorted(fields)}; "
            f"missing {sorted(fields - got)}, unknown {sorted(got - fields)}"
        )


def terraform_specs(infra: Path) -> dict[str, dict[str, dict]]:
    """service -> table name -> normalised spec, from infra/tables/<service>.json."""
    specs: dict[str, dict[str, dict]] = {}
    owner: dict[str, str] = {}
    for path in sorted((infra / "tables").glob("*.json")):
        service, where = path.stem, f"infra/tables/{path.name}"
        try:
            tables = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise SpecError(f"{where}: not JSON ({err})") from err
        if not isinstance(tables, list):
            raise SpecError(f"{where}: must be a JSON list, as print-tables prints it")
        for table in tables:
            _check_fields(table, TABLE_FIELDS, f"{where}: table {table.get('name') if isinstance(table, dict) else table!r}")
            twhere = f"{where}: table {table['name']!r}"
            _check_key(table["hash_key"], f"{twhere} hash_key", optional=False)
            _check_key(table["range_key"], f"{twhere} range_key", optional=True)
            for index in table["global_secondary_indexes"]:
                _check_fields(index, INDEX_FIELDS, f"{twhere} index")
                _check_key(index["hash_key"], f"{twhere} index {index['name']!r} hash_key", optional=False)
                _check_key(index["range_key"], f"{twhere} index {index['name']!r} range_key", optional=True)
            if table["name"] in owner:
                raise SpecError(f"table {table['name']!r} defined by both {owner[table['name']]} and {service}")
            owner[table["name"]] = service
        specs[service] = normalise_service_output(tables)
    return specs


def normalise_service_output(tables: list) -> dict[str, dict]:
    out = {}
    for table in tables:
        indexes = sorted(
            (
                {
                    "name": i["name"],
                    "hash_key": i["hash_key"],
                    "range_key": i.get("range_key"),
                    "projection": i["projection"],
                }
                for i in table.get("global_secondary_indexes") or []
            ),
            key=lambda i: i["name"],
        )
        out[table["name"]] = {
            "name": table["name"],
            "hash_key": table["hash_key"],
            "range_key": table.get("range_key"),
            "ttl_attribute": table.get("ttl_attribute"),
            "global_secondary_indexes": indexes,
        }
    return out


def describe_key(key) -> str:
    return "none" if key is None else f"{key['name']} ({key['type']})"


def compare(service: str, terraform: dict[str, dict], actual: dict[str, dict], other: str = "service") -> list[str]:
    problems = []
    for name in sorted(set(actual) - set(terraform)):
        problems.append(f"{service}: table {name!r} is in the {other} but missing in infra/tables/{service}.json")
    for name in sorted(set(terraform) - set(actual)):
        problems.append(f"{service}: table {name!r} is in Terraform but the {other} does not define it")
    for name in sorted(set(terraform) & set(actual)):
        tf, svc = terraform[name], actual[name]
        for field in ("hash_key", "range_key"):
            if tf[field] != svc[field]:
                problems.append(
                    f"{service}: table {name!r} {field}: terraform {describe_key(tf[field])} != {other} {describe_key(svc[field])}"
                )
        if tf["ttl_attribute"] != svc["ttl_attribute"]:
            problems.append(
                f"{service}: table {name!r} ttl_attribute: terraform {tf['ttl_attribute']!r} != {other} {svc['ttl_attribute']!r}"
            )
        tf_idx = {i["name"]: i for i in tf["global_secondary_indexes"]}
        svc_idx = {i["name"]: i for i in svc["global_secondary_indexes"]}
        for index in sorted(set(svc_idx) - set(tf_idx)):
            problems.append(f"{service}: table {name!r}: GSI {index!r} missing in Terraform")
        for index in sorted(set(tf_idx) - set(svc_idx)):
            problems.append(f"{service}: table {name!r}: GSI {index!r} in Terraform but not in the {other}")
        for index in sorted(set(tf_idx) & set(svc_idx)):
            for field in ("hash_key", "range_key", "projection"):
                a, b = tf_idx[index][field], svc_idx[index][field]
                if a != b:
                    shown = (describe_key(a), describe_key(b)) if field != "projection" else (a, b)
                    problems.append(
                        f"{service}: table {name!r} GSI {index!r} {field}: terraform {shown[0]} != {other} {shown[1]}"
                    )
    return problems


def print_tables(binary: Path) -> list:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "RUST_LOG": "error",
        "LOG_FORMAT": "json",
        "AWS_REGION": "us-east-1",
    }
    result = subprocess.run(
        [str(binary), "print-tables"], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`{binary} print-tables` exited {result.returncode}: {result.stderr.strip()[-2000:]}"
        )
    try:
        tables = json.loads(result.stdout)
    except json.JSONDecodeError as err:
        raise RuntimeError(f"`{binary} print-tables` did not print JSON ({err}): {result.stdout[:500]!r}") from err
    if not isinstance(tables, list):
        raise RuntimeError(f"`{binary} print-tables` must print a JSON list, got {type(tables).__name__}")
    return tables


def run(infra: Path, bin_dir: Path, require_all: bool) -> int:
    try:
        specs = terraform_specs(infra)
    except SpecError as err:
        print(f"ERROR: Terraform table definitions: {err}")
        return 1
    failures: list[str] = [
        f"{service} (services/{service}) has no infra/tables/{service}.json: write it with "
        f"`target/debug/{service} print-tables > infra/tables/{service}.json` ([] if it has no table; "
        "docs/development.md#adding-a-service)"
        for service in sorted(set(services()) - set(specs))
    ]
    for service in sorted(specs):
        binary = bin_dir / service
        if not binary.exists():
            message = f"{service}: binary {binary} not found (build it: cargo build -p {service})"
            if require_all:
                failures.append(message + " and REQUIRE_ALL_SERVICES=1")
            else:
                print("!" * 78)
                print(f"WARNING: SKIPPED {message}.")
                print("WARNING: its tables are NOT checked. Set REQUIRE_ALL_SERVICES=1 to make this an error.")
                print("!" * 78)
            continue
        try:
            actual = normalise_service_output(print_tables(binary))
        except (RuntimeError, subprocess.TimeoutExpired, KeyError, TypeError) as err:
            failures.append(f"{service}: {err}")
            continue
        problems = compare(service, specs[service], actual)
        if problems:
            failures.extend(problems)
        else:
            print(f"ok: {service}: {len(actual)} table(s) match Terraform ({', '.join(sorted(actual)) or 'none'})")
    for failure in failures:
        print(f"DRIFT: {failure}")
    return 1 if failures else 0


# ----------------------------------------------------------------------------------------
# LocalStack init: the Terraform tables as CreateTable requests for the compose stack.
# ----------------------------------------------------------------------------------------

LOCALSTACK_HEADER = """\
# GENERATED by scripts/infra/check_table_drift.py --write-localstack from infra/tables/*.json:
# do not edit (CI fails when this file is stale). Sourced by localstack-init.sh, which
# defines create_table SERVICE TABLE CREATE_TABLE_JSON [TTL_ATTRIBUTE]; the table name
# gets $TABLE_PREFIX in front.
# shellcheck shell=sh
"""


def _key_schema(hash_key, range_key) -> list:
    schema = [{"AttributeName": hash_key["name"], "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key["name"], "KeyType": "RANGE"})
    return schema


def create_table_request(spec: dict) -> dict:
    """The CreateTable request (minus TableName) for one normalised table spec."""
    attributes: dict[str, str] = {}
    keys = [spec["hash_key"], spec["range_key"]]
    for index in spec["global_secondary_indexes"]:
        keys += [index["hash_key"], index["range_key"]]
    for key in keys:
        if key:
            attributes.setdefault(key["name"], key["type"])
    request = {
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
        "KeySchema": _key_schema(spec["hash_key"], spec["range_key"]),
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec["global_secondary_indexes"]:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index["name"],
                "KeySchema": _key_schema(index["hash_key"], index["range_key"]),
                "Projection": {"ProjectionType": index["projection"]},
            }
            for index in spec["global_secondary_indexes"]
        ]
    return request


def localstack_tables(infra: Path) -> str:
    lines = [LOCALSTACK_HEADER]
    for service, tables in sorted(terraform_specs(infra).items()):
        for name, spec in sorted(tables.items()):
            request = json.dumps(create_table_request(spec), separators=(",", ":"))
            ttl = f" {spec['ttl_attribute']}" if spec["ttl_attribute"] else ""
            lines.append(f"create_table {service} {name} '{request}'{ttl}\n")
    return "".join(lines)


def check_localstack(infra: Path, path: Path) -> int:
    want = localstack_tables(infra)
    have = path.read_text(encoding="utf-8") if path.exists() else ""
    if have == want:
        print(f"ok: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} matches infra/tables/*.json")
        return 0
    import difflib

    sys.stdout.writelines(difflib.unified_diff(have.splitlines(True), want.splitlines(True), str(path), "from infra/"))
    print(f"DRIFT: {path} is stale; regenerate: python3 scripts/infra/check_table_drift.py --write-localstack {path}")
    return 1


def spec_from_described(describe: dict, ttl: dict, name: str) -> dict:
    """A table as DescribeTable + DescribeTimeToLive report it, in print-tables form."""
    table = describe["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}

    def keys(schema):
        by_type = {k["KeyType"]: {"name": k["AttributeName"], "type": types[k["AttributeName"]]} for k in schema}
        return by_type["HASH"], by_type.get("RANGE")

    hash_key, range_key = keys(table["KeySchema"])
    indexes = []
    for index in table.get("GlobalSecondaryIndexes") or []:
        index_hash, index_range = keys(index["KeySchema"])
        indexes.append(
            {
                "name": index["IndexName"],
                "hash_key": index_hash,
                "range_key": index_range,
                "projection": index["Projection"]["ProjectionType"],
            }
        )
    ttl_description = ttl.get("TimeToLiveDescription") or {}
    enabled = ttl_description.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    return {
        "name": name,
        "hash_key": hash_key,
        "range_key": range_key,
        "ttl_attribute": ttl_description.get("AttributeName") if enabled else None,
        "global_secondary_indexes": indexes,
    }


def check_described(infra: Path, directory: Path, prefix: str) -> int:
    """Compares tables created in an emulator (DescribeTable/DescribeTimeToLive JSON saved as
    DIR/<full name>.json and DIR/<full name>.ttl.json) with Terraform."""
    failures = []
    for service, tables in sorted(terraform_specs(infra).items()):
        actual = {}
        for name in tables:
            described = directory / f"{prefix}{name}.json"
            if not described.exists():
                continue  # reported as missing by compare()
            ttl_file = directory / f"{prefix}{name}.ttl.json"
            ttl = json.loads(ttl_file.read_text()) if ttl_file.exists() else {}
            actual[name] = spec_from_described(json.loads(described.read_text()), ttl, name)
        problems = compare(service, tables, actual, other="emulator")
        failures.extend(problems)
        if not problems:
            print(f"ok: {service}: {len(actual)} table(s) created as in Terraform ({', '.join(sorted(actual))})")
    for failure in failures:
        print(f"DRIFT (emulator): {failure}")
    return 1 if failures else 0


# ----------------------------------------------------------------------------------------
# Self-test: the check must catch deliberate mismatches, end to end through a fake binary.
# ----------------------------------------------------------------------------------------

def _write_fake_binary(path: Path, tables: list) -> None:
    path.write_text(f"#!/bin/sh\ncat <<'JSON'\n{json.dumps(tables)}\nJSON\n", encoding="utf-8")
    path.chmod(0o755)


def self_test(infra: Path) -> int:
    specs = terraform_specs(infra)
    baseline = [
        {
            **{k: v for k, v in spec.items()},
            "global_secondary_indexes": copy.deepcopy(spec["global_secondary_indexes"]),
        }
        for spec in specs["user-service"].values()
    ]
    assert baseline, "self-test needs user-service tables in Terraform"
    sessions = next(t for t in baseline if t["global_secondary_indexes"])

    def mutated(fn):
        tables = copy.deepcopy(baseline)
        fn(tables)
        return tables

    def gsi(tables):
        return next(t for t in tables if t["name"] == sessions["name"])["global_secondary_indexes"][0]

    cases = {
        "identical specs": (baseline, None),
        "hash key renamed": (mutated(lambda t: t[0]["hash_key"].update(name="renamed")), "hash_key"),
        "hash key type S->N": (mutated(lambda t: t[0]["hash_key"].update(type="N")), "hash_key"),
        "range key added": (mutated(lambda t: t[0].update(range_key={"name": "rk", "type": "S"})), "range_key"),
        "ttl changed": (mutated(lambda t: t[0].update(ttl_attribute="gone_at")), "ttl_attribute"),
        "extra table in service": (
            mutated(lambda t: t.append({**copy.deepcopy(t[0]), "name": "brand_new"})),
            "missing in infra",
        ),
        "table missing in service": (mutated(lambda t: t.pop()), "does not define it"),
        # Whichever projection the index has, the other one.
        "GSI projection": (
            mutated(lambda t: gsi(t).update(projection="KEYS_ONLY" if gsi(t)["projection"] == "ALL" else "ALL")),
            "projection",
        ),
        "GSI hash key": (mutated(lambda t: gsi(t)["hash_key"].update(name="other")), "GSI"),
        "GSI renamed": (mutated(lambda t: gsi(t).update(name="renamed-index")), "GSI"),
    }
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir = Path(tmp)
        for label, (tables, needle) in cases.items():
            _write_fake_binary(bin_dir / "user-service", tables)
            actual = normalise_service_output(print_tables(bin_dir / "user-service"))
            problems = compare("user-service", specs["user-service"], actual)
            if needle is None:
                ok = not problems
            else:
                ok = any(needle in p for p in problems)
            print(f"  self-test {'ok  ' if ok else 'FAIL'} {label}: {problems or 'no drift'}")
            failed += not ok
        # A binary that cannot print its tables is an error, not a pass.
        (bin_dir / "user-service").write_text("#!/bin/sh\necho 'unknown command' >&2\nexit 2\n")
        try:
            print_tables(bin_dir / "user-service")
            print("  self-test FAIL binary without print-tables accepted")
            failed += 1
        except RuntimeError:
            print("  self-test ok   binary without print-tables is an error")
    # Malformed table lists are rejected.
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp)
        (bad / "tables").mkdir()
        (bad / "tables" / "x-service.json").write_text(
            '[{"name": "t", "hash_key": {"name": "id", "type": "S"}, "range_key": null}]'
        )
        try:
            terraform_specs(bad)
            print("  self-test FAIL table entry missing fields accepted")
            failed += 1
        except SpecError as err:
            print(f"  self-test ok   malformed entry rejected: {err}")
    print(f"self-test: {'PASS' if not failed else f'{failed} case(s) FAILED'}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--infra", type=Path, default=ROOT / "infra")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    parser.add_argument("--bin-dir", type=Path, default=target / "debug")
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--write-localstack", type=Path, metavar="FILE")
    parser.add_argument("--check-localstack", type=Path, metavar="FILE")
    parser.add_argument("--check-described", type=Path, metavar="DIR")
    parser.add_argument("--prefix", default="", help="table name prefix for --check-described")
    args = parser.parse_args()
    if args.self_test:
        return self_test(args.infra)
    if args.write_localstack:
        args.write_localstack.write_text(localstack_tables(args.infra), encoding="utf-8")
        return 0
    if args.check_described:
        return check_described(args.infra, args.check_described, args.prefix)
    if args.check_localstack:
        return check_localstack(args.infra, args.check_localstack.resolve())
    return run(args.infra, args.bin_dir, os.environ.get("REQUIRE_ALL_SERVICES") == "1")


if __name__ == "__main__":
    sys.exit(main())
