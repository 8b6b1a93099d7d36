"""Swagger UI as a person uses it (issue 25, contract 8): on every service's /swagger/,
Authorize gets a token (sales and integrations: the OAuth2 client-credentials flow against
the local issuer; user-service: "Try it out" on POST /auth, its token pasted into the
session scheme), then "Try it out" + "Execute" runs every operation of the spec once, and
the Request URL Swagger UI shows is that operation's own path. Path and required
parameters are filled with objects made first through the APIs (an account, a customer, an
order, users of tenant acme's Okta and of tenant initech's Microsoft Graph stand-ins), as a
person would type them in.

What each operation answered is written to .run/browser/swagger.txt (one line each).
"""

import json
import os
import re
import time
import urllib.parse
import urllib.request

import pytest
from conftest import CLIENT, CONSOLE, INTEGRATIONS, LAPTOP, SALES, SHOTS, USERS, call, client_token, png, screenshot
from playwright.sync_api import expect

# The dev stack's admin (scripts/dev.sh prints it), and the path token of sales'
# delivery-report URL (scripts/dev.sh's SMS_REPORT_TOKEN).
ADMIN = {"username": "admin", "password": "admin-password-1"}
REPORT_TOKEN = os.environ.get("SMS_REPORT_TOKEN", "dev-delivery-report-token-0123456789abcdef")
# The dev stack's Microsoft Graph tenant (scripts/dev.sh: the Graph stand-in on :9105,
# integration-service's dev/tenants.json): Graph's operations and the common directory's
# run against it, acme's Okta through /okta/*.
GRAPH_TENANT = "initech"
# Every operation answers a 2xx when tried with these values, except a provider sync the
# console's suite started may still run (409 naming it).
NOT_2XX = {"providers_sync_providers": {"409"}}
SERVICES = {"console": CONSOLE, "user-service": USERS, "sales-service": SALES, "integration-service": INTEGRATIONS}
LINES = []


@pytest.fixture(scope="module")
def made():
    """What the operations act on, made through the APIs; keyed (param in, name) per service."""
    run = str(int(time.time() * 1000))[-9:]
    username = f"swagger{run}"
    call("POST", f"{USERS}/user", {"username": username, "password": "correct horse battery", "name": "Try It"})
    sales = client_token("api://sales", "sales:read sales:write")
    customer = call("POST", f"{SALES}/api/v1/sales/customers",
                    {"name": "Swagger Try", "phone_number": "+254 711 000 222"}, token=sales)["id"]
    order = call("POST", f"{SALES}/api/v1/sales/orders",
                 {"customer": customer, "item": "Bag of rice", "amount": "12.50"}, token=sales)["id"]
    integrations = client_token("api://integrations", "integrations:read")
    active = call("GET", f"{INTEGRATIONS}/okta/list_users?" + urllib.parse.urlencode(
        {"filter": 'status eq "ACTIVE"', "limit": 10}), token=integrations)["users"]
    okta = [user["id"] for user in active]
    assert len(okta) >= 5, f"tenant acme's Okta stand-in has {len(okta)} active users, 5 needed"
    listed = call("GET", f"{INTEGRATIONS}/graph/list_users?limit=20", token=integrations, tenant=GRAPH_TENANT)["users"]
    graph = [user["id"] for user in listed if user.get("status") == "enabled"]
    assert len(graph) >= 5, f"tenant {GRAPH_TENANT}'s Graph stand-in has {len(graph)} enabled users, 5 needed"
    on_graph = {("header", "X-Tenant-Id"): GRAPH_TENANT}
    graph_user = {**on_graph, ("query", "user_id"): graph[4]}
    return {
        "user-service": {
            "params": {("path", "username"): username},
            "bodies": {
                "sign_up": {"username": f"{username}b", "password": "correct horse battery"},
                "login": ADMIN,
            },
        },
        "sales-service": {
            "params": {("path", "token"): REPORT_TOKEN},
            "by_operation": {"get_customer": {("path", "id"): customer}, "get_order": {("path", "id"): order}},
            "bodies": {
                "create_order": {"customer": customer, "item": "Bag of rice", "amount": "56000.68"},
                "legacy_create_order": {"customer": customer, "item": "Bag of rice", "amount": 56000.68},
            },
        },
        "integration-service": {
            "params": {("path", "integration"): "okta", ("path", "tenant"): "acme", ("query", "user_id"): okta[4]},
            # Graph's and the directory's operations act on initech's Entra users.
            "by_operation": {
                "graph_list_users": on_graph, "graph_get_user": graph_user, "graph_suspend_user": on_graph,
                "graph_delete_user": on_graph, "directory_list_users": on_graph, "directory_get_user": graph_user,
                "directory_suspend_user": on_graph, "directory_delete_user": on_graph,
            },
            # Delete one user and suspend another per vendor route, and again through the
            # directory (okta[4] and graph[4] are the ones read, whichever order the spec
            # lists them in).
            "bodies": {
                "okta_delete_user": {"user_id": okta[0]},
                "okta_suspend_user": {"user_id": okta[1]},
                "graph_delete_user": {"user_id": graph[0]},
                "graph_suspend_user": {"user_id": graph[1]},
                "directory_delete_user": {"user_id": graph[2]},
                "directory_suspend_user": {"user_id": graph[3]},
            },
        },
        "console": {},
    }


