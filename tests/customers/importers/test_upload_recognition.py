"""The upload page recognises a file's layout from its header, offers each layout's example file,
and takes two files of one export at once (kept as one zip, the main report first)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.importers import readers, services
from customers.importers.presets import GENERIC, KIND_PRESETS, ONLINE_RETAIL, SHOPIFY, Preset
from customers.importers.recognition import recognise_layout
from customers.importers.services import EXAMPLES_DIR
from customers.models import ImportJob, ImportKind, ImportStatus, Order

FIXTURES = Path(__file__).parent / "fixtures"

ALL_PRESETS = [(kind, key, preset) for kind, presets in KIND_PRESETS.items() for key, preset in presets.items()]
SIGNED = [pytest.param(kind, key, preset, id=f"{kind}-{key}") for kind, key, preset in ALL_PRESETS if preset.signature]
WITH_EXAMPLE = [
    pytest.param(kind, key, preset, id=f"{kind}-{key}") for kind, key, preset in ALL_PRESETS if preset.example
]
WITHOUT_EXAMPLE = [
    pytest.param(kind, key, id=f"{kind}-{key}") for kind, key, preset in ALL_PRESETS if not preset.example
] + [pytest.param("orders", "no-such-layout", id="unknown-preset"), pytest.param("refunds", GENERIC, id="unknown-kind")]

MADE_UP = ["Beleg", "Datum", "Artikel", "Menge", "Preis"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _file_for(preset: Preset) -> tuple[str, bytes]:
    """The preset's example file when it has one, else a header-only CSV of its signature,
    written in the layout's own encoding."""
    if preset.example:
        return preset.example, (EXAMPLES_DIR / preset.example).read_bytes()
    header = ",".join(preset.signature) + "\r\n"
    return f"{preset.key}.csv", header.encode(preset.encoding or "utf-8")


def _upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def _post(client, files, **fields):
    data = {"kind": "orders", "preset": GENERIC, "file": files} | fields
    return client.post(reverse("import_upload"), data)


def _only_job(shop) -> ImportJob:
    return ImportJob.objects.for_shop(shop).get()


def _confirm(client, job: ImportJob):
    """Post the preview form as the page shows it (the column of each field as proposed)."""
    mapping = services.import_preview(job=job).mapping.fields
    return client.post(reverse("import_preview", args=[job.pk]), {f"map_{name}": c for name, c in mapping.items()})


# --- recognise_layout: the header alone -------------------------------------------------------


@pytest.mark.parametrize(("kind", "key", "preset"), SIGNED)
def test_each_presets_signature_is_recognised_as_that_preset_first(kind, key, preset):
    assert recognise_layout(list(preset.signature))[0] == (kind, key)


@pytest.mark.parametrize(("kind", "key", "preset"), SIGNED)
def test_signatures_are_recognised_whatever_the_case_spacing_and_order_of_the_headers(kind, key, preset):
    columns = ["Some other column", *(f" {header.upper().replace(' ', '_')} " for header in reversed(preset.signature))]
    assert recognise_layout(columns)[0] == (kind, key)


def test_online_retail_has_a_signature_and_its_file_is_recognised():
    columns, _encoding = readers.read_header(FIXTURES / "online_retail_sample.csv")
    assert recognise_layout(columns)[0] == (ImportKind.ORDERS, ONLINE_RETAIL)


def test_a_header_that_matches_no_layout_recognises_nothing_so_generic_stays():
    assert recognise_layout(MADE_UP) == []
    assert recognise_layout([]) == []


def test_a_file_in_our_own_column_names_is_recognised_as_generic_of_its_kind():
    orders, _enc = readers.read_header(FIXTURES / "generic_orders.csv")
    customers, _enc = readers.read_header(FIXTURES / "customers.csv")
    products, _enc = readers.read_header(FIXTURES / "products.csv")
    assert recognise_layout(orders)[0] == (ImportKind.ORDERS, GENERIC)
    assert recognise_layout(customers) == [(ImportKind.CUSTOMERS, GENERIC)]
    assert recognise_layout(products) == [(ImportKind.PRODUCTS, GENERIC)]


def test_the_longer_signature_wins_and_a_signature_match_hides_the_generic_layouts():
    generic = Preset(GENERIC, "Generic", ImportKind.ORDERS, {"order_id": ("order_id",)})
    short = Preset("short", "Short", ImportKind.ORDERS, {}, signature=("Order ID", "Total"))
    long = Preset("long", "Long", ImportKind.ORDERS, {}, signature=("Order ID", "Total", "Lineitem name"))
    customers = Preset("people", "People", ImportKind.CUSTOMERS, {}, signature=("Email", "Total Spent"))
    registry = {
        ImportKind.ORDERS: {GENERIC: generic, "short": short, "long": long},
        ImportKind.CUSTOMERS: {"people": customers},
    }
    columns = ["order_id", "ordered_at", "sku", "quantity", "unit_price", "Total", "Lineitem Name"]
    assert recognise_layout(columns, presets=registry) == [(ImportKind.ORDERS, "long"), (ImportKind.ORDERS, "short")]
    assert recognise_layout(["order_id", "Total"], presets=registry) == [(ImportKind.ORDERS, "short")]


