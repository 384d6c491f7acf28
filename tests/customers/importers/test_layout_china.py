"""Taobao / Tmall, Douyin and Youzan order exports, through import_csv and the upload page.

The files are the example files (customers/importers/examples/), written in each platform's
own layout and encoding: Taobao's GBK order report (订单报表) and item report (宝贝报表) with
their ="…" guards and apostrophes, Douyin's UTF-8 export with tab-guarded ids, "-" cells and
encrypted recipients, Youzan's order report (订单维度) and item report (商品维度).
"""

from __future__ import annotations

import json
import zipfile
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from customers import importers
from customers.importers import services
from customers.models import Customer, ImportJob, ImportStatus, Order, OrderLine
from customers.money import net_revenue
from tests.factories import CustomerFactory

EXAMPLES = Path(importers.__file__).parent / "examples"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def shop(shop):
    """A shop in China: its files' times are Beijing wall-clock times, its money yuan."""
    shop.timezone, shop.currency = "Asia/Shanghai", "CNY"
    shop.save(update_fields=["timezone", "currency"])
    return shop


def _import(shop, path: Path, preset: str) -> dict:
    out = StringIO()
    call_command("import_csv", "--shop", shop.slug, "--preset", preset, "--json", str(path), stdout=out)
    return json.loads(out.getvalue())


def _zip(tmp_path: Path, *members: tuple[str, Path]) -> Path:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, source in members:
            archive.write(source, arcname=name)
    return path


def _orders(shop) -> dict[str, Order]:
    return {order.external_id: order for order in Order.objects.for_shop(shop).select_related("customer")}


def _lines(order: Order) -> list[tuple[int, Decimal, str]]:
    lines = OrderLine.unscoped.filter(order=order).select_related("product")
    return sorted((line.quantity, line.unit_price, line.product.title if line.product else "") for line in lines)


def _customers(shop) -> dict[str, Customer]:
    return {customer.external_id: customer for customer in Customer.objects.for_shop(shop)}


def _gbk_copy(tmp_path: Path, name: str) -> Path:
    """The example re-saved as GBK (as Excel on a Chinese Windows saves a CSV)."""
    path = tmp_path / name
    path.write_bytes((EXAMPLES / name).read_bytes().decode("utf-8-sig").encode("gbk"))
    return path


# --- Taobao / Tmall -------------------------------------------------------------------------

TAOBAO_STATUSES = {
    "3412345678901234561": "paid",  # 交易成功
    "3412345678901234562": "paid",  # 买家已付款，等待卖家发货
    "3412345678901234563": "paid",  # 卖家已发货，等待买家确认
    "3412345678901234564": "pending",  # 等待买家付款
    "3412345678901234565": "returned",  # 交易关闭 after payment: refunded in full
    "3412345678901234566": "cancelled",  # 交易关闭, never paid
    "3412345678901234567": "paid",  # 交易成功 with 退款金额 30.00
}
# Σ 买家实际支付金额 of the sales (168.00 + 89.00 + 82.50 + 128.00) − 退款金额 30.00; the order refunded
# in full (199.00) gives everything back.
TAOBAO_NET = Decimal("437.50")


