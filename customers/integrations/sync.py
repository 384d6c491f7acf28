"""Pull sync: fetch what changed on the platform since the cursor, page by page, and upsert it.

Each page is applied in its own transaction together with the cursor move, so a run
that fails halfway resumes after the last committed page. The cursor only moves
within a run while the platform returns pages in updated-at order (checked, not
assumed); otherwise it moves once, at the end of the complete run. Every query
starts SYNC_OVERLAP before the cursor, so ties and clock skew are re-read
(unchanged rows are not written).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from customers import services as customer_services
from customers.integrations.common import PlatformError
from customers.integrations.services import counts_changed, platform_module, platform_records_apply
from customers.integrations.shopify import ShopifyClient
from customers.integrations.woocommerce import WooCommerceClient
from customers.models import Platform, PlatformConnection, SyncRun
from shops.audit import audit_record
from shops.models import AuditAction

logger = logging.getLogger(__name__)

SYNC_OVERLAP = dt.timedelta(minutes=10)
# A run not finished after this long is taken for dead (worker killed) and no longer blocks a new one.
RUN_TIMEOUT = dt.timedelta(minutes=30)


def client_for(connection: PlatformConnection) -> Any:
    cls = ShopifyClient if connection.platform == Platform.SHOPIFY else WooCommerceClient
    return cls(store_url=connection.store_url, access_token=connection.access_token)


def _run_start(connection: PlatformConnection) -> SyncRun | None:
    with transaction.atomic():
        PlatformConnection.unscoped.select_for_update().filter(pk=connection.pk).first()
        running = SyncRun.unscoped.filter(
            connection=connection, finished_at__isnull=True, started_at__gte=timezone.now() - RUN_TIMEOUT
        ).exists()
        if running:
            return None
        return SyncRun.unscoped.create(shop=connection.shop, connection=connection)


def connection_sync(*, connection: PlatformConnection, client: Any = None) -> SyncRun | None:
    """Pull customers, then orders, changed since the cursors; returns the SyncRun (None if one is running).

    The report has counts per kind (created, updated, unchanged, stale), pages and
    rows fetched. A failure is recorded on the run and the connection (last_error),
    not raised; what was committed before it stays, with its cursor.
    """
    run = _run_start(connection)
    if run is None:
        return None
    shop = connection.shop
    module = platform_module(connection.platform)
    client = client or client_for(connection)
    report: dict[str, Any] = {"pages": 0, "fetched": {"customers": 0, "orders": 0}, "counts": {}}
    changed, error = False, ""
    try:
        for resource, cursor_field, fetch, to_records in (
            ("customers", "customers_cursor", client.customers_pages, module.records_from_customers),
            ("orders", "orders_cursor", client.orders_pages, module.records_from_orders),
        ):
            cursor = getattr(connection, cursor_field)
            in_order, newest = True, None
            for page in fetch(since=cursor - SYNC_OVERLAP if cursor else None):
                records = to_records(page)
                with transaction.atomic():
                    counts = platform_records_apply(shop=shop, records=records)
                    if records.stamps:
                        if newest is not None and min(records.stamps) < newest:
                            in_order = False
                        newest = max(records.stamps + ([newest] if newest else []))
                        if in_order and (cursor is None or newest > cursor):
                            cursor = newest
                            PlatformConnection.unscoped.filter(pk=connection.pk).update(**{cursor_field: cursor})
                report["pages"] += 1
                report["fetched"][resource] += len(page)
                _add_counts(report["counts"], counts)
                changed = changed or counts_changed(counts)
            if newest is not None and (cursor is None or newest > cursor):
                cursor = newest
                PlatformConnection.unscoped.filter(pk=connection.pk).update(**{cursor_field: cursor})
            setattr(connection, cursor_field, cursor)
    except PlatformError as exc:
        error = str(exc)
    except Exception as exc:  # recorded for the owner; the task itself must not crash-loop
        logger.exception("sync of connection %s failed", connection.pk)
        error = f"{type(exc).__name__}: {exc}"
    now = timezone.now()
    SyncRun.unscoped.filter(pk=run.pk).update(finished_at=now, ok=not error, report=report, error=error[:2000])
    update: dict[str, Any] = {"last_error": error[:2000]}
    if not error:
        update["last_synced_at"] = now
    PlatformConnection.unscoped.filter(pk=connection.pk).update(**update)
    audit_record(
        shop=shop,
        action=AuditAction.SYNC,
        target=("connection", connection.pk),
        details={
            "platform": connection.platform,
            "ok": not error,
            "pages": report["pages"],
            "fetched": report["fetched"],
        },
    )
    if changed:
        customer_services.data_changed_on_commit(shop_id=shop.pk, reason="sync")
    run.refresh_from_db()
    return run


def _add_counts(total: dict[str, dict[str, int]], counts: dict[str, dict[str, int]]) -> None:
    for kind, values in counts.items():
        into = total.setdefault(kind, {})
        for key, value in values.items():
            into[key] = into.get(key, 0) + value
