"""ASGI middleware: request body limit and JSON content type, HEAD, and Prefer: return=minimal."""

import asyncio
import contextlib

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import PayloadTooLargeError, ProblemError, UnsupportedMediaTypeError
from service.problem_response import problem_response

BODY_METHODS = {"POST", "PUT", "PATCH"}
JSON_TYPES = ("application/json", "application/merge-patch+json")


def is_json_content_type(value: str) -> bool:
    """Whether a Content-Type header names JSON (application/json or any +json type)."""
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type in JSON_TYPES or media_type.endswith("+json")


class RequestBodyMiddleware:
    """Buffers request bodies up to the limit (chunked ones too) and refuses non-JSON bodies.

    Requests whose body is over `large_body_bytes` run at most `large_body_concurrency` at a
    time; the others wait their turn with only their raw body in memory.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        large_body_bytes: int,
        large_body_concurrency: int,
        path_prefix: str = "/api/",
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.large_body_bytes = large_body_bytes
        # A parsed and validated graph takes about ten times its body in Python objects, so
        # eight 700 KB saves at once would add some 70 MB to a worker; parsing and validation
        # hold the event loop anyway, so serving a few at a time costs little throughput.
        self.large_body_slots = asyncio.Semaphore(large_body_concurrency)
        self.path_prefix = path_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
            self._check_content_type(scope, body)
        except ClientDisconnect:
            return  # the client left mid-body: a truncated request must not run
        except ProblemError as error:
            await problem_response(error)(scope, receive, send)
            return
        large = len(body) > self.large_body_bytes
        async with self.large_body_slots if large else contextlib.nullcontext():
            await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            raise _too_large(self.max_body_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _too_large(self.max_body_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _check_content_type(self, scope: Scope, body: bytes) -> None:
        if not body or not scope["path"].startswith(self.path_prefix):
            return
        content_type = _header(scope, b"content-type")
        if content_type is None or not is_json_content_type(content_type):
            raise UnsupportedMediaTypeError(
                f"Send the body as application/json, not {content_type or 'no content type'}."
            )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"The request body is over the limit of {limit} bytes.")


def _replay(body: bytes, receive_more: Receive) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive_more()  # later calls wait for the client to disconnect

    return receive


async def send_empty_body(message: Message, send: Send) -> None:
    """Send a body message's end, empty; the chunks before it are dropped."""
    if not message.get("more_body", False):
        await send({"type": "http.response.body", "body": b"", "more_body": False})


HEAD_STATE = "head_as_get"


def is_head(scope: Scope) -> bool:
    """Whether this GET serves a HEAD (a route whose body never ends must not start it)."""
    return bool(scope.get("state", {}).get(HEAD_STATE))


class HeadAsGetMiddleware:
    """HEAD is served by the GET route, without the body: same status and headers (RFC 9110 9.3.2).

    Inside compression, so a HEAD names the Content-Length and ETag a GET would send.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                await send_empty_body(message, send)
            else:
                await send(message)

        # The scope itself, not a copy: the access log outside reads the route matched in it.
        scope["method"] = "GET"
        scope.setdefault("state", {})[HEAD_STATE] = True
        try:
            await self.app(scope, receive, send_without_body)
        finally:
            scope["method"] = "HEAD"


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFERENCE_APPLIED = (b"preference-applied", b"return=minimal")
DROPPED_WITH_BODY = frozenset({b"content-type", b"content-length"})


def prefers_minimal(scope: Scope) -> bool:
    """Whether the request's `return` preference (RFC 7240 4.2) is `minimal`; every line counts."""
    lines = [value for key, value in scope["headers"] if key == b"prefer"]
    for preference in b",".join(lines).decode("latin-1").split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "return":
            return value.strip().strip('"').lower() == "minimal"
    return False


class PreferMinimalMiddleware:
    """`Prefer: return=minimal` on a write: a success answers 204, headers kept, no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        if not prefers_minimal(scope):
            await self.app(scope, receive, send)
            return
        minimal = False

        async def send_minimal(message: Message) -> None:
            nonlocal minimal
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                minimal = True
                headers = [h for h in message["headers"] if h[0].lower() not in DROPPED_WITH_BODY]
                message = {**message, "status": 204, "headers": [*headers, PREFERENCE_APPLIED]}
            elif message["type"] == "http.response.body" and minimal:
                await send_empty_body(message, send)
                return
            await send(message)

        await self.app(scope, receive, send_minimal)
