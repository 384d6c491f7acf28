"""The Idempotency-Key header, honoured by every write of the API (docs/api.md, "Idempotency-Key").

Every API view that serves POST, PUT, PATCH or DELETE mixes in IdempotencyKeyMixin (a guard test
walks the URLconf to keep it so). The records live in customers (IdempotencyRecord), so views of
analytics and campaigns import the mixin from here, never the other way round.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from customers import services

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string; a repeat with the same body replays the first answer, another body gets 422.",
)


class IdempotencyKeySchema(AutoSchema):
    """Documents the optional Idempotency-Key header on every write operation."""

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method in WRITE_METHODS:
            parameters.append(IDEMPOTENCY_HEADER)
        return parameters


class _Answered(Exception):
    """Raised after authentication to answer without running the handler (replay, conflict, bad key)."""

    def __init__(self, response: Response):
        super().__init__()
        self.response = response


@dataclass
class _KeyedRequest:
    key: str
    request_hash: str
    lookup: dict | None = None  # set once the shop is known and the key is new: the answer is to be stored


class IdempotencyKeyMixin:
    """Every write (POST, PUT, PATCH, DELETE) handled at most once per `Idempotency-Key` header (optional).

    The first successful answer is stored with a hash of the raw body and replayed for the same
    key, endpoint and body (header Idempotent-Replayed: true), without running the view again;
    the same key with another body, method or endpoint gets 422. Refused requests (4xx) are not
    stored, so a corrected request may reuse the key. The view's writes and the stored answer
    commit together, so two concurrent requests with one key do the work once. Keys are per shop.
    Put it before ShopScopedAPIMixin in the bases: it needs request.shop, set by authentication.
    """

    schema = IdempotencyKeySchema()
    _keyed: _KeyedRequest | None = None

    def dispatch(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if request.method not in WRITE_METHODS or not key:
            return super().dispatch(request, *args, **kwargs)
        try:
            body = request.body  # read before anything parses it, for the hash
        except RequestDataTooBig:
            return super().dispatch(request, *args, **kwargs)  # refused by the parser, before any write
        self._keyed = _KeyedRequest(key=key, request_hash=hashlib.sha256(body).hexdigest())
        try:
            with transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
                self._remember(response)
                return response
        except IntegrityError:
            # A concurrent request with the same key committed first (this one is rolled back):
            # answer as it did.
            lookup = self._keyed.lookup
            if lookup is None:
                raise
            try:
                record = services.idempotency_record_get(**lookup)
            except services.IdempotencyConflict:
                return self.finalize_response(self.request, self._conflict(key), *args, **kwargs)
            if record is None:
                raise
            return self.finalize_response(self.request, self._replay(record), *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and permissions set request.shop
        keyed = self._keyed
        if keyed is None:
            return
        if len(keyed.key) > MAX_KEY_LENGTH:
            message = _("At most 255 characters.")
            raise _Answered(
                Response(
                    {"errors": [{"index": None, "field": "Idempotency-Key", "message": message}]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            )
        lookup = {
            "shop": request.shop,
            "key": keyed.key,
            "endpoint": f"{request.method} {request.path}"[:200],
            "request_hash": keyed.request_hash,
        }
        try:
            record = services.idempotency_record_get(**lookup)
        except services.IdempotencyConflict:
            raise _Answered(self._conflict(keyed.key)) from None
        if record is not None:
            raise _Answered(self._replay(record))
        keyed.lookup = lookup

    def handle_exception(self, exc):
        if isinstance(exc, _Answered):
            return exc.response
        return super().handle_exception(exc)

    def _remember(self, response) -> None:
        keyed = self._keyed
        if keyed is None or keyed.lookup is None or not status.is_success(response.status_code):
            return
        # stored as the client got it (DRF's JSON encoding of dates, decimals, ids)
        data = getattr(response, "data", None)
        body = {} if data is None else json.loads(json.dumps(data, cls=JSONEncoder))
        services.idempotency_record_save(**keyed.lookup, status=response.status_code, body=body)

    @staticmethod
    def _replay(record) -> Response:
        data = None if record.response_status == status.HTTP_204_NO_CONTENT else record.response_body
        return Response(data, status=record.response_status, headers={"Idempotent-Replayed": "true"})

    @staticmethod
    def _conflict(key: str) -> Response:
        message = _(
            "The Idempotency-Key “%(key)s” was already used for a different request; use a new key for a new request."
        ) % {"key": key}
        return Response(
            {"errors": [{"index": None, "field": "Idempotency-Key", "message": message}]},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )


class IdempotentWriteMixin(IdempotencyKeyMixin):
    """A POST endpoint that reads its raw body itself: subclasses implement handle_write(request, body)."""

    def post(self, request, *args, **kwargs):
        return self.handle_write(request, request.body)

    def handle_write(self, request, body: bytes) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError
