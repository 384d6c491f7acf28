"""Demo data: a believable coffee & tea shop for analytics demos and tests.

`demo_shop_generate` fills one shop with customers, a product catalogue, orders with
lines, browsing events and reviews. Everything is drawn from one
`numpy.random.default_rng(seed)` and anchored to `as_of` (never the wall clock), so the same
seed and `as_of` give identical rows; only the bookkeeping columns Django stamps itself
(`updated_at`, and `created_at` of products and orders) differ.

The data has structure for the analytics to find, and none of it is stored:
- customer groups (loyal big spenders, bargain hunters, regulars, occasional buyers,
  one-time buyers, lapsed customers, browsers who never bought) that differ in
  frequency, basket size, price level, discounts, browsing, ratings and a little in age;
- purchases per customer follow a Poisson process with a per-customer rate and a chance
  of dropping out after each purchase (the BG/NBD story); lapsed customers stop early;
- weekly (Sunday high, Saturday low), yearly (Nov-Dec peak, summer dip, Black Friday)
  and evening rhythms, and growth; customers who predate the window are simulated from
  before it (a "run-in"), so the data opens on a shop with a customer base;
- product bundles bought together (`BUNDLES`) and per-customer category preferences;
- ~5% guest orders, ~3% cancelled, ~2.5% fully returned (status "returned", total as placed),
  ~2% refunds (a later credit note: status "returned", one negative-quantity line and a
  negative total, as ADR 0007 says), a few pending.
"""

from __future__ import annotations

import datetime as dt
from calendar import monthrange
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from customers.identity import customer_identities_link, product_identities_link
from customers.keys import email_key, phone_key
from customers.models import Customer, Event, EventKind, Order, OrderLine, OrderStatus, Product, Review, Source
from customers.signals import data_changed
from shops.models import Shop

BATCH_SIZE = 2000
CUSTOMER_ID_PREFIX = "D-C"
ORDER_ID_PREFIX = "D-O"
PRODUCT_ID_PREFIX = "D-P"

CATEGORIES = ("Coffee beans", "Tea", "Brewing gear", "Mugs & cups", "Chocolate", "Gift sets", "Syrups", "Snacks")