# --- the upload page: recognised after the upload ----------------------------------------------


@pytest.mark.parametrize(("kind", "key", "preset"), SIGNED)
def test_a_file_in_a_presets_layout_uploaded_as_generic_ends_on_that_layout(owner_client, shop, kind, key, preset):
    name, data = _file_for(preset)
    response = _post(owner_client, _upload(name, data))
    job = _only_job(shop)
    assert response.status_code == 302 and response["Location"] == reverse("import_preview", args=[job.pk])
    assert job.options["layouts"][0] == [kind, key]
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    if (job.kind, job.preset) == (kind, key):  # switched on its own: the page says so
        assert "so it is read with that layout" in page
        assert job.options["chosen_layout"] == [ImportKind.ORDERS, GENERIC]
    else:  # proposed: one click switches
        assert "Use that layout?" in page and f'name="preset" value="{key}"' in page
        response = owner_client.post(reverse("import_layout", args=[job.pk]), {"kind": kind, "preset": key})
        assert response.status_code == 302 and response["Location"] == reverse("import_preview", args=[job.pk])
        job.refresh_from_db()
        assert (job.kind, job.preset) == (kind, key)
        page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "Use that layout?" not in page
    assert str(preset.label) in page


def test_online_retail_uploaded_as_generic_is_switched_and_imports(
    owner_client, shop, django_capture_on_commit_callbacks
):
    _post(owner_client, _upload("Online Retail.csv", (EXAMPLES_DIR / "online-retail.csv").read_bytes()))
    job = _only_job(shop)
    assert (job.kind, job.preset) == (ImportKind.ORDERS, ONLINE_RETAIL)
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "This file looks like “Online Retail (UCI)” (Orders), so it is read with that layout." in page
    assert "Use “Generic order lines” instead" in page
    assert "WHITE HANGING HEART T-LIGHT HOLDER" in page and "No column for the required field" not in page
    with django_capture_on_commit_callbacks(execute=True):
        _confirm(owner_client, job)
    job.refresh_from_db()
    # 536365 (7 lines), 536366, 536367 and two credit notes (C536379, C536383)
    assert job.status == ImportStatus.DONE and job.report["orders"] == 5 and job.report["returned_orders"] == 2
    assert job.report["net_revenue"] == "208.45"  # 139.12 + 22.20 + 79.28 sold, 27.50 + 4.65 credited
    assert Order.objects.for_shop(shop).count() == 5


def test_switching_back_to_the_owners_choice_then_the_page_proposes_the_recognised_layout(owner_client, shop):
    _post(owner_client, _upload("retail.csv", (EXAMPLES_DIR / "online-retail.csv").read_bytes()))
    job = _only_job(shop)
    owner_client.post(reverse("import_layout", args=[job.pk]), {"kind": "orders", "preset": GENERIC})
    job.refresh_from_db()
    assert (job.kind, job.preset) == (ImportKind.ORDERS, GENERIC) and "chosen_layout" not in job.options
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "This file looks like “Online Retail (UCI)” (Orders). Use that layout?" in page
    assert "No column for the required field" in page


def test_a_layout_chosen_that_does_not_fit_gets_a_proposal_not_a_switch(owner_client, shop):
    _post(owner_client, _upload("retail.csv", (EXAMPLES_DIR / "online-retail.csv").read_bytes()), preset=SHOPIFY)
    job = _only_job(shop)
    assert job.preset == SHOPIFY and "chosen_layout" not in job.options
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "Use that layout?" in page and f'name="preset" value="{ONLINE_RETAIL}"' in page


def test_a_generic_file_gets_no_note_and_a_made_up_header_stays_generic(owner_client, shop):
    _post(owner_client, _upload("generic_orders.csv", (FIXTURES / "generic_orders.csv").read_bytes()))
    _post(owner_client, _upload("x.csv", (";".join(MADE_UP) + "\n77;2024-02-01;Tee;3;1,50\n").encode()))
    generic_job, made_up_job = ImportJob.objects.for_shop(shop).order_by("pk")
    for job in (generic_job, made_up_job):
        assert (job.kind, job.preset) == (ImportKind.ORDERS, GENERIC)
        page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
        assert "This file looks like" not in page
    assert generic_job.options["layouts"][0] == [ImportKind.ORDERS, GENERIC]
    assert made_up_job.options["layouts"] == []


