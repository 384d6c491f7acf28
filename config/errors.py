"""Error pages: the API answers its errors as JSON, like its other answers (a client, and the
OpenAPI contract, expect application/json even for a URL that matches no endpoint)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        message = _("Not found.")
        # both shapes the API answers errors in: DRF's and the write endpoints' (ApiError)
        return JsonResponse(
            {"detail": message, "errors": [{"index": None, "field": "", "message": message}]}, status=404
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": _("Server error: it was logged; try again later.")}, status=500)
    return defaults.server_error(request)
