"""The Content-Security-Policy and framing headers, and templates that keep within them (issue 14, point 5).

The real-browser proof that pages pass the policy is tests/e2e/test_content_security_policy.py;
these are the fast checks: the headers each kind of page sends, and a scan of the templates for
what the policy forbids (inline script, inline event handlers, style attributes).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.campaigns.factories import CampaignFactory, consenting_customers, segment_with_members

TEMPLATE_DIRS = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]]
# Campaign emails are not pages: mail programs need inline styles. The app shows them only in a
# sandboxed frame with a policy of its own (campaigns.views.EMAIL_PREVIEW_POLICY).
NOT_PAGES = ("campaigns/email/",)

TAG = re.compile(r"<[a-zA-Z][^<>]*>")
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
HX_ON = re.compile(r"\shx-on", re.IGNORECASE)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


def _policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _page_templates() -> list[Path]:
    return [
        path
        for root in TEMPLATE_DIRS
        for path in sorted(root.rglob("*.html"))
        if not path.relative_to(root).as_posix().startswith(NOT_PAGES)
    ]


# --- headers ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/segments/", "/settings/", "/api/v1/docs/"])
def test_pages_allow_only_their_own_scripts_and_styles_and_no_framing(owner_client, url):
    response = owner_client.get(url)
    policy = _policy(response)

    assert response.status_code == 200
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_the_login_page_has_the_policy_too(client):
    policy = _policy(client.get(reverse("login")))

    assert policy["script-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_the_survey_embed_may_be_framed_by_any_https_site_and_the_survey_page_may_not(client, shop):
    embed = client.get(reverse("survey_embed", args=[shop.slug]))
    page = client.get(reverse("survey", args=[shop.slug]))

    assert _policy(embed)["frame-ancestors"] == ["'self'", "https:"]
    assert "X-Frame-Options" not in embed.headers
    assert _policy(embed)["script-src"] == ["'self'"]
    assert _policy(page)["frame-ancestors"] == ["'none'"]
    assert page.headers["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_the_email_preview_runs_no_script_and_only_the_campaign_page_may_frame_it(owner_client, shop):
    campaign = CampaignFactory(shop=shop, segment=segment_with_members(shop, consenting_customers(shop, 1)))

    detail = owner_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    preview = owner_client.get(reverse("campaign_preview_html", args=[campaign.pk]))
    policy = _policy(preview)

    assert 'class="message-html"' in detail and "srcdoc" not in detail
    assert preview.status_code == 200 and "<html" in preview.content.decode()
    assert policy["default-src"] == ["'none'"] and "script-src" not in policy
    assert "sandbox" in policy
    assert policy["frame-ancestors"] == ["'self'"]
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.django_db
def test_the_email_preview_is_for_members_only(client, stranger_client, shop):
    campaign = CampaignFactory(shop=shop, segment=segment_with_members(shop, consenting_customers(shop, 1)))
    url = reverse("campaign_preview_html", args=[campaign.pk])

    assert client.get(url).status_code == 302
    assert stranger_client.get(url).status_code == 404


# --- templates -------------------------------------------------------------------------


def test_the_scan_finds_the_templates():
    names = {p.name for p in _page_templates()}

    assert {"base.html", "dashboard.html", "survey_embed.html", "locked_out.html"} <= names


def test_no_page_template_has_inline_script_event_handlers_or_style_attributes():
    found = []
    for path in _page_templates():
        text = path.read_text()
        for match in SCRIPT_TAG.finditer(text):
            attributes = match.group(1)
            if "src=" not in attributes and "application/json" not in attributes:
                found.append(f"{path}: inline <script{attributes}>")
        for tag in TAG.findall(text):
            for rule, what in [(INLINE_HANDLER, "event handler"), (STYLE_ATTRIBUTE, "style"), (HX_ON, "hx-on")]:
                if rule.search(tag):
                    found.append(f"{path}: {what} attribute in {tag[:80]}")

    assert not found, (
        "The Content-Security-Policy blocks these: move scripts to static/js/, handlers to "
        "static/js/app.js, styles to classes in static/css/app.css:\n" + "\n".join(found)
    )
