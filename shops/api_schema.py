"""What the OpenAPI schema says about every endpoint, beyond what each view declares (issue 14):
the Bearer API key, and the error answers any endpoint can give (bad input, no or a wrong key, a
role too low, an id of no row of the shop or a page past the end), so that a client, and
schemathesis in CI, find every status code the API answers documented."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "shops.api_auth.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key of the shop (Settings › API keys): `Authorization: Bearer sk_...`.",
        }


_ERROR_BODY = {
    "type": "object",
    "description": '`{"errors": [{"index", "field", "message"}]}` for bad input to the bulk and single '
    'writes, `{"detail": "..."}` (or field -> messages) elsewhere.',
}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_BODY}}}


def add_error_answers(result, generator, request, public):
    """drf-spectacular postprocessing hook: the answers every operation may give, where the view
    did not declare them itself."""
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            params = operation.get("parameters", [])
            answers = {
                "401": _error("No API key, or one that is not valid (or revoked)."),
                "403": _error("The key's or the user's role does not allow this."),
            }
            if "{" in path or any(p.get("name") == "page" for p in params):
                answers["404"] = _error("No such row in this shop, or a page past the last one.")
            if method in ("post", "put", "patch") or any(p.get("in") == "query" for p in params):
                answers["400"] = _error("The request was refused: the answer names the field and why.")
            if method in ("post", "put", "patch"):
                answers["415"] = _error("The body is not JSON (send Content-Type: application/json).")
            if method in ("post", "put", "patch", "delete"):
                answers["422"] = _error("The Idempotency-Key was used before for a different request.")
            for code, answer in answers.items():
                responses.setdefault(code, answer)
    return result