def operations(base):
    """(method, path, operation id, first tag, secured) of the served spec, in a person's
    order: signing out (DELETE /auth) and other deletes last, so the token outlives them."""
    with urllib.request.urlopen(f"{base}/openapi.json", timeout=10) as answer:
        spec = json.load(answer)
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                secured = any(requirement for requirement in operation.get("security", []))
                tag = (operation.get("tags") or ["default"])[0]
                found.append((method.upper(), path, operation["operationId"], tag, secured))
    return sorted(found, key=lambda op: (op[0] == "DELETE" and op[1] == "/auth", op[0] == "DELETE"))


def opblock(page, tag, operation_id):
    """An operation's block; Swagger UI ids it operations-<tag>-<operationId>."""
    return page.locator(f"[id='operations-{tag.replace(' ', '_')}-{operation_id}']")


def execute(page, tag, operation_id, params, body=None, file=None, shot_as=None):
    """Try it out -> fill -> Execute, as a person does; (Request URL shown, status shown, body).
    With shot_as, a screenshot of the operation as executed."""
    block = opblock(page, tag, operation_id)
    block.locator(".opblock-summary").first.click()
    # The block opens on a re-render: wait for its "Try it out" (or "Cancel", as Swagger UI
    # keeps it on per operation once clicked) before looking at what it says.
    toggle = block.locator("button.try-out__btn").first
    expect(toggle).to_be_visible()
    if "Try it out" in toggle.inner_text():
        toggle.click()
    # Fill only once Try it out has rendered its fields (its Execute button shows it), and
    # check each value stuck: Swagger UI re-renders the rows and debounces their inputs
    # (react-debounce-input), so a value typed too early or too fast can be dropped.
    expect(block.locator("button.execute")).to_be_visible()
    for (where, name), value in params.items():
        row = block.locator(f"tr[data-param-name='{name}'][data-param-in='{where}']")
        if row.count():
            field = row.locator("input, select").first
            if field.evaluate("element => element.tagName") == "SELECT":  # an enum
                field.select_option(str(value))
            else:
                for _ in range(3):
                    field.fill(str(value))
                    field.blur()  # leaving the field notifies at once
                    if field.input_value() == str(value):
                        break
                expect(field).to_have_value(str(value))
    if body is not None:
        block.locator("textarea.body-param__text").fill(json.dumps(body))
    if file is not None:
        block.locator(".body-param-content-type select, .content-type-wrapper select").first.select_option("image/png")
        block.locator("input[type=file]").set_input_files(file)
    block.locator("button.execute").click()
    url = block.locator(".request-url pre").first
    refused = block.locator(".validation-errors")
    expect(url.or_(refused)).to_be_visible(timeout=30000)
    if refused.is_visible():  # a dropped field value: Swagger UI's own check, nothing sent
        for (where, name), value in params.items():
            field = block.locator(f"tr[data-param-name='{name}'][data-param-in='{where}'] input").first
            if field.count() and not field.input_value():
                field.press_sequentially(str(value))  # typed key by key, as a person does
                field.blur()
        block.locator("button.execute").click()
    expect(url).to_be_visible(timeout=30000)
    status = block.locator(".live-responses-table tr.response td.response-col_status").first
    expect(status).to_have_text(re.compile(r"\d{3}|Failed"), timeout=30000)
    answer = block.locator(".live-responses-table tr.response td.response-col_description pre").first
    text = answer.inner_text() if answer.count() else ""
    shown = url.inner_text().strip(), status.inner_text().strip(), text
    if shot_as:
        block.scroll_into_view_if_needed()
        screenshot(page, shot_as)
    block.locator(".opblock-summary").first.click()  # fold it again
    return shown


