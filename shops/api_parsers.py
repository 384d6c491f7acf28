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