def test_a_customers_file_uploaded_as_orders_is_proposed_as_customers(owner_client, shop):
    _post(owner_client, _upload("customers.csv", (FIXTURES / "customers.csv").read_bytes()))
    job = _only_job(shop)
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "This file looks like “Generic customers” (Customers). Use that layout?" in page
    owner_client.post(reverse("import_layout", args=[job.pk]), {"kind": "customers", "preset": GENERIC})
    job.refresh_from_db()
    assert job.kind == ImportKind.CUSTOMERS
    assert (
        "No column for the required field"
        not in owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    )


def test_the_layout_switch_refuses_unknown_layouts_running_jobs_viewers_and_strangers(
    owner_client, viewer_client, stranger_client, shop
):
    _post(owner_client, _upload("generic_orders.csv", (FIXTURES / "generic_orders.csv").read_bytes()))
    job = _only_job(shop)
    url = reverse("import_layout", args=[job.pk])
    response = owner_client.post(url, {"kind": "products", "preset": ONLINE_RETAIL}, follow=True)
    assert "does not exist for products" in response.content.decode()
    assert owner_client.get(url).status_code == 405
    assert viewer_client.post(url, {"kind": "customers", "preset": GENERIC}).status_code == 403
    assert stranger_client.post(url, {"kind": "customers", "preset": GENERIC}).status_code == 404
    ImportJob.unscoped.filter(pk=job.pk).update(status=ImportStatus.RUNNING)
    response = owner_client.post(url, {"kind": "customers", "preset": GENERIC})
    assert response["Location"] == reverse("import_job", args=[job.pk])
    job.refresh_from_db()
    assert (job.kind, job.preset) == (ImportKind.ORDERS, GENERIC)


def test_a_gb18030_header_longer_than_the_sample_is_read_without_splitting_a_character(tmp_path):
    path = tmp_path / "report.csv"
    header = "订单编号,买家会员名,宝贝标题\n"
    row = "1234567890,张三,纯棉T恤男短袖夏季宽松\n"
    path.write_bytes((header + row * 4000).encode("gb18030"))
    assert path.stat().st_size > readers.HEADER_SAMPLE_BYTES
    assert readers.read_header(path) == (["订单编号", "买家会员名", "宝贝标题"], "gb18030")


# --- the upload page lists the layouts; example files ------------------------------------------


def test_the_upload_page_lists_every_layout_with_its_description_and_example(viewer_client, owner_client):
    page = owner_client.get(reverse("import_upload")).content.decode()
    assert 'type="file" name="file" multiple' in page
    for kind, key, preset in ALL_PRESETS:
        assert str(preset.label) in page
        example = reverse("import_example", args=[kind, key])
        assert (f'href="{example}"' in page) == bool(preset.example)
    assert "One row per customer: customer_id, email" in page
    assert "<table" not in page.split('id="layouts"')[1]  # lists wrap at phone width; no wide table


