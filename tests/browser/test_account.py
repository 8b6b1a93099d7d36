"""An account holder's whole life in the console: sign up with a picture, log out, log in,
edit, change the picture, delete; with JavaScript and without."""

import re
import time

from playwright.sync_api import expect

from conftest import PHONE, Visit, picture_loaded, png, sign_up

PASSWORD = "correct horse battery"


def test_sign_up_with_a_picture_log_in_edit_and_delete(visit, tmp_path):
    page = visit.page
    name = f"ada{'js' if visit.js else 'nojs'}{int(time.time() * 1000) % 10_000_000}"
    picture = tmp_path / "me.png"
    picture.write_bytes(png())

    page.goto("/")
    visit.check("home")
    page.get_by_role("link", name="Sign up").first.click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    visit.check("signup")

    # Mistakes come back as sentences under the fields they concern, with a summary first.
    page.get_by_label("Username").fill("x!")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#problems")).to_be_visible()
    expect(page.locator("#username-error")).to_be_visible()
    expect(page.locator("#password-error")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    visit.check("signup-errors")

    sign_up(page, name, PASSWORD, "Ada Lovelace", picture, about="I write programs for engines.")
    page.wait_for_url(re.compile(r"/account\?done=signed-up"))
    expect(page.get_by_role("status")).to_have_text("Welcome! Your account is ready.")
    # The picture user-service stored loads (from the S3 store, as a sized, lazy image).
    expect(page.locator("img.avatar")).to_have_attribute("loading", "lazy")
    if visit.js:
        picture_loaded(page)
    visit.check("account")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/\?done=logged-out"))
    expect(page.get_by_role("status")).to_have_text("You are logged out.")

    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#problems")).to_contain_text("The username or password is wrong.")
    visit.check("login-wrong")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/account\?done=logged-in"))

    page.get_by_label("Full name").fill("Ada King")
    page.get_by_label("About you").fill("")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r"/account\?done=updated"))
    expect(page.locator("dl.facts")).to_contain_text("Ada King")
    expect(page.get_by_role("heading", name="About", exact=True)).to_have_count(0)

    page.get_by_label("New picture").set_input_files(str(picture))
    page.get_by_role("button", name="Upload picture").click()
    page.wait_for_url(re.compile(r"/account\?done=avatar"))

    page.get_by_role("link", name="Delete my account").click()
    expect(page.get_by_role("heading", name=f"Delete the account {name}?")).to_be_visible()
    visit.check("account-delete")
    page.get_by_role("button", name=f"Yes, delete {name}").click()
    page.wait_for_url(re.compile(r"/\?done=deleted-self"))

    # Gone: logging in again fails.
    page.goto("/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#problems")).to_contain_text("The username or password is wrong.")


def test_the_layout_reads_on_a_phone(browser):
    with Visit(browser, js=True, viewport=PHONE) as visit:
        visit.page.goto("/signup")
        width = visit.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
        visit.check("signup-phone")
