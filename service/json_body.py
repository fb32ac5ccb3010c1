"""Request bodies: strict JSON parsing with orjson, refusing duplicate keys."""

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise json.JSONDecodeError("duplicate object key", "", 0)
    return members


def parse_json_body(body: bytes) -> Any:
    """orjson's strict parse, refusing duplicate keys (parsers disagree on which one wins)."""
    value = orjson.loads(body)
    try:
        canonical = orjson.dumps(value)
    except orjson.JSONEncodeError as error:  # nested deeper than orjson writes (254 levels)
        raise json.JSONDecodeError("JSON nested too deeply", "", 0) from error
    # Every key brings one ':' outside strings. Without \u escapes, the body's strings hold at
    # least the ':' of the re-serialized value's strings, so equal counts prove no key was
    # dropped; the slower duplicate-aware parse runs only when that proof fails.
    if b"\\u" in body or body.count(b":") > canonical.count(b":"):
        json.loads(body, object_pairs_hook=_refuse_duplicate_keys)
    return value


class JsonBodyRequest(Request):
    """A request whose JSON body is parsed by orjson (strict: no NaN, valid UTF-8 only)."""

    async def json(self) -> Any:
        """The parsed body (duplicate keys refused)."""
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body())
        return self._json


class JsonBodyRoute(APIRoute):
    """Routes that parse JSON bodies with parse_json_body (every API router uses it)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the default handler so it sees a JsonBodyRequest."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(JsonBodyRequest(request.scope, request.receive))

        return handle
