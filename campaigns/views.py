"""Campaign pages (shop members) and the public links in campaign emails (unsubscribe, open, click)."""

from __future__ import annotations

import base64

from csp.decorators import csp
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.models import Segment
from campaigns import attribution, selectors, sending, services, tracking
from campaigns.forms import CampaignForm, PreviewForm, ScheduleForm
from campaigns.models import Campaign, CampaignStatus
from shops.decorators import shop_required
from shops.models import Role

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _campaign_or_404(request: HttpRequest, campaign_id: int) -> Campaign:
    campaign = selectors.campaign_get(shop=request.shop, campaign_id=campaign_id)
    if campaign is None:
        raise Http404
    return campaign


def _can_edit(request: HttpRequest) -> bool:
    return request.membership.has_role(Role.STAFF)


@shop_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "campaigns/list.html",
        {"campaigns": selectors.campaign_list(shop=request.shop), "can_edit": _can_edit(request)},
    )


def _save_and_schedule(request: HttpRequest, form: CampaignForm, schedule: ScheduleForm, campaign: Campaign | None):
    """Create or update, then schedule as asked. Returns the campaign, or None with the errors on the forms."""
    data = dict(form.cleaned_data)
    try:
        with transaction.atomic():
            if campaign is None:
                campaign = services.campaign_create(shop=request.shop, user=request.user, data=data)
            else:
                campaign = services.campaign_update(campaign=campaign, data=data)
    except ValidationError as exc:
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
        return None
    except services.CampaignError as exc:
        form.add_error(None, str(exc))
        return None
    when = schedule.cleaned_data["when"]
    if when == "draft":
        if campaign.status == CampaignStatus.SCHEDULED:
            services.campaign_unschedule(campaign=campaign)
        messages.success(request, _("Campaign saved as a draft."))
        return campaign
    try:
        campaign = services.campaign_schedule(campaign=campaign, send_at=schedule.send_at, actor=request.user)
    except services.CampaignError as exc:
        messages.error(request, _("Saved, but not scheduled: %(reason)s") % {"reason": exc})
        return campaign
    if campaign.status == CampaignStatus.SCHEDULED and schedule.send_at:
        messages.success(request, _("Campaign scheduled."))
    else:
        messages.success(request, _("Sending has started."))
    return campaign


@shop_required(role=Role.STAFF)
def campaign_create(request: HttpRequest) -> HttpResponse:
    initial = {}
    segment_id = request.GET.get("segment", "")
    if segment_id.isdigit():
        segment = Segment.objects.for_shop(request.shop).filter(pk=int(segment_id)).first()
        if segment is not None:
            initial = {"segment": segment.pk, "name": _("Offer for %(segment)s") % {"segment": segment.name}}
    form = CampaignForm(request.POST or None, shop=request.shop, initial=initial)
    schedule = ScheduleForm(request.POST or None, shop=request.shop)
    if request.method == "POST" and form.is_valid() and schedule.is_valid():
        campaign = _save_and_schedule(request, form, schedule, None)
        if campaign is not None:
            return redirect("campaign_detail", campaign_id=campaign.pk)
    return render(
        request,
        "campaigns/form.html",
        {
            "form": form,
            "schedule": schedule,
            "campaign": None,
            "has_postal_address": bool(request.shop.postal_address.strip()),
        },
    )


@shop_required(role=Role.STAFF)
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    if not campaign.is_editable:
        messages.error(request, _("This campaign has started or was cancelled; it can no longer be changed."))
        return redirect("campaign_detail", campaign_id=campaign.pk)
    form = CampaignForm(request.POST or None, shop=request.shop, instance=campaign)
    schedule = ScheduleForm(
        request.POST or None,
        shop=request.shop,
        initial={"when": "later" if campaign.scheduled_at else "draft", "send_at": campaign.scheduled_at},
    )
    if request.method == "POST" and form.is_valid() and schedule.is_valid():
        # Re-read: the form's instance has the new values already, the service wants the stored row.
        stored = _campaign_or_404(request, campaign_id)
        if _save_and_schedule(request, form, schedule, stored) is not None:
            return redirect("campaign_detail", campaign_id=campaign.pk)
    return render(
        request,
        "campaigns/form.html",
        {
            "form": form,
            "schedule": schedule,
            "campaign": campaign,
            "has_postal_address": bool(request.shop.postal_address.strip()),
        },
    )


@shop_required
@require_GET
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    context = {"campaign": campaign, "can_edit": _can_edit(request)}
    if campaign.has_started:
        context["results"] = attribution.campaign_results(shop=request.shop, campaign=campaign)
    if request.htmx and request.htmx.target == "campaign-results":
        context["audience"] = selectors.campaign_audience(shop=request.shop, campaign=campaign)
        return render(request, "campaigns/_results.html", context)
    context.update(
        audience=selectors.campaign_audience(shop=request.shop, campaign=campaign),
        members=selectors.preview_members(shop=request.shop, campaign=campaign),
        schedule=ScheduleForm(shop=request.shop, allow_draft=False, initial={"send_at": campaign.scheduled_at}),
        send_problem=(
            services.campaign_send_problem(shop=request.shop, campaign=campaign) if campaign.is_editable else ""
        ),
    )
    context.update(_preview_context(request, campaign, None))
    return render(request, "campaigns/detail.html", context)