def test_taobao_order_and_item_reports_in_one_zip_import_orders_customers_and_revenue(shop, tmp_path):
    # The item report first: the layout finds each report by its header.
    path = _zip(
        tmp_path,
        ("ExportOrderDetailList202604011200.csv", EXAMPLES / "taobao-items.csv"),
        ("ExportOrderList202604011200.csv", EXAMPLES / "taobao-orders.csv"),
    )
    report = _import(shop, path, "taobao")

    assert report["status"] == "imported" and report["errors"] == []
    assert report["encoding"] == "gb18030"
    assert (report["orders"], report["customers"], report["guest_orders"]) == (7, 4, 1)
    assert (report["pending_orders"], report["cancelled_orders"], report["returned_orders"]) == (1, 1, 1)
    assert report["net_revenue"] == str(TAOBAO_NET)
    assert net_revenue(shop=shop) == TAOBAO_NET

    orders = _orders(shop)
    assert {key: order.status for key, order in orders.items()} == TAOBAO_STATUSES
    first = orders["3412345678901234561"]
    assert (first.total, first.shipping, first.currency) == (Decimal("168.00"), Decimal("10.00"), "CNY")
    assert first.placed_at.isoformat() == "2026-03-01T02:15:20+00:00"  # 10:15:20 in Beijing
    assert _lines(first) == [(1, Decimal("50.00"), "红枣桂圆茶 200g"), (2, Decimal("59.00"), "手工红糖姜茶 400g")]
    # 退款金额 on a sale: a line of -1 at the refunded amount (ADR 0007).
    refunded = orders["3412345678901234567"]
    assert _lines(refunded) == [
        (-1, Decimal("30.00"), ""),
        (1, Decimal("30.00"), "咖啡滤纸 100张"),
        (1, Decimal("90.00"), "冷萃咖啡挂耳 20片"),
    ]
    # An order nobody paid is worth its goods.
    assert orders["3412345678901234564"].total == Decimal("59.00")
    assert orders["3412345678901234564"].customer is None  # 买家会员名 masked as z**9

    customers = _customers(shop)
    assert set(customers) == {"tb_linxiaoyu", "小鱼儿爱吃鱼", "北京老王", "上海阿花"}
    lin = customers["tb_linxiaoyu"]
    assert (lin.first_name, lin.phone, lin.email) == ("林小雨", "13812345678", "")
    assert (lin.province, lin.city, lin.postcode) == ("浙江省", "杭州市", "310012")
    assert {o.external_id for o in orders.values() if o.customer == lin} == {
        "3412345678901234561",
        "3412345678901234563",
    }
    # A masked phone (139****5678) and a virtual number (17012345678-1234) are not phones.
    assert (customers["小鱼儿爱吃鱼"].phone, customers["小鱼儿爱吃鱼"].phone_key) == ("", "")
    assert customers["上海阿花"].phone == ""
    assert (customers["北京老王"].province, customers["北京老王"].city) == ("北京", "北京市")
    assert any("masked" in warning for warning in report["warnings"])


def test_taobao_order_report_alone_gives_one_line_per_order_and_says_so(shop):
    report = _import(shop, EXAMPLES / "taobao-orders.csv", "taobao")

    assert report["status"] == "imported" and report["orders"] == 7
    assert report["net_revenue"] == str(TAOBAO_NET)  # the totals do not depend on the lines
    assert any("Only the order report" in warning for warning in report["warnings"])
    orders = _orders(shop)
    assert {key: order.status for key, order in orders.items()} == TAOBAO_STATUSES
    # 宝贝标题 / 宝贝总数量 / 买家应付货款 ÷ 宝贝总数量
    assert _lines(orders["3412345678901234561"]) == [(3, Decimal("56.00"), "手工红糖姜茶 400g，红枣桂圆茶 200g")]
    assert _lines(orders["3412345678901234563"]) == [(3, Decimal("25.50"), "桂花乌龙茶包 30袋")]


def test_taobao_orders_missing_from_the_item_report_keep_one_line(shop, tmp_path):
    items = (EXAMPLES / "taobao-items.csv").read_bytes().decode("gb18030").splitlines()
    without = [line for line in items if "3412345678901234563" not in line]
    items_path = tmp_path / "ExportOrderDetailList.csv"
    items_path.write_bytes("\r\n".join(without).encode("gb18030"))
    path = _zip(tmp_path, ("ExportOrderList.csv", EXAMPLES / "taobao-orders.csv"), ("items.csv", items_path))

    report = _import(shop, path, "taobao")

    assert report["status"] == "imported" and report["net_revenue"] == str(TAOBAO_NET)
    assert any("1 orders are not in the item report" in warning for warning in report["warnings"])
    orders = _orders(shop)
    assert _lines(orders["3412345678901234563"]) == [(3, Decimal("25.50"), "桂花乌龙茶包 30袋")]
    assert len(_lines(orders["3412345678901234561"])) == 2


def test_taobao_item_report_alone_is_refused_with_what_to_upload(shop, tmp_path):
    path = tmp_path / "ExportOrderDetailList.csv"
    path.write_bytes((EXAMPLES / "taobao-items.csv").read_bytes())
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("import_csv", "--shop", shop.slug, "--preset", "taobao", "--json", str(path), stdout=out)
    report = json.loads(out.getvalue())
    assert "订单报表" in report["errors"][0]["message"]
    assert not Order.objects.for_shop(shop).exists()


