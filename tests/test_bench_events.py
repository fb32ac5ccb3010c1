"""The event-stream benchmark (E1/E2) reads frames and judges its targets correctly."""

import asyncio

from bench.events import Stream, percentile
from bench.report import event_targets


async def test_frames_split_across_reads_are_each_noted_once() -> None:
    reader = asyncio.StreamReader()
    stream = Stream(reader, writer=None)  # type: ignore[arg-type]  # only read here
    chunked = b"2d\r\nid: 1\nevent: workflow.created\ndata: {}\n\n\r\n"
    chunked += b"f\r\n: heartbeat\n\n\r\n2d\r\nid: 2\nevent: workflow.updated\ndata: {}\n\n\r\n"
    for start in range(0, len(chunked), 7):  # TCP may cut a frame anywhere
        reader.feed_data(chunked[start : start + 7])
    reader.feed_eof()
    await stream.read_frames()
    assert sorted(stream.received) == [1, 2]
    assert stream.closed


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0


def test_event_targets_pass_and_fail() -> None:
    streams = {
        "rss_added_mib": 36.0,
        "rss_per_stream_kib": 36.9,
        "idle_backends": 6,
        "open_backends": 14,
        "backends_added": 8,
        "db_pool_max_size": 10,
    }
    fan_out = {"from_send": {"p99_ms": 330.0}}
    verdicts = [t["pass"] for t in event_targets({"E1": streams, "E2": fan_out})]
    assert verdicts == [True, True, False]
    per_stream = event_targets({"E1": {**streams, "backends_added": 1000, "open_backends": 1006}})
    assert [t["pass"] for t in per_stream] == [True, False, None]
