"""Issue 21's first "Done when", walked as a new person would: open the URL scripts/dev.sh
printed, sign up with a picture; then an operator (with the sign-in dev.sh printed) runs a
provider sync, sees orders with their SMS status and suspends an Okta user. Every step
goes by what the pages say (links, buttons, labels); no address is typed but the first.
Screenshots: .run/browser/walk-*.png."""

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import CONSOLE, Visit, nav, open_active_okta_user, operator_sign_in, picture_loaded, png, sign_up


def printed_by_dev_sh():
    """The console's URL and the operator sign-in, from what scripts/dev.sh printed
    (scripts/browser-test.sh keeps it in DEV_PRINTED)."""
    path = os.environ.get("DEV_PRINTED")
    if not path:
        pytest.skip("run through scripts/browser-test.sh, which keeps what scripts/dev.sh printed")
    text = Path(path).read_text()
    url = re.search(r"Open the console in a browser: (http://\S+)", text)
    sign_in = re.search(r"operator sign-in: (\S+) / (\S+?)\)", text)
    assert url and sign_in, f"scripts/dev.sh no longer prints the console's URL or the operator sign-in:\n{text}"
    return url.group(1), sign_in.group(1), sign_in.group(2)


def test_a_new_person_and_an_operator_walk_the_done_when(browser, tmp_path):
    url, operator, password = printed_by_dev_sh()
    assert url == CONSOLE, f"dev.sh printed {url}, the suite drives {CONSOLE}"

    # A new person: the printed URL, then "Sign up" with a picture.
    with Visit(browser, js=True) as person:
        page = person.page
        page.goto(url)
        person.check("walk-1-printed-url")
        page.get_by_role("link", name="Sign up").first.click()
        name = f"walker{int(time.time() * 1000) % 10_000_000}"
        picture = tmp_path / "me.png"
        picture.write_bytes(png(rgb=(22, 163, 74)))
        sign_up(page, name, "a long walk home", "Grace Walker", picture)
        expect(page.get_by_role("status")).to_have_text("Welcome! Your account is ready.")
        picture_loaded(page)
        person.check("walk-2-signed-up-with-picture")

    # An operator: the same URL, "Operator sign-in", the issuer's page.
    with Visit(browser, js=True) as visit:
        page = visit.page
        operator_sign_in(visit, operator, password, url=url)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        visit.check("walk-3-operator-overview")

        # The overview's tenant table leads to acme's provider sync: "Sync now".
        page.get_by_role("row", name=re.compile(r"^acme\b")).get_by_role("link", name="Provider sync").click()
        page.get_by_role("button", name="Sync now").click()
        page.wait_for_url(re.compile(r"\?run="))
        run = page.locator(f"#run-{page.url.split('run=')[1]}")
        expect(run.locator(".chip")).to_have_text(re.compile("Succeeded|Partly stored|Failed"), timeout=30_000)
        visit.check("walk-4-sync-run")

        # Orders, with their SMS status: the page offers "New customer", then the order form.
        nav(page, "Orders")
        page.get_by_role("link", name="New customer").first.click()
        page.get_by_label("Name").fill("Wanjiru Walker")
        page.get_by_label("Mobile number").fill("+254711000002")
        page.get_by_role("button", name="Create customer").click()
        item = f"Walking boots {int(time.time() * 1000) % 100000}"
        page.get_by_label("Item").fill(item)
        page.get_by_label("Amount").fill("4200")
        page.get_by_role("button", name="Create order and send its SMS").click()
        expect(page.get_by_role("heading", name=f"Order: {item}")).to_be_visible()
        nav(page, "Orders")
        row = page.get_by_role("row", name=re.compile(re.escape(item)))
        expect(row.locator(".chip")).to_have_text(re.compile("^(Pending|Sent|Delivered|Failed)$"))
        visit.check("walk-5-orders-with-sms-status")

        # An Okta user of acme: Tenants, acme's "Okta users", an active one, "Suspend".
        nav(page, "Tenants")
        page.get_by_role("row", name=re.compile(r"^acme\b")).get_by_role("link", name="Okta users").click()
        who = open_active_okta_user(page)
        page.get_by_role("link", name="Suspend").click()
        confirm = page.get_by_role("button", name=f"Yes, suspend {who} in acme")
        expect(confirm).to_be_visible()
        visit.check("walk-6-suspend-confirmation")
        confirm.click()
        expect(page.get_by_role("status")).to_have_text("The user is suspended.")
        expect(page.locator("dl.facts .chip")).to_have_text("SUSPENDED")
        visit.check("walk-7-okta-user-suspended")

        # The person who signed up is among user-service's accounts (the operator's own
        # token for api://users, scope users:admin).
        nav(page, "Accounts")
        expect(page.get_by_role("row", name=re.compile(rf"\b{name}\b"))).to_be_visible()
        visit.check("walk-8-accounts")
