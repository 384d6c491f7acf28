"""Taobao / Tmall: the seller's order report (订单报表) with its item report (宝贝报表).

Where the layout comes from: 卖家中心 › 已卖出的宝贝 › 批量导出 gives two GBK CSV files, the
order report ExportOrderList<time>.csv (one row per order) and the item report
ExportOrderDetailList<time>.csv (one row per item), joined on 订单编号. Their headers are
Taobao's as the open-source tools that read these exports list them (e.g. TBTool's
TaobaoSaledObject, and scripts that read ExportOrderList / ExportOrderDetailList with pandas):

- order report: 订单编号, 买家会员名, 买家支付宝账号, 支付单号, 支付详情, 买家应付货款, 买家应付邮费,
  买家支付积分, 总金额, 返点积分, 买家实际支付金额, 买家实际支付积分, 订单状态, 买家留言, 收货人姓名,
  "收货地址 ", 运送方式, "联系电话 ", 联系手机, 订单创建时间, "订单付款时间 ", "宝贝标题 ", "宝贝种类 ",
  "物流单号 ", 物流公司, 订单备注, 宝贝总数量, 店铺Id, 店铺名称, 订单关闭原因, …, 退款金额, 预约门店,
  确认收货时间, 打款商家金额, … (some headers end with a space; older files lack the later columns);
- item report: 订单编号, 标题, 价格, 购买数量, 外部系统编号, 商品属性, 套餐信息, 备注, 订单状态, 商家编码.

Cells are guarded for Excel (订单编号 written ="1234…", phones with a leading apostrophe);
the guards are dropped (china.unguard).

How it reads:
- one line per item of the item report (标题, 价格 × 购买数量, 商家编码 as SKU); an order the item
  report lacks, or an order report uploaded alone, gives one line from 宝贝标题 / 宝贝总数量 at
  the average price 买家应付货款 ÷ 宝贝总数量 (column 宝贝均价), and the report says so;
- the order's total is 买家实际支付金额, what the buyer paid, shipping included (as every
  layout's total: Order.shipping is the part of it that is not goods); 买家应付邮费 is the
  shipping; 退款金额 on a sale is taken off as a refund (ADR 0007). The lines are the goods at
  Taobao's prices, so coupons and points make them add up to more than was paid: the total
  is what counts. Net revenue = Σ 买家实际支付金额 of the sales − Σ 退款金额 on them.
- statuses: 交易成功 and the paid states (买家已付款，等待卖家发货 / 卖家已发货，等待买家确认 / 卖家部分
  发货 / 买家已签收) are paid: the money has come in; 等待买家付款 is pending; 交易关闭 is
  cancelled when the buyer never paid (no 订单付款时间, nothing paid) and otherwise a sale
  refunded in full, which ADR 0007 records as returned: prepare writes 交易关闭（已退款） for it;
  a refund of the whole payment on a sale makes it returned too (cleaner);
- the customer is 买家会员名 (its masked form names nobody: such orders are guest orders);
  联系手机 is the phone, kept only when it is a mobile number in clear (not masked, not a
  virtual number with an extension or a 虚拟号过期时间), so that it can serve the shop's phone
  matching; 收货人姓名 the name, unless masked; 收货地址 gives province, city and postcode
  (columns 收货省份, 收货城市, 收货邮编). Times are the shop's wall-clock time (Asia/Shanghai).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.importers.layouts import china
from customers.importers.readers import FileRejected, RawTable
from customers.models import OrderStatus

LABEL = gettext_lazy("Taobao / Tmall order report")
DESCRIPTION = gettext_lazy(
    "The order report (订单报表, ExportOrderList….csv) from Taobao / Tmall 卖家中心 › 已卖出的宝贝 › 批量导出, "
    "uploaded together with its item report (宝贝报表, ExportOrderDetailList….csv): two files, or one zip "
    "holding both. Headers as Taobao writes them (listed by the open-source tools that read these "
    "exports); read as GBK. The buyer is 买家会员名; the total is 买家实际支付金额 with 买家应付邮费 as "
    "shipping and 退款金额 taken off; 交易成功 and the paid states are sales, 等待买家付款 is pending, "
    "交易关闭 is cancelled, or returned when it had been paid. Masked phones and names are not kept; "
    "收货地址 gives province, city and postcode. The order report alone gives one line per order."
)
ENCODING = "gb18030"
# Both reports in one zip, as the seller downloads them (taobao-orders.csv and taobao-items.csv,
# the same files unzipped, are the tests' fixtures).
EXAMPLE = "taobao.zip"

ORDER_HEADERS = ("订单编号", "买家会员名", "买家实际支付金额", "订单状态", "订单创建时间")
ITEM_HEADERS = ("订单编号", "标题", "价格", "购买数量")
SIGNATURE = (
    "订单编号",
    "买家会员名",
    "买家应付货款",
    "买家应付邮费",
    "买家实际支付金额",
    "订单状态",
    "收货地址",
    "订单创建时间",
    "宝贝标题",
    "宝贝总数量",
)
# Columns prepare adds: the address split, and the average price of an order-only line.
PROVINCE, CITY, POSTCODE, AVERAGE_PRICE = "收货省份", "收货城市", "收货邮编", "宝贝均价"
CLOSED_AFTER_PAYMENT = china.CLOSED_AFTER_PAYMENT

ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("订单编号",),
    "ordered_at": ("订单创建时间", "订单付款时间"),
    "customer_id": ("买家会员名",),
    "full_name": ("收货人姓名",),
    "phone": ("联系手机",),
    "province": (PROVINCE,),
    "city": (CITY,),
    "postcode": (POSTCODE,),
    "sku": ("商家编码", "外部系统编号"),
    "product_name": ("标题", "宝贝标题"),
    "quantity": ("购买数量", "宝贝总数量"),
    "unit_price": ("价格", AVERAGE_PRICE),
    "status": ("订单状态",),
    "order_total": ("买家实际支付金额",),
    "shipping": ("买家应付邮费",),
    "refunded_amount": ("退款金额",),
}
STATUS_WORDS: dict[str, str] = {
    "等待买家付款": str(OrderStatus.PENDING),
    "没有创建支付宝交易": str(OrderStatus.PENDING),
    "买家已付款，等待卖家发货": str(OrderStatus.PAID),
    "卖家部分发货": str(OrderStatus.PAID),
    "卖家已发货，等待买家确认": str(OrderStatus.PAID),
    "卖家已发货，等待买家确认收货": str(OrderStatus.PAID),
    "买家已签收": str(OrderStatus.PAID),
    "交易成功": str(OrderStatus.PAID),
    "交易关闭": str(OrderStatus.CANCELLED),
    "交易被淘宝关闭": str(OrderStatus.CANCELLED),
    CLOSED_AFTER_PAYMENT: str(OrderStatus.RETURNED),
}


def prepare(table: RawTable, *, path: Path | None = None) -> RawTable:
    """The order report joined with its item report: one row per item carrying its order's
    columns (an order without items: one row from the order report), in the order report's
    order and naming its rows; statuses, buyers, phones and addresses read as the module
    docstring says. Refuses (FileRejected) an item report without its order report; a file
    that is neither is returned as read (the mapping then says what is missing)."""
    orders_table, items_table = china.find_reports(table, path, main=ORDER_HEADERS, second=ITEM_HEADERS)
    if orders_table is None:
        if items_table is not None:
            raise FileRejected(
                _(
                    "This is Taobao's item report (宝贝报表, ExportOrderDetailList….csv) without its order report "
                    "(订单报表, ExportOrderList….csv): upload both files together, or the order report alone."
                )
            )
        return table
    orders = china.unguard(orders_table.frame)
    notes: list[str] = []
    _read_statuses(orders)
    notes += china.read_people(
        orders,
        buyer=china.column_of(orders, "买家会员名"),
        name=china.column_of(orders, "收货人姓名"),
        phone=china.column_of(orders, "联系手机"),
        virtual=china.column_of(orders, "虚拟号过期时间"),
    )
    address = china.column_of(orders, "收货地址")
    if address is not None:
        orders[PROVINCE], orders[CITY], orders[POSTCODE] = china.split_addresses(orders[address])
    orders[AVERAGE_PRICE] = _average_prices(orders)
    if items_table is None:
        notes.append(
            _(
                "Only the order report (订单报表) was uploaded: each order was imported as one line "
                "(宝贝标题, 宝贝总数量, 买家应付货款). Upload it together with the item report (宝贝报表) "
                "for one line per product."
            )
        )
        return dataclasses.replace(orders_table, frame=orders, notes=[*orders_table.notes, *notes])
    frame, positions, join_notes = china.join_items(
        orders,
        china.unguard(items_table.frame),
        key="订单编号",
        item_report="宝贝报表",
        exclude=("订单状态",),
        fallback=(("标题", "宝贝标题"), ("购买数量", "宝贝总数量"), ("价格", AVERAGE_PRICE)),
        drop=(AVERAGE_PRICE,),
    )
    return dataclasses.replace(
        orders_table,
        frame=frame,
        row_numbers=np.asarray(orders_table.row_numbers)[positions],
        notes=[*orders_table.notes, *notes, *join_notes],
    )


def _read_statuses(orders: pd.DataFrame) -> None:
    """交易关闭 of a paid order becomes 交易关闭（已退款）; a refund counts on sales only (on any
    other order 退款金额 is emptied: a returned order already gives everything back); an order
    nobody paid has no 买家实际支付金额, so that its total is the value of its goods."""
    status = china.column_of(orders, "订单状态")
    if status is None:
        return
    china.settle_statuses(
        orders,
        status=status,
        words=orders[status].str.replace(",", "，", regex=False),
        closed_words=["交易关闭", "交易被淘宝关闭"],
        paid_at=china.column_of(orders, "订单付款时间"),
        amount=china.column_of(orders, "买家实际支付金额"),
        refund=china.column_of(orders, "退款金额"),
        status_words=STATUS_WORDS,
    )


def _average_prices(orders: pd.DataFrame) -> pd.Series:
    """买家应付货款 ÷ 宝贝总数量 per order, for the one line of an order without its items."""
    goods = china.column_of(orders, "买家应付货款")
    count = china.column_of(orders, "宝贝总数量")
    if goods is None or count is None:
        return pd.Series("", index=orders.index, dtype=object)
    prices = china.cents_text(china.average_cents(china.cents(orders[goods]), china.quantities(orders[count])))
    return prices.where(orders[goods] != "", "")
