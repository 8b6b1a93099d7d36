"""What a browser enforces and an attacker tries: a forged form from another site, the
exact headers, the session cookie, page weight, the keyboard, htmx's history."""

import http.server
import re
import threading

import pytest
from playwright.sync_api import expect

from conftest import CONSOLE, ISSUER, REPORT, nav, screenshot

@pytest.fixture
def evil_site():
    """A page on another site (127.0.0.2 is another host to a browser) that posts a form
    to the console as soon as it loads: a sync run, or a log-in."""
    pages = {
        "/sync": f'<form id="f" method="post" action="{CONSOLE}/ops/sync/acme"></form>',
        "/login": f'<form id="f" method="post" action="{CONSOLE}/login"><input name="username" value="x"><input name="password" value="y"></form>',
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages[self.path] + "<script>document.getElementById('f').submit()</script>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.2", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.2:{server.server_port}"
    server.shutdown()


def latest_run(page):
    page.goto("/ops/sync/acme")
    rows = page.locator("tbody tr[id^=run-]")
    return rows.first.get_attribute("id") if rows.count() else None


def test_a_form_posted_from_another_site_is_refused_and_runs_nothing(operator, evil_site):
    page = operator.page
    before = latest_run(page)
    with page.expect_navigation(url=re.compile(re.escape(CONSOLE))) as navigation:
        page.goto(f"{evil_site}/sync")
    assert navigation.value.status == 403
    expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    screenshot(page, "csrf-refused")
    assert latest_run(page) == before, "the forged post started a sync run"
    with page.expect_navigation(url=re.compile(re.escape(CONSOLE))) as navigation:
        page.goto(f"{evil_site}/login")
    assert navigation.value.status == 403
    operator.problems.clear()  # the 403 documents are the point here


def test_pages_carry_the_policy_headers(browser):
    headers = browser.new_context().request.get(f"{CONSOLE}/login").headers
    csp = headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:"), csp
    for directive in ["connect-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"]:
        assert directive in csp, csp
    assert "unsafe" not in csp, csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"


def test_the_session_cookie_and_its_end(operator):
    cookie = next(c for c in operator.context.cookies() if c["name"] == "__Host-console")
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, True, "Lax", "/")
    operator.page.get_by_role("button", name="Sign out").click()
    operator.page.wait_for_url(re.compile(re.escape(ISSUER)))
    # The old cookie, put back by hand, opens nothing: the session is gone server-side.
    operator.context.add_cookies([cookie])
    answer = operator.context.request.get(f"{CONSOLE}/ops", max_redirects=0)
    assert answer.status == 303
    assert answer.headers["location"].startswith("/ops/login")


PAGES_TO_WEIGH = ["/", "/signup", "/login", "/ops", "/ops/orders", "/ops/sync/acme", "/ops/tenants/acme/okta"]


def test_every_first_load_is_at_most_100_kb_compressed(browser, operator):
    cookies = operator.context.cookies()
    for path in PAGES_TO_WEIGH:
        # A fresh context each time: nothing cached, as a first visit.
        context = browser.new_context(base_url=CONSOLE)
        context.add_cookies(cookies)
        page = context.new_page()
        loaded = []
        page.on("requestfinished", lambda request: loaded.append(request))
        page.goto(path)
        page.wait_for_load_state("networkidle")
        weight = 0
        for request in loaded:
            if request.url.startswith(CONSOLE) and request.resource_type in ("document", "stylesheet", "script"):
                sizes = request.sizes()
                weight += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        REPORT.weights[path] = weight
        context.close()
        assert weight <= 100_000, f"{path}: {weight} bytes on first load"


def test_sync_now_with_the_keyboard_and_visible_focus(operator):
    page = operator.page
    page.goto("/ops/sync/acme")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Sync now":
            break
    else:
        pytest.fail("Tab never reached Sync now")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "focus is not visible"
    screenshot(page, "keyboard-focus")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?run="))
    expect(page.locator("#runs-live")).to_have_attribute("aria-live", "polite")


def test_boosted_navigation_keeps_whole_pages_in_history(operator):
    page = operator.page
    page.goto("/ops")
    nav(page, "Orders")
    page.wait_for_url(f"{CONSOLE}/ops/orders")
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()
    page.go_back()
    page.wait_for_url(f"{CONSOLE}/ops")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("header.top")).to_have_count(1)
    page.reload()
    expect(page.locator("header.top")).to_have_count(1)
