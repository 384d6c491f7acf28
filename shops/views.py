from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shops import selectors, services
from shops.audit import audit_events_for_shop, audit_record
from shops.decorators import shop_required
from shops.forms import ApiKeyCreateForm, MemberAddForm, ShopFieldsForm, ShopSettingsForm, SignupForm
from shops.middleware import SESSION_SHOP_KEY
from shops.models import ApiKey, AuditAction, Invitation, Membership, Role, Shop
from shops.signals import shop_settings_changed


def login_locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The answer to a login refused by the throttle (django-axes' AXES_LOCKOUT_CALLABLE): 429.

    It says the same whether the account exists or not, and names no account.
    """
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                user = services.user_create(email=data["email"], password=data["password"])
                shop = services.shop_create(
                    name=data["shop_name"],
                    slug=data["slug"],
                    owner=user,
                    timezone_name=data["timezone"],
                    currency=data["currency"],
                )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            login(request, user, backend="shops.auth.EmailOrUsernameBackend")
            request.session[SESSION_SHOP_KEY] = shop.pk
            messages.success(request, _("Welcome! Your shop “%(name)s” is ready.") % {"name": shop.name})
            return redirect("dashboard")
    return render(request, "shops/signup.html", {"form": form})


@login_required
def shop_create(request: HttpRequest) -> HttpResponse:
    form = ShopFieldsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            shop = services.shop_create(
                name=data["shop_name"],
                slug=data["slug"],
                owner=request.user,
                timezone_name=data["timezone"],
                currency=data["currency"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            request.session[SESSION_SHOP_KEY] = shop.pk
            messages.success(request, _("Shop “%(name)s” created.") % {"name": shop.name})
            return redirect("dashboard")
    return render(request, "shops/shop_create.html", {"form": form})


@login_required
@require_POST
def shop_switch(request: HttpRequest) -> HttpResponse:
    try:
        shop_id = int(request.POST.get("shop", ""))
    except ValueError:
        raise Http404 from None
    membership = selectors.membership_for(user=request.user, shop_id=shop_id)
    if membership is None:
        raise Http404
    request.session[SESSION_SHOP_KEY] = membership.shop_id
    next_url = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    return redirect(next_url or "dashboard")


@shop_required(role=Role.OWNER)
def shop_settings(request: HttpRequest) -> HttpResponse:
    form = ShopSettingsForm(request.POST or None, instance=request.shop, prefix="shop")
    if request.method == "POST" and form.is_valid():
        form.save()
        if form.changed_data:
            changed = list(form.changed_data)
            audit_record(
                shop=request.shop,
                action=AuditAction.SETTINGS_CHANGED,
                actor=request.user,
                details={"fields": changed},
                request=request,
            )
            transaction.on_commit(
                lambda: shop_settings_changed.send(sender=Shop, shop_id=request.shop.pk, fields=changed)
            )
        messages.success(request, _("Shop settings saved."))
        return redirect("shop_settings")
    return render(
        request,
        "shops/settings.html",
        {
            "form": form,
            "member_form": MemberAddForm(prefix="member"),
            "members": selectors.shop_members(shop=request.shop),
            "invitations": selectors.shop_invitations(shop=request.shop),
            "api_key_form": ApiKeyCreateForm(prefix="key"),
            "api_keys": selectors.api_keys_for_shop(shop=request.shop),
        },
    )


@shop_required(role=Role.OWNER)
@require_POST
def member_add(request: HttpRequest) -> HttpResponse:
    """Invite an email address; the answer is the same whether the address has an account or not."""
    form = MemberAddForm(request.POST, prefix="member")
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.member_invite(shop=request.shop, email=data["email"], role=data["role"], invited_by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _(
                    "Saved: %(email)s gets the role %(role)s the next time they log in, or when they sign up, "
                    "with this address. Current members get it at once."
                )
                % {"email": data["email"], "role": Role(data["role"]).label},
            )
    else:
        messages.error(request, _("Enter a valid email and role."))
    return redirect("shop_settings")


@shop_required(role=Role.OWNER)
@require_POST
def invitation_cancel(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, shop=request.shop)
    services.invitation_cancel(invitation=invitation)
    messages.success(request, _("Invitation cancelled."))
    return redirect("shop_settings")


@shop_required(role=Role.OWNER)
@require_POST
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=membership_id, shop=request.shop)
    try:
        services.membership_remove(membership=membership)
        messages.success(request, _("Member removed."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("shop_settings")


@shop_required(role=Role.OWNER)
@require_POST
def api_key_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST, prefix="key")
    if not form.is_valid():
        messages.error(request, _("Give the key a name."))
        return redirect("shop_settings")
    issued = services.api_key_create(shop=request.shop, name=form.cleaned_data["name"], created_by=request.user)
    audit_record(
        shop=request.shop,
        action=AuditAction.API_KEY_CREATED,
        actor=request.user,
        target=("api_key", issued.api_key.pk),
        request=request,
    )
    # The raw key is rendered once, in this response, and never stored.
    return render(request, "shops/api_key_created.html", {"issued": issued})


@shop_required(role=Role.OWNER)
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey.objects.for_shop(request.shop), pk=key_id)
    services.api_key_revoke(api_key=api_key)
    audit_record(
        shop=request.shop,
        action=AuditAction.API_KEY_REVOKED,
        actor=request.user,
        target=("api_key", api_key.pk),
        request=request,
    )
    messages.success(request, _("API key “%(name)s” revoked.") % {"name": api_key.name})
    return redirect("shop_settings")


AUDIT_PAGE_SIZE = 50


@shop_required(role=Role.OWNER)
def audit_log(request: HttpRequest) -> HttpResponse:
    """The shop's audit log, newest first, filtered by action, 50 to a page (owner only)."""
    action = request.GET.get("action", "")
    if action not in AuditAction.values:
        action = ""
    events = audit_events_for_shop(shop=request.shop, action=action)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "action": action, "actions": AuditAction.choices}
    template = "shops/audit_log_rows.html" if request.htmx else "shops/audit_log.html"
    return render(request, template, context)


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
