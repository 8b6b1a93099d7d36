"""An operator's day: sign in at the issuer, run a provider sync and see the run, create a
customer and an order and follow its SMS, suspend an Okta user after the confirmation;
with JavaScript and without."""

import re
import time

from playwright.sync_api import expect

from conftest import CONSOLE, ISSUER, nav, open_active_okta_user, operator_sign_in, reload_until


def test_sign_in_sync_now_and_see_the_run(visit):
    page = visit.page
    operator_sign_in(visit, shot="issuer-login")
    expect(page.get_by_role("status")).to_have_text("You are signed in as an operator.")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    visit.check("ops-overview")

    nav(page, "Provider sync")
    page.wait_for_url(f"{CONSOLE}/ops/sync")
    visit.check("ops-sync")
    open_tenant(page, "acme", "Provider sync")
    page.wait_for_url(f"{CONSOLE}/ops/sync/acme")
    visit.check("ops-sync-runs")

    page.get_by_role("button", name="Sync now").click()
    page.wait_for_url(re.compile(r"/ops/sync/acme\?run="))
    run = page.url.split("run=")[1]
    row = page.locator(f"#run-{run}")
    # The run ends (the console answers when integration-service does: at the run's end, or
    # with 202 if it outlasted the request): its status is a word, its counts are there.
    reload_until(page, row.locator(".chip"), re.compile("Succeeded|Partly stored|Failed"), "the run never ended")
    expect(row.locator("td.num").first).to_have_text(re.compile(r"^\d+$"))
    visit.check("ops-sync-run")

    page.get_by_role("link", name="Stored providers").click()
    page.wait_for_url(f"{CONSOLE}/ops/sync/acme/providers")
    expect(page.locator("tbody tr").first).to_be_visible()
    visit.check("ops-providers")
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r"/providers\?next="))
    expect(page.get_by_role("link", name="First page")).to_be_visible()


def open_tenant(page, tenant, link):
    """From a tenant list (or, while integration-service lists none, its open-by-id form)."""
    if page.get_by_label("Tenant id").count():
        page.get_by_label("Tenant id").fill(tenant)
        page.get_by_role("button", name="Open").click()
    else:
        page.get_by_role("row", name=re.compile(rf"^{tenant}\b")).get_by_role("link", name=link).click()


def test_create_a_customer_and_an_order_and_follow_its_sms(visit):
    page = visit.page
    operator_sign_in(visit)
    nav(page, "Customers")
    page.get_by_role("link", name="New customer").first.click()
    expect(page.get_by_role("heading", name="New customer")).to_be_visible()
    visit.check("ops-customer-new")

    page.get_by_label("Name").fill("Jane Wanjiku")
    page.get_by_label("Mobile number").fill("not a number")
    page.get_by_role("button", name="Create customer").click()
    expect(page.locator("#phone_number-error")).to_be_visible()
    visit.check("ops-customer-errors")
    page.get_by_label("Mobile number").fill("+254711000001")
    page.get_by_role("button", name="Create customer").click()
    page.wait_for_url(re.compile(r"/ops/orders/new\?customer="))
    expect(page.get_by_role("status")).to_have_text("The customer is created.")
    expect(page.get_by_label("Customer")).not_to_have_value("")
    visit.check("ops-order-new")

    item = f"Bag of rice {int(time.time() * 1000) % 100000}"
    page.get_by_label("Item").fill(item)
    page.get_by_label("Amount").fill("1500.50")
    page.get_by_role("button", name="Create order and send its SMS").click()
    page.wait_for_url(re.compile(r"/ops/orders/[^?]+\?done=order-created"))
    expect(page.get_by_role("heading", name=f"Order: {item}")).to_be_visible()

    # The SMS goes out through the outbox and the gateway reports it delivered.
    chip = page.locator("section[aria-labelledby=order-sms] .chip")
    reload_until(page, chip, "Delivered", "the SMS was never delivered")
    visit.check("ops-order")

    nav(page, "Orders")
    page.get_by_label("SMS status").select_option("delivered")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/ops/orders\?sms_status=delivered"))
    expect(page.get_by_role("row", name=re.compile(re.escape(item)))).to_be_visible()
    visit.check("ops-orders")


def test_suspend_an_okta_user_after_the_confirmation(visit):
    page = visit.page
    operator_sign_in(visit)
    nav(page, "Tenants")
    visit.check("ops-tenants")
    open_tenant(page, "acme", "Okta users")
    page.wait_for_url(re.compile(r"/ops/tenants/acme/okta"))
    visit.check("ops-okta-users")

    name = open_active_okta_user(page)
    page.get_by_role("link", name="Suspend").click()
    expect(page.get_by_role("heading", name=f"Suspend {name} in acme?")).to_be_visible()
    visit.check("ops-okta-suspend-confirm")
    page.get_by_role("button", name=f"Yes, suspend {name} in acme").click()
    page.wait_for_url(re.compile(r"\?done=suspended"))
    expect(page.get_by_role("status")).to_have_text("The user is suspended.")
    expect(page.locator("dl.facts .chip")).to_have_text("SUSPENDED")
    visit.check("ops-okta-user")

    # Once more, straight from the confirmation's address: Okta's refusal, in words.
    page.goto(page.url.split("?")[0] + "/suspend")
    page.get_by_role("button", name=f"Yes, suspend {name} in acme").click()
    expect(page.get_by_role("alert")).to_contain_text("only ACTIVE users can be")
    visit.check("ops-okta-suspend-refused")


def test_accounts_and_sign_out_through_the_issuer(visit):
    page = visit.page
    operator_sign_in(visit)
    nav(page, "Accounts")
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    # user-service lists accounts for an operator's token (GET /admin/accounts, 9c79f0f).
    expect(page.get_by_text("does not list accounts for admins yet")).to_have_count(0)
    visit.check("ops-accounts")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(re.escape(ISSUER)))
    visit.check("issuer-logout")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{CONSOLE}/")
    page.goto("/ops")
    page.wait_for_url(re.compile(re.escape(ISSUER) + "/interaction/"))


def test_a_person_without_operator_rights_is_refused(visit):
    operator_sign_in(visit, "viewer", "viewer-password-1")
    expect(visit.page.get_by_role("alert")).to_contain_text("viewer may not use the console")
    visit.check("ops-refused")
