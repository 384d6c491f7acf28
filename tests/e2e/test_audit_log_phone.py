"""The audit log on a 390 px phone: no sideways page scroll, the table scrolls inside its .table-wrap."""

from __future__ import annotations

import pytest

from shops.audit import audit_record
from shops.models import AuditAction
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"


def test_the_audit_log_fits_a_phone_in_both_languages(browser, live_server, artifacts):
    membership = MembershipFactory(role="owner")
    owner, shop = membership.user, membership.shop
    owner.set_password(PASSWORD)
    owner.save()
    for n in range(30):
        audit_record(
            shop=shop,
            action=AuditAction.SYNC,
            target=("connection", 100 + n),
            details={"platform": "shopify", "ok": True, "fetched": {"customers": 1200, "orders": 34000}},
        )

    for locale in ("en-GB", "zh-CN"):
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale)
        page = context.new_page()
        try:
            page.goto(f"{live_server.url}/login/")
            page.fill("#id_username", owner.username)
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            page.goto(f"{live_server.url}/settings/audit/")
            page.screenshot(path=str(artifacts / f"audit-log-390-{locale}.png"), full_page=True)
            assert page.locator("#audit-events .table-wrap table").count() == 1
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
        finally:
            context.close()
