"""Douyin (抖店): the order export of 抖店 › 订单 › 订单管理 › 批量导出.

Where the layout comes from: the export's headers as open-source tools that import these
files read them (finance and settlement tools' parsers and their tests, built from real
exports): one row per sub-order (子订单, one product), in this order: 主订单编号, 子订单编号,
选购商品, 商品规格, 商品数量, 商品ID, 商家编码, 商品单价 (商品金额 in some versions), 订单应付金额,
运费, 优惠总金额, 平台优惠, 商家优惠, 达人优惠, 商家改价, 支付优惠, 红包抵扣, 支付方式, 手续费, 收件人,
收件人手机号, 省, 市, 区, 街道, 详细地址, 是否修改过地址, 买家留言, 订单提交时间, 旗帜颜色, 商家备注,
订单完成时间, 支付完成时间, APP渠道, 流量来源, 订单状态, 承诺发货时间, 订单类型, 鲁班落地页ID, 达人ID,
达人昵称, 所属门店ID, 售后状态, 取消原因, 预约发货时间, 仓库ID, 仓库名称, … 发货时间, 平台实际承担优惠金额,
商家实际承担优惠金额, 达人实际承担优惠金额, …. The file is UTF-8 with a byte-order mark (GBK
once re-saved by Excel: both read); ids are written "\t6917…" so that Excel keeps them as
text, and "-" stands for "nothing" (china.unguard drops both). Recipient data is encrypted
(##…, $$…) or masked in exports since 2021.

How it reads:
- one line per sub-order: 选购商品, 商品单价 × 商品数量, 商家编码 (else 商品ID) as SKU;
- a main order (主订单编号) is one order. Each sub-order has its own 订单状态 and 售后状态, so
  prepare writes the main order's state in the column 主订单状态: 已支付 (paid: some sub-order
  paid and not refunded), 已全部退款 (returned: every paid sub-order refunded, ADR 0007's sale
  refunded in full), 待支付 (pending), 已关闭 (cancelled: closed before payment). A sub-order is
  paid once 支付完成时间 is set or its state says so (备货中, 待发货, 已发货, 已完成, …); it is
  refunded when 售后状态 says the refund succeeded (退款成功, 退货退款成功, 仅退款成功) or it was
  closed after payment;
- the order's total (column 主订单应付金额) is the sum of its sub-orders' 订单应付金额, what the
  buyer was to pay, taken as including shipping (as every layout's total); 运费 is the order's
  shipping, read from its first row (an order-level amount: if Douyin writes a per-sub-order
  share instead, an order of several sub-orders shows only the first share as shipping; the
  total is unaffected). The refunded sub-orders of an order that is still a sale are taken off
  as its refunded amount (column 主订单已退款金额). Net revenue = Σ 订单应付金额 of paid sub-orders.
- customers: the export names no buyer account (达人 is the influencer, not the buyer), so the
  only way to know a buyer again is the recipient's phone. When 收件人手机号 is a mobile number
  in clear, the order's customer is "douyin:<phone>" (column 买家标识, a Douyin-only key: it
  links nothing across platforms; matching other customers by phone stays the shop's choice,
  ADR 0009) with that phone; an encrypted or masked phone makes a guest order. 收件人 is the
  name unless hidden; 省 and 市 the province and city. Times are the shop's wall-clock time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
from django.utils.translation import gettext_lazy

from customers.importers.layouts import china
from customers.importers.readers import RawTable
from customers.models import OrderStatus

LABEL = gettext_lazy("Douyin (抖店) order export")
DESCRIPTION = gettext_lazy(
    "The order export of 抖店 › 订单管理 › 批量导出: one row per sub-order (主订单编号, 子订单编号, 选购商品, "
    "商品数量, 商品单价, 订单应付金额, 运费, 订单提交时间, 支付完成时间, 订单状态, 售后状态, 收件人手机号, 省, 市, …), "
    "headers as the tools that read these exports list them; UTF-8 or GBK. A main order is one order: its "
    "total is the sum of its 订单应付金额 with 运费 as shipping; refunded sub-orders are taken off, an order "
    "refunded in full is returned, closed before payment cancelled, unpaid pending. The export names no "
    "buyer: a recipient phone in clear makes the customer, an encrypted or masked one a guest order."
)
ENCODING = ""
EXAMPLE = "douyin.csv"

HEADERS = ("主订单编号", "子订单编号", "选购商品", "商品数量", "订单应付金额", "订单状态")
SIGNATURE = ("主订单编号", "子订单编号", "选购商品", "商品数量", "订单应付金额", "订单提交时间", "订单状态", "售后状态")
# Columns prepare adds (the main order's own values).
STATE, TOTAL, REFUNDED, BUYER = "主订单状态", "主订单应付金额", "主订单已退款金额", "买家标识"
PAID_STATE, RETURNED_STATE, PENDING_STATE, CLOSED_STATE = "已支付", "已全部退款", "待支付", "已关闭"

ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("主订单编号",),
    "ordered_at": ("订单提交时间",),
    "customer_id": (BUYER,),
    "full_name": ("收件人",),
    "phone": ("收件人手机号",),
    "province": ("省",),
    "city": ("市",),
    "sku": ("商家编码", "商品ID"),
    "product_name": ("选购商品",),
    "quantity": ("商品数量",),
    "unit_price": ("商品单价", "商品金额"),
    "status": (STATE,),
    "order_total": (TOTAL,),
    "shipping": ("运费",),
    "refunded_amount": (REFUNDED,),
}
STATUS_WORDS: dict[str, str] = {
    PAID_STATE: str(OrderStatus.PAID),
    RETURNED_STATE: str(OrderStatus.RETURNED),
    PENDING_STATE: str(OrderStatus.PENDING),
    CLOSED_STATE: str(OrderStatus.CANCELLED),
}
# A sub-order's 订单状态.
_PENDING = {"待支付", "待付款", "待确认", "待买家付款"}
_PAID = {"备货中", "待发货", "部分发货", "已发货", "待收货", "已签收", "已完成", "已支付", "交易成功"}
_CLOSED = {"已关闭", "已取消", "交易关闭"}
_REFUND_DONE = ("退款成功", "退货成功")


def prepare(table: RawTable, *, path: Path | None = None) -> RawTable:
    """The export with its guards dropped, its hidden personal data emptied and the main
    order's state, total, refunded amount and buyer key added (see the module docstring).
    Same rows, same row numbers. A file without the sub-order headers is returned as read."""
    if not china.has_headers(table.frame, HEADERS):
        return table
    rows = china.unguard(table.frame, dash_is_empty=True)
    notes = china.read_people(
        rows,
        name=china.column_of(rows, "收件人"),
        phone=china.column_of(rows, "收件人手机号"),
    )
    phone = china.column_of(rows, "收件人手机号")
    rows[BUYER] = ("douyin:" + rows[phone]).where(rows[phone] != "", "") if phone is not None else ""
    _main_orders(rows)
    return dataclasses.replace(table, frame=rows, notes=[*table.notes, *notes])


def _main_orders(rows: pd.DataFrame) -> None:
    """Add STATE, TOTAL and REFUNDED: each main order's state from its sub-orders', the sum of
    their 订单应付金额 (closed-before-payment ones left out when some were paid) and the sum over
    its refunded sub-orders when the order is still a sale."""
    key = china.column_of(rows, "主订单编号")
    status = rows[china.column_of(rows, "订单状态")]
    after_sale = china.column_of(rows, "售后状态")
    refunded_word = rows[after_sale].str.contains("|".join(_REFUND_DONE)) if after_sale else False
    paid_at = china.column_of(rows, "支付完成时间")
    paid = status.isin(_PAID) | ((rows[paid_at] != "") if paid_at else False)
    closed = status.isin(_CLOSED)
    refunded = (paid | closed) & (refunded_word | (closed & paid))
    state = pd.Series("", index=rows.index, dtype=object)
    state[status.isin(_PENDING)] = "pending"
    state[closed & ~paid] = "cancelled"
    state[paid & ~refunded] = "paid"
    state[refunded] = "refunded"
    unknown = state == ""

    amount = china.cents(rows[china.column_of(rows, "订单应付金额")])
    frame = pd.DataFrame({"order": rows[key], "state": state, "amount": amount, "word": status})
    groups = frame.groupby("order", sort=False)
    has = {
        name: groups["state"].transform(lambda s, n=name: (s == n).any()) for name in ("paid", "refunded", "pending")
    }
    order_state = pd.Series(CLOSED_STATE, index=rows.index, dtype=object)
    order_state[has["pending"]] = PENDING_STATE
    order_state[has["refunded"]] = RETURNED_STATE
    order_state[has["paid"]] = PAID_STATE
    # A state this layout does not know: the word itself, so the cleaner names it.
    first_unknown = frame["word"].where(unknown).groupby(frame["order"], sort=False).transform("first")
    order_state = first_unknown.where(first_unknown.notna() & (first_unknown != ""), order_state)
    rows[STATE] = order_state

    money_moved = has["paid"] | has["refunded"]
    counted = frame["amount"].where(~money_moved | (state != "cancelled"), 0)
    rows[TOTAL] = china.cents_text(counted.groupby(frame["order"], sort=False).transform("sum"))
    back = frame["amount"].where(state == "refunded", 0).groupby(frame["order"], sort=False).transform("sum")
    rows[REFUNDED] = china.cents_text(back).where(order_state == PAID_STATE, "")