def test_taobao_reimport_changes_nothing(shop, tmp_path):
    path = _zip(tmp_path, ("o.csv", EXAMPLES / "taobao-orders.csv"), ("i.csv", EXAMPLES / "taobao-items.csv"))
    _import(shop, path, "taobao")
    again = _import(shop, path, "taobao")
    assert again["changes"]["orders"] == {"created": 0, "updated": 0, "unchanged": 7}
    assert again["changes"]["customers"]["created"] == 0
    assert net_revenue(shop=shop) == TAOBAO_NET


def test_taobao_phone_links_a_known_customer_only_when_the_shop_matches_by_phone(shop, tmp_path):
    shop.match_by_phone, shop.phone_region = True, "CN"
    shop.save(update_fields=["match_by_phone", "phone_region"])
    known = CustomerFactory(shop=shop, email="lin@example.org", phone="138 1234 5678")
    path = _zip(tmp_path, ("o.csv", EXAMPLES / "taobao-orders.csv"), ("i.csv", EXAMPLES / "taobao-items.csv"))

    report = _import(shop, path, "taobao")

    assert report["changes"]["customers"]["linked"] == 1
    assert Order.objects.for_shop(shop).get(external_id="3412345678901234561").customer_id == known.pk
    known.refresh_from_db()
    assert known.email == "lin@example.org" and known.province == "浙江省"


def test_taobao_phone_does_not_link_when_the_shop_does_not_match_by_phone(shop, tmp_path):
    shop.phone_region = "CN"
    shop.save(update_fields=["phone_region"])
    known = CustomerFactory(shop=shop, email="lin@example.org", phone="13812345678")
    path = _zip(tmp_path, ("o.csv", EXAMPLES / "taobao-orders.csv"), ("i.csv", EXAMPLES / "taobao-items.csv"))
    report = _import(shop, path, "taobao")
    assert report["changes"]["customers"]["linked"] == 0
    assert Order.objects.for_shop(shop).get(external_id="3412345678901234561").customer_id != known.pk


# --- Douyin ---------------------------------------------------------------------------------

DOUYIN_STATUSES = {
    "6930162745589588001": "paid",  # 已完成
    "6930162745589588002": "paid",  # two sub-orders 已发货
    "6930162745589588003": "returned",  # 已关闭 after payment, 退款成功
    "6930162745589588004": "paid",  # 已完成, one of three sub-orders 退款成功
    "6930162745589588005": "pending",  # 待支付
    "6930162745589588006": "cancelled",  # 已关闭, 超时未支付
}
# Σ 订单应付金额 of the sales (69.80 + 35.90 + 59.00 + 97.00 + 29.90 + 0.00) − the refunded sub-order 29.90.
DOUYIN_NET = Decimal("261.70")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_douyin_export_imports_main_orders_refunds_and_guests(shop, tmp_path, encoding):
    path = EXAMPLES / "douyin.csv" if encoding == "utf-8-sig" else _gbk_copy(tmp_path, "douyin.csv")
    report = _import(shop, path, "douyin")

    assert report["status"] == "imported" and report["errors"] == []
    assert (report["orders"], report["customers"], report["guest_orders"]) == (6, 2, 3)
    assert report["net_revenue"] == str(DOUYIN_NET)
    assert net_revenue(shop=shop) == DOUYIN_NET

    orders = _orders(shop)
    assert {key: order.status for key, order in orders.items()} == DOUYIN_STATUSES
    mixed = orders["6930162745589588004"]
    assert (mixed.total, mixed.shipping) == (Decimal("126.90"), Decimal("8.00"))
    assert _lines(mixed) == [
        (-1, Decimal("29.90"), ""),
        (1, Decimal("0.00"), "赠品：试吃装"),
        (1, Decimal("29.90"), "藤椒鸡爪 250g"),
        (1, Decimal("89.00"), "麻辣兔头 2只装"),
    ]
    assert orders["6930162745589588001"].placed_at.isoformat() == "2026-04-01T12:15:33+00:00"
    assert orders["6930162745589588002"].customer is None  # encrypted recipient: a guest order

    customers = _customers(shop)
    assert set(customers) == {"douyin:13900001111", "douyin:13700002222"}
    chen = customers["douyin:13900001111"]
    assert (chen.first_name, chen.phone, chen.province, chen.city, chen.email) == (
        "陈静",
        "13900001111",
        "四川省",
        "成都市",
        "",
    )
    assert mixed.customer == chen and orders["6930162745589588001"].customer == chen