# category|sku|title|brand|price|popularity|months on sale (empty: all year)
_CATALOGUE = """
Coffee beans|CB-HOUSE-1K|House Espresso Blend 1kg|Hillside Roasters|27.50|10|
Coffee beans|CB-HOUSE-250|House Espresso Blend 250g|Hillside Roasters|8.50|9|
Coffee beans|CB-ETH-250|Ethiopia Yirgacheffe 250g|Red Kite Coffee|10.50|8|
Coffee beans|CB-COL-250|Colombia Huila 250g|Red Kite Coffee|9.50|8|
Coffee beans|CB-KEN-250|Kenya AA Nyeri 250g|Red Kite Coffee|11.95|5|
Coffee beans|CB-BRA-1K|Brazil Santos 1kg|Northern Bean Co.|22.00|6|
Coffee beans|CB-BRA-250|Brazil Santos 250g|Northern Bean Co.|7.25|6|
Coffee beans|CB-GUA-250|Guatemala Antigua 250g|Hillside Roasters|9.95|4|
Coffee beans|CB-SUM-250|Sumatra Mandheling 250g|Northern Bean Co.|9.75|3|
Coffee beans|CB-DEC-250|Decaf Swiss Water 250g|Hillside Roasters|9.25|5|
Coffee beans|CB-GEI-100|Panama Geisha 100g|Red Kite Coffee|24.00|1.5|
Coffee beans|CB-YUN-250|Yunnan Catimor 250g|Northern Bean Co.|8.95|3|
Coffee beans|CB-XMAS-250|Christmas Blend 250g|Hillside Roasters|10.00|5|11,12
Coffee beans|CB-COLD-500|Cold Brew Coarse Grind 500g|Northern Bean Co.|12.50|4|5,6,7,8,9
Coffee beans|CB-ROB-1K|Robusta Everyday 1kg|Northern Bean Co.|15.99|4|
Coffee beans|CB-SAMP-4|Roaster's Sampler 4 x 100g|Red Kite Coffee|18.00|3|
Tea|TE-EGR-100|Earl Grey Loose Leaf 100g|Camellia & Co.|6.50|9|
Tea|TE-ENB-80|English Breakfast 80 Bags|Camellia & Co.|5.25|9|
Tea|TE-JAS-100|Jasmine Pearls 100g|Jade Leaf House|12.50|6|
Tea|TE-LJ-50|Longjing Dragon Well 50g|Jade Leaf House|14.00|5|
Tea|TE-TGY-100|Tieguanyin Oolong 100g|Jade Leaf House|11.00|5|
Tea|TE-PUE-357|Pu-erh Cake 357g|Jade Leaf House|28.00|2|
Tea|TE-DAR-100|Darjeeling First Flush 100g|Misty Peak|13.50|4|
Tea|TE-ASS-250|Assam Breakfast 250g|Misty Peak|7.95|5|
Tea|TE-ROO-100|Rooibos Vanilla 100g|Camellia & Co.|5.95|4|
Tea|TE-CHA-50|Chamomile Flowers 50g|Misty Peak|4.95|4|
Tea|TE-PEP-50|Peppermint Leaf 50g|Misty Peak|4.50|4|
Tea|TE-MAT-30|Ceremonial Matcha 30g|Jade Leaf House|19.50|5|
Tea|TE-LAP-100|Lapsang Souchong 100g|Camellia & Co.|7.50|2|
Tea|TE-CHAI-100|Masala Chai 100g|Camellia & Co.|6.95|5|
Tea|TE-WHT-50|Bai Mu Dan White Tea 50g|Jade Leaf House|9.50|3|
Tea|TE-WIN-100|Winter Spice Tea 100g|Camellia & Co.|6.50|4|10,11,12,1
Brewing gear|BG-FLT-100|Pour-over Paper Filters (100)|Pourwell|5.50|8|
Brewing gear|BG-V60|Ceramic Pour-over Dripper|Pourwell|22.00|5|
Brewing gear|BG-GRM|Manual Burr Grinder|Brewline|45.00|5|
Brewing gear|BG-GRE|Electric Burr Grinder|Brewline|129.00|2|
Brewing gear|BG-PRS|Travel Press Brewer|Brewline|34.95|4|
Brewing gear|BG-PRS-FLT|Travel Press Filters (350)|Brewline|4.95|2|
Brewing gear|BG-CRF|Glass Carafe Brewer 6-cup|Pourwell|45.00|3|
Brewing gear|BG-CRF-FLT|Carafe Bonded Filters (100)|Pourwell|10.50|1.5|
Brewing gear|BG-FRP|French Press 1L|Stone & Steam|28.00|5|
Brewing gear|BG-MOKA|Stovetop Moka Pot 6-cup|Stone & Steam|32.00|4|
Brewing gear|BG-KET|Gooseneck Kettle 1L|Stone & Steam|55.00|3|
Brewing gear|BG-SCL|Brewing Scale with Timer|Brewline|25.00|3|
Brewing gear|BG-TPG|Glass Teapot with Infuser 800ml|Stone & Steam|26.00|3|
Brewing gear|BG-TPI|Cast Iron Teapot 600ml|Stone & Steam|48.00|2|
Brewing gear|BG-WSK|Bamboo Matcha Whisk|Jade Leaf House|12.00|1.5|
Mugs & cups|MC-MUG-STN|Stoneware Mug 350ml|Hearth Pottery|14.00|7|
Mugs & cups|MC-MUG-ENM|Enamel Camp Mug|Clayworks|11.50|4|
Mugs & cups|MC-DWG-2|Double-walled Glasses (pair)|Stone & Steam|18.00|5|
Mugs & cups|MC-TRV|Insulated Travel Mug 350ml|Clayworks|22.00|6|
Mugs & cups|MC-ESP-4|Espresso Cups (set of 4)|Hearth Pottery|24.00|4|
Mugs & cups|MC-CAP-2|Cappuccino Cups & Saucers (pair)|Hearth Pottery|26.00|3|
Mugs & cups|MC-LAT|Latte Bowl|Hearth Pottery|12.50|3|
Mugs & cups|MC-GAI|Porcelain Gaiwan 150ml|Jade Leaf House|18.00|2|
Mugs & cups|MC-TEC-4|Tea Cups (set of 4)|Jade Leaf House|21.00|3|
Mugs & cups|MC-REU|Reusable Cup 12oz|Clayworks|9.95|5|
Mugs & cups|MC-XMAS|Christmas Mug|Hearth Pottery|12.00|4|11,12
Mugs & cups|MC-TUM|Cold Brew Tumbler|Clayworks|16.00|3|5,6,7,8
Mugs & cups|MC-MUG-SPK|Speckled Mug 300ml|Hearth Pottery|13.00|4|
Mugs & cups|MC-COAS-4|Cork Coasters (set of 4)|Clayworks|6.00|4|
Mugs & cups|MC-GLS-2|Tall Latte Glasses (pair)|Stone & Steam|15.00|3|
Chocolate|CH-DRK70|Dark Chocolate 70% 100g|Cocoa Row|3.95|9|
Chocolate|CH-MSS|Milk Chocolate Sea Salt 100g|Velvet & Salt|3.75|8|
Chocolate|CH-HZP|Hazelnut Praline Bar 100g|Velvet & Salt|4.25|6|
Chocolate|CH-ORG|Dark Orange 100g|Cocoa Row|3.95|5|
Chocolate|CH-RUB|Ruby Raspberry Bar 80g|Little Bean Chocolate|4.50|3|
Chocolate|CH-TRF-12|Truffle Box (12)|Velvet & Salt|16.00|6|
Chocolate|CH-HOT-250|Drinking Chocolate 250g|Cocoa Row|8.50|6|
Chocolate|CH-NIB-200|Cacao Nibs 200g|Little Bean Chocolate|6.50|2|
Chocolate|CH-CCB-150|Chocolate-covered Espresso Beans 150g|Little Bean Chocolate|5.50|4|
Chocolate|CH-MNT|Mint Thins 200g|Cocoa Row|6.95|4|
Chocolate|CH-ADV|Chocolate Advent Calendar|Velvet & Salt|22.00|5|11,12
Chocolate|CH-HRT|Valentine's Truffle Heart|Velvet & Salt|14.00|5|1,2
Chocolate|CH-VEG|Vegan Oat Milk Chocolate 100g|Little Bean Chocolate|4.25|4|
Chocolate|CH-BUT|Chocolate Buttons 150g|Cocoa Row|3.25|5|
Chocolate|CH-RRB|Rocky Road Bites 200g|Cocoa Row|5.95|3|
Gift sets|GS-WRAP|Premium Gift Box & Wrapping|House Gifts|4.50|4|
Gift sets|GS-CARD|Gift Card (25)|House Gifts|25.00|3|
Gift sets|GS-COF-TRIO|Coffee Lover's Trio|Hillside Roasters|29.00|5|
Gift sets|GS-TEA-TAST|Tea Tasting Set (6 teas)|Camellia & Co.|24.00|5|
Gift sets|GS-CHOC-COF|Chocolate & Coffee Hamper|House Gifts|39.00|4|
Gift sets|GS-XMAS-HMP|Christmas Hamper|House Gifts|65.00|5|11,12
Gift sets|GS-BREW-KIT|Pour-over Starter Kit|Pourwell|49.00|3|
Gift sets|GS-MATCHA|Matcha Ceremony Set|Jade Leaf House|45.00|2|
Gift sets|GS-COCOA|Hot Chocolate Gift Tin|Cocoa Row|18.00|4|
Gift sets|GS-BISC-TIN|Biscuit & Tea Tin|House Gifts|22.00|4|
Gift sets|GS-MUG-SET|Mug & Coffee Gift Set|Hearth Pottery|26.00|3|
Gift sets|GS-SUB-3M|Coffee Subscription (3 months)|Hillside Roasters|54.00|2|
Gift sets|GS-LNY|Lunar New Year Tea Box|Jade Leaf House|32.00|5|1,2
Gift sets|GS-MINI|Mini Treats Box|House Gifts|12.00|4|
Syrups|SY-VAN|Vanilla Syrup 250ml|Sweet Pour|5.50|8|
Syrups|SY-CAR|Caramel Syrup 250ml|Sweet Pour|5.50|7|
Syrups|SY-HAZ|Hazelnut Syrup 250ml|Sweet Pour|5.50|6|
Syrups|SY-SCA|Salted Caramel Syrup 250ml|Drizzle & Co.|5.95|5|
Syrups|SY-GIN|Gingerbread Syrup 250ml|Drizzle & Co.|5.95|5|10,11,12
Syrups|SY-PUM|Pumpkin Spice Syrup 250ml|Drizzle & Co.|5.95|5|9,10,11
Syrups|SY-VSF|Sugar-free Vanilla Syrup 250ml|Sweet Pour|5.75|4|
Syrups|SY-CIN|Cinnamon Syrup 250ml|Sweet Pour|5.50|3|
Syrups|SY-IRC|Irish Cream Syrup 250ml|Drizzle & Co.|5.95|3|
Syrups|SY-CHS|Chocolate Sauce 500ml|Drizzle & Co.|7.50|4|
Syrups|SY-LAV|Lavender Syrup 250ml|Drizzle & Co.|6.25|2|
Syrups|SY-MAP|Maple Syrup 250ml|Sweet Pour|8.95|3|
Syrups|SY-COC|Coconut Syrup 250ml|Sweet Pour|5.50|2|
Syrups|SY-PEP|Peppermint Syrup 250ml|Drizzle & Co.|5.95|4|11,12
Snacks|SN-BIS|Almond Biscotti 200g|Oven Door Bakery|4.50|7|
Snacks|SN-SHB|Butter Shortbread 150g|Golden Crumb|3.95|6|
Snacks|SN-STR|Caramel Stroopwafels (8)|Golden Crumb|4.25|6|
Snacks|SN-CAN|Cantuccini 250g|Oven Door Bakery|5.25|4|
Snacks|SN-OAT|Oat & Raisin Cookies (6)|Oven Door Bakery|3.50|4|
Snacks|SN-FLP|Honey Flapjack (4)|Golden Crumb|4.00|4|
Snacks|SN-AMA|Soft Amaretti 200g|Oven Door Bakery|5.50|3|
Snacks|SN-SPE|Speculoos Biscuits 250g|Golden Crumb|3.25|5|
Snacks|SN-GRA|Maple Pecan Granola 500g|Golden Crumb|6.95|3|
Snacks|SN-PIN|Pineapple Cakes (6)|Lucky Cat Snacks|8.50|3|
Snacks|SN-EGR|Egg Roll Biscuits 200g|Lucky Cat Snacks|5.95|3|
Snacks|SN-MOC|Red Bean Mochi (6)|Lucky Cat Snacks|6.50|3|
Snacks|SN-MOON|Lotus Seed Mooncakes (4)|Lucky Cat Snacks|18.00|5|8,9
Snacks|SN-SES|Sesame Crunch Bars 150g|Lucky Cat Snacks|3.50|3|
Snacks|SN-MNP|Mince Pies (6)|Oven Door Bakery|4.95|5|11,12
"""


