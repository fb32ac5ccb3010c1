"""RequestBodyMiddleware: large bodies are served a few at a time, small ones never wait."""

import asyncio

from starlette.types import Message, Receive, Scope, Send

from service.middleware import RequestBodyMiddleware

LARGE_BODY_BYTES = 2048


class ConcurrencyProbe:
    """An ASGI app that counts how many requests are inside it at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        body = (await receive())["body"]
        await asyncio.sleep(0.02)
        self.inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def post(app: RequestBodyMiddleware, size: int) -> list[Message]:
    """Send one JSON POST with a body of `size` bytes; the messages sent back."""
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/workflows",
        "headers": [(b"content-type", b"application/json")],
    }
    messages = [{"type": "http.request", "body": b"x" * size, "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def middleware(probe: ConcurrencyProbe, concurrency: int) -> RequestBodyMiddleware:
    """The middleware in front of the probe, with a 1 MiB limit."""
    return RequestBodyMiddleware(
        probe,
        max_body_bytes=1024 * 1024,
        large_body_bytes=LARGE_BODY_BYTES,
        large_body_concurrency=concurrency,
    )


async def test_large_bodies_are_served_at_most_n_at_a_time() -> None:
    probe = ConcurrencyProbe()
    app = middleware(probe, concurrency=2)
    answers = await asyncio.gather(*(post(app, LARGE_BODY_BYTES + 1) for _ in range(6)))
    assert probe.most_inside == 2
    assert all(sent[-1]["body"] == str(LARGE_BODY_BYTES + 1).encode() for sent in answers)


async def test_small_bodies_do_not_wait_for_large_ones() -> None:
    probe = ConcurrencyProbe()
    app = middleware(probe, concurrency=1)
    await asyncio.gather(*(post(app, LARGE_BODY_BYTES) for _ in range(4)))
    assert probe.most_inside == 4