@pytest.mark.parametrize(("kind", "key", "preset"), WITH_EXAMPLE)
def test_each_example_file_downloads(viewer_client, kind, key, preset):
    response = viewer_client.get(reverse("import_example", args=[kind, key]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (EXAMPLES_DIR / preset.example).read_bytes()
    assert response["Content-Disposition"] == f'attachment; filename="{preset.example}"'
    expected = "application/zip" if preset.example.endswith(".zip") else "text/csv"
    assert response["Content-Type"].startswith(expected)
    if expected == "text/csv":
        assert response["Content-Type"].endswith(f"charset={preset.encoding or 'utf-8'}")


@pytest.mark.parametrize(("kind", "key"), WITHOUT_EXAMPLE)
def test_no_example_is_404(owner_client, kind, key):
    assert owner_client.get(reverse("import_example", args=[kind, key])).status_code == 404


def test_examples_are_for_shop_members(client):
    response = client.get(reverse("import_example", args=["orders", GENERIC]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_generic_examples_import_as_they_are(owner_client, shop, django_capture_on_commit_callbacks):
    expected = {"orders": ("generic-orders.csv", "orders", 5), "customers": ("generic-customers.csv", "customers", 3),
                "products": ("generic-products.csv", "products", 4)}  # fmt: skip
    for kind, (name, counter, count) in expected.items():
        _post(owner_client, _upload(name, (EXAMPLES_DIR / name).read_bytes()), kind=kind)
        job = ImportJob.objects.for_shop(shop).latest("pk")
        assert (job.kind, job.preset) == (kind, GENERIC)
        with django_capture_on_commit_callbacks(execute=True):
            _confirm(owner_client, job)
        job.refresh_from_db()
        assert job.status == ImportStatus.DONE, job.report
        assert job.report[counter] == count
    assert ImportJob.objects.for_shop(shop).latest("pk").report["rows_rejected"] == 0


# --- two files at once -------------------------------------------------------------------------

ITEMS = b"order_id,note\n1001,gift wrap\n"


def test_two_files_are_kept_as_one_zip_and_the_first_csv_is_previewed(owner_client, shop):
    orders = (FIXTURES / "generic_orders.csv").read_bytes()
    response = _post(owner_client, [_upload("orders.csv", orders), _upload("items.csv", ITEMS)])
    job = _only_job(shop)
    assert response.status_code == 302
    assert job.filename == "orders.csv + items.csv"
    stored = Path(job.file_path)
    assert stored.name.endswith(".csv.zip") and zipfile.is_zipfile(stored)
    with zipfile.ZipFile(stored) as archive:
        assert archive.namelist() == ["orders.csv", "items.csv"]
        assert archive.read("orders.csv") == orders and archive.read("items.csv") == ITEMS
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "orders.csv + items.csv" in page and "House blend 250g" in page and "gift wrap" not in page
    assert "No column for the required field" not in page


def test_of_two_files_the_one_in_a_known_layout_goes_first(owner_client, shop):
    retail = (EXAMPLES_DIR / "online-retail.csv").read_bytes()
    _post(owner_client, [_upload("items.csv", ITEMS), _upload("retail.csv", retail)])
    job = _only_job(shop)
    assert job.filename == "retail.csv + items.csv"
    with zipfile.ZipFile(job.file_path) as archive:
        assert archive.namelist() == ["retail.csv", "items.csv"]
    assert (job.kind, job.preset) == (ImportKind.ORDERS, ONLINE_RETAIL)


def test_two_files_with_the_same_name_are_both_kept(owner_client, shop):
    _post(owner_client, [_upload("report.csv", ITEMS), _upload("report.csv", ITEMS)])
    with zipfile.ZipFile(_only_job(shop).file_path) as archive:
        assert archive.namelist() == ["report.csv", "2-report.csv"]


def test_uploads_of_more_than_two_files_compressed_pairs_or_too_many_bytes_are_refused(owner_client, shop, settings):
    response = _post(owner_client, [_upload(f"{n}.csv", ITEMS) for n in "abc"])
    assert response.status_code == 200 and "Upload one file, or two files of one export" in response.content.decode()
    response = _post(owner_client, [_upload("a.csv", ITEMS), _upload("b.csv.gz", b"\x1f\x8b")])
    assert "two .csv files, not compressed" in response.content.decode()
    response = _post(owner_client, [_upload("a.csv", ITEMS), _upload("b.xlsx", ITEMS)])
    assert "Upload a .csv file" in response.content.decode()
    settings.IMPORT_MAX_UPLOAD_BYTES = len(ITEMS) + 1
    response = _post(owner_client, [_upload("a.csv", ITEMS), _upload("b.csv", ITEMS)])
    assert "larger than" in response.content.decode()
    response = _post(owner_client, [])
    assert "This field is required." in response.content.decode()
    assert not ImportJob.objects.for_shop(shop).exists()


TWO_REPORTS = [
    pytest.param(kind, key, preset, id=f"{kind}-{key}")
    for kind, key, preset in ALL_PRESETS
    if preset.example.endswith(".zip")
]


@pytest.mark.parametrize(("kind", "key", "preset"), TWO_REPORTS)
def test_a_two_report_export_chosen_as_two_files_in_either_order_imports_like_its_example_zip(
    owner_client, shop, django_capture_on_commit_callbacks, kind, key, preset
):
    with zipfile.ZipFile(EXAMPLES_DIR / preset.example) as archive:
        reports = [(name, archive.read(name)) for name in archive.namelist()]
    expected = services.import_file(shop=shop, path=EXAMPLES_DIR / preset.example, kind=kind, preset=key, dry_run=True)
    assert expected.status == "dry_run" and expected.orders > 0

    _post(owner_client, [_upload(name, data) for name, data in reversed(reports)])  # the second report first
    job = _only_job(shop)
    assert (job.kind, job.preset) == (kind, key)
    assert job.filename == " + ".join(name for name, _data in reports)
    with zipfile.ZipFile(job.file_path) as archive:
        assert archive.namelist() == [name for name, _data in reports]
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "No column for the required field" not in page
    with django_capture_on_commit_callbacks(execute=True):
        _confirm(owner_client, job)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.report
    for figure in ("orders", "customers", "order_lines", "returned_orders", "cancelled_orders", "net_revenue"):
        assert job.report[figure] == expected.to_dict()[figure], figure
