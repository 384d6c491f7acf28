"""The shop scope: which shop the current code runs for.

The scoped manager (shops.models.ShopScopedManager) reads it and refuses to query when
no shop is in scope. It is a safety net, not the wall: views and selectors still filter
by shop explicitly. What it does NOT protect: raw SQL, `Model.unscoped`, forward
foreign-key access (`order.customer` uses the base manager) and the admin (which runs
inside `unscoped_access()` on purpose, for superusers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shops.models import Shop

_current_shop: ContextVar[Shop | None] = ContextVar("current_shop", default=None)
_bypass: ContextVar[bool] = ContextVar("shop_scope_bypass", default=False)


class ShopScopeError(RuntimeError):
    """A shop-owned model was queried with no shop in scope."""


def current_shop() -> Shop | None:
    return _current_shop.get()


def scope_bypassed() -> bool:
    return _bypass.get()


@contextlib.contextmanager
def shop_scope(shop: Shop) -> Iterator[Shop]:
    """Run the block with `shop` in scope; scoped managers filter by it."""
    if shop is None or shop.pk is None:
        raise ShopScopeError("shop_scope() needs a saved shop.")
    token = _current_shop.set(shop)
    try:
        yield shop
    finally:
        _current_shop.reset(token)


@contextlib.contextmanager
def unscoped_access() -> Iterator[None]:
    """Named escape hatch for cross-shop code: admin, migrations, maintenance commands."""
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


def enter_shop_scope(shop: Shop):
    """Set the scope without a with-block (middleware); returns the token for exit_shop_scope."""
    return _current_shop.set(shop)


def exit_shop_scope(token) -> None:
    _current_shop.reset(token)
