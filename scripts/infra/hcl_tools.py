"""Helpers the Terraform checks share (check_iam.py, check_subnets.py, check_terraform.py)."""

from __future__ import annotations

import json
import subprocess
import tempfile
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


def evaluate_modules(calls: dict[str, tuple[Path, dict]]) -> dict[str, dict]:
    """Evaluates pure modules (no provider, no resource) offline: one `module "<name>"` block
    per call, `terraform init` + `terraform console`, and returns each module's outputs.
    Inputs the module does not declare are left out (an older module still evaluates, and a
    check can show what it produces). Needs terraform on PATH."""
    blocks = []
    for name, (source, inputs) in calls.items():
        declared = {var for path in Path(source).glob("*.tf") for block in load(path).get("variable", []) for var in block}
        inputs = {key: value for key, value in inputs.items() if key in declared}
        args = "\n".join(f"  {key} = {json.dumps(value)}" for key, value in inputs.items())
        blocks.append(f'module "{name}" {{\n  source = "{source}"\n{args}\n}}\n')
    with tempfile.TemporaryDirectory() as work:
        Path(work, "main.tf").write_text("\n".join(blocks), encoding="utf-8")
        subprocess.run(["terraform", "init", "-backend=false", "-input=false", "-no-color"], cwd=work, check=True, capture_output=True)
        expression = "jsonencode({" + ", ".join(f'"{name}" = module.{name}' for name in calls) + "})\n"
        out = subprocess.run(["terraform", "console", "-no-color"], cwd=work, input=expression,
                             check=True, capture_output=True, text=True).stdout
    return json.loads(json.loads(out.strip()))


def report(problems: list[str]) -> int:
    """Prints one PROBLEM line each; the exit code of the check."""
    for line in problems:
        print(f"PROBLEM: {line}")
    return 1 if problems else 0
