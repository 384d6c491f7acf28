"""Import pages: who may do what, upload -> preview -> import -> job page with progress, and the task."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.importers import services
from customers.importers.tasks import import_job_run
from customers.models import ImportJob, ImportStatus, Order

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _upload(name: str = "generic_orders.csv", content: bytes | None = None) -> SimpleUploadedFile:
    data = content if content is not None else (FIXTURES / "generic_orders.csv").read_bytes()
    return SimpleUploadedFile(name, data, content_type="text/csv")


def _post_upload(client, **fields):
    data = {"kind": "orders", "preset": "generic", "file": _upload()} | fields
    return client.post(reverse("import_upload"), data)


def _job(shop, name: str = "generic_orders.csv") -> ImportJob:
    return services.import_job_create(
        shop=shop, user=None, upload=_upload(name, (FIXTURES / name).read_bytes()), kind="orders", preset="generic"
    )


def _mapping_post(**extra) -> dict:
    fields = {
        "map_order_id": "order_id",
        "map_ordered_at": "ordered_at",
        "map_customer_id": "customer_id",
        "map_email": "email",
        "map_sku": "sku",
        "map_product_name": "product_name",
        "map_quantity": "quantity",
        "map_unit_price": "unit_price",
        "map_currency": "currency",
        "map_status": "status",
    }
    return fields | extra


# --- who may do what ------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("import_list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("who", ["owner_client", "staff_client"])
def test_owner_and_staff_can_upload(request, who, shop, settings):
    client = request.getfixturevalue(who)
    assert client.get(reverse("import_upload")).status_code == 200
    response = _post_upload(client)
    job = ImportJob.objects.for_shop(shop).get()
    assert response.status_code == 302 and response["Location"] == reverse("import_preview", args=[job.pk])
    stored = Path(job.file_path)
    assert stored.parent == Path(settings.MEDIA_ROOT) / "imports" / str(shop.pk)
    assert stored.suffix == ".csv" and stored.read_bytes() == (FIXTURES / "generic_orders.csv").read_bytes()


def test_viewer_sees_the_list_but_cannot_upload_or_import(viewer_client, shop):
    job = _job(shop)
    assert viewer_client.get(reverse("import_list")).status_code == 200
    assert viewer_client.get(reverse("import_job", args=[job.pk])).status_code == 200
    assert _post_upload(viewer_client).status_code == 403
    assert viewer_client.post(reverse("import_preview", args=[job.pk]), _mapping_post()).status_code == 403
    assert ImportJob.objects.for_shop(shop).count() == 1


def test_stranger_gets_404_for_another_shops_job(stranger_client, shop):
    job = _job(shop)
    assert stranger_client.get(reverse("import_job", args=[job.pk])).status_code == 404
    assert stranger_client.get(reverse("import_preview", args=[job.pk])).status_code == 404
    assert stranger_client.post(reverse("import_preview", args=[job.pk]), _mapping_post()).status_code == 404
    assert job.filename not in stranger_client.get(reverse("import_list")).content.decode()


def test_upload_refuses_other_extensions_and_large_files(owner_client, shop, settings):
    response = _post_upload(owner_client, file=_upload("orders.xlsx"))
    assert response.status_code == 200 and "Upload a .csv file" in response.content.decode()
    settings.IMPORT_MAX_UPLOAD_BYTES = 10
    response = _post_upload(owner_client)
    assert "larger than" in response.content.decode()
    assert not ImportJob.objects.for_shop(shop).exists()


def test_upload_refuses_a_platform_layout_for_products(owner_client, shop):
    response = _post_upload(owner_client, kind="products", preset="online-retail")
    assert response.status_code == 200 and not ImportJob.objects.for_shop(shop).exists()


# --- the flow -------------------------------------------------------------------------------


def test_upload_preview_import_and_job_page(owner_client, shop, django_capture_on_commit_callbacks):
    _post_upload(owner_client)
    job = ImportJob.objects.for_shop(shop).get()
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "utf-8" in page and "comma" in page
    assert "House blend 250g" in page  # first rows as read
    assert "→ Order number" in page  # column -> field mapping
    assert "year first" in page  # date format of the date column
    assert 'value="order_id" selected' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("import_preview", args=[job.pk]), _mapping_post())
    assert response.status_code == 302 and response["Location"] == reverse("import_job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert job.report["orders"] == 5 and job.rows_total == 7 and job.rows_done == 6
    assert Order.objects.for_shop(shop).count() == 5
    assert not Path(job.file_path).exists()  # the upload is removed once imported

    page = owner_client.get(reverse("import_job", args=[job.pk])).content.decode()
    assert "<html" in page and "18.20" in page and 'value="100"' in page
    assert 'hx-trigger="every 1s"' not in page  # finished: no more polling
    partial = owner_client.get(reverse("import_job", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "import-job-status" in partial


def test_running_job_page_polls_and_shows_progress(owner_client, shop):
    job = _job(shop)
    ImportJob.unscoped.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, rows_total=1000, rows_done=250, report={"stage": "writing"}
    )
    partial = owner_client.get(reverse("import_job", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in partial
    assert f'hx-get="{reverse("import_job", args=[job.pk])}"' in partial
    assert 'value="25"' in partial and "250 of 1,000" in partial


def test_rejected_import_shows_the_error_table(owner_client, shop, django_capture_on_commit_callbacks):
    bad = b"order_id,ordered_at,sku,quantity,unit_price\n1,2024-01-01,A,many,1\n"
    owner_client.post(reverse("import_upload"), {"kind": "orders", "preset": "generic", "file": _upload("b.csv", bad)})
    job = ImportJob.objects.for_shop(shop).get()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(
            reverse("import_preview", args=[job.pk]),
            {"map_order_id": "order_id", "map_ordered_at": "ordered_at", "map_sku": "sku",
             "map_quantity": "quantity", "map_unit_price": "unit_price"},
        )  # fmt: skip
    job.refresh_from_db()
    assert job.status == ImportStatus.REJECTED
    page = owner_client.get(reverse("import_job", args=[job.pk])).content.decode()
    assert "“many” is not a whole number." in page and "nothing was written" in page
    assert not Order.objects.for_shop(shop).exists()


def test_ambiguous_dates_ask_for_a_format_on_the_preview(owner_client, shop, django_capture_on_commit_callbacks):
    data = b"order_id,ordered_at,sku,quantity,unit_price\n1,01/02/2024,A,1,1\n2,03/04/2024,A,1,1\n"
    owner_client.post(reverse("import_upload"), {"kind": "orders", "preset": "generic", "file": _upload("d.csv", data)})
    job = ImportJob.objects.for_shop(shop).get()
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "could be day-first or month-first" in page
    post = {"map_order_id": "order_id", "map_ordered_at": "ordered_at", "map_sku": "sku",
            "map_quantity": "quantity", "map_unit_price": "unit_price"}  # fmt: skip
    response = owner_client.post(reverse("import_preview", args=[job.pk]), post)
    assert response.status_code == 200 and "could be day-first or month-first" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("import_preview", args=[job.pk]), post | {"date_ordered_at": "day-first"})
    assert response.status_code == 302
    assert Order.objects.for_shop(shop).get(external_id="1").placed_at.month == 2


def test_custom_mapping_of_an_unknown_layout(owner_client, shop, django_capture_on_commit_callbacks):
    data = b"Beleg;Datum;Artikel;Menge;Preis\n77;2024-02-01;Tee;3;1,50\n"
    owner_client.post(reverse("import_upload"), {"kind": "orders", "preset": "custom", "file": _upload("x.csv", data)})
    job = ImportJob.objects.for_shop(shop).get()
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "semicolon" in page and "No column for the required field" in page
    job.refresh_from_db()
    assert job.status == ImportStatus.NEEDS_MAPPING
    response = owner_client.post(reverse("import_preview", args=[job.pk]), {"map_order_id": "Beleg"})
    assert response.status_code == 200 and "Choose the column" in response.content.decode()
    post = {"map_order_id": "Beleg", "map_ordered_at": "Datum", "map_product_name": "Artikel",
            "map_quantity": "Menge", "map_unit_price": "Preis"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("import_preview", args=[job.pk]), post)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.report["net_revenue"] == "4.50"


def test_dry_run_from_the_page_keeps_nothing(owner_client, shop, django_capture_on_commit_callbacks):
    _post_upload(owner_client)
    job = ImportJob.objects.for_shop(shop).get()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("import_preview", args=[job.pk]), _mapping_post(dry_run="on"))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.report["status"] == "dry_run"
    assert not Order.objects.for_shop(shop).exists()
    assert Path(job.file_path).exists()  # kept so the real import can follow


# --- the task -------------------------------------------------------------------------------


def test_task_claims_a_job_once(shop):
    job = _job(shop)
    services.import_job_start(job=job, mapping=None, date_formats={}, allow_partial=False, dry_run=False)
    import_job_run.delay(job.pk)
    import_job_run.delay(job.pk)  # a duplicated message: the job is no longer queued, nothing happens
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert Order.objects.for_shop(shop).count() == 5
    assert services.import_job_claim(job_id=job.pk) is False


def test_task_is_named_and_routed_to_the_ingest_queue():
    from config.celery import app

    assert import_job_run.name == "customers.import_job_run"
    assert app.amqp.router.route({}, import_job_run.name)["queue"].name == "ingest"


def test_job_created_by_is_recorded(owner_client, shop):
    _post_upload(owner_client)
    job = ImportJob.objects.for_shop(shop).get()
    assert job.created_by is not None and job.created_by.memberships.get().shop_id == shop.pk