def _preview_context(request: HttpRequest, campaign: Campaign, customer_id: int | None) -> dict:
    customer = selectors.preview_member(shop=request.shop, campaign=campaign, customer_id=customer_id)
    if customer is None:
        return {"preview": None, "preview_customer": None}
    preview = sending.campaign_preview(shop=request.shop, campaign=campaign, customer=customer)
    return {"preview": preview, "preview_customer": customer}


@shop_required
@require_GET
def campaign_preview(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The message a chosen member would get; the partial for HTMX, else a page of its own."""
    campaign = _campaign_or_404(request, campaign_id)
    form = PreviewForm(request.GET)
    customer_id = form.cleaned_data["customer"] if form.is_valid() else None
    context = {"campaign": campaign, **_preview_context(request, campaign, customer_id)}
    if customer_id is not None and context["preview"] is None:
        context["preview_error"] = _("That customer is not in this campaign's segment.")
    if request.htmx:
        return render(request, "campaigns/_preview.html", context)
    context["members"] = selectors.preview_members(shop=request.shop, campaign=campaign)
    return render(request, "campaigns/preview.html", context)


# The email as its recipient sees it, shown in a sandboxed frame of the campaign's pages. An email
# needs inline styles and images from anywhere; it gets them under a policy of its own that runs
# no script, submits no form and can be framed by our own pages only.
EMAIL_PREVIEW_POLICY = {
    "default-src": ["'none'"],
    "style-src": ["'unsafe-inline'"],
    "img-src": ["*", "data:"],
    "form-action": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'self'"],
    "sandbox": True,
}


@shop_required
@require_GET
@xframe_options_sameorigin
@csp(EMAIL_PREVIEW_POLICY)
def campaign_preview_html(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The HTML version of the message a chosen member (?customer=id) would get; 404 without one."""
    campaign = _campaign_or_404(request, campaign_id)
    form = PreviewForm(request.GET)
    customer_id = form.cleaned_data["customer"] if form.is_valid() else None
    preview = _preview_context(request, campaign, customer_id)["preview"]
    if preview is None:
        raise Http404
    return HttpResponse(preview.html, content_type="text/html; charset=utf-8")


@shop_required(role=Role.STAFF)
@require_POST
def campaign_test_send(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    to = (request.user.email or "").strip()
    customer_id = request.POST.get("customer", "")
    customer = selectors.preview_member(
        shop=request.shop, campaign=campaign, customer_id=int(customer_id) if customer_id.isdigit() else None
    )
    if not to:
        messages.error(request, _("Your account has no email address to send the test to."))
    elif customer is None:
        messages.error(request, _("The segment has no members to personalise the test with."))
    else:
        try:
            sending.campaign_test_send(shop=request.shop, campaign=campaign, customer=customer, to=to)
        except Exception as exc:  # the mail server's answer is what the owner needs to see
            messages.error(request, _("The test could not be sent: %(error)s") % {"error": exc})
        else:
            messages.success(request, _("Test sent to %(email)s.") % {"email": to})
    return redirect("campaign_detail", campaign_id=campaign.pk)


@shop_required(role=Role.STAFF)
@require_POST
def campaign_schedule(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    form = ScheduleForm(request.POST, shop=request.shop, allow_draft=False)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("campaign_detail", campaign_id=campaign.pk)
    try:
        campaign = services.campaign_schedule(campaign=campaign, send_at=form.send_at, actor=request.user)
    except services.CampaignError as exc:
        messages.error(request, str(exc))
    else:
        if campaign.status == CampaignStatus.SCHEDULED and form.send_at:
            messages.success(request, _("Campaign scheduled."))
        else:
            messages.success(request, _("Sending has started."))
    return redirect("campaign_detail", campaign_id=campaign.pk)


@shop_required(role=Role.STAFF)
@require_POST
def campaign_cancel(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    try:
        services.campaign_cancel(campaign=campaign, actor=request.user)
    except services.CampaignError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Campaign cancelled; nothing was sent."))
    return redirect("campaign_detail", campaign_id=campaign.pk)


@shop_required(role=Role.STAFF)
@require_POST
def campaign_results_refresh(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    attribution.campaign_attribution_refresh(shop=request.shop, campaign=campaign)
    messages.success(request, _("Results brought up to date."))
    return redirect("campaign_detail", campaign_id=campaign.pk)


# --------------------------------------------------------------------------- public: links in emails


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with a button (mail scanners follow links; a GET never unsubscribes).
    POST: unsubscribe at once, no login, no cookie (RFC 8058 one-click, and the page's button)."""
    parsed = tracking.unsubscribe_token_read(token)
    if parsed is None:
        raise Http404
    if request.method == "POST":
        tracking.unsubscribe_apply(parsed)
        return render(request, "campaigns/unsubscribe.html", {"done": True, "is_test": parsed.is_test})
    return render(request, "campaigns/unsubscribe.html", {"done": False, "is_test": parsed.is_test})


@never_cache
@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    recipient_id = tracking.open_token_read(token)
    if recipient_id is None:
        raise Http404
    tracking.open_record(recipient_id=recipient_id)
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    """Redirect to the link's URL, only if the token was signed for exactly that URL (no open redirect)."""
    url = request.GET.get("u", "")
    recipient_id = tracking.click_token_read(token, url) if url else None
    if recipient_id is None:
        return HttpResponseBadRequest(_("This link is not valid."))
    tracking.click_record(recipient_id=recipient_id, url=url)
    return HttpResponseRedirect(url)
