"""A local HTTP server that answers like Shopify's Admin API or WooCommerce's REST API, and payload builders.

FakePlatform keeps orders and customers in memory and serves them page by page the
way the platform does: Shopify with updated_at_min, limit and Link rel="next"
page_info cursors; WooCommerce with modified_after, per_page, page and
X-WP-TotalPages. It runs http.server in a thread on 127.0.0.1 and records every
request, so tests can assert what the client asked for.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

SHOPIFY_TOKEN = "shpat_test_token_0001"
WOO_KEY, WOO_SECRET = "ck_test_key", "cs_test_secret"


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def gmt(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


# --------------------------------------------------------------------------- payload builders


def shopify_customer(customer_id: int, *, updated_at: dt.datetime, email: str = "", **extra) -> dict:
    return {
        "id": customer_id,
        "email": email or f"shopper{customer_id}@example.org",
        "first_name": "Grace",
        "last_name": f"Hopper{customer_id}",
        "phone": None,
        "updated_at": iso(updated_at),
        "email_marketing_consent": {"state": "subscribed", "consent_updated_at": iso(updated_at)},
        "default_address": {"city": "Leeds", "country": "United Kingdom"},
        **extra,
    }


def shopify_order(
    order_id: int,
    *,
    updated_at: dt.datetime,
    customer_id: int | None = 501,
    quantity: int = 1,
    price: str = "12.50",
    financial_status: str = "paid",
    **extra,
) -> dict:
    created = dt.datetime(2026, 2, 1, 9, 0, tzinfo=dt.UTC)
    lines = [
        {"id": order_id * 10 + 1, "product_id": 9001, "variant_id": 1, "sku": "BEANS", "title": "Beans",
         "quantity": quantity, "price": price},
        {"id": order_id * 10 + 2, "product_id": 9002, "variant_id": 2, "sku": "MUG", "title": "Mug",
         "quantity": 1, "price": "8.00"},
    ]  # fmt: skip
    total = f"{quantity * float(price) + 8:.2f}"
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "email": "",
        "created_at": iso(created),
        "processed_at": iso(created),
        "updated_at": iso(updated_at),
        "cancelled_at": None,
        "financial_status": financial_status,
        "currency": "GBP",
        "total_price": total,
        "customer": shopify_customer(customer_id, updated_at=updated_at) if customer_id else None,
        "line_items": lines,
        "refunds": [],
        **extra,
    }


def woo_order(
    order_id: int,
    *,
    modified: dt.datetime,
    customer_id: int = 77,
    status: str = "completed",
    quantity: int = 2,
    **extra,
) -> dict:
    return {
        "id": order_id,
        "status": status,
        "currency": "EUR",
        "date_created_gmt": "2026-02-01T09:00:00",
        "date_modified_gmt": gmt(modified),
        "total": f"{quantity * 10.5:.2f}",
        "customer_id": customer_id,
        "billing": {
            "first_name": "Ada",
            "last_name": "Byron",
            "email": "ada@example.org",
            "city": "London",
            "country": "GB",
            "phone": "",
        },
        "line_items": [
            {
                "id": order_id * 10,
                "product_id": 31,
                "sku": "TEA",
                "name": "Tea",
                "quantity": quantity,
                "price": 10.5,
                "total": f"{quantity * 10.5:.2f}",
            },
        ],  # fmt: skip
        **extra,
    }


def woo_customer(customer_id: int, *, modified: dt.datetime, email: str = "") -> dict:
    return {
        "id": customer_id,
        "date_created_gmt": "2025-01-01T00:00:00",
        "date_modified_gmt": gmt(modified),
        "email": email or f"woo{customer_id}@example.org",
        "first_name": "Ada",
        "last_name": f"Byron{customer_id}",
        "billing": {"city": "London", "country": "GB", "phone": ""},
    }


# --------------------------------------------------------------------------- the server


class FakePlatform:
    """Start with `with FakePlatform("shopify", page_size=2) as fake:`; fake.url is the store URL."""

    def __init__(self, platform: str, *, page_size: int = 2):
        self.platform = platform
        self.page_size = page_size
        self.orders: dict[int, dict] = {}
        self.customers: dict[int, dict] = {}
        self.requests: list[dict[str, Any]] = []
        self.fail_requests: set[int] = set()  # 1-based request numbers answered with HTTP 500
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakePlatform:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                fake._handle(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ routing

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.requests.append({"path": parts.path, "query": query, "headers": dict(handler.headers)})
        if len(self.requests) in self.fail_requests:
            status, body, headers = 500, {"errors": "Internal Server Error"}, {}
        elif self.platform == "shopify":
            status, body, headers = self._shopify(parts.path, query, handler.headers)
        else:
            status, body, headers = self._woo(parts.path, query, handler.headers)
        raw = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(raw)

    def _shopify(self, path: str, query: dict, headers) -> tuple[int, Any, dict]:
        if headers.get("X-Shopify-Access-Token") != SHOPIFY_TOKEN:
            return 401, {"errors": "[API] Invalid API key or access token"}, {}
        resource = path.rsplit("/", 1)[-1].removesuffix(".json")
        if path != f"/admin/api/2024-10/{resource}.json" or resource not in ("orders", "customers"):
            return 404, {"errors": "Not Found"}, {}
        if "page_info" in query:  # a cursor carries the original filter, as Shopify's do
            state = json.loads(base64.urlsafe_b64decode(query["page_info"]))
        else:
            state = {"min": query.get("updated_at_min"), "offset": 0}
        rows = self.orders if resource == "orders" else self.customers
        since = dt.datetime.fromisoformat(state["min"]) if state["min"] else None
        matching = sorted(
            (r for r in rows.values() if since is None or dt.datetime.fromisoformat(r["updated_at"]) >= since),
            key=lambda r: (dt.datetime.fromisoformat(r["updated_at"]), r["id"]),
        )
        limit = min(int(query.get("limit", 50)), self.page_size)
        start = state["offset"]
        page = matching[start : start + limit]
        response_headers = {}
        if start + limit < len(matching):
            cursor = base64.urlsafe_b64encode(json.dumps({"min": state["min"], "offset": start + limit}).encode())
            next_url = f"{self.url}{path}?{urlencode({'limit': limit, 'page_info': cursor.decode()})}"
            response_headers["Link"] = f'<{next_url}>; rel="next"'
        return 200, {resource: page}, response_headers

    def _woo(self, path: str, query: dict, headers) -> tuple[int, Any, dict]:
        expected = "Basic " + base64.b64encode(f"{WOO_KEY}:{WOO_SECRET}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources."}, {}
        resource = path.rsplit("/", 1)[-1]
        if path != f"/wp-json/wc/v3/{resource}" or resource not in ("orders", "customers"):
            return 404, {"code": "rest_no_route"}, {}
        rows = self.orders if resource == "orders" else self.customers
        after = query.get("modified_after")
        since = dt.datetime.fromisoformat(after).replace(tzinfo=dt.UTC) if after and resource == "orders" else None

        def modified(r):
            return dt.datetime.fromisoformat(r["date_modified_gmt"]).replace(tzinfo=dt.UTC)

        matching = [r for r in rows.values() if since is None or modified(r) > since]
        matching.sort(
            key=(lambda r: (modified(r), r["id"])) if query.get("orderby") == "modified" else lambda r: r["id"]
        )
        per_page = min(int(query.get("per_page", 10)), self.page_size)
        page_no = int(query.get("page", 1))
        page = matching[(page_no - 1) * per_page : page_no * per_page]
        total_pages = max(1, -(-len(matching) // per_page))
        return 200, page, {"X-WP-Total": str(len(matching)), "X-WP-TotalPages": str(total_pages)}
