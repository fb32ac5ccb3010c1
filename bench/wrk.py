"""Driving wrk: a Lua parameter file per run, one summary line parsed back.

wrk is the load generator because it is C with an event loop per thread: on a 2-core machine it
needs a fraction of a core for thousands of requests per second, so it steals far less CPU from
the server under test than a Python client would. It runs as its own process, with few threads.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LUA_DIR = Path(__file__).resolve().parent / "lua"
RESULT_MARKER = "BENCH_RESULT "
LUA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class WrkMissingError(RuntimeError):
    """wrk is not installed."""


@dataclass
class WrkResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    statuses: dict[str, int] = field(default_factory=dict)
    bytes_per_request: int = 0  # read off the socket, headers included: the bytes on the wire

    @property
    def failed(self) -> int:
        """Requests that did not succeed (socket errors, timeouts and 4xx/5xx)."""
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def lua_literal(value: Any) -> str:
    """A Python value (dict, list, str, number, bool, None) as a Lua literal."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if not value.isascii():
            raise ValueError(f"Lua parameters are ASCII only: {value!r}")
        return json.dumps(value)  # ASCII JSON strings are valid Lua strings
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not LUA_NAME.fullmatch(key):
                raise ValueError(f"not a Lua name: {key!r}")
            items.append(f"{key} = {lua_literal(item)}")
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua_literal(item) for item in value) + "}"
    return lua_literal(str(value))


def wrk_path() -> str:
    """The wrk executable; a clear error when it is missing."""
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissingError("wrk is not installed: `make bench` installs it, or apt-get it")
    return found


def run_wrk(
    base_url: str,
    script: str,
    params: dict[str, Any],
    *,
    seconds: float,
    connections: int,
    threads: int,
    timeout_seconds: int = 30,
) -> WrkResult:
    """Run wrk for `seconds` with `bench/lua/<script>` and `params`, and parse its summary."""
    with tempfile.TemporaryDirectory(prefix="wf-bench-wrk-") as scratch:
        params_file = Path(scratch) / "params.lua"
        params_file.write_text("return " + lua_literal(params) + "\n")
        env = {**os.environ, "BENCH_PARAMS": str(params_file), "BENCH_LUA_DIR": str(LUA_DIR)}
        command = [
            wrk_path(),
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={max(1, round(seconds))}s",
            f"--timeout={timeout_seconds}s",
            f"--script={LUA_DIR / script}",
            base_url,
        ]
        completed = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return parse_result(json.loads(line.removeprefix(RESULT_MARKER)))
    raise RuntimeError(
        f"wrk gave no result (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
    )


def parse_result(raw: dict[str, Any]) -> WrkResult:
    """A WrkResult from the line that bench/lua/common.lua prints."""
    seconds = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    return WrkResult(
        requests=raw["requests"],
        seconds=round(seconds, 3),
        requests_per_second=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        errors={key: value for key, value in raw["errors"].items() if value},
        statuses=raw.get("statuses", {}),
        bytes_per_request=raw.get("bytes", 0) // max(raw["requests"], 1),
    )
