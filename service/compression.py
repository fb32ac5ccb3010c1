"""Content coding negotiated by Accept-Encoding: gzip for large bodies, with its own ETag."""

from collections.abc import Callable
from typing import Protocol

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from zlib_ng import zlib_ng

from service.preconditions import EntityTags, coded

GZIP = "gzip"
# zlib-ng releases the GIL: a body this large is compressed on a worker thread, so the event
# loop serves other requests meanwhile (a thread hop costs ~0.1 ms, 1 MB takes ~4 ms).
THREAD_BYTES = 256 * 1024
COMPRESSIBLE_TYPES = ("application/", "text/")
KEPT_AS_IS = ("application/gzip", "application/zip")


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether Accept-Encoding gives gzip (or `*`, when gzip is not named) a q-value above 0."""
    if not accept_encoding:
        return False
    qualities: dict[str, float] = {}
    for element in accept_encoding.split(","):
        coding, *parameters = (part.strip().lower() for part in element.split(";"))
        qualities[coding] = _quality(parameters)
    return qualities.get(GZIP, qualities.get("x-gzip", qualities.get("*", 0.0))) > 0


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def gzip_body(level: int) -> Callable[[bytes], bytes]:
    """A gzip compressor at `level` (a gzip member, as zlib writes it with wbits 31)."""

    def compress(body: bytes) -> bytes:
        # zlib-ng, not the standard library's zlib: the same gzip, measured here on a 5.3 MB
        # 5,000-node graph, 16 ms at level 2 (12.0 %) where zlib took 90 ms at level 6 (11.4 %).
        packer = zlib_ng.compressobj(level, zlib_ng.DEFLATED, 31)
        return packer.compress(body) + packer.flush()

    return compress


class CompressedForms(Protocol):
    """Where compressed forms of bodies served again are kept (the rendered-graph cache)."""

    def compressed(self, body: bytes) -> bytes | None:
        """The kept compressed form of this very body object, if any."""

    def keep_compressed(self, body: bytes, packed: bytes) -> None:
        """Keep the compressed form of a body it will hand out again."""


class KeptIn:
    """Compressed forms kept in whichever of several caches holds the body."""

    def __init__(self, *caches: CompressedForms) -> None:
        self.caches = caches

    def compressed(self, body: bytes) -> bytes | None:
        """The compressed form one of the caches keeps for this very body, if any."""
        for cache in self.caches:
            packed = cache.compressed(body)
            if packed is not None:
                return packed
        return None

    def keep_compressed(self, body: bytes, packed: bytes) -> None:
        """Keep the compressed form in the cache that holds the body (the others ignore it)."""
        for cache in self.caches:
            cache.keep_compressed(body, packed)


class CompressionMiddleware:
    """gzip for bodies of at least `minimum_size` bytes, when the client accepts it.

    A compressed body is another representation: its ETag gets the coding's suffix (`"7"`
    becomes `"7-gzip"`), and a 304 names the coded tag when that is the one the client holds.
    `kept` holds the compressed form of bodies served again (the rendered-graph cache's).
    """

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int,
        level: int,
        kept: CompressedForms,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.compress = gzip_body(level)
        self.kept = kept

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        gzip_accepted = accepts_gzip(", ".join(request_headers.getlist("accept-encoding")))
        start: Message | None = None

        async def send_coded(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if start is None:  # the start already went out with an earlier chunk
                await send(message)
                return
            message = await self._coded(start, message, request_headers, gzip_accepted)
            await send(start)
            start = None
            await send(message)

        await self.app(scope, receive, send_coded)

    async def _coded(
        self, start: Message, message: Message, request_headers: Headers, gzip_accepted: bool
    ) -> Message:
        """The first body message, gzipped when worth it; `start`'s headers say what was done."""
        start["headers"] = list(start.get("headers", []))
        headers = MutableHeaders(raw=start["headers"])
        headers.add_vary_header("Accept-Encoding")
        if not gzip_accepted:
            return message
        if start["status"] == 304:
            name_held_tag(headers, request_headers)
        elif self._worth_compressing(headers, message):
            message = {**message, "body": await self._compressed(message["body"])}
            headers["Content-Encoding"] = GZIP
            headers["Content-Length"] = str(len(message["body"]))
            if (etag := headers.get("etag")) and start["status"] < 300:
                headers["ETag"] = coded(etag, GZIP)
        return message

    def _worth_compressing(self, headers: MutableHeaders, message: Message) -> bool:
        content_type = headers.get("content-type", "")
        return (
            not message.get("more_body", False)
            and len(message.get("body", b"")) >= self.minimum_size
            and "content-encoding" not in headers
            and content_type.startswith(COMPRESSIBLE_TYPES)
            and not content_type.startswith(KEPT_AS_IS)
        )

    async def _compressed(self, body: bytes) -> bytes:
        packed = self.kept.compressed(body)
        if packed is not None:
            return packed
        if len(body) < THREAD_BYTES:
            packed = self.compress(body)
        else:
            packed = await run_in_threadpool(self.compress, body)
        self.kept.keep_compressed(body, packed)
        return packed


def name_held_tag(headers: MutableHeaders, request_headers: Headers) -> None:
    """A 304's ETag: the coded tag when the client's If-None-Match holds that one."""
    etag = headers.get("etag")
    if etag is None or not etag.endswith('"'):
        return
    held = EntityTags.parse(", ".join(request_headers.getlist("if-none-match")))
    if held.names_coded(etag, GZIP):
        headers["ETag"] = coded(etag, GZIP)