@dataclass(frozen=True)
class _Item:
    category: int
    sku: str
    title: str
    brand: str
    pence: int
    popularity: float
    months: frozenset[int]


CATALOGUE: tuple[_Item, ...] = tuple(
    _Item(
        CATEGORIES.index(cat),
        sku,
        title,
        brand,
        round(float(price) * 100),
        float(pop),
        frozenset(int(m) for m in months.split(",") if m),
    )
    for cat, sku, title, brand, price, pop, months in (row.split("|") for row in _CATALOGUE.strip().splitlines())
)
_SKU_INDEX = {item.sku: i for i, item in enumerate(CATALOGUE)}

# Bought together: when a basket holds an anchor, a companion is added with this chance.
BUNDLES: tuple[tuple[tuple[str, ...], tuple[str, ...], float], ...] = (
    (("CB-ETH-250", "CB-COL-250", "CB-KEN-250", "CB-GUA-250", "CB-SAMP-4"), ("BG-FLT-100",), 0.40),
    (("CB-HOUSE-1K", "CB-HOUSE-250", "CB-BRA-1K"), ("SY-VAN", "SY-CAR", "SY-HAZ"), 0.30),
    (("BG-GRM", "BG-GRE"), ("CB-ETH-250", "CB-COL-250", "CB-HOUSE-1K"), 0.60),
    (("BG-PRS",), ("BG-PRS-FLT",), 0.65),
    (("BG-CRF",), ("BG-CRF-FLT",), 0.70),
    (("TE-JAS-100", "TE-LJ-50", "TE-WHT-50"), ("BG-TPG", "MC-GAI"), 0.30),
    (("TE-EGR-100", "TE-ENB-80", "TE-ASS-250", "TE-DAR-100"), ("SN-SHB", "SN-OAT"), 0.35),
    (("CH-TRF-12", "CH-ADV", "CH-HRT"), ("GS-WRAP",), 0.45),
    (("TE-MAT-30",), ("BG-WSK",), 0.45),
    (("CB-HOUSE-250", "CB-HOUSE-1K"), ("SN-BIS", "SN-CAN", "CH-CCB-150"), 0.22),
    (("TE-TGY-100", "TE-PUE-357"), ("SN-PIN", "SN-EGR"), 0.35),
    (("CH-HOT-250",), ("MC-MUG-STN", "MC-LAT"), 0.25),
)
_COMPANIONS: dict[int, list[tuple[np.ndarray, float]]] = {}
for _anchors, _companions, _chance in BUNDLES:
    for _sku in _anchors:
        _COMPANIONS.setdefault(_SKU_INDEX[_sku], []).append((np.array([_SKU_INDEX[s] for s in _companions]), _chance))

# Sales rhythm by month (Jan..Dec) for each category, on top of the shop-wide rhythm.
_CATEGORY_MONTHS = np.array(
    [
        [1.05, 1.0, 1.0, 1.0, 0.95, 0.9, 0.85, 0.85, 1.0, 1.05, 1.05, 1.0],
        [1.15, 1.1, 1.0, 1.0, 0.95, 0.9, 0.85, 0.85, 1.0, 1.05, 1.1, 1.1],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.9, 1.0, 1.0, 1.2, 1.4],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.9, 1.0, 1.0, 1.2, 1.4],
        [1.0, 1.6, 1.1, 1.1, 0.9, 0.75, 0.6, 0.6, 0.9, 1.0, 1.3, 1.8],
        [0.6, 1.1, 0.9, 0.8, 0.9, 0.8, 0.7, 0.7, 0.8, 1.0, 2.2, 3.2],
        [1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.3, 1.3, 1.1, 1.1, 1.1, 1.1],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.1],
    ]
)
# Shop-wide rhythm: by month (at mid-month, interpolated), weekday (Mon..Sun) and local hour.
_MONTH_RHYTHM = np.array([0.85, 0.95, 1.0, 1.0, 0.95, 0.85, 0.72, 0.75, 0.95, 1.05, 1.4, 1.75])
_WEEKDAY_RHYTHM = np.array([1.0, 0.95, 0.95, 1.0, 0.85, 0.72, 1.35])
_HOUR_RHYTHM = np.array(
    [0.6, 0.3, 0.15, 0.1, 0.1, 0.15, 0.4, 0.9, 1.2, 1.3, 1.3, 1.4]
    + [1.8, 1.7, 1.3, 1.2, 1.2, 1.4, 1.9, 2.6, 3.0, 2.8, 2.0, 1.2]
)
_HOUR_CDF = np.cumsum(_HOUR_RHYTHM)
YEARLY_GROWTH = 0.3


@dataclass(frozen=True)
class _Behaviour:
    share: float  # of all customers
    mean_gap_days: float  # mean days between purchases while still a customer (0: buys once)
    dropout: float  # mean chance of never buying again after a purchase (the BG/NBD p)
    run_in: int  # the first purchase may be up to this many days before the window opens
    acquired_by: float  # ... and up to this share of the way into the window
    extra_items: float  # Poisson mean of distinct products beyond the first
    multi_buy: float  # chance a consumable line has quantity 2 or 3
    price_exponent: float  # product weight ~ price ** exponent: < 0 favours cheap products
    discount_share: float  # lines bought at a discount
    browse_sessions: float  # Poisson mean of browsing sessions that end without an order
    browse_seconds: float  # median page-view duration
    review_weight: float  # how likely a bought product gets a review
    age: float  # mean age
    ratings: tuple[float, ...]  # chance of 1..5 stars
    categories: tuple[float, ...]  # taste for CATEGORIES, before each customer's own draw


