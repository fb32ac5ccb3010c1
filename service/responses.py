"""Responses built from JSON text rendered by PostgreSQL, with ETag, Location and Link."""

from typing import Any

import orjson
from fastapi import Request, Response

from service.preconditions import Representation, etag

ETAG_HEADER = {
    "ETag": {
        "description": (
            'Strong entity tag of this representation of the version, e.g. `"3"` (JSON), '
            '`"3-mermaid"`, `"3-gzip"` (compressed); If-Match accepts any of them.'
        ),
        "schema": {"type": "string"},
    }
}
LOCATION_HEADER = {
    "Location": {"description": "URL of the created resource.", "schema": {"type": "string"}}
}
LINK_HEADER = {
    "Link": {"description": 'Next page: `<url>; rel="next"`.', "schema": {"type": "string"}}
}


def render_json(document: Any) -> bytes:
    """A response document whose parts may be JSON text already (orjson.Fragment), compact."""
    return orjson.dumps(document)


def json_response(
    body: str | bytes,
    *,
    version: int | None = None,
    status_code: int = 200,
    location: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON response whose body is already serialized."""
    headers = dict(headers or {})
    if version is not None:
        headers["ETag"] = etag(version)
    if location is not None:
        headers["Location"] = location
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def no_content(version: int | None = None) -> Response:
    """204, with the new ETag when the change belongs to a workflow that still exists."""
    headers = {} if version is None else {"ETag": etag(version)}
    return Response(status_code=204, headers=headers)


def not_modified(version: int, representation: Representation = Representation.JSON) -> Response:
    """304 for a matching If-None-Match."""
    return Response(status_code=304, headers={"ETag": etag(version, representation)})


def page_response(request: Request, body: bytes, next_cursor: str | None) -> Response:
    """A list page, with a Link header to the next page when there is one."""
    response = json_response(body)
    if next_cursor is not None:
        next_url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


def success(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAPI description of a success response with its headers."""
    return {"description": description, "headers": headers or {}}
