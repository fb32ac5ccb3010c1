"""A small Server-Sent Events reader over httpx, for the tests."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class ServerSentEvent:
    """One dispatched event, or (event_type None) a run of comments."""

    event_id: int | None = None
    event_type: str | None = None
    data_lines: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def data(self) -> Any:
        """The data as JSON."""
        return json.loads("\n".join(self.data_lines))


async def read_events(response: httpx.Response) -> AsyncIterator[ServerSentEvent]:
    """Each block up to a blank line: an event, or comments (heartbeats, the final word)."""
    current = ServerSentEvent()
    async for line in response.aiter_lines():
        if line == "":
            if current.event_type is not None or current.comments:
                yield current
            current = ServerSentEvent()
        elif line.startswith(":"):
            current.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                current.event_id = int(value)
            elif name == "event":
                current.event_type = value
            elif name == "data":
                current.data_lines.append(value)
    if current.event_type is not None or current.comments:
        yield current


async def collect_events(
    blocks: AsyncIterator[ServerSentEvent], count: int, *, until_version: int | None = None
) -> list[ServerSentEvent]:
    """The next `count` events of a stream's blocks (or up to `until_version`), no comments."""
    events: list[ServerSentEvent] = []
    async for item in blocks:
        if item.event_type is None:
            continue
        events.append(item)
        if len(events) == count or (until_version is not None and item.event_id == until_version):
            break
    return events
