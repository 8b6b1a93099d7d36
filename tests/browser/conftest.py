"""The browser suite's fixtures: Debian's chromium driven by Playwright, and the checks
every page visited passes (no error in the console, no CSP violation, no token or secret
in its HTML, axe-core without serious or critical violations, a screenshot).

Run by scripts/browser-test.sh against the dev stack (scripts/dev.sh):
CONSOLE_URL (http://127.0.0.1:8080), ISSUER_URL (http://127.0.0.1:9000).
"""

import base64
import json
import os
import re
import struct
import time
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

CONSOLE = os.environ.get("CONSOLE_URL", "http://127.0.0.1:8080")
ISSUER = os.environ.get("ISSUER_URL", "http://127.0.0.1:9000")
USERS = os.environ.get("USERS_URL", "http://127.0.0.1:8081")
SALES = os.environ.get("SALES_URL", "http://127.0.0.1:8082")
INTEGRATIONS = os.environ.get("INTEGRATIONS_URL", "http://127.0.0.1:8083")
# The dev stack's API client (scripts/dev.sh prints it).
CLIENT = ("platform-dev", "platform-dev-secret")
SHOTS = Path(os.environ.get("SHOTS_DIR", ".run/browser"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# What must never appear in a page: a JWT (header and claims, both base64url JSON, so
# `eyJ...` twice with a dot: the services' paging cursors are single base64 JSON blobs and
# do not match), the dev secrets of the stack (scripts/dev.sh, tools/oidc-issuer), and the
# passwords the tests type.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.")
SECRETS = [
    "console-dev-secret",
    "platform-dev-secret",
    "stand-in-token-acme",
    "stand-in-token-globex",
    "dev-sms-key",
    "operator-password-1",
    "correct horse battery",
]

AXE = Axe()
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def png(width=64, height=64, rgb=(29, 78, 216)) -> bytes:
    """A real PNG (user-service parses the bytes)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def call(method, url, body=None, token=None, form=False, auth=None, tenant=None):
    """One API call outside the browser (to make what the pages act on): its JSON answer."""
    headers = {"x-tenant-id": tenant} if tenant else {}
    data = None
    if body is not None:
        data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
        headers["content-type"] = "application/x-www-form-urlencoded" if form else "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    if auth:
        headers["authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=20) as answer:
        return json.load(answer)


def client_token(resource, scope):
    """A client-credentials token of the dev client for RESOURCE (api://sales, ...)."""
    return call("POST", f"{ISSUER}/token", {"grant_type": "client_credentials", "resource": resource, "scope": scope},
                form=True, auth=CLIENT)["access_token"]


@dataclass
class Report:
    """What the suite measured, printed at the end (and kept in .run/browser/report.txt)."""

    axe: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)
    shots: list = field(default_factory=list)
    extra: list = field(default_factory=list)

    def write(self):
        lines = ["page weights (first load, compressed bytes: HTML + CSS + JS):"]
        lines += [f"  {name}: {size} B" for name, size in sorted(self.weights.items())]
        lines.append("axe-core (violations by impact, JavaScript on):")
        lines += [f"  {name}: {counts}" for name, counts in sorted(self.axe.items())]
        lines += self.extra
        lines.append(f"screenshots: {len(self.shots)} in {SHOTS}/")
        text = "\n".join(lines)
        (SHOTS / "report.txt").write_text(text + "\n")
        return text


REPORT = Report()


def screenshot(page: Page, name: str, full_page=False):
    """NAME.png in the screenshots' folder, listed in the report."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    REPORT.shots.append(path.name)


def pytest_sessionfinish(session, exitstatus):
    if REPORT.shots or REPORT.extra:
        print("\n" + REPORT.write())


@pytest.fixture(scope="session")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        print(f"chromium {browser.version} driven by playwright (pinned in tests/browser/requirements.txt)")
        yield browser
        browser.close()


class Visit:
    """A browser context of one person, JavaScript on or off, that checks every page."""

    def __init__(self, browser, js: bool, viewport=LAPTOP):
        self.js = js
        self.context = browser.new_context(viewport=viewport, java_script_enabled=js, base_url=CONSOLE)
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.html_pages: list[tuple[str, str]] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("response", self._response)

    def _console(self, message):
        text = message.text
        # A 4xx page the test asked for is logged by chromium as a failed load; that is
        # the page working, not a problem. Anything else in the console is.
        if message.type == "error" and not re.search(r"status of (4\d\d)", text):
            self.problems.append(f"console {message.type}: {text}")
        if "Content Security Policy" in text:
            self.problems.append(f"CSP violation: {text}")

    def _response(self, response):
        if "text/html" in response.headers.get("content-type", "") and response.url.startswith(CONSOLE):
            try:
                self.html_pages.append((response.url, response.text()))
            except Exception:  # a redirect has no body
                pass

    def check(self, name: str, full_page=True):
        """The checks every page passes, then its screenshot as NAME.png."""
        page = self.page
        page.wait_for_load_state("load")
        suffix = "" if self.js else "-nojs"
        if self.js:
            # A boosted click leaves the old page up, its link dimmed (.htmx-request), until
            # the new page is swapped in and settled: axe would judge the wrong page (CI
            # once saw the dimmed "Suspend" link's contrast).
            page.wait_for_function(
                "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
            )
            results = AXE.run(page)
            violations = results.response["violations"]
            counts = {}
            for violation in violations:
                counts[violation["impact"]] = counts.get(violation["impact"], 0) + 1
            REPORT.axe[name] = counts or "none"
            grave = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
                     for v in violations if v["impact"] in ("serious", "critical")]
            assert not grave, f"{name}: axe found {grave}"
        screenshot(page, name + suffix, full_page)
        self.assert_clean()

    def assert_clean(self):
        # Plain booleans: a failure names the page and what leaked, never the page's text
        # (which would print the token into the test log).
        for url, html in self.html_pages:
            leaked = JWT.search(html) is not None
            assert not leaked, f"{url} contains a JWT"
            for secret in SECRETS:
                leaked = secret in html
                assert not leaked, f"{url} contains one of the dev secrets (index {SECRETS.index(secret)})"
        assert not self.problems, self.problems

    def close(self):
        self.assert_clean()
        self.context.close()

    def __enter__(self):
        return self

    def __exit__(self, *failure):
        if failure[0] is None:
            self.close()
        else:  # the test's own failure is the one to see
            self.context.close()


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def visit(request, browser):
    """One person's browser, once with JavaScript and once without."""
    visit = Visit(browser, js=request.param)
    yield visit
    visit.close()


@pytest.fixture
def operator(browser):
    """An operator signed in through the issuer, JavaScript on."""
    visit = Visit(browser, js=True)
    operator_sign_in(visit)
    yield visit
    visit.close()


def operator_sign_in(visit: Visit, username="operator", password="operator-password-1", shot=None, url="/"):
    """Through the console's link (on URL) and the issuer's own sign-in page."""
    page = visit.page
    page.goto(url)
    page.get_by_role("link", name="Operator sign-in").first.click()
    page.wait_for_url(re.compile(re.escape(ISSUER) + "/interaction/"))
    if shot:
        visit.check(shot)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(CONSOLE) + "/"))


