"""The JSON parser of every API endpoint: DRF's, refusing with 400 what would otherwise fail later
with a 500 (nesting without end, NUL and lone surrogates that the database cannot store)."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from shops.bounds import json_problem


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(json_problem([[]], max_depth=0)) from None
        problem = json_problem(data)
        if problem:
            raise ParseError(problem)
        return data


def exception_handler(exc, context):
    """DRF's handler, with the body errors (not JSON, nested without end, unstorable text, not
    JSON at all) in the house shape {"errors": [{"index", "field", "message"}]} that the write
    endpoints document for their 400s."""
    from rest_framework.exceptions import ParseError, UnsupportedMediaType
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ParseError | UnsupportedMediaType):
        response.data = {"errors": [{"index": None, "field": "", "message": str(exc.detail)}]}
    return response