# fmt: off
_GROUP_TABLE = {
    #              share gap  drop  run-in acq  items multi price  disc  brow secs rev  age
    "loyal":      (0.07, 18,  0.02, 365, 0.60, 2.0, 0.30,  0.6, 0.05, 4,   50, 2.5, 46),
    "bargain":    (0.12, 28,  0.04, 300, 0.80, 0.4, 0.20, -1.5, 0.55, 5,   25, 1.0, 29),
    "regular":    (0.20, 45,  0.07, 300, 0.90, 1.0, 0.12,  0.0, 0.08, 3,   35, 1.0, 39),
    "occasional": (0.22, 110, 0.15, 240, 1.00, 0.9, 0.10,  0.0, 0.08, 2,   30, 0.8, 38),
    "one_time":   (0.24, 0,   1.00, 0,   1.00, 1.0, 0.10,  0.2, 0.08, 1.5, 30, 0.8, 36),
    "lapsed":     (0.11, 20,  0.00, 90,  0.25, 1.0, 0.12,  0.0, 0.10, 2,   30, 1.0, 37),
    "browser":    (0.04, 0,   1.00, 0,   1.00, 0.0, 0.00,  0.0, 0.00, 3,   25, 0.0, 33),
}
_GROUP_RATINGS = {
    "loyal":      (0.01, 0.02, 0.07, 0.25, 0.65),
    "bargain":    (0.06, 0.10, 0.24, 0.35, 0.25),
    "regular":    (0.03, 0.05, 0.12, 0.35, 0.45),
    "occasional": (0.05, 0.08, 0.17, 0.35, 0.35),
    "one_time":   (0.15, 0.15, 0.20, 0.25, 0.25),
    "lapsed":     (0.25, 0.22, 0.20, 0.18, 0.15),
    "browser":    (0.20, 0.20, 0.20, 0.20, 0.20),
}
_GROUP_TASTES = {  # Coffee beans, Tea, Brewing gear, Mugs & cups, Chocolate, Gift sets, Syrups, Snacks
    "loyal":      (0.30, 0.18, 0.16, 0.08, 0.10, 0.06, 0.06, 0.06),
    "bargain":    (0.18, 0.15, 0.03, 0.08, 0.14, 0.04, 0.18, 0.20),
    "regular":    (0.25, 0.20, 0.10, 0.08, 0.12, 0.07, 0.08, 0.10),
    "occasional": (0.20, 0.18, 0.08, 0.10, 0.14, 0.12, 0.08, 0.10),
    "one_time":   (0.15, 0.15, 0.08, 0.10, 0.15, 0.22, 0.05, 0.10),
    "lapsed":     (0.25, 0.20, 0.10, 0.08, 0.12, 0.07, 0.08, 0.10),
    "browser":    (0.20, 0.18, 0.10, 0.10, 0.14, 0.10, 0.08, 0.10),
}
# fmt: on
# The true groups live only here; nothing in the database says which group a customer is in.
GROUPS: dict[str, _Behaviour] = {
    name: _Behaviour(*row, ratings=_GROUP_RATINGS[name], categories=_GROUP_TASTES[name])
    for name, row in _GROUP_TABLE.items()
}
_GUEST = GROUPS["occasional"]
LAPSED_QUIET_DAYS = 200  # lapsed customers buy nothing in this many days before as_of
# Customers who predate the window are simulated from this many days before it, so the
# window opens on a shop with a customer base instead of an empty one.
RUN_IN_DAYS = max(b.run_in for b in GROUPS.values())


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


_FEMALE = _words(
    "Olivia Amelia Isla Ava Emily Sophie Grace Lily Freya Charlotte Hannah Chloe Lucy Ella Mia "
    "Evie Jessica Sarah Emma Laura Rachel Rebecca Katie Holly Megan Alice Ruth Helen Claire Zoe"
)
_MALE = _words(
    "Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James Henry Leo Alfie Joshua "
    "Daniel Samuel Benjamin Matthew Luke Adam Ryan Michael David Tom Ben Chris Mark Paul Simon"
)
_SURNAMES = _words(
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans Walker White "
    "Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis Harris Martin Cooper Hughes Edwards Turner Murphy"
)
# (characters, pinyin)
_ZH_SURNAMES = tuple(
    tuple(s.split(":"))
    for s in _words(
        "王:Wang 李:Li 张:Zhang 刘:Liu 陈:Chen 杨:Yang 黄:Huang 赵:Zhao 吴:Wu 周:Zhou 徐:Xu "
        "孙:Sun 马:Ma 朱:Zhu 胡:Hu 郭:Guo 何:He 林:Lin 高:Gao 罗:Luo"
    )
)
_ZH_FEMALE = tuple(
    tuple(s.split(":"))
    for s in _words(
        "芳:Fang 静:Jing 丽:Li 敏:Min 婷:Ting 雪:Xue 琳:Lin 欣怡:Xinyi "
        "梓涵:Zihan 雨桐:Yutong 佳怡:Jiayi 思琪:Siqi 晓燕:Xiaoyan 慧:Hui 颖:Ying"
    )
)
_ZH_MALE = tuple(
    tuple(s.split(":"))
    for s in _words(
        "伟:Wei 强:Qiang 磊:Lei 军:Jun 洋:Yang 勇:Yong 杰:Jie 涛:Tao "
        "浩然:Haoran 子轩:Zixuan 宇航:Yuhang 俊杰:Junjie 明:Ming 建华:Jianhua 志强:Zhiqiang"
    )
)
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "post.example.org")
_UK_CITIES = (
    "London London London Manchester Birmingham Leeds Glasgow Edinburgh Bristol Liverpool Cardiff Belfast "
    "Brighton Oxford Cambridge York Sheffield Nottingham"
)
# country, mobile number prefix and digits after it, share among English- / Chinese-named customers, cities
_PLACES = (
    ("United Kingdom", "+44 7", 9, 0.78, 0.62, _UK_CITIES),
    ("Ireland", "+353 8", 8, 0.08, 0.02, "Dublin Dublin Cork Galway"),
    ("Germany", "+49 15", 9, 0.03, 0.02, "Berlin Hamburg Munich"),
    ("France", "+33 6", 8, 0.03, 0.02, "Paris Lyon Bordeaux"),
    ("Netherlands", "+31 6", 8, 0.03, 0.02, "Amsterdam Utrecht Rotterdam"),
    ("United States", "+1 206", 7, 0.05, 0.03, "Seattle Boston Chicago"),
    ("China", "+86 13", 9, 0.0, 0.17, "Shanghai Beijing Shenzhen Hangzhou Chengdu"),
    ("Singapore", "+65 9", 7, 0.0, 0.10, "Singapore"),
)
_OCCUPATIONS = _words(
    "Teacher|Software developer|Nurse|Student|Designer|Accountant|Engineer|Retired|Marketing manager|Barista|"
    "Doctor|Writer|Sales assistant|Civil servant|Researcher|Chef|Self-employed|",  # the last is "not given"
    "|",
)
_GENDER_CDF = np.cumsum([0.5, 0.45, 0.02, 0.03])  # female, male, other, not given
_PLACE_CDFS = {chinese: np.cumsum([p[4] if chinese else p[3] for p in _PLACES]) for chinese in (False, True)}
_TAGS = ("instagram", "google", "referral", "newsletter", "market-stall", "tiktok")

