"""Server-Sent Events framing (WHATWG HTML 9.2, RFC 8895 media type text/event-stream)."""

SSE_MEDIA_TYPE = "text/event-stream"
HEARTBEAT = b": heartbeat\n\n"
# Sent first, so the status and headers leave at once (a compressing or buffering layer
# holds them until the first body bytes) and EventSource reports the stream open.
OPENED = b": subscribed\n\n"


def event_frame(event_id: int, event_type: str, data: str) -> bytes:
    """One event: id, type and data (one `data:` line per line of the data)."""
    lines = [f"id: {event_id}", f"event: {event_type}"]
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


def comment_frame(text: str) -> bytes:
    """A comment line, which clients ignore (heartbeats, the reason a stream ends)."""
    return "".join(f": {line}\n" for line in text.splitlines() or [""]).encode() + b"\n"
