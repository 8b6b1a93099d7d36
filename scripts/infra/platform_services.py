"""The platform's services and images, as scripts/lib.sh lists them: one list for every
script, derived from services/*/Cargo.toml, so a new service needs no edit here."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lib(function: str) -> tuple[str, ...]:
    listed = subprocess.run(
        ["bash", "-c", f". scripts/lib.sh && {function}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return tuple(listed.split())


def services() -> tuple[str, ...]:
    return _lib("services")


def image_names() -> tuple[str, ...]:
    return _lib("image_names")
