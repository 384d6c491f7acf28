"""The wall between shops, checked by walking the URLconf.

Every URL that takes an object id is requested by the owner of `shop` (session) and, for
/api/v1/, with an API key of `shop`, for a row that belongs to `other_shop`, with GET, POST,
PUT, PATCH and DELETE: the answer must be 404 (or 405 for a method the URL does not serve),
the row must not change, and the same URL with the shop's own row must be served. A new URL
with a kwarg this file does not know fails `test_every_url_with_an_id_is_covered`, so a new
endpoint cannot skip the wall: add its kwarg to KWARG_WALLS (or its router basename to
ROUTER_WALLS), or its name to PUBLIC_PAGES if it really is public.

The second half checks that every shop page is gated by shops.decorators.shop_required
and every API view by shops.api_auth.IsShopMember inside ShopScopedAPIMixin, unless it is
on the explicit public list.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from analytics.models import AnalysisRun, AssociationRule, Forecast, RunStatus
from customers.integrations.shopify import DATA_REQUEST_TOPIC
from customers.models import ImportJob, ImportKind, Platform, PlatformConnection, WebhookEvent
from shops.api import ShopScopedAPIMixin
from shops.api_auth import IsShopMember
from shops.models import Invitation, Shop
from tests.factories import (
    ApiKeyFactory,
    CustomerFactory,
    MembershipFactory,
    OrderFactory,
    ProductFactory,
)

API_PREFIX = "api/v1/"
GUARD_KEY = "sk_guard_test_key_0000000000000000000000000000"
METHODS = ["get", "post", "put", "patch", "delete"]


@dataclass(frozen=True)
class Wall:
    """How to fill one URL kwarg with a row of a given shop, and what that row must not leak."""

    make: Callable[[Shop], models.Model]
    value: Callable[[models.Model], object] = attrgetter("pk")
    # True when the kwarg names something inside the caller's own shop (a platform, not an
    # id): another shop's value is then served, for the caller's own shop, so it is not a 404;
    # the wall is that nothing of the other shop's row shows or changes.
    within_shop: bool = False
    # Text of the row that its own shop's page shows and no other shop's page may show.
    marker: Callable[[models.Model], str] | None = None


def _data_request(shop: Shop) -> WebhookEvent:
    return WebhookEvent.unscoped.create(
        shop=shop,
        platform=Platform.SHOPIFY,
        event_id=f"dr-{uuid.uuid4().hex}",
        topic=DATA_REQUEST_TOPIC,
        payload={"customer": {"id": 4242, "email": f"asker@{shop.slug}.example"}},
    )


def _connection(shop: Shop) -> PlatformConnection:
    return PlatformConnection.unscoped.create(
        shop=shop,
        platform=Platform.SHOPIFY,
        store_url=f"https://{shop.slug}-guard-store.example",
        access_token=f"shpat_{shop.slug}_guard_secret",
        webhook_secret=f"whsec_{shop.slug}_guard_secret",
    )


def _import_job(shop: Shop) -> ImportJob:
    path = Path(settings.MEDIA_ROOT) / "imports" / str(shop.pk) / f"{uuid.uuid4().hex}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("order_id,email,date,total\nA1,a@example.org,2026-01-02,9.90\n")
    return ImportJob.unscoped.create(
        shop=shop, kind=ImportKind.ORDERS, filename=f"{shop.slug}-guard-orders.csv", file_path=str(path)
    )


def _analysis_run(shop: Shop) -> AnalysisRun:
    return AnalysisRun.unscoped.create(shop=shop, status=RunStatus.DONE, trigger="test")


# Analysis results are read from the shop's current run; the campaigns tests' helpers make one.
def _current_run(shop: Shop) -> AnalysisRun:
    from tests.campaigns.factories import current_run

    return current_run(shop)


def _segment(shop: Shop) -> models.Model:
    from tests.campaigns.factories import SegmentFactory

    return SegmentFactory(shop=shop)


def _rule(shop: Shop) -> AssociationRule:
    return AssociationRule.unscoped.create(
        shop=shop,
        run=_current_run(shop),
        level="product",
        antecedents=["1"],
        consequent="2",
        support=0.1,
        confidence=0.5,
        lift=2.0,
        leverage=0.05,
    )


def _forecast(shop: Shop) -> Forecast:
    return Forecast.unscoped.create(shop=shop, run=_current_run(shop), metric="revenue", freq="W", model_name="test")


def _scored_customer(shop: Shop) -> models.Model:
    from tests.campaigns.factories import score

    customer = CustomerFactory(shop=shop)
    score(shop, customer)
    return customer


def _campaign(shop: Shop) -> models.Model:
    from tests.campaigns.factories import CampaignFactory

    return CampaignFactory(shop=shop)


def _merge(shop: Shop) -> models.Model:
    from customers.merging import customer_merge

    return customer_merge(shop=shop, survivor=CustomerFactory(shop=shop), other=CustomerFactory(shop=shop))


# kwarg name of a shop page or API URL -> how to make a row for it in a shop
KWARG_WALLS: dict[str, Wall] = {
    "membership_id": Wall(lambda shop: MembershipFactory(shop=shop, role="staff")),
    "invitation_id": Wall(lambda shop: Invitation.objects.create(shop=shop, email=f"{uuid.uuid4().hex}@example.org")),
    "key_id": Wall(lambda shop: ApiKeyFactory(shop=shop)),
    "event_id": Wall(_data_request),
    "job_id": Wall(_import_job, marker=attrgetter("filename")),
    "run_id": Wall(_analysis_run),
    "segment_id": Wall(_segment),
    "customer_id": Wall(lambda shop: CustomerFactory(shop=shop), marker=attrgetter("email")),
    "campaign_id": Wall(_campaign),
    "merge_id": Wall(_merge),
    "platform": Wall(_connection, value=attrgetter("platform"), within_shop=True, marker=attrgetter("store_url")),
}
# DRF router routes take `pk`; the route name "<basename>-<action>" says which model
ROUTER_WALLS: dict[str, Wall] = {
    "customer": Wall(lambda shop: CustomerFactory(shop=shop)),
    "product": Wall(lambda shop: ProductFactory(shop=shop)),
    "order": Wall(lambda shop: OrderFactory(shop=shop, customer=CustomerFactory(shop=shop))),
    "segment": Wall(_segment),
    "rule": Wall(_rule),
    "forecast": Wall(_forecast),
    "analysis-run": Wall(_analysis_run),
    "campaign": Wall(_campaign),
}
# URL name -> kwarg -> wall, for URLs whose own-shop row needs more than the kwarg's default
NAME_WALLS: dict[str, dict[str, Wall]] = {
    "customer-profile": {"pk": Wall(_scored_customer)},  # a profile exists once a run scored the customer
}
# kwargs that are not object ids, with a value that names something that exists
NON_ID_KWARGS = {"format"}
# The import example files are named by kind and preset: the same files for every shop.
NON_ID_SAMPLES = {"kind": "orders", "preset": "generic"}
NON_ID_KWARGS |= set(NON_ID_SAMPLES)

# Pages anyone (or any logged-in user without a shop) may open, by URL name.
PUBLIC_PAGES = {
    "signup",
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "set_language",
    "shop_create",
    "shop_switch",
    # Named by shop slug and public by design: webhooks prove themselves with the connection's
    # signing secret, the preference survey is a form for the shop's customers.
    "shopify_webhook",
    "woocommerce_webhook",
    "survey",
    "survey_embed",
    # Named by a signed per-recipient token, opened from an email by someone who is not logged in.
    "campaign_unsubscribe",
    "campaign_open",
    "campaign_click",
}
PUBLIC_API = {"api-schema", "api-docs", "api-redoc", "api-root"}
# Whole URL subtrees outside the shop wall: the admin runs unscoped, for superusers only.
EXCLUDED_PREFIXES = ("admin/",)


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    kwargs: tuple[str, ...]
    callback: Callable

    @property
    def is_api(self) -> bool:
        return self.route.startswith(API_PREFIX)

    @property
    def basename(self) -> str:
        return self.name.rsplit("-", 1)[0]

    @property
    def id_kwargs(self) -> tuple[str, ...]:
        return tuple(k for k in self.kwargs if k not in NON_ID_KWARGS)

    def __str__(self) -> str:
        return f"{self.name} ({self.route})"


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "", kwargs: tuple = ()) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        here = kwargs + tuple(entry.pattern.regex.groupindex)
        route = prefix + str(entry.pattern).lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, route, inner, here)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else ""
            yield Route(name=name, route=route, kwargs=here, callback=entry.callback)


def _routes() -> list[Route]:
    return [r for r in _walk(get_resolver()) if not r.route.startswith(EXCLUDED_PREFIXES)]


ROUTES = _routes()
ID_ROUTES = [r for r in ROUTES if r.id_kwargs and r.name not in PUBLIC_PAGES]
API_LIST_ROUTES = [r for r in ROUTES if r.is_api and r.name.endswith("-list") and "format" not in r.kwargs]


def _view_class(callback: Callable):
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def _format_suffix_bug(route: Route) -> str | None:
    """A router format-suffix URL whose view method cannot take the `format` kwarg it passes (a 500).

    Reported as a bug; the route's guard test is xfail until the method accepts format= or **kwargs.
    """
    view_class = _view_class(route.callback)
    if "format" not in route.kwargs or view_class is None:
        return None
    actions = getattr(route.callback, "actions", None) or {m: m for m in METHODS}
    broken = []
    for action in sorted(set(actions.values())):
        handler = getattr(view_class, action, None)
        if handler is None:
            continue
        params = inspect.signature(handler).parameters
        if "format" not in params and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            broken.append(f"{view_class.__module__}.{view_class.__name__}.{action}")
    if not broken:
        return None
    return (
        f"BUG: {', '.join(broken)} accept neither format= nor **kwargs, so the router's format-suffix URL "
        f"{route.route} raises TypeError (500). Accept **kwargs, or set router.include_format_suffixes = False "
        "in config/api_urls.py."
    )


def _with_known_bugs(routes: list[Route]) -> list:
    return [
        pytest.param(r, marks=pytest.mark.xfail(strict=True, raises=TypeError, reason=_format_suffix_bug(r)))
        if _format_suffix_bug(r)
        else r
        for r in routes
    ]


def _wall_for(route: Route, kwarg: str) -> Wall | None:
    if kwarg in NAME_WALLS.get(route.name, {}):
        return NAME_WALLS[route.name][kwarg]
    if kwarg == "pk" and route.is_api:
        return ROUTER_WALLS.get(route.basename)
    return KWARG_WALLS.get(kwarg)


def _url_for(route: Route, shop: Shop) -> tuple[str, list[tuple[Wall, models.Model]]]:
    """The route's URL filled with new rows of `shop`, and those rows."""
    rows = {kwarg: (_wall_for(route, kwarg), _wall_for(route, kwarg).make(shop)) for kwarg in route.id_kwargs}
    kwargs = {kwarg: wall.value(row) for kwarg, (wall, row) in rows.items()}
    if "format" in route.kwargs:
        kwargs["format"] = "json"
    return reverse(route.name, kwargs=kwargs), list(rows.values())


