"""E1 and E2 of issue 11: 1,000 event streams open on one worker, and writes fanned out to them.

Each run starts a service worker of its own (RSS from a known idle point), opens the streams
from this process with raw asyncio sockets (one HTTP/1.1 request each, no client library in
the timing path) and notes when each event's frame arrives on each stream.
"""

import asyncio
import re
import resource
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from bench.servers import Server, read_status_kib, service_command
from bench.workloads import API, Context, warm_up_small

STREAMS = 1000
# The warm-up stream's departure is noticed asynchronously: leave room above the 1,000.
SUBSCRIBER_LIMIT = STREAMS + 100
OPENING_CONCURRENCY = 100
SETTLE_SECONDS = 2.0
WRITES = 20
WRITE_INTERVAL_SECONDS = 0.3
DELIVERY_TIMEOUT_SECONDS = 10.0
FRAME_ID = re.compile(rb"(?m)^id: (\d+)$")
# Other backends of the bench database than the one counting (the service's pool and LISTEN).
BACKENDS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@dataclass
class Stream:
    """One open event stream and when each version's frame reached it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    received: dict[int, float] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    async def read_frames(self) -> None:
        """Note the arrival time of every event frame until the server closes the stream."""
        pending = b""
        while chunk := await self.reader.read(65536):
            now = time.perf_counter()
            *frames, pending = (pending + chunk).split(b"\n\n")
            for frame in frames:
                for match in FRAME_ID.finditer(frame):
                    self.received[int(match[1])] = now
            self.arrived.set()
        self.closed = True

    async def wait_for(self, version: int, deadline: float) -> None:
        """Until the version's frame arrived, the stream closed or the deadline passed."""
        while version not in self.received and not self.closed:
            self.arrived.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except TimeoutError:
                return


