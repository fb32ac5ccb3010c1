"""Rendering problem documents as application/problem+json responses."""

import orjson
from starlette.responses import Response

from service.errors import PROBLEM_JSON, ProblemError


def problem_response(error: ProblemError) -> Response:
    """The problem+json response for an error, with its headers."""
    return Response(
        orjson.dumps(error.document()),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers,
    )
