"""Every main page passes its Content-Security-Policy in a real Chromium (issue 14, point 5).

The owner logs in through the login form and opens each page of a demo shop that has a finished
analysis run; the test fails on any console error, uncaught script error or
`securitypolicyviolation` event in the page or its frames, and checks that what used to need inline
script still works under the policy: the charts draw, HTMX swaps, the language switcher submits.
"""

from __future__ import annotations

import contextlib

import pytest

from analytics import services as analytics_services
from analytics.models import Segment
from customers.demo import demo_shop_generate
from customers.models import Customer
from shops.scope import shop_scope
from tests.campaigns.factories import CampaignFactory
from tests.factories import MembershipFactory, ShopFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"  # UserFactory's password

# Recorded in every frame before its own scripts run; read back after each page.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(
    e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber
  );
});
"""


def _analysed_demo_shop():
    shop = ShopFactory(name="Leaf & Bean", slug="leaf-and-bean")
    owner = MembershipFactory(shop=shop, role="owner").user
    demo_shop_generate(shop=shop, customers=200, months=6)
    with shop_scope(shop):
        run = analytics_services.analysis_run_create(shop=shop, trigger="test")
        run = analytics_services.analysis_run_execute(run=analytics_services.analysis_run_claim(run_id=run.pk))
    assert run.status == "done", run.error
    return shop, owner, run


def _problems(page, console: list[str]) -> list[str]:
    from playwright.sync_api import Error as PlaywrightError

    found = list(console)
    for frame in page.frames:
        # a sandboxed frame runs no script, so it may have no recorder; its console still counts
        with contextlib.suppress(PlaywrightError):
            found += frame.evaluate("() => window.__cspViolations || []")
    return found


def test_every_main_page_passes_its_content_security_policy(page, live_server, settings, artifacts):
    from playwright.sync_api import expect

    settings.SITE_URL = live_server.url  # the email preview's links and open pixel point here

    shop, owner, run = _analysed_demo_shop()
    segment = (
        Segment.objects.for_shop(shop).filter(run=run, size__gt=0).exclude(kind="custom").order_by("-size").first()
    )
    customer = Customer.objects.for_shop(shop).filter(scores__run=run).order_by("pk").first()
    campaign = CampaignFactory(shop=shop, segment=segment)
    base = live_server.url

    console: list[str] = []
    page.on("console", lambda msg: console.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console.append(f"script error: {exc}"))
    page.add_init_script(RECORD_VIOLATIONS)

    # the login form itself, under the policy
    page.goto(f"{base}/login/")
    page.fill("#id_username", owner.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")
    assert _problems(page, console) == [], "login"

    pages = {
        "dashboard": "/",
        "segments": "/segments/",
        "segment": f"/segments/{segment.pk}/",
        "segment builder": "/segments/new/",
        "customers": "/customers/",
        "customer": f"/customers/{customer.pk}/",
        "rules": "/rules/",
        "forecasts": "/forecasts/",
        "analysis": "/analysis/",
        "data": "/data/",
        "import upload": "/data/import/upload/",
        "campaigns": "/campaigns/",
        "campaign": f"/campaigns/{campaign.pk}/",
        "campaign preview": f"/campaigns/{campaign.pk}/preview/",
        "settings": "/settings/",
        "API documentation": "/api/v1/docs/",
        "survey": f"/survey/{shop.slug}/",
        "survey embed": f"/survey/{shop.slug}/embed/",
    }
    for name, path in pages.items():
        console.clear()
        response = page.goto(f"{base}{path}")
        assert response.status == 200, (name, response.status)
        page.wait_for_load_state("load")
        if name in ("dashboard", "forecasts", "segment"):
            # charts.js draws every chart after load with Chart.js: the scripts ran under the policy
            page.wait_for_function(
                "() => window.Chart && document.querySelectorAll('canvas[data-chart]').length > 0"
                " && Object.keys(Chart.instances).length === document.querySelectorAll('canvas[data-chart]').length"
            )
        if name == "campaign":
            page.locator("details.alt summary").first.click()
            page.frame_locator("iframe.message-html").locator("body").wait_for()
        if name == "API documentation":
            expect(page.locator(".swagger-ui .info")).to_be_visible()
        page.wait_for_timeout(200)  # late violations (fonts, frames) are reported asynchronously
        shot = artifacts / f"csp-{name.replace(' ', '-')}.png"
        page.screenshot(path=str(shot), full_page=not name.startswith("API"))
        assert _problems(page, console) == [], name

    # HTMX still swaps (the customer search) and the moved inline handler still works (language)
    console.clear()
    page.goto(f"{base}/customers/")
    first = customer.email or customer.first_name
    page.locator("input[type=search]").first.fill(first)
    expect(page.locator("#customers, #customer-table, table").first).to_contain_text(first)
    page.select_option("#language", "zh-hans")
    page.wait_for_load_state("load")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.select_option("#language", "en")
    page.wait_for_load_state("load")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert _problems(page, console) == [], "interactions"