def _snapshot(row: models.Model) -> dict:
    return type(row)._base_manager.filter(pk=row.pk).values().get()


def _send(client: Client, method: str, url: str):
    return getattr(client, method)(url, data={}, content_type="application/json")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def callers(owner_client, shop) -> dict[str, Client]:
    ApiKeyFactory(shop=shop, raw=GUARD_KEY)
    return {"owner session": owner_client, "API key": Client(HTTP_AUTHORIZATION=f"Bearer {GUARD_KEY}")}


# --- the walk finds what it should ---------------------------------------------------


def test_the_walk_finds_the_known_id_urls():
    names = {r.name for r in ID_ROUTES}

    assert {"member_remove", "api_key_revoke", "customer-detail", "product-detail", "order-detail"} <= names


def test_every_url_with_an_id_is_covered():
    missing = [
        f"{route}: kwarg {kwarg!r}"
        for route in ID_ROUTES
        for kwarg in route.id_kwargs
        if _wall_for(route, kwarg) is None
    ]

    assert not missing, (
        "These URLs take a kwarg the guard cannot fill; add it to KWARG_WALLS (or the router "
        "basename to ROUTER_WALLS) in tests/isolation/test_url_guard.py:\n" + "\n".join(missing)
    )


def test_every_api_list_is_covered():
    missing = [str(r) for r in API_LIST_ROUTES if r.basename not in ROUTER_WALLS]

    assert not missing, "Add these router basenames to ROUTER_WALLS:\n" + "\n".join(missing)