def authorize_client_credentials(page, service):
    page.locator("button.authorize").first.click()
    scheme = "oidc-client-credentials"
    dialog = page.locator(".auth-container").filter(has=page.locator(f"input[id$='-checkbox-{scheme}']"))
    dialog.locator("input[data-name=clientId]").fill(CLIENT[0])
    dialog.locator("input[data-name=clientSecret]").fill(CLIENT[1])
    for box in dialog.locator("input[type=checkbox]").all():
        dialog.locator(f"label[for='{box.get_attribute('id')}']").click()  # the box itself is hidden
    dialog.locator("button.authorize").click()
    # Swagger UI asked the issuer's token URL (in the spec, from discovery) for a token.
    authorized = page.locator(".auth-container").filter(has_text=f"{scheme} (OAuth2")
    expect(authorized).to_contain_text("Authorized", timeout=15000)
    screenshot(page, f"swagger-{service}-authorized")
    page.locator("button.btn-done").first.click()


def authorize_session(page, service, token):
    page.locator("button.authorize").first.click()
    dialog = page.locator(".auth-container").filter(has_text="session")
    dialog.locator("input").first.fill(token)
    dialog.locator("button.authorize").click()
    expect(dialog).to_contain_text("Authorized")
    screenshot(page, f"swagger-{service}-authorized")
    page.locator("button.btn-done").first.click()


@pytest.mark.parametrize("service", SERVICES)
def test_try_it_out_runs_every_operation_on_its_own_path(browser, made, service):
    base = SERVICES[service]
    values = made[service]
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.goto(f"{base}/swagger/")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible(timeout=15000)
    ops = operations(base)
    done = {}
    if service == "user-service":
        # The session token comes from the page itself: POST /auth, as a person signs in.
        login = next(op for op in ops if op[2] == "login")
        done["login"] = execute(page, login[3], "login", {}, body=values["bodies"]["login"])
        authorize_session(page, service, json.loads(done["login"][2])["token"])
    elif any(op[4] for op in ops):
        authorize_client_credentials(page, service)
    # The screenshot: the first operation with a path parameter (else the first), executed.
    pictured = next((op[2] for op in ops if "{" in op[1]), ops[0][2])
    wrong = []
    for method, path, operation_id, tag, secured in ops:
        params = {**values.get("params", {}), **values.get("by_operation", {}).get(operation_id, {})}
        if operation_id not in done:
            file = ({"name": "avatar.png", "mimeType": "image/png", "buffer": png()}
                    if operation_id == "put_avatar" else None)
            body = values.get("bodies", {}).get(operation_id)
            shot_as = f"swagger-{service}-{operation_id}" if operation_id == pictured else None
            done[operation_id] = execute(page, tag, operation_id, params, body, file, shot_as)
        url, status, _ = done[operation_id]
        own = base + re.sub(r"\{([^}]+)\}", lambda name: urllib.parse.quote(params[("path", name[1])], safe=""), path)
        LINES.append(f"{service} {method} {path} ({operation_id}): {status} {url}")
        if url.split("?")[0] != own:
            wrong.append(f"{method} {path} ({operation_id}): Request URL {url}, not {own}")
        if secured and status in ("401", "403"):
            wrong.append(f"{method} {path} ({operation_id}): {status}: the token from Authorize was not accepted")
        elif not status.startswith("2") and status not in NOT_2XX.get(operation_id, ()):
            wrong.append(f"{method} {path} ({operation_id}): answered {status}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "swagger.txt").write_text("\n".join(LINES) + "\n")
    context.close()
    assert not wrong, "\n".join(wrong)
