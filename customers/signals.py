"""Signals customers sends; other apps listen (customers does not know who reads its facts).

data_changed(sender, shop_id: int, reason: str) is sent after an import, a sync or a batch
of webhook events has been committed, with reason in {"import", "sync", "webhook", "api"}.
"""

from django.dispatch import Signal

data_changed = Signal()
