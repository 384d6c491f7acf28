"""Import pages: list, upload (with the layouts and their example files), preview (mapping,
recognised layout) and the job page with its progress bar."""

from __future__ import annotations

import mimetypes

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from customers.importers import services
from customers.importers.forms import ImportMappingForm, ImportUploadForm
from customers.importers.presets import CUSTOM, FIELDS_BY_KIND, KIND_PRESETS, Preset, UnknownPreset, get_preset
from customers.models import ImportJob, ImportKind, ImportStatus
from shops.decorators import shop_required
from shops.models import Role

LIST_LIMIT = 50


def _job_for(request: HttpRequest, job_id: int) -> ImportJob:
    """The current shop's import job, or 404 (another shop's id looks the same as a missing one)."""
    return get_object_or_404(ImportJob.objects.for_shop(request.shop), pk=job_id)


@shop_required
def import_list(request: HttpRequest) -> HttpResponse:
    jobs = ImportJob.objects.for_shop(request.shop).order_by("-created_at", "-id")[:LIST_LIMIT]
    return render(
        request,
        "customers/import/list.html",
        {"jobs": jobs, "can_import": request.membership.has_role(Role.STAFF)},
    )


@shop_required(role=Role.STAFF)
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        job = services.import_job_create(
            shop=request.shop,
            user=request.user,
            upload=data["file"],
            kind=data["kind"],
            preset=data["preset"],
            allow_partial=data["allow_partial"],
            dry_run=data["dry_run"],
        )
        return redirect("import_preview", job_id=job.pk)
    return render(request, "customers/import/upload.html", {"form": form, "layouts": _layout_catalogue()})


def _layout_catalogue() -> list[tuple[str, list[tuple[Preset, str]]]]:
    """(kind label, [(preset, example URL or "")]) for every registered layout, for the upload page."""
    catalogue = []
    for kind, presets in KIND_PRESETS.items():
        rows = [
            (preset, reverse("import_example", args=[kind, key]) if preset.example else "")
            for key, preset in presets.items()
        ]
        catalogue.append((ImportKind(kind).label, rows))
    return catalogue


@shop_required
def import_example(request: HttpRequest, kind: str, preset: str) -> FileResponse:
    """A preset's example file as a download; 404 for a preset without one."""
    found = services.import_example_file(kind=kind, preset=preset)
    if found is None:
        raise Http404
    path, preset_obj = found
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type.startswith("text/"):
        content_type += f"; charset={preset_obj.encoding or 'utf-8'}"
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type=content_type)


@require_POST
@shop_required(role=Role.STAFF)
def import_layout(request: HttpRequest, job_id: int) -> HttpResponse:
    """Read the job's file with the layout posted (kind + preset), then show its preview again."""
    job = _job_for(request, job_id)
    try:
        services.import_job_set_layout(
            job=job, kind=request.POST.get("kind", ""), preset=request.POST.get("preset", "")
        )
    except UnknownPreset as exc:
        messages.error(request, str(exc))
    except ValueError:
        return redirect("import_job", job_id=job.pk)
    return redirect("import_preview", job_id=job.pk)


@shop_required(role=Role.STAFF)
def import_preview(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_for(request, job_id)
    if job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return redirect("import_job", job_id=job.pk)
    preview = services.import_preview(job=job)
    options = job.options or {}
    form = ImportMappingForm(
        request.POST or None,
        kind=job.kind,
        columns=preview.columns,
        mapping=preview.mapping.fields if preview.mapping else {},
        initial={"allow_partial": options.get("allow_partial"), "dry_run": options.get("dry_run")},
    )
    if request.method == "POST" and not preview.problems.get("") and form.is_valid():
        checked = services.import_preview(job=job, mapping=form.mapping(), date_formats=form.date_formats())
        for name, message in checked.problems.items():
            target = f"date_{name}" if name in form.date_names else (f"map_{name}" if name else None)
            form.add_error(target if target in form.fields else None, message)
        if not form.errors:
            services.import_job_start(
                job=job,
                mapping=form.mapping(),
                date_formats=form.date_formats(),
                allow_partial=form.cleaned_data["allow_partial"],
                dry_run=form.cleaned_data["dry_run"],
            )
            messages.success(request, _("The import has started."))
            return redirect("import_job", job_id=job.pk)
        preview = checked
    elif job.status == ImportStatus.UPLOADED and preview.mapping is not None and not preview.mapping.complete:
        job.status = ImportStatus.NEEDS_MAPPING
        job.save(update_fields=["status"])
    fields = FIELDS_BY_KIND[job.kind]
    column_fields = {column: str(fields[name].label) for column, name in preview.field_of_column.items()}
    return render(
        request,
        "customers/import/preview.html",
        {
            "job": job,
            "preview": preview,
            "form": form,
            "header": [(column, column_fields.get(column, "")) for column in preview.columns],
            "layout_note": services.import_layout_note(job=job),
            "layout_label": _layout_label(job),
            "delimiter_label": _delimiter_label(preview.delimiter),
            "dates": [
                (preview.mapping.fields.get(name, ""), detection)
                for name, detection in preview.dates.items()
                if preview.mapping
            ],
        },
    )


@shop_required
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job page; with HTMX only its status part, which polls itself every second until done."""
    job = _job_for(request, job_id)
    template = "customers/import/_job_status.html" if request.htmx else "customers/import/job.html"
    return render(request, template, {"job": job, "report": job.report or {}, "running": _running(job)})


def _layout_label(job: ImportJob) -> str:
    if job.preset == CUSTOM:
        return _("Custom mapping")
    try:
        return str(get_preset(job.kind, job.preset).label)
    except UnknownPreset:
        return ""


def _delimiter_label(delimiter: str) -> str:
    names = {",": _("comma"), ";": _("semicolon"), "\t": _("tab"), "|": _("vertical bar")}
    return names.get(delimiter, f"“{delimiter}”")


def _running(job: ImportJob) -> bool:
    return job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)