# --- another shop's ids are 404 --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("route", _with_known_bugs(ID_ROUTES), ids=str)
def test_another_shops_row_is_out_of_reach(route, shop, other_shop, callers):
    if any(_wall_for(route, k) is None for k in route.id_kwargs):
        pytest.fail(f"{route} is not covered; see test_every_url_with_an_id_is_covered")
    url, foreign = _url_for(route, other_shop)
    before = [_snapshot(row) for _wall, row in foreign]
    markers = [wall.marker(row) for wall, row in foreign if wall.marker]
    must_404 = any(not wall.within_shop for wall, _row in foreign)
    who = callers if route.is_api else {"owner session": callers["owner session"]}

    for caller, client in who.items():
        responses = {method: _send(client, method, url) for method in METHODS}
        statuses = {method: r.status_code for method, r in responses.items()}
        for method, response in responses.items():
            body = response.content.decode(errors="replace")
            assert not any(m in body for m in markers), f"{caller} {method.upper()} {url} shows another shop's row"
        if must_404:
            assert set(statuses.values()) <= {404, 405}, f"{caller} reached {url}: {statuses}"
            assert 404 in statuses.values(), f"{caller}: no method of {url} is served, cannot prove the wall"
        else:
            assert max(statuses.values()) < 500, f"{caller} {url}: {statuses}"
    assert [_snapshot(row) for _wall, row in foreign] == before, "another shop's row changed"

    # Control: the same URL with the shop's own row is served, so what the wall refused above
    # was refused because of the shop, not because the URL is broken.
    client = next(iter(who.values()))
    own_url, own = _url_for(route, shop)
    if must_404:
        method = next(m for m, status in statuses.items() if status == 404)
        response = _send(client, method, own_url)
        assert response.status_code != 404 and response.status_code < 500, (own_url, method, response.status_code)
    elif statuses["get"] != 405:
        response = client.get(own_url)
        assert response.status_code == 200, (own_url, response.status_code)
        body = response.content.decode()
        assert all(wall.marker(row) in body for wall, row in own if wall.marker), own_url


