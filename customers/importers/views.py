"""Import pages: list, upload, preview (mapping) and the job page with its progress bar."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from customers.importers import services
from customers.importers.forms import ImportMappingForm, ImportUploadForm
from customers.importers.presets import FIELDS_BY_KIND
from customers.models import ImportJob, ImportStatus
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
    return render(request, "customers/import/upload.html", {"form": form})


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


def _delimiter_label(delimiter: str) -> str:
    names = {",": _("comma"), ";": _("semicolon"), "\t": _("tab"), "|": _("vertical bar")}
    return names.get(delimiter, f"“{delimiter}”")


def _running(job: ImportJob) -> bool:
    return job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)
