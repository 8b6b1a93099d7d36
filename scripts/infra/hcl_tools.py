"""Helpers the Terraform checks share (check_iam.py, check_subnets.py, check_terraform.py)."""

from __future__ import annotations

from pathlib import Path

import hcl2


def unquote(value):
    """python-hcl2 v8 keeps the quotes of string literals and keys: drop them, deeply."""
    if isinstance(value, str):
        return value.strip('"')
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items()}
    return value


def load(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return unquote(hcl2.load(handle))


def locals_of(path: Path) -> dict:
    merged: dict = {}
    for block in load(path).get("locals", []):
        merged.update(block)
    return merged


def report(problems: list[str]) -> int:
    """Prints one PROBLEM line each; the exit code of the check."""
    for line in problems:
        print(f"PROBLEM: {line}")
    return 1 if problems else 0