_SEARCHES = (
    ("decaf", "espresso beans", "ethiopian coffee", "1kg coffee", "light roast", "single origin"),
    ("green tea", "oolong", "jasmine", "earl grey", "loose leaf tea", "matcha"),
    ("grinder", "pour over", "filter papers", "french press", "teapot", "kettle"),
    ("mug", "travel mug", "espresso cups", "glass cup"),
    ("dark chocolate", "truffles", "hot chocolate", "vegan chocolate"),
    ("gift set", "gift for dad", "christmas hamper", "gift card"),
    ("vanilla syrup", "sugar free syrup", "caramel"),
    ("biscotti", "shortbread", "stroopwafel", "pineapple cake"),
)
_BARGAIN_SEARCHES = ("sale", "discount", "offers", "cheap coffee", "multibuy")
_NOUNS = ("coffee", "tea", "kit", "mug", "chocolate", "gift set", "syrup", "biscuits")
_REVIEW_TEXTS = (
    (
        "Arrived damaged and tasted stale. Very disappointed.",
        "Not what the photos showed. Sent it back.",
        "Poor quality {noun}, would not buy again.",
        "Took two weeks to arrive and the {noun} was broken.",
    ),
    (
        "The {noun} was a letdown, flat and dull.",
        "Overpriced for what you get.",
        "Packaging was fine but I did not enjoy this {noun}.",
    ),
    (
        "It's okay. Nothing special.",
        "Decent {noun}, but I've had better.",
        "Average. Delivery was quick though.",
    ),
    (
        "Really nice {noun}, will probably order again.",
        "Good quality and well packed.",
        "Very pleasant {noun}. Arrived on time.",
        "Good value, happy with it.",
    ),
    (
        "Absolutely love this {noun}! Will buy again.",
        "Excellent {noun}, my new favourite.",
        "Perfect gift, beautifully packaged.",
        "Outstanding quality and lovely service.",
        "Best {noun} I've had in years.",
    ),
)


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    products: int
    orders: int
    lines: int
    events: int
    reviews: int
    net_revenue: Decimal  # paid sales minus credit notes; fully returned sales net to zero (ADR 0007)
    first_day: dt.date
    as_of: dt.date

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(
            net_revenue=str(self.net_revenue), first_day=self.first_day.isoformat(), as_of=self.as_of.isoformat()
        )
        return data


class DemoDataExists(Exception):
    """The shop already holds demo rows (their external ids would collide)."""


@dataclass
class _Order:
    customer: int | None
    day: int
    second: int
    lines: list[tuple[int, int, int]] = field(default_factory=list)  # (product, quantity, unit pence)
    status: str = OrderStatus.PAID

    @property
    def total_pence(self) -> int:
        return sum(q * p for _, q, p in self.lines)


@dataclass
class _Plan:
    start: dt.date
    days: int
    run_in: int  # signups may fall this many days before start
    customers: list[dict]
    orders: list[_Order]
    events: list[tuple[int | None, str, int, int, int | None, dict]]  # customer, kind, day, second, secs, props
    reviews: list[tuple[int, int, int, str, int, int]]  # customer, product, rating, text, day, second


def demo_shop_generate(
    *, shop: Shop, customers: int = 3000, seed: int = 7, months: int = 14, as_of: dt.date | None = None
) -> DemoSummary:
    """Fill `shop` with demo data covering the `months` before `as_of` (default: today in the shop's time zone).

    Orders end on the day before `as_of`. Writes in one transaction through `Model.unscoped`.
    Refuses (DemoDataExists) a shop that already has demo rows, and (ValueError) fewer than
    one customer or month.
    """
    if customers < 1 or months < 1:
        raise ValueError("Demo data needs at least one customer and one month.")
    if as_of is None:
        as_of = timezone.now().astimezone(shop.tzinfo).date()
    for model in (Customer, Product, Order):
        if model.objects.for_shop(shop).filter(source=Source.DEMO).exists():
            raise DemoDataExists(f"Shop {shop.slug} already has demo data.")
    plan = _plan(np.random.default_rng(seed), n_customers=customers, start=_months_before(as_of, months), end=as_of)
    return _write(shop, plan, as_of=as_of)


def _months_before(day: dt.date, months: int) -> dt.date:
    year, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month0 + 1, min(day.day, monthrange(year, month0 + 1)[1]))


def _daily_rhythm(start: dt.date, n_days: int) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """Relative order intensity per day (mean 1), month (1..12) per day, and sale days (Black Friday weekend)."""
    dates = [start + dt.timedelta(days=d) for d in range(n_days)]
    months = np.array([d.month for d in dates])
    position = np.array([d.month - 1 + (d.day - 0.5) / monthrange(d.year, d.month)[1] for d in dates])
    centres = np.arange(-0.5, 13.0)
    yearly = np.interp(position, centres, np.r_[_MONTH_RHYTHM[-1], _MONTH_RHYTHM, _MONTH_RHYTHM[0]])
    weekly = _WEEKDAY_RHYTHM[[d.weekday() for d in dates]]
    trend = np.exp(YEARLY_GROWTH * np.arange(n_days) / 365.0)
    special = np.ones(n_days)
    sale_days = set()
    for i, d in enumerate(dates):
        if d.month == 11 and d.weekday() == 4 and 22 <= d.day <= 28:  # Black Friday
            for offset, boost in ((0, 2.4), (1, 1.5), (2, 1.4), (3, 1.8)):  # ... to Cyber Monday
                if i + offset < n_days:
                    special[i + offset] = boost
                    sale_days.add(i + offset)
        elif d.month == 12 and d.day in (24, 25, 26, 31):
            special[i] = {24: 0.6, 25: 0.25, 26: 0.5, 31: 0.7}[d.day]
        elif d.month == 12 and 14 <= d.day <= 19:  # last posting days before Christmas
            special[i] = 1.3
        elif d.month == 1 and d.day == 1:
            special[i] = 0.5
    rhythm = yearly * weekly * trend * special
    return rhythm / rhythm.mean(), months, sale_days


def _below(rng: np.random.Generator, n: int) -> int:
    """A uniform integer in [0, n): one draw, much cheaper than rng.integers."""
    return int(rng.random() * n)


def _pick(rng: np.random.Generator, cdf: np.ndarray) -> int:
    """An index drawn with the weights whose running sums are `cdf`; cheaper than rng.choice(p=...)."""
    return int(cdf.searchsorted(rng.random() * cdf[-1], side="right"))