async def open_stream(server: Server, path: str, token: str) -> Stream:
    """GET the events path; returns once the 200 head arrived (the subscription is live)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    # The head reaches the client with the first frame: replaying the creation (version 1)
    # sends one at once instead of after the first heartbeat.
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\nLast-Event-ID: 0\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        writer.close()
        raise RuntimeError(f"GET {path} answered {head.decode(errors='replace')[:200]}")
    return Stream(reader, writer)


def raise_fd_limit(needed: int) -> None:
    """Soft RLIMIT_NOFILE up to the hard one (the server started after this inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def backend_count(conninfo: str) -> int:
    """Connections the service holds to the bench database right now."""
    with psycopg.connect(conninfo) as connection:
        row = connection.execute(BACKENDS).fetchone()
    return int(row[0]) if row else 0


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass
class Session:
    """A fresh worker, one workflow on it, and the streams open on that workflow."""

    ctx: Context
    server: Server
    workflow_id: uuid.UUID
    version: int
    streams: list[Stream] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def token(self) -> str:
        """The bearer token of the workflow's owner."""
        return self.ctx.token(self.ctx.data.owner_id)

    @property
    def events_path(self) -> str:
        """GET path of the workflow's stream."""
        return f"{API}/{self.workflow_id}/events"

    async def open_streams(self, count: int) -> None:
        """Open `count` streams, at most OPENING_CONCURRENCY at a time."""
        gate = asyncio.Semaphore(OPENING_CONCURRENCY)

        async def one() -> Stream:
            async with gate:
                return await open_stream(self.server, self.events_path, self.token)

        opened = await asyncio.gather(*(one() for _ in range(count)))
        self.streams += opened
        self.tasks += [asyncio.create_task(stream.read_frames()) for stream in opened]

    async def warm_up(self) -> None:
        """Small requests and one stream opened and closed: the idle worker as measured."""
        await asyncio.to_thread(warm_up_small, self.ctx, self.server.url)
        stream = await open_stream(self.server, self.events_path, self.token)
        stream.writer.close()
        await asyncio.sleep(SETTLE_SECONDS)

    def open_count(self) -> int:
        """Streams the server has not closed."""
        return sum(not stream.closed for stream in self.streams)

    def close(self) -> None:
        """Close every stream from the client side."""
        for task in self.tasks:
            task.cancel()
        for stream in self.streams:
            stream.writer.close()


def create_workflow(ctx: Context, base_url: str) -> tuple[uuid.UUID, int]:
    """The workflow the streams follow, created over HTTP: its id and version."""
    headers = {"Authorization": f"Bearer {ctx.token(ctx.data.owner_id)}"}
    body = {"name": "streamed by the benchmark", "description": "E1/E2"}
    response = httpx.post(base_url + API, json=body, headers=headers, timeout=30)
    response.raise_for_status()
    return uuid.UUID(response.json()["id"]), int(response.headers["etag"].strip('"'))


@asynccontextmanager
async def session(ctx: Context, name: str) -> AsyncIterator[Session]:
    """A fresh worker serving SUBSCRIBER_LIMIT streams, warmed up, with a workflow to follow."""
    raise_fd_limit(SUBSCRIBER_LIMIT * 2 + 100)
    env = {**ctx.service_env, "MAX_EVENT_SUBSCRIBERS": str(SUBSCRIBER_LIMIT)}
    server = Server(name, service_command, env, ctx.scratch / f"{name}.log")
    await asyncio.to_thread(server.start)
    opened: Session | None = None
    try:
        workflow_id, version = await asyncio.to_thread(create_workflow, ctx, server.url)
        opened = Session(ctx, server, workflow_id, version)
        await opened.warm_up()
        yield opened
    finally:
        if opened is not None:
            opened.close()
        await asyncio.to_thread(server.stop)


async def measure_open_streams(ctx: Context) -> dict[str, Any]:
    """E1: worker RSS and the service's database connections, idle and with 1,000 streams."""
    async with session(ctx, "events-e1") as opened:
        pid = opened.server.worker_pids()[0]
        idle_kib = read_status_kib(pid, "VmRSS")
        idle_backends = await asyncio.to_thread(backend_count, ctx.conninfo)
        started = time.perf_counter()
        await opened.open_streams(STREAMS)
        opening_seconds = time.perf_counter() - started
        await asyncio.sleep(SETTLE_SECONDS)
        open_kib = read_status_kib(pid, "VmRSS")
        open_backends = await asyncio.to_thread(backend_count, ctx.conninfo)
        still_open = opened.open_count()
    return {
        "status": "ok" if still_open == STREAMS else "failed",
        "note": f"{STREAMS - still_open} streams closed by the server"
        if still_open < STREAMS
        else "",
        "streams": STREAMS,
        "still_open": still_open,
        "opening_seconds": round(opening_seconds, 2),
        "idle_rss_mib": round(idle_kib / 1024, 1),
        "open_rss_mib": round(open_kib / 1024, 1),
        "rss_added_mib": round((open_kib - idle_kib) / 1024, 1),
        "rss_per_stream_kib": round((open_kib - idle_kib) / STREAMS, 1),
        "idle_backends": idle_backends,
        "open_backends": open_backends,
        "backends_added": open_backends - idle_backends,
        "db_pool_max_size": int(ctx.service_env.get("DB_POOL_MAX_SIZE", "10")),
    }


async def one_write(opened: Session, client: httpx.AsyncClient, index: int) -> dict[str, Any]:
    """PATCH the workflow once; each stream's delay from the send and from the response."""
    sent = time.perf_counter()
    response = await client.patch(
        f"{API}/{opened.workflow_id}",
        json={"description": f"E2 write {index}"},
        headers={"If-Match": f'"{opened.version}"'},
    )
    answered = time.perf_counter()
    response.raise_for_status()
    opened.version = int(response.headers["etag"].strip('"'))
    deadline = answered + DELIVERY_TIMEOUT_SECONDS
    await asyncio.gather(*(stream.wait_for(opened.version, deadline) for stream in opened.streams))
    arrivals = [s.received[opened.version] for s in opened.streams if opened.version in s.received]
    return {
        "from_send_ms": [(arrival - sent) * 1000 for arrival in arrivals],
        "from_response_ms": [(arrival - answered) * 1000 for arrival in arrivals],
        "write_ms": (answered - sent) * 1000,
        "missed": len(opened.streams) - len(arrivals),
    }


def latency_figures(values: list[float]) -> dict[str, float]:
    """p50, p99 and max of delays in ms."""
    return {
        "p50_ms": round(statistics.median(values), 2),
        "p99_ms": round(percentile(values, 0.99), 2),
        "max_ms": round(max(values), 2),
    }


async def measure_fan_out(ctx: Context) -> dict[str, Any]:
    """E2: WRITES writes, each awaited by all 1,000 streams; delivery delays over all of them."""
    async with session(ctx, "events-e2") as opened:
        await opened.open_streams(STREAMS)
        await asyncio.sleep(SETTLE_SECONDS)
        headers = {"Authorization": f"Bearer {opened.token}"}
        writes = []
        async with httpx.AsyncClient(
            base_url=opened.server.url, headers=headers, timeout=30
        ) as client:
            for index in range(WRITES):
                writes.append(await one_write(opened, client, index))
                await asyncio.sleep(WRITE_INTERVAL_SECONDS)
    from_send = [delay for write in writes for delay in write["from_send_ms"]]
    from_response = [delay for write in writes for delay in write["from_response_ms"]]
    missed = sum(write["missed"] for write in writes)
    return {
        "status": "ok" if from_send and not missed else "failed",
        "note": f"{missed} deliveries missing after {DELIVERY_TIMEOUT_SECONDS:g} s"
        if missed
        else "",
        "streams": STREAMS,
        "writes": WRITES,
        "deliveries": len(from_send),
        "missed": missed,
        "from_send": latency_figures(from_send) if from_send else {},
        "from_response": latency_figures(from_response) if from_response else {},
        "write_p50_ms": round(statistics.median(write["write_ms"] for write in writes), 2),
        "per_write_p99_ms": [
            round(percentile(write["from_send_ms"], 0.99), 2)
            for write in writes
            if write["from_send_ms"]
        ],
    }


def run_open_streams(ctx: Context) -> dict[str, Any]:
    """E1, from the harness's synchronous runner."""
    return asyncio.run(measure_open_streams(ctx))


def run_fan_out(ctx: Context) -> dict[str, Any]:
    """E2, from the harness's synchronous runner."""
    return asyncio.run(measure_fan_out(ctx))