@pytest.mark.django_db
@pytest.mark.parametrize("route", API_LIST_ROUTES, ids=str)
def test_api_lists_leave_out_another_shops_rows(route, shop, other_shop, callers):
    if route.basename not in ROUTER_WALLS:
        pytest.fail(f"{route} is not covered; see test_every_api_list_is_covered")
    own = ROUTER_WALLS[route.basename].make(shop)
    foreign = ROUTER_WALLS[route.basename].make(other_shop)

    for caller, client in callers.items():
        response = client.get(reverse(route.name))
        assert response.status_code == 200, caller
        ids = {row["id"] for row in response.json()["results"]}
        assert own.pk in ids, caller
        assert foreign.pk not in ids, caller


# --- every shop page and endpoint is gated -------------------------------------------


def test_every_shop_page_is_gated_by_shop_required():
    ungated = [
        str(r)
        for r in ROUTES
        if not r.is_api and r.name not in PUBLIC_PAGES and not hasattr(r.callback, "shop_gate_role")
    ]

    assert not ungated, (
        "Wrap these views in shops.decorators.shop_required, or add them to PUBLIC_PAGES if they "
        "really are public:\n" + "\n".join(ungated)
    )


def _permission_classes(callback: Callable) -> list:
    initkwargs = getattr(callback, "initkwargs", None) or getattr(callback, "view_initkwargs", None) or {}
    return list(initkwargs.get("permission_classes", _view_class(callback).permission_classes))


def test_every_api_endpoint_needs_a_shop_member_and_runs_in_its_scope():
    ungated = []
    for route in ROUTES:
        if not route.is_api or route.name in PUBLIC_API:
            continue
        view_class = _view_class(route.callback)
        if (
            view_class is None
            or not issubclass(view_class, ShopScopedAPIMixin)
            or not any(issubclass(p, IsShopMember) for p in _permission_classes(route.callback))
        ):
            ungated.append(str(route))

    assert not ungated, (
        "API views must subclass shops.api.ShopScopedAPIMixin and keep IsShopMember in "
        "permission_classes (or be listed in PUBLIC_API):\n" + "\n".join(ungated)
    )


def test_the_public_lists_name_urls_that_exist():
    names = {r.name for r in ROUTES}

    assert (PUBLIC_PAGES | PUBLIC_API) - names == set()


@pytest.mark.django_db
def test_gated_pages_send_anonymous_visitors_to_login(client):
    gated = [r for r in ROUTES if not r.is_api and hasattr(r.callback, "shop_gate_role") and not r.id_kwargs]
    assert gated

    for route in gated:
        response = client.get(reverse(route.name, kwargs={k: NON_ID_SAMPLES[k] for k in route.kwargs}))
        assert response.status_code == 302, route
        assert response["Location"].startswith(reverse("login")), route


# --- the scope does not outlive a request ------------------------------------------------


@pytest.fixture
def _restore_scope():
    """Undo a leaked scope after the test, so a regression of the test below cannot spill into other tests."""
    from shops import scope

    token = scope._current_shop.set(None)
    yield
    scope._current_shop.reset(token)


@pytest.mark.django_db
def test_a_failing_api_request_does_not_leave_its_shop_in_scope(monkeypatch, callers, _restore_scope):
    from customers.api import CustomerViewSet
    from shops.scope import current_shop

    def explode(self, shop):
        raise RuntimeError("boom")

    monkeypatch.setattr(CustomerViewSet, "get_shop_queryset", explode)

    with pytest.raises(RuntimeError, match="boom"):
        callers["API key"].get("/api/v1/customers/")

    assert current_shop() is None
