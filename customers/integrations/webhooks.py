"""Webhook endpoints: verify the signature over the raw body, store the event, queue it, answer fast.

Public (the platforms call them) and CSRF-exempt; a shop is found by the slug in the
URL and its connection's webhook secret. Nothing is parsed or written before the
signature is verified.
"""

from __future__ import annotations

import hashlib
import json
from types import ModuleType

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from customers.integrations import selectors, services, shopify, woocommerce
from customers.integrations.common import signature_valid


def _receive(request: HttpRequest, shop_slug: str, module: ModuleType) -> JsonResponse:
    connection = selectors.connection_for_webhook(shop_slug=shop_slug, platform=module.PLATFORM)
    if connection is None:
        raise Http404
    body = request.body
    if module.is_ping(request.headers, body):
        return JsonResponse({"status": "ok"})
    if not signature_valid(
        body=body, secret=connection.webhook_secret, header=request.headers.get(module.SIGNATURE_HEADER)
    ):
        return JsonResponse({"error": "invalid or missing signature"}, status=401)
    try:
        payload = json.loads(body)
    except ValueError:
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    topic, event_id = module.delivery_meta(request.headers)
    if not topic or not isinstance(payload, dict):
        return JsonResponse({"error": "missing topic or not a JSON object"}, status=400)
    # Without a delivery id, the body itself identifies the delivery (a resend is byte-identical).
    event_id = event_id or f"{topic}:sha256:{hashlib.sha256(body).hexdigest()}"
    _event, created = services.webhook_event_receive(
        connection=connection, topic=topic, event_id=event_id, payload=payload
    )
    return JsonResponse({"status": "received" if created else "duplicate"})


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest, shop_slug: str) -> JsonResponse:
    return _receive(request, shop_slug, shopify)


@csrf_exempt
@require_POST
def woocommerce_webhook(request: HttpRequest, shop_slug: str) -> JsonResponse:
    return _receive(request, shop_slug, woocommerce)
