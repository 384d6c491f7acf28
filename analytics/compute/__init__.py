"""Pure computation layer for customer analytics.

Nothing in this package imports Django or any of the project's app packages:
every function takes pandas DataFrames (or Series) and returns DataFrames or
small frozen dataclasses. Results are deterministic: every random step takes a
fixed ``random_state``. Bad input (a missing column, an empty frame where data
is required, an unknown option) raises :class:`ValueError` with a message that
names the problem. Money is handled as ``float`` inside this package; the web
layer converts to and from ``Decimal``.

Standard input frames
---------------------
Column names are fixed; extra columns are ignored.

``orders`` -- one row per order
    ``order_id``      any hashable, unique
    ``customer_id``   nullable; null means a guest checkout (ignored per customer)
    ``placed_at``     datetime64, tz-aware or naive (naive is taken as UTC)
    ``total``         float, the order's value as placed. A negative total is a
                      refund document and counts as a return.
    ``status``        one of ``paid``, ``cancelled``, ``returned``, ``pending``.
                      ``paid`` and ``returned`` orders are purchases;
                      ``returned`` means refunded in full; ``cancelled`` and
                      ``pending`` orders are left out of spend and frequency.

``lines`` -- one row per order line
    ``order_id``, ``customer_id`` (nullable), ``placed_at``, ``product_id``,
    ``sku``, ``title``, ``category``, ``brand``,
    ``quantity``      int; negative means a return of that product
    ``unit_price``    float

``customers`` -- one row per customer
    ``customer_id``, ``birth_date`` (nullable), ``gender``, ``occupation``,
    ``city``, ``country``, ``created_at``

``events`` -- browsing events
    ``customer_id``, ``kind`` (``page_view``, ``search``, ``add_to_cart``),
    ``at`` (datetime), ``duration_seconds`` (float, nullable)

``reviews``
    ``customer_id``, ``product_id``, ``rating`` (1..5, nullable), ``text``

Baskets (for association rules) are long frames ``(basket_id, item)``.

Modules
-------
``features``   per-customer feature table (:func:`customer_features`)
``rfm``        RFM quintile scores, 11 named segments, segment summary
``clusters``   k-means / agglomerative / HDBSCAN segmentation with metrics,
               plain-language cluster descriptions, PCA projection, outliers
``rules``      association rules with a single-item consequent (matches R
               ``arules::apriori``), next-best-offer recommendations
``forecast``   daily / weekly revenue forecast chosen by rolling-origin backtest
``clv``        BG/NBD + Gamma-Gamma customer lifetime value
"""

from __future__ import annotations

__all__ = ["clusters", "clv", "features", "forecast", "rfm", "rules"]
