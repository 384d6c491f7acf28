"""What customers does when the apps to its left tell it something (connected in CustomersConfig.ready)."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from customers.models import ImportJob, ImportStatus
from shops.audit import audit_record
from shops.models import AuditAction
from shops.signals import shop_settings_changed

PHONE_SETTINGS = {"phone_region", "match_by_phone"}


@receiver(shop_settings_changed, dispatch_uid="customers.phone_keys_on_settings")
def phone_keys_on_settings(sender, *, shop_id: int, fields: list[str], **kwargs) -> None:
    """The stored phone keys were read with the old phone country: read them again, in the background."""
    if PHONE_SETTINGS & set(fields):
        from customers.tasks import refresh_phone_keys

        refresh_phone_keys.delay(shop_id)


IMPORT_ENDINGS = {ImportStatus.DONE, ImportStatus.REJECTED, ImportStatus.FAILED}


@receiver(post_save, sender=ImportJob, dispatch_uid="customers.audit_import_finished")
def audit_import_finished(sender, *, instance: ImportJob, update_fields=None, **kwargs) -> None:
    """An import job saved with its final status goes to the audit log: kind, status and row counts.

    The importer ends every job with one save(update_fields=[..., "status", ...]); earlier saves
    of the job (upload, mapping, queueing) do not name a final status and are not recorded.
    """
    if not update_fields or "status" not in update_fields or instance.status not in IMPORT_ENDINGS:
        return
    audit_record(
        shop=instance.shop,
        action=AuditAction.IMPORT,
        actor=instance.created_by,
        target=("import", instance.pk),
        details={
            "kind": instance.kind,
            "status": instance.status,
            "rows_read": instance.rows_total,
            "rows_imported": instance.rows_done,
            "dry_run": bool((instance.options or {}).get("dry_run")),
        },
    )
