#!/usr/bin/env python3
"""Proves the VPC's subnets never overlap, for every AZ count infra/variables.tf allows.

Evaluates infra/modules/subnet_layout (the layout infra/network.tf uses) with the VPC CIDR
default of infra/variables.tf through `terraform console`, which computes functions offline,
for each allowed `availability_zone_count`; then checks with ipaddress that every subnet lies
in the VPC and no two overlap, and that network.tf takes its subnets from the module.
Needs terraform on PATH and python-hcl2.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from pathlib import Path

from hcl_tools import evaluate_modules, load, report

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def variable(name: str) -> dict:
    for block in load(INFRA / "variables.tf")["variable"]:
        if name in block:
            return block[name]
    raise SystemExit(f"infra/variables.tf has no variable {name}")


def allowed_az_counts() -> range:
    condition = json.dumps(variable("availability_zone_count")["validation"])
    low = re.search(r"availability_zone_count >= (\d+)", condition)
    high = re.search(r"availability_zone_count <= (\d+)", condition)
    if not (low and high):
        raise SystemExit("availability_zone_count has no `>= N && <= M` validation to read the allowed range from")
    return range(int(low.group(1)), int(high.group(1)) + 1)


def main() -> int:
    problems = []
    network = (INFRA / "network.tf").read_text(encoding="utf-8")
    for kind in ("private", "public"):
        if not re.search(rf"{kind}_subnets\s*=\s*module\.subnet_layout\.{kind}_subnets\b", network):
            problems.append(f"infra/network.tf: module vpc's {kind}_subnets must be module.subnet_layout.{kind}_subnets (the layout proven here)")
    vpc_cidr = variable("vpc_cidr")["default"]
    counts = allowed_az_counts()
    layouts = evaluate_modules({f"az{n}": (INFRA / "modules/subnet_layout", {"vpc_cidr": vpc_cidr, "az_count": n}) for n in counts})
    vpc = ipaddress.ip_network(vpc_cidr)
    for count in counts:
        layout = layouts[f"az{count}"]
        subnets = [(kind, ipaddress.ip_network(c)) for kind in ("private_subnets", "public_subnets") for c in layout[kind]]
        if len(layout["private_subnets"]) != count or len(layout["public_subnets"]) != count:
            problems.append(f"{count} AZs: expected {count} private and {count} public subnets, got {layout}")
        for kind, net in subnets:
            if not net.subnet_of(vpc):
                problems.append(f"{count} AZs: {kind} {net} lies outside the VPC {vpc}")
        for i, (kind_a, a) in enumerate(subnets):
            for kind_b, b in subnets[i + 1:]:
                if a.overlaps(b):
                    problems.append(f"{count} AZs: {kind_a} {a} overlaps {kind_b} {b}")
        print(f"{count} AZs in {vpc}: private {layout['private_subnets']} public {layout['public_subnets']}")
    return report(problems)


if __name__ == "__main__":
    sys.exit(main())