def _plan(rng: np.random.Generator, *, n_customers: int, start: dt.date, end: dt.date) -> _Plan:
    n_days, before = (end - start).days, RUN_IN_DAYS
    # Day numbers count from `start`; negative days are the run-in before the window.
    rhythm, run_in_months, run_in_sale_days = _daily_rhythm(start - dt.timedelta(days=before), before + n_days)
    cumulative = np.cumsum(rhythm)  # "rhythm time" at the end of each day, from the start of the run-in
    day_month = run_in_months[before:]
    sale_days = {d - before for d in run_in_sale_days if d >= before}
    names = list(GROUPS)
    counts = np.floor([GROUPS[g].share * n_customers for g in names]).astype(int)
    counts[names.index("one_time")] += n_customers - counts.sum()
    groups = rng.permutation(np.repeat(np.arange(len(names)), counts))

    prices = np.array([item.pence for item in CATALOGUE], dtype=float)
    popularity = np.array([item.popularity for item in CATALOGUE])
    product_category = np.array([item.category for item in CATALOGUE])
    on_sale = np.array([[not item.months or m in item.months for item in CATALOGUE] for m in range(1, 13)])
    month_weight = _CATEGORY_MONTHS.T[:, product_category] * on_sale  # (12, products)
    relative_price = prices / np.median(prices)

    def product_weights(behaviour: _Behaviour, taste: np.ndarray) -> np.ndarray:
        return popularity * relative_price**behaviour.price_exponent * taste[product_category]

    def tastes(behaviour: _Behaviour) -> np.ndarray:
        taste = rng.dirichlet(np.array(behaviour.categories) * 12)
        lean = rng.random()
        if lean < 0.4:  # coffee people and tea people: a preference clustering can find
            taste[0] *= 2.2
            taste[1] *= 0.4
        elif lean < 0.7:
            taste[1] *= 2.2
            taste[0] *= 0.4
        return taste / taste.sum()

    def second_of_day(preferred_hour: int) -> int:
        near_usual = rng.random() < 0.55  # most people shop around their usual hour
        hour = int(preferred_hour + round(rng.normal(0, 1.0))) % 24 if near_usual else _pick(rng, _HOUR_CDF)
        return hour * 3600 + _below(rng, 3600)

    def basket(order: _Order, behaviour: _Behaviour, monthly_cdfs: np.ndarray) -> None:
        cdf = monthly_cdfs[day_month[order.day] - 1]
        wanted = 1 + rng.poisson(behaviour.extra_items)
        chosen: list[int] = []
        for _ in range(wanted * 3):
            product = _pick(rng, cdf)
            if product not in chosen:
                chosen.append(product)
            if len(chosen) == wanted:
                break
        for product in list(chosen):
            for companions, chance in _COMPANIONS.get(product, ()):
                if rng.random() < chance:
                    companion = int(companions[_below(rng, len(companions))])
                    if companion not in chosen and month_weight[day_month[order.day] - 1, companion] > 0:
                        chosen.append(companion)
        on_sale_day = order.day in sale_days
        for product in chosen:
            quantity = 1
            if product_category[product] not in (2, 3, 5) and rng.random() < behaviour.multi_buy:
                quantity = 2 if rng.random() < 0.8 else 3
            factor = 0.8 if on_sale_day else 1.0
            if not on_sale_day and rng.random() < behaviour.discount_share:
                factor = (0.9, 0.85, 0.8, 0.75)[_below(rng, 4)]
            order.lines.append((product, quantity, round(prices[product] * factor)))

    def day_between(lo: int, hi: int) -> int:
        """A day in [lo, hi) (run-in coordinates), likelier on busy days."""
        base = cumulative[lo - 1] if lo > 0 else 0.0
        return int(cumulative.searchsorted(base + rng.random() * (cumulative[hi - 1] - base), side="right"))

    def purchase_days(name: str, behaviour: _Behaviour) -> tuple[list[int], int, int]:
        """(purchase days, day the customer stops buying, first purchase day); may be negative (run-in).

        Purchases form a Poisson process in rhythm time (so they follow the shop's seasons)
        with a per-customer rate, and after each one the customer may drop out for good.
        """
        end_day = before + n_days
        first = day_between(before - behaviour.run_in, before + max(1, int(behaviour.acquired_by * n_days)))
        stop = end_day
        if name == "lapsed":
            lo, hi = max(first + 60, before + 30), end_day - LAPSED_QUIET_DAYS
            if lo < hi:
                stop = lo + _below(rng, hi - lo)
        if name == "browser":
            return [], stop - before, first - before
        days = [first]
        if behaviour.mean_gap_days:
            rate = rng.gamma(3.0, 1.0 / behaviour.mean_gap_days / 3.0)
            max_orders = 10**6
            if behaviour.dropout:
                a = 1.5
                max_orders = int(rng.geometric(rng.beta(a, a * (1 - behaviour.dropout) / behaviour.dropout)))
            u = cumulative[first] - rng.random() * rhythm[first]
            while len(days) < max_orders:
                u += rng.exponential(1.0 / rate)
                if u >= cumulative[stop - 1]:
                    break
                days.append(int(cumulative.searchsorted(u, side="right")))
        days = [d - before for d in days]
        if name == "lapsed" and stop < end_day:  # lapsed means: active in the window, then gone
            active_from = max(0, first - before)
            while sum(d >= 0 for d in days) < 3:
                days.append(active_from + _below(rng, stop - before - active_from))
        return sorted(days), stop - before, first - before

    # --- customers and when they buy -------------------------------------------------
    people = []
    orders: list[_Order] = []
    for index, group in enumerate(groups):
        name = names[group]
        behaviour = GROUPS[name]
        taste = tastes(behaviour)
        monthly_cdfs = np.cumsum(product_weights(behaviour, taste) * month_weight, axis=1)
        preferred_hour = _pick(rng, _HOUR_CDF)
        all_days, stop_day, first_day = purchase_days(name, behaviour)
        days = [d for d in all_days if d >= 0]  # the run-in is not in the data
        for day in days:
            order = _Order(customer=index, day=day, second=second_of_day(preferred_hour))
            basket(order, behaviour, monthly_cdfs)
            orders.append(order)
        signup_day = max(-before, first_day - _below(rng, 4))
        signup_second = 6 * 3600 + _below(rng, 17 * 3600)
        if days and days[0] == signup_day:  # signed up at the first checkout
            signup_second = max(0, orders[-len(days)].second - 300)
        people.append(
            {
                "group": name,
                "taste": taste,
                "signup": (signup_day, signup_second),
                "last_day": min(n_days - 1, max(all_days + [signup_day]) + 30, stop_day),
                "orders": len(days),
            }
        )

    # --- guest orders ------------------------------------------------------------------
    guest_cdfs = np.cumsum(product_weights(_GUEST, np.array(_GUEST.categories)) * month_weight, axis=1)
    for _ in range(round(len(orders) * 0.05 / 0.95)):
        day = day_between(before, before + n_days) - before
        order = _Order(customer=None, day=day, second=second_of_day(_pick(rng, _HOUR_CDF)))
        basket(order, _GUEST, guest_cdfs)
        orders.append(order)

    # --- statuses: pending, cancelled, fully returned, partial refunds --------------------
    refunds = []
    for order in orders:
        draw = rng.random()
        if order.day >= n_days - 2 and draw < 0.4:
            order.status = OrderStatus.PENDING
        elif draw < 0.03:
            order.status = OrderStatus.CANCELLED
        elif draw < 0.055 and order.day < n_days - 3:
            order.status = OrderStatus.RETURNED
        elif draw < 0.075 and order.customer is not None and order.day < n_days - 25:
            product, quantity, unit = order.lines[_below(rng, len(order.lines))]
            refund = _Order(customer=order.customer, day=order.day + 3 + _below(rng, 18), second=0)
            refund.status = OrderStatus.RETURNED  # a credit note (ADR 0007)
            refund.second = second_of_day(_pick(rng, _HOUR_CDF))
            refund.lines.append((product, -1 - _below(rng, quantity), unit))
            refunds.append(refund)
    orders += refunds

    # --- customers get ids in signup order --------------------------------------------
    order_of_signup = sorted(range(len(people)), key=lambda i: people[i]["signup"])
    new_index = {old: new for new, old in enumerate(order_of_signup)}
    people = [people[i] for i in order_of_signup]
    for order in orders:
        if order.customer is not None:
            order.customer = new_index[order.customer]
    orders.sort(key=lambda o: (o.day, o.second))
    for person in people:
        person.update(_demographics(rng, person["group"], end))

    events = _browsing(rng, people, orders, n_days, product_category, product_weights)
    reviews = _reviews(rng, people, orders, n_days, n_customers)
    return _Plan(
        start=start, days=n_days, run_in=before, customers=people, orders=orders, events=events, reviews=reviews
    )


