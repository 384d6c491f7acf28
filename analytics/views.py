"""The shop owner's pages: dashboard, segments, customers, rules, forecasts, analysis runs, segment builder.

Every view is gated by shop_required, reads through analytics.selectors with shop=request.shop and
renders the full page, or only its changing part when HTMX asks (request.htmx).
"""

from __future__ import annotations

import csv
import datetime as dt
import json

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from analytics import services
from analytics.forms import (
    AnalysisRunForm,
    CustomerFilterForm,
    MemberTableForm,
    RuleFilterForm,
    SegmentBuilder,
)
from analytics.models import RunStatus
from analytics.segments import current_run, custom_segment_scores, segments_current
from analytics.selectors import customers as customer_pages
from analytics.selectors import dashboard as dashboard_pages
from analytics.selectors import quality as run_quality_pages
from analytics.selectors import rules as rule_pages
from analytics.selectors import runs as run_pages
from analytics.selectors import segments as segment_pages
from analytics.selectors.dashboard import forecast_chart_data, forecast_for, forecast_rows
from customers import services as customer_services
from customers.models import Order
from customers.tasks import load_demo_data
from shops.audit import audit_record
from shops.decorators import shop_required
from shops.models import AuditAction, Role

PAGE_SIZE = 25
DEMO_LOADING_KEY = "analytics.demo_loading_since"
DEMO_LOADING_TIMEOUT = dt.timedelta(minutes=15)


def _page(request: HttpRequest, items, per_page: int = PAGE_SIZE, paginator: type[Paginator] = Paginator):
    return paginator(items, per_page).get_page(request.GET.get("page"))


class ListPaginator(Paginator):
    """For a list that may count its rows only up to a cap (customer_pages.CustomerRows): says
    whether it did ("of more than 1,000"), and always asks for a whole page."""

    @property
    def capped(self) -> bool:
        return bool(getattr(self.object_list, "capped", False))

    def page(self, number):
        # Django's Paginator slices to the count when it is smaller than a page; a queryset
        # with LIMIT 1 made the planner walk the whole name index for a one-customer search.
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.object_list[bottom : bottom + self.per_page], number, self)


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


# --------------------------------------------------------------------------- dashboard


def _demo_loading(request: HttpRequest) -> bool:
    since = request.session.get(DEMO_LOADING_KEY)
    if not since:
        return False
    try:
        started = dt.datetime.fromisoformat(since)
    except ValueError:
        return False
    return timezone.now() - started < DEMO_LOADING_TIMEOUT


@shop_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = dashboard_pages.dashboard_page(shop=request.shop, demo_loading=_demo_loading(request))
    if context["has_data"]:
        request.session.pop(DEMO_LOADING_KEY, None)
    template = "analytics/_dashboard_content.html" if request.htmx else "analytics/dashboard.html"
    return render(request, template, context)


@shop_required(role=Role.OWNER)
@require_POST
def demo_data_load(request: HttpRequest) -> HttpResponse:
    """Queue the demo data generator for this (empty) shop; the dashboard then shows its progress."""
    shop = request.shop
    if Order.objects.for_shop(shop).exists():
        messages.info(request, _("This shop already has orders, so no demo data was added."))
        return redirect("dashboard")
    request.session[DEMO_LOADING_KEY] = timezone.now().isoformat()
    customers = int(getattr(settings, "DEMO_CUSTOMERS", 3000))
    transaction.on_commit(lambda: load_demo_data.delay(shop.pk, customers=customers))
    if request.htmx:
        return HttpResponseClientRedirect(reverse("dashboard"))
    return redirect("dashboard")


@shop_required
def demo_data_status(request: HttpRequest) -> HttpResponse:
    """Polled every second while demo data loads; once orders exist it tells the page to reload its content."""
    loaded = Order.objects.for_shop(request.shop).exists()
    response = render(
        request,
        "analytics/_demo_progress.html",
        {"loaded": loaded, "timed_out": not loaded and not _demo_loading(request)},
    )
    if loaded:
        request.session.pop(DEMO_LOADING_KEY, None)
        trigger_client_event(response, "dashboard-refresh")
    return response


# --------------------------------------------------------------------------- analysis runs


@shop_required
def analysis(request: HttpRequest) -> HttpResponse:
    runs = _page(request, run_pages.run_list(shop=request.shop), per_page=15)
    rows = run_pages.run_rows(list(runs.object_list))
    context = {
        "runs": runs,
        "rows": rows,
        "quality_lines": run_quality_pages.explanation_lines(),
        "form": AnalysisRunForm(),
        "pending_run": dashboard_pages.pending_run(shop=request.shop),
        "can_run": request.membership.has_role(Role.STAFF),
    }
    template = "analytics/_run_table.html" if request.htmx else "analytics/analysis.html"
    return render(request, template, context)


