"""Forms of the import pages: the upload, and the column mapping confirmed on the preview."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.importers import readers
from customers.importers.presets import (
    CUSTOM,
    DATE,
    FIELDS_BY_KIND,
    GENERIC,
    KIND_PRESETS,
    PRESET_CHOICES,
    REQUIRED_BY_KIND,
    required_fields,
)
from customers.models import ImportKind

ALLOWED_ENDINGS = (".csv", ".txt", ".tsv", ".csv.gz", ".csv.xz", ".csv.bz2", ".zip", ".gz", ".xz", ".bz2")
DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024


def max_upload_bytes() -> int:
    """The upload limit: settings.IMPORT_MAX_UPLOAD_BYTES, 200 MB by default."""
    return int(getattr(settings, "IMPORT_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


PLAIN_ENDINGS = (".csv", ".txt", ".tsv")
MAX_FILES = 2


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A FileField taking several files, as Django documents it: cleans to a list of uploads."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single_file_clean = super().clean
        if isinstance(data, list | tuple) and data:
            return [single_file_clean(item, initial) for item in data]
        return [single_file_clean(data, initial)]


def layout_choices() -> list[tuple[str, str]]:
    """PRESET_CHOICES, then every registered preset they do not name (by its label), then
    "custom" last: a preset registered in presets.KIND_PRESETS can be chosen without more."""
    listed = [(key, label) for key, label in PRESET_CHOICES if key != CUSTOM]
    keys = {key for key, _label in listed}
    for presets in KIND_PRESETS.values():
        for key, preset in presets.items():
            if key not in keys:
                listed.append((key, preset.label))
                keys.add(key)
    return [*listed, *((key, label) for key, label in PRESET_CHOICES if key == CUSTOM)]


class ImportUploadForm(forms.Form):
    file = MultipleFileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "A .csv file, or one compressed as .gz, .xz, .bz2 or .zip; at most 200 MB. An export that comes "
            "as two reports (Taobao's order report and item report) is uploaded as two .csv files at once."
        ),
    )
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"), choices=ImportKind.choices)
    preset = forms.ChoiceField(
        label=gettext_lazy("Layout"),
        choices=layout_choices,
        initial=GENERIC,
        help_text=gettext_lazy(
            "Leave Generic if unsure: the layout is recognised from the file's header after the upload."
        ),
    )
    allow_partial = forms.BooleanField(
        label=gettext_lazy("Import the good rows even when some rows are rejected"), required=False
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Dry run: check and count everything, keep nothing"), required=False
    )

    def clean_file(self):
        uploads = self.cleaned_data["file"]
        if len(uploads) > MAX_FILES:
            raise forms.ValidationError(
                _("Upload one file, or two files of one export (such as an order report and its item report).")
            )
        for upload in uploads:
            name = (upload.name or "").lower()
            if not name.endswith(ALLOWED_ENDINGS):
                raise forms.ValidationError(_("Upload a .csv file (it may be compressed as .gz, .xz, .bz2 or .zip)."))
            if len(uploads) > 1 and not name.endswith(PLAIN_ENDINGS):
                raise forms.ValidationError(_("Two files are uploaded as they are: two .csv files, not compressed."))
        if sum(upload.size for upload in uploads) > max_upload_bytes():
            raise forms.ValidationError(
                _("The file is larger than %(mb)d MB.") % {"mb": max_upload_bytes() // (1024 * 1024)}
            )
        return uploads

    def clean(self):
        data = super().clean()
        kind, preset = data.get("kind"), data.get("preset")
        if kind and preset and preset != CUSTOM and preset not in KIND_PRESETS[kind]:
            choices = ", ".join(str(p.label) for p in KIND_PRESETS[kind].values())
            self.add_error(
                "preset",
                _("This layout is not one for %(kind)s; choose one of: %(layouts)s, or a custom mapping.")
                % {"kind": str(ImportKind(kind).label).lower(), "layouts": choices},
            )
        return data


DATE_CHOICES = [
    ("", gettext_lazy("As detected")),
    (readers.DATE_DAY_FIRST, gettext_lazy("Day first (31/12/2024)")),
    (readers.DATE_MONTH_FIRST, gettext_lazy("Month first (12/31/2024)")),
    (readers.DATE_ISO, gettext_lazy("Year first (2024-12-31)")),
]


class ImportMappingForm(forms.Form):
    """One select per field (which column holds it), a format choice per date field, and the
    options. Refuses a mapping without the kind's required fields."""

    allow_partial = forms.BooleanField(
        label=gettext_lazy("Import the good rows even when some rows are rejected"), required=False
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Dry run: check and count everything, keep nothing"), required=False
    )

    def __init__(self, *args, kind: str, columns: list[str], mapping: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        required = required_fields(kind)
        column_choices = [("", _("— not in the file —")), *((c, c) for c in columns)]
        self.mapping_names = []
        self.date_names = []
        for name, spec in FIELDS_BY_KIND[kind].items():
            field_name = f"map_{name}"
            label = f"{spec.label} *" if name in required else str(spec.label)
            self.fields[field_name] = forms.ChoiceField(
                label=label, choices=column_choices, required=False, initial=mapping.get(name, "")
            )
            self.fields[field_name].is_required_field = name in required
            self.mapping_names.append((name, field_name))
            if spec.type == DATE:
                self.fields[f"date_{name}"] = forms.ChoiceField(
                    label=_("How “%(field)s” is written") % {"field": spec.label}, choices=DATE_CHOICES, required=False
                )
                self.fields[f"date_format_{name}"] = forms.CharField(
                    label=_("or a format such as %d.%m.%Y %H:%M"), required=False, max_length=40
                )
                self.date_names.append(name)

    def clean(self):
        data = super().clean()
        mapped = {name for name, field_name in self.mapping_names if data.get(field_name)}
        for group in REQUIRED_BY_KIND[self.kind]:
            if not mapped.intersection(group):
                labels = " / ".join(str(FIELDS_BY_KIND[self.kind][n].label) for n in group)
                self.add_error(f"map_{group[0]}", _("Choose the column for %(field)s.") % {"field": labels})
        for name in self.date_names:
            fmt = data.get(f"date_format_{name}", "")
            if fmt and "%" not in fmt:
                self.add_error(f"date_format_{name}", _("A format uses codes such as %d, %m, %Y, %H and %M."))
        return data

    def mapping(self) -> dict[str, str]:
        return {name: self.cleaned_data[f] for name, f in self.mapping_names if self.cleaned_data.get(f)}

    def date_formats(self) -> dict[str, str]:
        formats = {}
        for name in self.date_names:
            value = self.cleaned_data.get(f"date_format_{name}") or self.cleaned_data.get(f"date_{name}") or ""
            if value:
                formats[name] = value
        return formats

    def mapping_rows(self):
        """(bound select, is required, is a date field) per field, for the template."""
        return [(self[f], self.fields[f].is_required_field, name in self.date_names) for name, f in self.mapping_names]

    def date_rows(self):
        return [(name, self[f"date_{name}"], self[f"date_format_{name}"]) for name in self.date_names]
