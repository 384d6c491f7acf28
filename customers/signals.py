"""Signals customers sends; other apps listen (customers does not know who reads its facts).

data_changed(sender, shop_id: int, reason: str) is sent after an import, a sync or a batch
of webhook events has been committed, with reason in {"import", "sync", "webhook", "api"}
(and "merge" / "merge_undo" after a merge or its undo).

customer_merged(sender, shop, survivor, merge, former_emails: list[str]) is sent inside the
merge's transaction, after the rows have moved and the survivor's fields are merged.
`former_emails` are the addresses the person had before (both customers') that the survivor
no longer carries. A receiver may return {"app.Model.created": [ids]} for rows it wrote; the
merge records them in `merge.moved`, so its undo can remove them.

customer_merge_undone(sender, shop, survivor, restored, merge) is sent inside the undo's
transaction, once the merged customer is back; receivers remove what they recorded.

customers_erased(sender, shop, customer_ids: list[int], emails: list[str], phones: list[str],
names: list[str]) is sent inside the erasure's transaction, after the rows are blanked. It
carries what identified the people before (email keys, phone numbers as written and in E.164,
full names), current and former, so that receivers can find and remove their copies
(campaign recipients and suppressions, derived scores); nothing of it may be stored.

customer_data_collect(sender, shop, customer_ids: list[int]) is sent for a privacy data
request's export; a receiver returns {"section name": JSON-ready data} about these customers,
added to the export.
"""

from django.dispatch import Signal

data_changed = Signal()
customer_merged = Signal()
customer_merge_undone = Signal()
customers_erased = Signal()
customer_data_collect = Signal()
