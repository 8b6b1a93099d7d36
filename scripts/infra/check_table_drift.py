#!/usr/bin/env python3
"""Table drift check: Terraform's DynamoDB table definitions vs. each service's own specs.

Terraform side: infra/tables.tf maps every service to a local (`service_tables`), and
infra/tables-<service>.tf defines that local (see the format documented in tables.tf).
Service side: `<target>/debug/<service> print-tables` prints the service's TableSpec list
as JSON (names without the environment prefix).

Any difference (missing/extra table, key name or type, TTL attribute, GSI name, keys or
projection) fails. A service whose binary is not built yet is skipped with a loud warning,
or is an error when REQUIRE_ALL_SERVICES=1.

Usage:
  check_table_drift.py [--infra DIR] [--bin-dir DIR]   # real check
  check_table_drift.py --self-test                      # proves mismatches are caught
Needs python-hcl2 (installed by scripts/install-infra-tools.sh into .tools/venv).
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import hcl2

ROOT = Path(__file__).resolve().parents[2]
REF = re.compile(r"^\$\{local\.([A-Za-z0-9_]+)\}$")


class SpecError(Exception):
    """The Terraform definitions themselves are malformed."""


def unquote(value, where: str):
    """python-hcl2 v8 keeps the quotes of string literals; anything else is an expression."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        if "${" in inner:
            raise SpecError(f"{where}: must be a literal string, not an interpolation: {value}")
        return inner
    raise SpecError(f"{where}: must be a literal string or null, got {value!r}")


def load_locals(infra: Path) -> dict:
    merged: dict = {}
    for path in sorted(glob.glob(str(infra / "*.tf"))):
        with open(path, encoding="utf-8") as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get("locals", []):
            for key, value in block.items():
                if key.startswith("__"):
                    continue
                if key in merged:
                    raise SpecError(f"local.{key} defined twice (second in {path})")
                merged[key] = value
    return merged


def key_attr(raw, where: str):
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"__is_block__"} != {"name", "type"}:
        raise SpecError(f"{where}: expected {{ name = \"...\", type = \"S\"|\"N\" }}, got {raw!r}")
    return {"name": unquote(raw["name"], f"{where}.name"), "type": unquote(raw["type"], f"{where}.type")}


def normalise_terraform_table(name: str, raw: dict, where: str) -> dict:
    expected = {"hash_key", "range_key", "ttl_attribute", "global_secondary_indexes"}
    got = set(raw) - {"__is_block__", "__comments__"}
    if got != expected:
        raise SpecError(
            f"{where}: fields must be exactly {sorted(expected)}; "
            f"missing {sorted(expected - got)}, unknown {sorted(got - expected)}"
        )
    indexes = []
    for index_name, index in (raw["global_secondary_indexes"] or {}).items():
        if index_name.startswith("__"):
            continue
        iwhere = f"{where}.global_secondary_indexes[{index_name}]"
        indexes.append(
            {
                "name": index_name[1:-1] if index_name.startswith('"') else index_name,
                "hash_key": key_attr(index.get("hash_key"), f"{iwhere}.hash_key"),
                "range_key": key_attr(index.get("range_key"), f"{iwhere}.range_key"),
                "projection": unquote(index.get("projection"), f"{iwhere}.projection"),
            }
        )
    return {
        "name": name,
        "hash_key": key_attr(raw["hash_key"], f"{where}.hash_key"),
        "range_key": key_attr(raw["range_key"], f"{where}.range_key"),
        "ttl_attribute": unquote(raw["ttl_attribute"], f"{where}.ttl_attribute"),
        "global_secondary_indexes": sorted(indexes, key=lambda i: i["name"]),
    }


def terraform_specs(infra: Path) -> dict[str, dict[str, dict]]:
    """service -> table name -> normalised spec."""
    local_values = load_locals(infra)
    registry = local_values.get("service_tables")
    if not isinstance(registry, dict):
        raise SpecError("infra/tables.tf: local.service_tables (service => local.<svc>_tables) not found")
    specs: dict[str, dict[str, dict]] = {}
    owner: dict[str, str] = {}
    for quoted_service, ref in registry.items():
        service = quoted_service.strip('"')
        match = REF.match(ref) if isinstance(ref, str) else None
        if not match:
            raise SpecError(f"service_tables[{service}] must be a reference local.<name>, got {ref!r}")
        local_name = match.group(1)
        if local_name not in local_values:
            raise SpecError(f"service_tables[{service}] refers to undefined local.{local_name}")
        tables = local_values[local_name] or {}
        specs[service] = {}
        for table_name, raw in tables.items():
            if table_name.startswith("__"):
                continue
            table_name = table_name.strip('"')
            if table_name in owner:
                raise SpecError(f"table {table_name!r} defined by both {owner[table_name]} and {service}")
            owner[table_name] = service
            specs[service][table_name] = normalise_terraform_table(
                table_name, raw, f"local.{local_name}.{table_name}"
            )
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


def compare(service: str, terraform: dict[str, dict], actual: dict[str, dict]) -> list[str]:
    problems = []
    for name in sorted(set(actual) - set(terraform)):
        problems.append(f"{service}: table {name!r} is used by the service but missing in infra/tables-{service}.tf")
    for name in sorted(set(terraform) - set(actual)):
        problems.append(f"{service}: table {name!r} is in Terraform but the service does not define it")
    for name in sorted(set(terraform) & set(actual)):
        tf, svc = terraform[name], actual[name]
        for field in ("hash_key", "range_key"):
            if tf[field] != svc[field]:
                problems.append(
                    f"{service}: table {name!r} {field}: terraform {describe_key(tf[field])} != service {describe_key(svc[field])}"
                )
        if tf["ttl_attribute"] != svc["ttl_attribute"]:
            problems.append(
                f"{service}: table {name!r} ttl_attribute: terraform {tf['ttl_attribute']!r} != service {svc['ttl_attribute']!r}"
            )
        tf_idx = {i["name"]: i for i in tf["global_secondary_indexes"]}
        svc_idx = {i["name"]: i for i in svc["global_secondary_indexes"]}
        for index in sorted(set(svc_idx) - set(tf_idx)):
            problems.append(f"{service}: table {name!r}: GSI {index!r} missing in Terraform")
        for index in sorted(set(tf_idx) - set(svc_idx)):
            problems.append(f"{service}: table {name!r}: GSI {index!r} in Terraform but not in the service")
        for index in sorted(set(tf_idx) & set(svc_idx)):
            for field in ("hash_key", "range_key", "projection"):
                a, b = tf_idx[index][field], svc_idx[index][field]
                if a != b:
                    shown = (describe_key(a), describe_key(b)) if field != "projection" else (a, b)
                    problems.append(
                        f"{service}: table {name!r} GSI {index!r} {field}: terraform {shown[0]} != service {shown[1]}"
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
    failures: list[str] = []
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
        "GSI projection": (mutated(lambda t: gsi(t).update(projection="ALL")), "projection"),
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
    # Malformed Terraform entries are rejected.
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp)
        (bad / "tables.tf").write_text(
            'locals {\n  service_tables = { "x-service" = local.x_service_tables }\n}\n'
            'locals {\n  x_service_tables = {\n    t = {\n      hash_key = { name = "id", type = "S" }\n'
            "      range_key = null\n    }\n  }\n}\n"
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
    args = parser.parse_args()
    if args.self_test:
        return self_test(args.infra)
    return run(args.infra, args.bin_dir, os.environ.get("REQUIRE_ALL_SERVICES") == "1")


if __name__ == "__main__":
    sys.exit(main())
