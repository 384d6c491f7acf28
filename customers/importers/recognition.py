"""Which registered layout a file is in, judged on its header (the upload page's proposal).

A preset with a `signature` is recognised when every one of its signature headers is in the
file (compared as presets.normalize_header does, so "Lineitem SKU" = "lineitem_sku"). A
generic preset has no signature: it is recognised, only when no signature matched, for a kind
whose generic column names cover every required field (a file in our own documented layout).
"""

from __future__ import annotations

from collections.abc import Mapping

from customers.importers.presets import GENERIC, KIND_PRESETS, Preset, normalize_header, resolve_mapping


def recognise_layout(
    columns: list[str], *, presets: Mapping[str, Mapping[str, Preset]] | None = None
) -> list[tuple[str, str]]:
    """(kind, preset key) of every layout the header fits, best first; [] when none fits.

    Presets whose signature headers are all present come first: the longer signature (more
    headers matched) wins, then the preset mapping more of the file's columns, then registry
    order. Generic layouts follow only when no signature matched, the one mapping more columns
    first. `presets` defaults to the registry (presets.KIND_PRESETS) as it is when called.
    """
    registry = KIND_PRESETS if presets is None else presets
    present = {normalize_header(column) for column in columns}
    signed: list[tuple[tuple[int, int, int], tuple[str, str]]] = []
    generic: list[tuple[tuple[int, int], tuple[str, str]]] = []
    order = 0
    for kind, kind_presets in registry.items():
        for key, preset in kind_presets.items():
            order += 1
            signature = {normalize_header(header) for header in preset.signature}
            if signature:
                if signature <= present:
                    mapped = len(resolve_mapping(columns, kind=kind, preset=preset).fields)
                    signed.append(((-len(signature), -mapped, order), (kind, key)))
            elif key == GENERIC:
                mapping = resolve_mapping(columns, kind=kind, preset=preset)
                if mapping.complete:
                    generic.append(((-len(mapping.fields), order), (kind, key)))
    if signed:
        return [layout for _rank, layout in sorted(signed)]
    return [layout for _rank, layout in sorted(generic)]
