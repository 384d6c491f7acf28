"""Shop pages for data coming in (data overview, platform connections, privacy exports) and the public survey."""

from __future__ import annotations

import json

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from customers.identity import identity_counts
from customers.integrations import selectors, services
from customers.integrations.forms import ConnectionForm, mask_secret
from customers.models import Platform
from customers.survey import SurveyForm, survey_rate_limited, survey_submit
from shops.audit import audit_record
from shops.client_ip import client_ip
from shops.decorators import shop_required
from shops.models import AuditAction, Role, Shop

WEBHOOK_URL_NAMES = {Platform.SHOPIFY: "shopify_webhook", Platform.WOOCOMMERCE: "woocommerce_webhook"}
WEBHOOK_TOPICS = {
    Platform.SHOPIFY: [
        "orders/create",
        "orders/updated",
        "orders/delete",
        "customers/create",
        "customers/update",
        "customers/delete",
        "customers/data_request",
        "customers/redact",
        "shop/redact",
    ],
    Platform.WOOCOMMERCE: [
        "order.created",
        "order.updated",
        "order.deleted",
        "customer.created",
        "customer.updated",
        "customer.deleted",
    ],
}


def _absolute(path: str) -> str:
    return settings.SITE_URL + path


def _platform_or_404(platform: str) -> str:
    if platform not in Platform.values:
        raise Http404
    return platform


@shop_required
def data_overview(request: HttpRequest) -> HttpResponse:
    shop = request.shop
    connections = {c.platform: c for c in selectors.connections(shop=shop)}
    return render(
        request,
        "customers/data_overview.html",
        {
            "counts": selectors.row_counts(shop=shop),
            "identity_counts": identity_counts(shop=shop),
            "imports": selectors.recent_imports(shop=shop),
            "platforms": [(value, label, connections.get(value)) for value, label in Platform.choices],
            "sync_runs": selectors.recent_sync_runs(shop=shop),
            "webhook_events": selectors.recent_webhook_events(shop=shop),
            "data_requests": selectors.data_requests(shop=shop),
            "survey_url": _absolute(reverse("survey", args=[shop.slug])),
            "survey_embed_url": _absolute(reverse("survey_embed", args=[shop.slug])),
            "is_owner": request.membership.has_role(Role.OWNER),
        },
    )


@shop_required(role=Role.OWNER)
def connection_edit(request: HttpRequest, platform: str) -> HttpResponse:
    platform = _platform_or_404(platform)
    connection = selectors.connection_for(shop=request.shop, platform=platform)
    form = ConnectionForm(request.POST or None, platform=platform, connection=connection)
    if request.method == "POST" and form.is_valid():
        services.connection_save(shop=request.shop, platform=platform, **form.cleaned_data)
        messages.success(request, _("Connection saved."))
        return redirect("data_connection", platform=platform)
    return render(
        request,
        "customers/connection.html",
        {
            "form": form,
            "platform": platform,
            "platform_label": Platform(platform).label,
            "connection": connection,
            "masked_token": mask_secret(connection.access_token) if connection else "",
            "masked_secret": mask_secret(connection.webhook_secret) if connection else "",
            "webhook_url": _absolute(reverse(WEBHOOK_URL_NAMES[platform], args=[request.shop.slug])),
            "webhook_topics": WEBHOOK_TOPICS[platform],
            "sync_runs": selectors.recent_sync_runs(shop=request.shop, connection=connection) if connection else [],
        },
    )


@shop_required(role=Role.OWNER)
@require_POST
def connection_sync(request: HttpRequest, platform: str) -> HttpResponse:
    connection = selectors.connection_for(shop=request.shop, platform=_platform_or_404(platform))
    if connection is None:
        raise Http404
    services.connection_sync_queue(connection=connection)
    messages.success(request, _("Sync started; refresh this page in a minute to see its report."))
    return redirect("data_connection", platform=platform)


@shop_required(role=Role.OWNER)
@require_POST
def connection_delete(request: HttpRequest, platform: str) -> HttpResponse:
    connection = selectors.connection_for(shop=request.shop, platform=_platform_or_404(platform))
    if connection is None:
        raise Http404
    services.connection_delete(connection=connection)
    messages.success(request, _("Connection removed. Data already brought in stays."))
    return redirect("data_overview")


@shop_required(role=Role.OWNER)
def data_request_export(request: HttpRequest, event_id: int) -> HttpResponse:
    """A customer's data, as asked for by a Shopify customers/data_request, as a JSON download."""
    event = selectors.data_request_get(shop=request.shop, event_id=event_id)
    if event is None:
        raise Http404
    export = selectors.data_request_export(shop=request.shop, event=event)
    audit_record(
        shop=request.shop,
        action=AuditAction.EXPORT,
        actor=request.user,
        target=("data_request", event.pk),
        details={"what": "data_request"},
        request=request,
    )
    response = HttpResponse(
        json.dumps(export, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="data-request-{event.pk}.json"'
    return response


# --------------------------------------------------------------------------- public survey


def _survey(request: HttpRequest, shop_slug: str, template: str) -> HttpResponse:
    shop = get_object_or_404(Shop, slug=shop_slug)
    form = SurveyForm(request.POST or None)
    context = {"survey_shop": shop, "form": form, "done": False}
    if request.method == "POST":
        if survey_rate_limited(shop=shop, client_ip=client_ip(request)):
            context["rate_limited"] = True
            return render(request, template, context, status=429)
        if form.is_spam:
            context["done"] = True  # pretend success; a bot learns nothing
        elif form.is_valid():
            data = form.cleaned_data
            survey_submit(
                shop=shop,
                email=data["email"],
                age_range=data["age_range"],
                occupation=data["occupation"],
                interests=data["interests"],
                email_consent=data["email_consent"],
            )
            context["done"] = True
    return render(request, template, context)


# Public forms without a session to protect; the embed is posted from inside a third-party
# iframe, where the CSRF cookie is not sent. Rate limit and honeypot stand in.
@csrf_exempt
def survey(request: HttpRequest, shop_slug: str) -> HttpResponse:
    return _survey(request, shop_slug, "customers/survey.html")


@csrf_exempt
@xframe_options_exempt  # shops embed it in their store's pages: any HTTPS site may frame it
@csp_replace({"frame-ancestors": ["'self'", "https:"]})
def survey_embed(request: HttpRequest, shop_slug: str) -> HttpResponse:
    return _survey(request, shop_slug, "customers/survey_embed.html")