@shop_required(role=Role.STAFF)
@require_POST
def analysis_run_start(request: HttpRequest) -> HttpResponse:
    """Start an analysis now (with the analysis page's parameters, if posted from there)."""
    form = AnalysisRunForm(request.POST if "cluster_method" in request.POST else None)
    params = {}
    if form.is_bound:
        if not form.is_valid():
            messages.error(request, _("The analysis was not started: check its parameters."))
            return redirect("analysis")
        params = form.params()
    try:
        run, created = services.analysis_run_request(
            shop=request.shop, params=params, trigger="owner", created_by=request.user
        )
    except ValueError as exc:
        messages.error(request, _("The analysis was not started: %(reason)s") % {"reason": exc})
        return redirect(_safe_next(request, reverse("analysis")))
    if request.htmx:
        run.refresh_from_db()
        return _progress_response(request, run, created=created)
    if created:
        messages.success(request, _("The analysis has started."))
    else:
        messages.info(request, _("An analysis is already running; it was not started twice."))
    return redirect(_safe_next(request, reverse("dashboard")))


def _progress_response(request: HttpRequest, run, *, created: bool | None = None) -> HttpResponse:
    finished = run.status in (RunStatus.DONE, RunStatus.FAILED)
    response = render(request, "analytics/_run_progress.html", {"run": run, "finished": finished, "created": created})
    if finished:
        trigger_client_event(response, "dashboard-refresh")
    return response


@shop_required
def analysis_run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run's progress bar; polled every second until the run is done or failed."""
    run = run_pages.run_get(shop=request.shop, run_id=run_id)
    if run is None:
        raise Http404
    return _progress_response(request, run)


# --------------------------------------------------------------------------- segments


@shop_required
def segment_list(request: HttpRequest) -> HttpResponse:
    run = current_run(shop=request.shop)
    return render(
        request,
        "analytics/segment_list.html",
        {"groups": segment_pages.segment_rows(shop=request.shop), "run": run},
    )


def _segment_or_404(request: HttpRequest, segment_id: int):
    segment = segment_pages.segment_get(shop=request.shop, segment_id=segment_id)
    if segment is None:
        raise Http404
    return segment


@shop_required
def segment_detail(request: HttpRequest, segment_id: int) -> HttpResponse:
    shop = request.shop
    segment = _segment_or_404(request, segment_id)
    table = MemberTableForm(request.GET)
    search, sort = table.search_text(), table.sort_key()
    members = _page(request, segment_pages.member_table(shop=shop, segment=segment, search=search, sort=sort))
    context = {"segment": segment, "members": members, "search": search, "sort": sort}
    if request.htmx:
        return render(request, "analytics/_member_table.html", context)
    run = segment_pages.segment_run(shop=shop, segment=segment)
    context.update(
        run=run,
        is_current=segment.run_id is None or (run is not None and run.is_current),
        description=segment_pages.segment_description(segment),
        insights=segment_pages.SegmentInsights(shop=shop, segment=segment, run=run),
        insights_seconds=segment_pages.CACHE_SECONDS,
        changes=segment_pages.membership_changes(shop=shop, segment=segment),
        member_count=members.paginator.count if not search else None,
        can_export=request.membership.has_role(Role.STAFF),
    )
    return render(request, "analytics/segment_detail.html", context)


@shop_required(role=Role.STAFF)
def segment_export(request: HttpRequest, segment_id: int) -> StreamingHttpResponse:
    """The segment's members as CSV, streamed row by row."""
    segment = _segment_or_404(request, segment_id)

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())
    rows = segment_pages.member_export_rows(shop=request.shop, segment=segment)
    audit_record(
        shop=request.shop,
        action=AuditAction.EXPORT,
        actor=request.user,
        target=("segment", segment.pk),
        details={"what": "segment_members"},
        request=request,
    )
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-members.csv"'
    return response


