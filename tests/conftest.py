"""Shared fixtures: every page and endpoint test has an owner, a staff member, a viewer and a stranger."""

from __future__ import annotations

import copy
import os
import uuid
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import CustomerFactory, MembershipFactory, OrderFactory, ShopFactory

SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _celery_eager(settings):
    """Tasks run in-process unless a test starts a real worker (tests/test_worker.py)."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _empty_cache(settings):
    """Each test starts with an empty cache: a key prefix of its own (ids repeat between tests on
    SQLite, and in CI the Redis database also holds Celery's queues, so it is never flushed)."""
    caches = copy.deepcopy(settings.CACHES)
    for conf in caches.values():
        conf["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def _no_analysis_autorun(settings):
    """A data change would start a whole analysis run; tests that want it turn it back on."""
    settings.ANALYTICS_AUTORUN = False


@pytest.fixture
def shop(db):
    return ShopFactory(name="Alpha Coffee", slug="alpha")


@pytest.fixture
def other_shop(db):
    return ShopFactory(name="Beta Tea", slug="beta")


def _member(shop, role):
    return MembershipFactory(shop=shop, role=role).user


@pytest.fixture
def owner(shop):
    return _member(shop, "owner")


@pytest.fixture
def staff(shop):
    return _member(shop, "staff")


@pytest.fixture
def viewer(shop):
    return _member(shop, "viewer")


@pytest.fixture
def stranger(other_shop):
    """Owner of another shop: logged in, a member of something, but not of `shop`."""
    return _member(other_shop, "owner")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend="shops.auth.EmailOrUsernameBackend")
    return client


@pytest.fixture
def owner_client(owner):
    return _client_for(owner)


@pytest.fixture
def staff_client(staff):
    return _client_for(staff)


@pytest.fixture
def viewer_client(viewer):
    return _client_for(viewer)


@pytest.fixture
def stranger_client(stranger):
    return _client_for(stranger)


@pytest.fixture
def client_for():
    return _client_for


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data sets not found at {SHARED_DATA} (CI has them beside the checkout)")
    return SHARED_DATA


@pytest.fixture
def customer(shop):
    return CustomerFactory(shop=shop)


@pytest.fixture
def order(shop, customer):
    return OrderFactory(shop=shop, customer=customer)