# --- Youzan ---------------------------------------------------------------------------------

YOUZAN_STATUSES = {
    "E20260401101530098765401": "paid",  # 交易完成
    "E20260402203011098765402": "paid",  # 待发货
    "E20260405093000098765403": "paid",  # 交易完成, 订单已退款金额 49.00
    "E20260406220000098765404": "pending",  # 待付款
    "E20260407080000098765405": "returned",  # 交易关闭 after payment
    "E20260408120000098765406": "cancelled",  # 交易关闭, never paid
}
# Σ 订单实付金额 of the sales (128.00 + 59.00 + 196.00) − 订单已退款金额 49.00.
YOUZAN_NET = Decimal("334.00")


def test_youzan_order_and_item_reports_import_lines_customers_and_revenue(shop, tmp_path):
    path = _zip(
        tmp_path, ("商品维度.csv", EXAMPLES / "youzan-items.csv"), ("订单维度.csv", EXAMPLES / "youzan-orders.csv")
    )
    report = _import(shop, path, "youzan")

    assert report["status"] == "imported" and report["errors"] == []
    assert (report["orders"], report["customers"], report["guest_orders"]) == (6, 3, 1)
    assert report["net_revenue"] == str(YOUZAN_NET)
    assert net_revenue(shop=shop) == YOUZAN_NET

    orders = _orders(shop)
    assert {key: order.status for key, order in orders.items()} == YOUZAN_STATUSES
    first = orders["E20260401101530098765401"]
    assert (first.total, first.shipping) == (Decimal("128.00"), Decimal("10.00"))
    assert _lines(first) == [(1, Decimal("98.00"), "明前龙井 100g"), (2, Decimal("15.00"), "茶具清洁刷")]
    assert _lines(orders["E20260405093000098765403"])[0] == (-1, Decimal("49.00"), "")

    customers = _customers(shop)
    assert set(customers) == {"youzan:13900000001", "youzan:13900000002", "youzan:13900000003"}
    wang = customers["youzan:13900000001"]
    assert (wang.first_name, wang.phone, wang.province, wang.city, wang.email) == (
        "王芳",
        "13900000001",
        "浙江省",
        "杭州市",
        "",
    )
    assert orders["E20260406220000098765404"].customer is None  # 买家手机号 masked as 186******05


def test_youzan_order_report_alone_saved_as_gbk_gives_one_line_per_order(shop, tmp_path):
    report = _import(shop, _gbk_copy(tmp_path, "youzan-orders.csv"), "youzan")

    assert report["status"] == "imported" and report["encoding"] == "gb18030"
    assert report["net_revenue"] == str(YOUZAN_NET)
    assert any("Only the order report" in warning for warning in report["warnings"])
    orders = _orders(shop)
    assert {key: order.status for key, order in orders.items()} == YOUZAN_STATUSES
    assert _lines(orders["E20260401101530098765401"]) == [(1, Decimal("128.00"), "明前龙井 100g;茶具清洁刷")]


# --- the upload page ------------------------------------------------------------------------