def nav(page, name):
    """A link of the main navigation, followed: back once its page is the one shown. With
    JavaScript the link is boosted (htmx swaps the page in and pushes its address in one
    go), so until the address changes the old page, and its links, are still there."""
    link = page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(CONSOLE + href)


def sign_up(page, name, password, full_name, picture, about=None):
    """The console's sign-up form, filled and sent (from the page that has it)."""
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Full name").fill(full_name)
    page.get_by_label("Email address").fill(f"{name}@example.com")
    if about is not None:
        page.get_by_label("About you").fill(about)
    page.get_by_label("Picture").set_input_files(str(picture))
    page.get_by_role("button", name="Create account").click()


def reload_until(page, locator, text, what, within=30):
    """What the server finishes after the page was rendered (an SMS delivered, a sync run
    ended): reload the page (as it tells a person without JavaScript to) until LOCATOR
    shows TEXT, each reload waiting a little for it; WHAT names it if it never does."""
    deadline = time.monotonic() + within
    url = page.url
    while True:
        try:
            expect(locator).to_have_text(text, timeout=2_000)
            return
        except AssertionError:
            assert time.monotonic() < deadline, f"{what} within {within} s: {locator.inner_text()}"
            page.goto(url)


def picture_loaded(page):
    """The account page's avatar, a sized lazy image, has loaded (a 64 px PNG from png())."""
    avatar = page.locator("img.avatar")
    avatar.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=avatar.element_handle())


def open_active_okta_user(page, tenant="acme"):
    """From a tenant's Okta users page: search the ACTIVE ones, open the first; its name."""
    page.get_by_label("Status").select_option("ACTIVE")
    page.get_by_role("button", name="Search").click()
    # The search swaps the table in place (boosted form): read a row only once the
    # filtered list is the page's, or the row read and the row clicked can differ.
    page.wait_for_url(re.compile(r"status=ACTIVE"))
    first = page.locator("tbody tr").first.get_by_role("link")
    name = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    return name
