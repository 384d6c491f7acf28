"""Youzan (有赞): the order report, with its item report, from 订单 › 所有订单 › 导出.

Where the layout comes from: Youzan exports two reports, as the open-source tools that
import them read them (their parsers and tests built from real exports):

- the order report (订单维度, one row per order): 订单号, 销售渠道, 归属店铺, 订单类型, 订单状态, 推广方式,
  订单来源, 订单创建时间, 买家付款时间, 交易成功时间, 付款方式, 支付流水号, 商品金额合计, 运费, 店铺优惠合计,
  应收订单金额, 订单实付金额, 支付优惠合计, 订单实收金额, 订单抵用积分数, 店铺优惠方式, 支付优惠方式,
  全部商品名称, 商品种类数, 订单配送方式, 同城送达时间/提货时间, 收货人省份, 收货人城市, 收货人地区,
  详细收货地址/提货地址, 收货人/提货人, 收货人手机号/提货人手机号, 买家备注, 订单星级, 买家昵称,
  买家是否会员, 买家手机号, 下单网点, 收银员, 分销员, 销售导购, 专属导购, 订单退款状态, 订单已退款金额,
  商家订单备注, … (some versions add 买家姓名, 订单商品总件数, 会员等级);
- the item report (商品维度, one row per item): 订单号, 外部订单号, 订单商品状态, 交易成功时间, 商品名称,
  商品类型, 商品类目, 商品规格, 规格编码, 商品编码, 商品单价, 商品成本价, 商品优惠方式, 商品优惠后价格, 商品数量,
  商品金额小计, 店铺优惠（分摊）, 商品实际成交金额, 商品抵用积分数, 商品留言, 收货人/提货人, …, 商品退款状态,
  商品已退款金额, 商家订单备注, 周期购信息.

Only the order report has the order's date, status and buyer, so it is the one needed; the
item report adds one line per product. Both are UTF-8 (GBK once re-saved by Excel: read too);
phones may carry a leading tab.

How it reads (the same rules as Taobao's, see taobao.py):
- lines: each item of the item report (商品名称, 商品单价 × 商品数量, 规格编码 else 商品编码 as SKU);
  an order the item report lacks, or an order report uploaded alone, gives one line from
  全部商品名称 / 订单商品总件数 (else 1 piece, column 商品件数) at the average price 商品金额合计 ÷
  pieces (column 商品均价), and the report says so;
- the total is 订单实付金额 (shipping included), 运费 the shipping, 订单已退款金额 on a sale the
  refund (ADR 0007); net revenue = Σ 订单实付金额 of sales − Σ 订单已退款金额 on them;
- statuses: 待付款 pending; 待发货, 已发货, 待成团, 待接单, 交易完成 / 交易成功 / 已完成 paid; 交易关闭 /
  已关闭 cancelled, or returned (written 交易关闭（已退款）) when 买家付款时间 shows it had been paid;
- customers: Youzan buyers sign in with their phone, so 买家手机号 in clear is the buyer's
  account: the customer is "youzan:<phone>" (column 买家标识, a Youzan-only key) with that
  phone; 买家昵称 is not unique and names nobody. Without it the order is a guest order. The
  name is 买家姓名, else 收货人/提货人, unless masked; 收货人省份 and 收货人城市 the province and city.
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

LABEL = gettext_lazy("Youzan (有赞) order export")
DESCRIPTION = gettext_lazy(
    "The order report (订单维度) exported from 有赞 › 订单 › 所有订单, uploaded together with its item report "
    "(商品维度): two files, or one zip holding both. Headers as Youzan writes them (listed by the tools that "
    "read these exports); UTF-8 or GBK. The total is 订单实付金额 with 运费 as shipping and 订单已退款金额 taken "
    "off; 待付款 is pending, 交易关闭 cancelled, or returned when it had been paid, the other states are sales. "
    "The customer is the buyer's phone (买家手机号) when it is not masked; 收货人省份 and 收货人城市 give province "
    "and city. The order report alone gives one line per order."
)
ENCODING = ""
# Both reports in one zip (youzan-orders.csv and youzan-items.csv, the same files unzipped, are
# the tests' fixtures).
EXAMPLE = "youzan.zip"

ORDER_HEADERS = ("订单号", "订单状态", "订单创建时间", "订单实付金额")
ITEM_HEADERS = ("订单号", "商品名称", "商品单价", "商品数量")
SIGNATURE = (
    "订单号",
    "订单状态",
    "订单创建时间",
    "买家付款时间",
    "商品金额合计",
    "运费",
    "订单实付金额",
    "全部商品名称",
    "收货人/提货人",
    "收货人手机号/提货人手机号",
)
# Columns prepare adds: the buyer key, and the pieces and average price of an order-only line.
BUYER, PIECES, AVERAGE_PRICE = "买家标识", "商品件数", "商品均价"
CLOSED_AFTER_PAYMENT = china.CLOSED_AFTER_PAYMENT

ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("订单号",),
    "ordered_at": ("订单创建时间", "买家付款时间"),
    "customer_id": (BUYER,),
    "full_name": ("买家姓名", "收货人/提货人"),
    "phone": ("买家手机号", "收货人手机号/提货人手机号"),
    "province": ("收货人省份",),
    "city": ("收货人城市",),
    "sku": ("规格编码", "商品编码"),
    "product_name": ("商品名称", "全部商品名称"),
    "quantity": ("商品数量", "订单商品总件数", PIECES),
    "unit_price": ("商品单价", AVERAGE_PRICE),
    "status": ("订单状态",),
    "order_total": ("订单实付金额",),
    "shipping": ("运费",),
    "refunded_amount": ("订单已退款金额",),
}
STATUS_WORDS: dict[str, str] = {
    "待付款": str(OrderStatus.PENDING),
    "待发货": str(OrderStatus.PAID),
    "部分发货": str(OrderStatus.PAID),
    "已发货": str(OrderStatus.PAID),
    "待成团": str(OrderStatus.PAID),
    "待接单": str(OrderStatus.PAID),
    "已接单": str(OrderStatus.PAID),
    "交易完成": str(OrderStatus.PAID),
    "交易成功": str(OrderStatus.PAID),
    "已完成": str(OrderStatus.PAID),
    "交易关闭": str(OrderStatus.CANCELLED),
    "已关闭": str(OrderStatus.CANCELLED),
    CLOSED_AFTER_PAYMENT: str(OrderStatus.RETURNED),
}


def prepare(table: RawTable, *, path: Path | None = None) -> RawTable:
    """The order report joined with its item report (see taobao.prepare: the same shape),
    with statuses, buyers, phones and names read as the module docstring says. Refuses
    (FileRejected) an item report without its order report; another file is returned as read."""
    orders_table, items_table = china.find_reports(table, path, main=ORDER_HEADERS, second=ITEM_HEADERS)
    if orders_table is None:
        if items_table is not None:
            raise FileRejected(
                _(
                    "This is Youzan's item report (商品维度) without its order report (订单维度): upload both files "
                    "together, or the order report alone."
                )
            )
        return table
    orders = china.unguard(orders_table.frame)
    _read_statuses(orders)
    notes = _read_people(orders)
    count = china.column_of(orders, "订单商品总件数")
    if count is None:
        orders[PIECES] = "1"
        count = PIECES
    goods = china.column_of(orders, "商品金额合计")
    if goods is not None:
        average = china.average_cents(china.cents(orders[goods]), china.quantities(orders[count]))
        orders[AVERAGE_PRICE] = china.cents_text(average).where(orders[goods] != "", "")
    if items_table is None:
        notes.append(
            _(
                "Only the order report (订单维度) was uploaded: each order was imported as one line (全部商品名称 "
                "at the average price). Upload it together with the item report (商品维度) for one line per product."
            )
        )
        return dataclasses.replace(orders_table, frame=orders, notes=[*orders_table.notes, *notes])
    frame, positions, join_notes = china.join_items(
        orders,
        china.unguard(items_table.frame),
        key="订单号",
        item_report="商品维度",
        fallback=(("商品名称", "全部商品名称"), ("商品数量", count), ("商品单价", AVERAGE_PRICE)),
        drop=(AVERAGE_PRICE, PIECES),
    )
    return dataclasses.replace(
        orders_table,
        frame=frame,
        row_numbers=np.asarray(orders_table.row_numbers)[positions],
        notes=[*orders_table.notes, *notes, *join_notes],
    )


def _read_statuses(orders: pd.DataFrame) -> None:
    """A closed order that had been paid becomes 交易关闭（已退款）; 订单已退款金额 counts on sales only;
    an order nobody paid has no 订单实付金额, so that its total is the value of its goods."""
    status = china.column_of(orders, "订单状态")
    if status is None:
        return
    china.settle_statuses(
        orders,
        status=status,
        words=orders[status],
        closed_words=["交易关闭", "已关闭"],
        paid_at=china.column_of(orders, "买家付款时间"),
        amount=china.column_of(orders, "订单实付金额"),
        refund=china.column_of(orders, "订单已退款金额"),
        status_words=STATUS_WORDS,
    )


def _read_people(orders: pd.DataFrame) -> list[str]:
    """Clear hidden names and phones; the buyer key from the buyer's phone in clear."""
    notes = china.read_people(
        orders,
        name=china.column_of(orders, "买家姓名"),
        phone=china.column_of(orders, "买家手机号"),
    )
    notes += china.read_people(
        orders,
        name=china.column_of(orders, "收货人/提货人"),
        phone=china.column_of(orders, "收货人手机号/提货人手机号"),
    )
    phone = china.column_of(orders, "买家手机号")
    orders[BUYER] = ("youzan:" + orders[phone]).where(orders[phone] != "", "") if phone is not None else ""
    return notes