def _upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def _confirm(client, job: ImportJob, django_capture_on_commit_callbacks) -> ImportJob:
    """Post the preview form with the mapping the page proposes; the import runs on commit."""
    proposed = services.import_preview(job=job).mapping.fields
    data = {f"map_{name}": column for name, column in proposed.items()}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("import_preview", args=[job.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    job.refresh_from_db()
    return job


def test_upload_page_takes_taobaos_two_reports_and_imports_them(owner_client, shop, django_capture_on_commit_callbacks):
    files = [
        _upload("ExportOrderDetailList202604011200.csv", (EXAMPLES / "taobao-items.csv").read_bytes()),
        _upload("ExportOrderList202604011200.csv", (EXAMPLES / "taobao-orders.csv").read_bytes()),
    ]
    response = owner_client.post(reverse("import_upload"), {"kind": "orders", "preset": "generic", "file": files})
    job = ImportJob.objects.for_shop(shop).get()
    assert response.status_code == 302 and job.preset == "taobao"  # recognised from the header

    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "gb18030" in page and "手工红糖姜茶 400g" in page and "浙江省" in page

    job = _confirm(owner_client, job, django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.DONE, job.report
    assert (job.report["orders"], job.report["customers"]) == (7, 4)
    assert job.report["net_revenue"] == str(TAOBAO_NET)
    assert net_revenue(shop=shop) == TAOBAO_NET


def test_upload_page_reads_a_zip_whose_first_file_is_the_item_report(
    owner_client, shop, tmp_path, django_capture_on_commit_callbacks
):
    path = _zip(
        tmp_path, ("宝贝报表.csv", EXAMPLES / "taobao-items.csv"), ("订单报表.csv", EXAMPLES / "taobao-orders.csv")
    )
    owner_client.post(
        reverse("import_upload"),
        {"kind": "orders", "preset": "taobao", "file": _upload("taobao.zip", path.read_bytes())},
    )
    job = ImportJob.objects.for_shop(shop).get()
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "手工红糖姜茶 400g" in page and "year first" in page

    job = _confirm(owner_client, job, django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.DONE and job.report["net_revenue"] == str(TAOBAO_NET)


@pytest.mark.parametrize(
    ("files", "preset", "net", "orders"),
    [
        (("douyin.csv",), "douyin", DOUYIN_NET, 6),
        (("youzan-orders.csv", "youzan-items.csv"), "youzan", YOUZAN_NET, 6),
    ],
)
def test_upload_page_recognises_douyin_and_youzan_and_imports_them(
    owner_client, shop, django_capture_on_commit_callbacks, files, preset, net, orders
):
    uploads = [_upload(name, (EXAMPLES / name).read_bytes()) for name in files]
    owner_client.post(reverse("import_upload"), {"kind": "orders", "preset": "generic", "file": uploads})
    job = ImportJob.objects.for_shop(shop).get()
    assert job.preset == preset

    job = _confirm(owner_client, job, django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.DONE, job.report
    assert job.report["orders"] == orders and job.report["net_revenue"] == str(net)


@pytest.mark.parametrize(
    ("example", "members"),
    [
        ("taobao.zip", ("taobao-orders.csv", "taobao-items.csv")),
        ("youzan.zip", ("youzan-orders.csv", "youzan-items.csv")),
    ],
)
def test_the_downloadable_zip_examples_hold_the_two_reports_order_report_first(example, members):
    with zipfile.ZipFile(EXAMPLES / example) as archive:
        assert [archive.read(info) for info in archive.infolist()] == [(EXAMPLES / m).read_bytes() for m in members]


@pytest.mark.parametrize(("preset", "net"), [("taobao", TAOBAO_NET), ("douyin", DOUYIN_NET), ("youzan", YOUZAN_NET)])
def test_each_example_file_imports_with_its_preset(shop, preset, net):
    from customers.importers.presets import get_preset

    report = _import(shop, EXAMPLES / get_preset("orders", preset).example, preset)
    assert report["status"] == "imported" and report["net_revenue"] == str(net)
    assert not any("Only the order report" in warning for warning in report["warnings"])


# --- customers without an email -------------------------------------------------------------


def test_pages_say_customers_without_email_are_out_of_email_campaigns(owner_client, shop, tmp_path):
    from tests.campaigns.factories import CampaignFactory, segment_with_members

    _import(shop, EXAMPLES / "taobao-orders.csv", "taobao")
    customers = list(Customer.objects.for_shop(shop))
    lin = next(c for c in customers if c.external_id == "tb_linxiaoyu")

    page = owner_client.get(reverse("customer_detail", args=[lin.pk])).content.decode()
    assert 'id="no-email"' in page and "email campaigns cannot reach this customer" in page

    campaign = CampaignFactory(shop=shop, segment=segment_with_members(shop, customers))
    page = owner_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert 'id="no-email-note"' in page and "segments and insights still include them" in page