def _demographics(rng: np.random.Generator, group: str, end: dt.date) -> dict:
    """Name, contact details and profile; loosely tied to the group (age, occupation, consent), never naming it."""
    gender = ("female", "male", "other", "")[_pick(rng, _GENDER_CDF)]
    female = gender == "female" or (gender in ("other", "") and rng.random() < 0.5)
    chinese = rng.random() < 0.32
    if chinese:
        surname = _ZH_SURNAMES[_below(rng, len(_ZH_SURNAMES))]
        if rng.random() < 0.2:  # an English first name with a Chinese surname
            given = (_FEMALE if female else _MALE)[_below(rng, 30)]
            first, last, ascii_first, ascii_last = given, surname[1], given, surname[1]
        else:
            given = (_ZH_FEMALE if female else _ZH_MALE)[_below(rng, 15)]
            written = rng.random() < 0.5  # half write their name in characters
            first, last = (given[0], surname[0]) if written else (given[1], surname[1])
            ascii_first, ascii_last = given[1], surname[1]
    else:
        first = (_FEMALE if female else _MALE)[_below(rng, 30)]
        last = _SURNAMES[_below(rng, len(_SURNAMES))]
        ascii_first, ascii_last = first, last
    place = _PLACES[_pick(rng, _PLACE_CDFS[chinese])]
    cities = place[5].split()
    occupation_weights = np.ones(len(_OCCUPATIONS))
    if group == "bargain":
        occupation_weights[_OCCUPATIONS.index("Student")] = 5
    elif group == "loyal":
        for job in ("Retired", "Doctor", "Software developer", "Accountant"):
            occupation_weights[_OCCUPATIONS.index(job)] = 2
    occupation_weights[-1] = 2  # not given
    age = float(np.clip(rng.normal(GROUPS[group].age, 11), 18, 85))
    birth_date = end - dt.timedelta(days=int(age * 365.25) + _below(rng, 365))
    pattern = _below(rng, 4)
    local = [f"{ascii_first}.{ascii_last}", f"{ascii_first}{ascii_last}", f"{ascii_first[0]}.{ascii_last}"][
        min(pattern, 2)
    ].lower()
    if pattern == 3 or rng.random() < 0.3:
        local += str(1 + _below(rng, 98))
    consent = rng.random() < (0.8 if group == "loyal" else 0.69)
    tags = [_TAGS[_below(rng, len(_TAGS))]] if rng.random() < 0.6 else []
    return {
        "first_name": first,
        "last_name": last,
        "gender": gender,
        "email_local": local.replace(" ", "").replace("'", ""),
        "email_domain": _EMAIL_DOMAINS[_below(rng, len(_EMAIL_DOMAINS))],
        "phone": "" if rng.random() < 0.1 else f"{place[1]}{_below(rng, 10 ** place[2]):0{place[2]}d}",
        "birth_date": None if rng.random() < 0.08 else birth_date,
        "occupation": _OCCUPATIONS[_pick(rng, np.cumsum(occupation_weights))],
        "country": place[0],
        "city": cities[_below(rng, len(cities))],
        "tags": tags,
        "email_consent": bool(consent),
        "consent_delay": _below(rng, 3 * 86400),
    }