@shop_required(role=Role.STAFF)
def segment_builder(request: HttpRequest) -> HttpResponse:
    """Build a custom segment from conditions; HTMX posts add or remove rows, a plain post saves."""
    shop = request.shop
    builder = SegmentBuilder.from_post(request.POST) if request.method == "POST" else SegmentBuilder.blank()
    action = request.POST.get("action", "save") if request.method == "POST" else ""
    if action == "save":
        definition = builder.validate()
        if definition is not None:
            segment = services.custom_segment_create(
                shop=shop, name=builder.name, definition=definition, created_by=request.user
            )
            messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
            url = reverse("segment_detail", args=[segment.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    elif action:
        builder.apply(action)
    context = {"builder": builder, "has_run": current_run(shop=shop) is not None}
    if request.htmx:
        return render(request, "analytics/_builder_form.html", context)
    return render(request, "analytics/segment_builder.html", context, status=400 if builder.errors else 200)


@shop_required(role=Role.STAFF)
@require_POST
def segment_builder_count(request: HttpRequest) -> HttpResponse:
    """How many customers the conditions typed so far match (rows still being typed are left out)."""
    builder = SegmentBuilder.from_post(request.POST)
    definition = builder.definition(complete_only=True)
    run = current_run(shop=request.shop)
    count = None
    if definition is not None and run is not None:
        count = custom_segment_scores(shop=request.shop, definition=definition, run=run).count()
    return render(
        request,
        "analytics/_builder_count.html",
        {
            "count": count,
            "has_definition": definition is not None,
            "has_run": run is not None,
            "total": run and run.summary.get("customers"),
        },
    )


# --------------------------------------------------------------------------- customers


@shop_required
def customer_list(request: HttpRequest) -> HttpResponse:
    shop = request.shop
    run = current_run(shop=shop)
    form = CustomerFilterForm(
        request.GET or None,
        segments=segments_current(shop=shop).order_by("kind", "key"),
        rfm_groups=customer_pages.rfm_groups_in_run(shop=shop, run=run),
    )
    filters = form.filters() if form.is_bound else customer_pages.CustomerFilters()
    customers = _page(
        request, customer_pages.customer_table(shop=shop, filters=filters, run=run), paginator=ListPaginator
    )
    context = {"form": form, "customers": customers, "run": run, "filters": filters}
    template = "analytics/_customer_table.html" if request.htmx else "analytics/customer_list.html"
    return render(request, template, context)


def _customer_or_404(request: HttpRequest, customer_id: int):
    customer = customer_pages.customer_get(shop=request.shop, customer_id=customer_id)
    if customer is None:
        raise Http404
    return customer


@shop_required
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    shop = request.shop
    customer = _customer_or_404(request, customer_id)
    run = current_run(shop=shop)
    score = customer_pages.customer_score(shop=shop, customer=customer, run=run)
    orders, order_total = customer_pages.customer_orders(shop=shop, customer=customer)
    return render(
        request,
        "analytics/customer_detail.html",
        {
            "customer": customer,
            "run": run,
            "score": score,
            "feature_groups": customer_pages.feature_groups(score),
            "explanations": customer_pages.prediction_explanations(score, run=run, currency=shop.currency),
            "orders": orders,
            "order_total": order_total,
            "memberships": customer_pages.segment_history_for(shop=shop, customer=customer),
            "custom_segments": customer_pages.custom_segments_for(shop=shop, customer=customer, run=run),
            "is_owner": request.membership.has_role(Role.OWNER),
        },
    )


@shop_required(role=Role.OWNER)
def customer_export(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Everything held about the customer, as a JSON download (a data subject access request)."""
    customer = _customer_or_404(request, customer_id)
    export = customer_pages.customer_data_export(shop=request.shop, customer=customer)
    audit_record(
        shop=request.shop,
        action=AuditAction.EXPORT,
        actor=request.user,
        target=("customer", customer.pk),
        details={"what": "customer_data"},
        request=request,
    )
    response = HttpResponse(
        json.dumps(export, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}.json"'
    return response


@shop_required(role=Role.OWNER)
def customer_erase(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Confirm, then erase the customer's personal data (orders stay, anonymised)."""
    customer = _customer_or_404(request, customer_id)
    if request.method == "POST":
        customer_services.customer_erase(shop=request.shop, customer=customer, actor=request.user)
        messages.success(request, _("The customer's personal data was erased."))
        return redirect("customer_detail", customer_id=customer.pk)
    return render(request, "analytics/customer_erase.html", {"customer": customer})


# --------------------------------------------------------------------------- rules and forecasts


@shop_required
def rule_list(request: HttpRequest) -> HttpResponse:
    shop = request.shop
    run = current_run(shop=shop)
    form = RuleFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else rule_pages.RuleFilters()
    rules = _page(request, rule_pages.rule_table(shop=shop, run=run, filters=filters), per_page=50)
    product = request.GET.get("product", "")
    context = {
        "form": form,
        "rules": rules,
        "run": run,
        "filters": filters,
        "items": rule_pages.products_with_rules(shop=shop, run=run, level=filters.level),
        "product": product,
        "together": rule_pages.bought_together(shop=shop, run=run, item=product, level=filters.level),
    }
    template = "analytics/_rule_table.html" if request.htmx else "analytics/rule_list.html"
    return render(request, template, context)


@shop_required
def forecast_list(request: HttpRequest) -> HttpResponse:
    shop = request.shop
    run = current_run(shop=shop)
    charts = []
    if run is not None:
        for metric in ("revenue", "orders"):
            forecast = forecast_for(shop=shop, run=run, metric=metric)
            if forecast is not None:
                charts.append(
                    {
                        "metric": metric,
                        "forecast": forecast,
                        "chart": forecast_chart_data(forecast),
                        "rows": forecast_rows(forecast),
                    }
                )
    return render(
        request,
        "analytics/forecast_list.html",
        {
            "run": run,
            "charts": charts,
            "segment_forecasts": dashboard_pages.segment_forecasts(shop=shop, run=run) if run else [],
        },
    )
