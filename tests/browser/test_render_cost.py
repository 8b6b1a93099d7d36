"""What a console page costs beside the JSON route it wraps, measured in one run (issue
21.4: page render within 3x of the JSON route). /ops/orders makes one call to sales-service,
GET /api/v1/sales/orders?limit=25, and renders it; the same call is then made straight to
sales-service with a client-credentials token. Figures per request:

- wall time at the client (the page includes its call to sales-service);
- server CPU: the console process's CPU per page (session read, token, the upstream call,
  JSON parsing, the template, compression) against sales-service's CPU per JSON answer
  (token check, the store query, serialising), from /proc of the dev stack's processes.

Rounds alternate (pages, JSON, pages, JSON) so drift on a shared machine hits both. The
figures go to the report; the ratio is printed, not asserted (a debug build on a noisy
machine), and docs/console.md keeps a run's figures."""

import json
import os
import time
import urllib.request
from pathlib import Path

from conftest import CONSOLE, REPORT, SALES, call, client_token

ROUNDS = 2
PER_ROUND = 30
PAGE = "/ops/orders"
JSON_ROUTE = "/api/v1/sales/orders?limit=25"
TICKS = os.sysconf("SC_CLK_TCK")


def dev_process(binary: str) -> int | None:
    """The pid of the dev stack's BINARY (scripts/dev.sh keeps the pids it launched)."""
    pids = Path(".run/dev/pids")
    if not pids.exists():
        return None
    for pid in pids.read_text().split():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if command.endswith(f"target/debug/{binary}"):
            return int(pid)
    return None


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def fill_a_page_of_orders(token: str):
    """A whole page to render: 25 orders (a fresh dev stack may have none)."""
    have = len(call("GET", f"{SALES}{JSON_ROUTE}", token=token)["orders"])
    if have >= 25:
        return
    customer = call("POST", f"{SALES}/api/v1/sales/customers",
                    {"name": "Render Cost", "phone_number": "+254711000003"}, token=token)
    for number in range(25 - have):
        call("POST", f"{SALES}/api/v1/sales/orders",
             {"customer": customer["id"], "item": f"Sack of maize {number}", "amount": "2500.00"}, token=token)


def test_an_orders_page_beside_the_json_route_it_wraps(operator):
    pages = operator.context.request
    token = client_token("api://sales", "sales:read sales:write")
    fill_a_page_of_orders(token)
    console, sales = dev_process("console"), dev_process("sales-service")

    def timed(call):
        started = time.perf_counter()
        status = call()
        assert status == 200, status
        return time.perf_counter() - started

    rows = []

    def json_call():
        request = urllib.request.Request(f"{SALES}{JSON_ROUTE}", headers={"authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            rows.append(len(json.load(answer)["orders"]))
            return answer.status

    def page_call():
        # As a browser asks for it (gzip), without following anything.
        return pages.get(f"{CONSOLE}{PAGE}", headers={"accept-encoding": "gzip"}, max_redirects=0).status

    # Warm both paths (connections, the token caches) before measuring.
    for _ in range(3):
        page_call()
        json_call()

    wall = {"page": 0.0, "json": 0.0}
    cpu = {"console per page": 0.0, "sales per page": 0.0, "sales per json": 0.0}
    for _ in range(ROUNDS):
        c0, s0 = cpu_seconds(console), cpu_seconds(sales)
        wall["page"] += sum(timed(page_call) for _ in range(PER_ROUND))
        c1, s1 = cpu_seconds(console), cpu_seconds(sales)
        wall["json"] += sum(timed(json_call) for _ in range(PER_ROUND))
        s2 = cpu_seconds(sales)
        cpu["console per page"] += c1 - c0
        cpu["sales per page"] += s1 - s0
        cpu["sales per json"] += s2 - s1

    n = ROUNDS * PER_ROUND
    ms = {name: 1000 * total / n for name, total in {**wall, **cpu}.items()}
    lines = [
        f"render cost, {PAGE} beside GET {JSON_ROUTE} ({rows[-1]} orders a page; {n} requests each, "
        f"{ROUNDS} alternating rounds, debug build):",
        f"  wall per request: page {ms['page']:.1f} ms, JSON {ms['json']:.1f} ms, ratio {ms['page'] / ms['json']:.2f}",
        f"  server CPU: console {ms['console per page']:.2f} ms per page; sales-service "
        f"{ms['sales per json']:.2f} ms per JSON answer ({ms['sales per page']:.2f} ms per page's call); "
        f"console/JSON ratio {ms['console per page'] / ms['sales per json']:.2f}",
    ]
    REPORT.extra.extend(lines)