def _browsing(rng, people, orders, n_days, product_category, product_weights) -> list:
    """Page views, searches and add-to-carts: a session before some orders, and sessions that end without one."""
    events = []
    median_seconds = {name: np.log(b.browse_seconds) for name, b in GROUPS.items()}

    def session(customer: int | None, day: int, second: int, products: list[int], *, search: float, cart: float):
        group = people[customer]["group"] if customer is not None else "occasional"
        t = max(0, second - 60 - _below(rng, 1740))
        for product in products:
            if t >= 86400 - 60:
                break
            duration = min(1800, max(2, int(rng.lognormal(median_seconds[group], 0.8))))
            path = f"/products/{CATALOGUE[product].sku.lower()}"
            events.append((customer, EventKind.PAGE_VIEW, day, t, duration, {"path": path}))
            t += duration + 5 + _below(rng, 55)
        if rng.random() < search:
            queries = _SEARCHES[product_category[products[0]]]
            if group == "bargain" and rng.random() < 0.5:
                queries = _BARGAIN_SEARCHES
            query = queries[_below(rng, len(queries))]
            events.append((customer, EventKind.SEARCH, day, max(0, second - 1500), None, {"query": query}))
        if rng.random() < cart:
            added = {"sku": CATALOGUE[products[0]].sku, "quantity": 1}
            events.append((customer, EventKind.ADD_TO_CART, day, min(86399, max(t, second - 120)), None, added))

    for order in orders:
        if order.customer is not None and order.lines[0][1] > 0 and rng.random() < 0.25:
            session(order.customer, order.day, order.second, [line[0] for line in order.lines[:2]], search=0.3, cart=1)
    for index, person in enumerate(people):
        behaviour = GROUPS[person["group"]]
        cdf = np.cumsum(product_weights(behaviour, person["taste"]))
        first = max(0, person["signup"][0])
        last = min(n_days - 1, max(first + 30, person["last_day"]))  # past customers drop by once or twice
        for _ in range(rng.poisson(behaviour.browse_sessions + 0.1 * person["orders"])):
            day = first + _below(rng, last + 1 - first)
            viewed = [_pick(rng, cdf) for _ in range(1 + rng.poisson(0.8))]
            session(index, day, 7 * 3600 + _below(rng, 17 * 3600), viewed, search=0.35, cart=0.12)
    popular = np.cumsum([item.popularity for item in CATALOGUE])
    for _ in range(len(events) // 20):  # visitors who never logged in
        viewed = [_pick(rng, popular)]
        session(None, _below(rng, n_days), 3600 + _below(rng, 23 * 3600), viewed, search=0.2, cart=0.05)
    return events


def _reviews(rng, people, orders, n_days, n_customers) -> list:
    """About one review for every two customers, on products they bought; ratings follow the group."""
    candidates = []
    weights = []
    for order in orders:
        if order.customer is None or order.status in (OrderStatus.CANCELLED, OrderStatus.PENDING):
            continue
        for product, quantity, _ in order.lines:
            if quantity > 0:
                candidates.append((order.customer, product, order.day, order.second, order.status))
                weights.append(GROUPS[people[order.customer]["group"]].review_weight)
    if not candidates:
        return []
    w = np.array(weights)
    picked = rng.choice(
        len(candidates), size=min(len(candidates), round(n_customers * 0.55)), replace=False, p=w / w.sum()
    )
    reviews, seen = [], set()
    for i in sorted(int(i) for i in picked):
        customer, product, day, second, status = candidates[i]
        written_day = day + 2 + _below(rng, 20)
        if (customer, product) in seen or written_day >= n_days:
            continue
        seen.add((customer, product))
        ratings = GROUPS[people[customer]["group"]].ratings
        if status == OrderStatus.RETURNED:
            ratings = (0.45, 0.3, 0.15, 0.07, 0.03)
        rating = _pick(rng, np.cumsum(ratings)) + 1
        texts = _REVIEW_TEXTS[rating - 1]
        text = texts[_below(rng, len(texts))].format(noun=_NOUNS[CATALOGUE[product].category])
        reviews.append((customer, product, rating, text, written_day, 8 * 3600 + _below(rng, 15 * 3600)))
    return reviews


def _pence(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


def _write(shop: Shop, plan: _Plan, *, as_of: dt.date) -> DemoSummary:
    tz = shop.tzinfo
    first = -plan.run_in
    midnight = [
        dt.datetime.combine(plan.start + dt.timedelta(days=d), dt.time(), tzinfo=tz) for d in range(first, plan.days)
    ]

    def at(day: int, second: int) -> dt.datetime:
        return midnight[day - first] + dt.timedelta(seconds=second)

    # Foreign keys are set as *_id: the related-object descriptors cost more than the insert.
    shop_id, demo = shop.pk, Source.DEMO
    with transaction.atomic():
        products = [
            Product(
                shop_id=shop_id,
                source=demo,
                external_id=f"{PRODUCT_ID_PREFIX}{i + 1:04d}",
                sku=item.sku,
                title=item.title,
                category=CATEGORIES[item.category],
                brand=item.brand,
                price=_pence(item.pence),
            )
            for i, item in enumerate(CATALOGUE)
        ]
        product_ids = _bulk_create(Product, shop, products)
        # Each row is known by its demo id (ADR 0009), so a CSV or platform that later names the
        # same SKU or email finds it instead of creating a second one.
        product_identities_link(shop=shop, rows=[(p.pk, demo, p.external_id) for p in products])

        customers, emails, signups = [], set(), []
        for i, person in enumerate(plan.customers):
            email = f"{person['email_local']}@{person['email_domain']}"
            n = 2
            while email in emails:
                email = f"{person['email_local']}{n}@{person['email_domain']}"
                n += 1
            emails.add(email)
            signup = at(*person["signup"])
            signups.append(signup)
            consent_at = signup + dt.timedelta(seconds=person["consent_delay"]) if person["email_consent"] else None
            customers.append(
                Customer(
                    shop_id=shop_id,
                    source=demo,
                    external_id=f"{CUSTOMER_ID_PREFIX}{i + 1:05d}",
                    email=email,
                    # bulk_create runs no save(): the match keys are set here, as save() would
                    email_key=email_key(email),
                    phone_key=phone_key(person["phone"], region=shop.phone_region),
                    first_name=person["first_name"],
                    last_name=person["last_name"],
                    phone=person["phone"],
                    birth_date=person["birth_date"],
                    gender=person["gender"],
                    occupation=person["occupation"],
                    city=person["city"],
                    country=person["country"],
                    tags=person["tags"],
                    email_consent=person["email_consent"],
                    email_consent_at=min(consent_at, midnight[-1]) if consent_at else None,
                    source_updated_at=signup,
                )
            )
        customer_ids = _bulk_create(Customer, shop, customers)
        customer_identities_link(shop=shop, rows=[(c.pk, demo, c.external_id) for c in customers])
        _customers_since(customer_ids, signups)

        orders = [
            Order(
                shop_id=shop_id,
                source=demo,
                external_id=f"{ORDER_ID_PREFIX}{i + 1:06d}",
                customer_id=customer_ids[o.customer] if o.customer is not None else None,
                placed_at=at(o.day, o.second),
                currency=shop.currency,
                total=_pence(o.total_pence),
                status=o.status,
            )
            for i, o in enumerate(plan.orders)
        ]
        order_ids = _bulk_create(Order, shop, orders)
        lines = [
            OrderLine(
                shop_id=shop_id,
                order_id=order_id,
                product_id=product_ids[product],
                quantity=quantity,
                unit_price=_pence(unit),
            )
            for order_id, o in zip(order_ids, plan.orders, strict=True)
            for product, quantity, unit in o.lines
        ]
        OrderLine.unscoped.bulk_create(lines, batch_size=BATCH_SIZE)
        events = [
            Event(
                shop_id=shop_id,
                customer_id=customer_ids[c] if c is not None else None,
                kind=kind,
                at=at(day, second),
                duration_seconds=duration,
                properties=props,
            )
            for c, kind, day, second, duration, props in plan.events
        ]
        Event.unscoped.bulk_create(events, batch_size=BATCH_SIZE)
        reviews = [
            Review(
                shop_id=shop_id,
                customer_id=customer_ids[c],
                product_id=product_ids[p],
                rating=rating,
                text=text,
                created_at=at(day, second),
            )
            for c, p, rating, text, day, second in plan.reviews
        ]
        Review.unscoped.bulk_create(reviews, batch_size=BATCH_SIZE)

    net = sum(
        o.total_pence
        for o in plan.orders
        if o.status == OrderStatus.PAID or (o.status == OrderStatus.RETURNED and o.total_pence < 0)
    )
    transaction.on_commit(lambda: data_changed.send(sender=DemoSummary, shop_id=shop.pk, reason="demo"))
    return DemoSummary(
        customers=len(customers),
        products=len(products),
        orders=len(orders),
        lines=len(lines),
        events=len(events),
        reviews=len(reviews),
        net_revenue=_pence(net),
        first_day=plan.start,
        as_of=as_of,
    )


def _customers_since(customer_ids: list[int], signups: list[dt.datetime]) -> None:
    """Set created_at ("customer since") to the signup time.

    The field is auto_now_add, so bulk_create stamps the wall clock on it; one executemany is
    much faster than bulk_update's CASE expressions.
    """
    field = Customer._meta.get_field("created_at")
    quote = connection.ops.quote_name
    table, column, pk = quote(Customer._meta.db_table), quote(field.column), quote(Customer._meta.pk.column)
    sql = f"UPDATE {table} SET {column} = %s WHERE {pk} = %s"  # noqa: S608 (names come from the model)
    params = [(field.get_db_prep_value(s, connection), pk) for s, pk in zip(signups, customer_ids, strict=True)]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _bulk_create(model, shop: Shop, rows: list) -> list[int]:
    """bulk_create, then the rows' primary keys in order (later rows point to them).

    PostgreSQL and SQLite >= 3.35 return them from the INSERT; elsewhere they are read
    back by (source, external_id).
    """
    model.unscoped.bulk_create(rows, batch_size=BATCH_SIZE)
    if any(row.pk is None for row in rows):
        ids = dict(model.unscoped.filter(shop=shop, source=Source.DEMO).values_list("external_id", "pk"))
        for row in rows:
            row.pk = ids[row.external_id]
    return [row.pk for row in rows]
