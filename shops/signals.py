"""Signals shops sends; the apps to its right listen (shops knows none of them).

shop_settings_changed(sender, shop_id: int, fields: list[str]) is sent after the owner saved
the shop's settings and the transaction committed; `fields` are the names that changed.
"""

from django.dispatch import Signal

shop_settings_changed = Signal()
