"""Running the workloads: probe, warm up, measure, alternate service and baseline runs."""

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.cpu import CpuMeter, wait_for_quiet_machine
from bench.postgres import wait_until_idle
from bench.profiling import profile_text, start_recording, summarise
from bench.servers import Server
from bench.workloads import Context, Workload, warm_up_small
from bench.wrk import WrkResult, run_wrk

UNAVAILABLE_STATUSES = {404, 405}
UNCACHED = "service-uncached"  # the service with GRAPH_CACHE_BYTES=0
DISTURBED_CORES = 0.25  # other processes using more than this skew a run


class NoRequestsError(RuntimeError):
    """A measured run completed no request."""


@dataclass(frozen=True)
class Options:
    """How long and how hard to measure."""

    seconds: float = 10  # each measured throughput run
    warmup_seconds: float = 2
    latency_seconds: float = 5  # each measured single-client run
    rounds: int = 2  # service/baseline pairs per throughput figure
    connections: int = 8
    variant_rounds: int = 2  # shipped/variant pairs per design-choice figure
    variant_seconds: float = 5  # each measured variant run
    quiet_wait_seconds: float = 0  # wait for an idle machine before each measured run
    profile: tuple[str, ...] = ()  # workloads to profile with py-spy (an extra run each)
    profile_dir: Path = Path("bench/results")


@dataclass(frozen=True)
class Variant:
    """A design choice undone, measured against the choice as shipped."""

    key: str
    title: str
    bought: str  # what the shipped choice is
    workloads: tuple[str, ...]
    reference: str  # "service" or "baseline"
    start: Callable[[], Server] | None = None  # a differently configured server, if any
    path_prefix: str = ""  # or the same server on other paths
    # A fresh server as shipped to compare with, for memory: the long-running one keeps the
    # RSS of every earlier workload, so only two fresh processes compare peak RSS.
    start_shipped: Callable[[], Server] | None = None
    single_client: bool = False  # latency of one client (the large graphs), not throughput


def log(message: str) -> None:
    """Progress on stderr, with the time of day."""
    print(time.strftime("%H:%M:%S"), message, file=sys.stderr, flush=True)


def prefixed(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    """get.lua parameters with every path under `prefix`."""
    if not prefix:
        return params
    return {**params, "paths": [prefix + path for path in params["paths"]]}


def run_summary(result: WrkResult, peak_rss_mib: float, server: str) -> dict[str, Any]:
    """One measured run as JSON."""
    return {"server": server, **result.as_dict(), "peak_rss_mib": round(peak_rss_mib, 1)}


def mean_rps(runs: list[dict[str, Any]]) -> float:
    """Mean requests per second of runs."""
    return round(statistics.fmean(run["requests_per_second"] for run in runs), 1)


def mean_cpu_ms(runs: list[dict[str, Any]]) -> float:
    """Mean server CPU milliseconds per request of runs."""
    return round(statistics.fmean(run["server_cpu_ms_per_request"] for run in runs), 3)


@dataclass
class Runner:
    """Measures workloads on the service (and the baseline) and keeps every figure."""

    ctx: Context
    options: Options
    servers: dict[str, Server]
    postgres_pid: int | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)

    def measure(
        self,
        workload: Workload,
        server_name: str,
        *,
        connections: int,
        prefix: str = "",
        seconds: float | None = None,
    ) -> dict[str, Any]:
        """Warm up, then one measured wrk run; with the server's peak RSS during it."""
        server = self.servers[server_name]
        threads = connections if workload.stateful else 1
        planned = self.options.latency_seconds if connections == 1 else self.options.seconds
        planned = planned if seconds is None else seconds
        measured_seconds = max(planned, workload.min_seconds)
        warmup_seconds = min(self.options.warmup_seconds, measured_seconds / 2)
        for measured, run_seconds in ((False, warmup_seconds), (True, measured_seconds)):
            if run_seconds <= 0:
                continue
            if workload.prepare is not None:
                workload.prepare(self.ctx)
            if measured and self.options.quiet_wait_seconds > 0:
                wait_for_quiet_machine(self.options.quiet_wait_seconds)
            params = prefixed(workload.params(self.ctx), prefix)
            server.reset_peak_rss()
            meter = CpuMeter(server.pid, self.postgres_pid).start()
            result = run_wrk(
                server.url,
                workload.script,
                params,
                seconds=run_seconds,
                connections=connections,
                threads=threads,
            )
            cores = meter.cores()
            wait_until_idle(self.ctx.conninfo)
        if result.requests == 0:
            raise NoRequestsError(f"{workload.key} on {server_name}: no request completed")
        summary = run_summary(result, server.peak_rss_mib(), server_name)
        summary["cpu_cores"] = cores
        # CPU time the server spent per request: unlike req/s, barely moved by busy neighbours.
        summary["server_cpu_ms_per_request"] = round(
            cores["server"] * 1000 / max(summary["requests_per_second"], 0.001), 3
        )
        summary["load_average"] = round(os.getloadavg()[0], 2)
        if cores["other"] > DISTURBED_CORES:
            summary["disturbed"] = True
        log(
            f"  {workload.key} {server_name}{prefix} c={connections}: "
            f"{summary['requests_per_second']:.0f} req/s, p50 {summary['p50_ms']:.2f} ms, "
            f"p99 {summary['p99_ms']:.2f} ms, server CPU/request"
            f" {summary['server_cpu_ms_per_request']:.3f} ms,"
            f" peak RSS {summary['peak_rss_mib']} MiB, cores {cores}"
            + (f", errors {summary['errors']} {summary['statuses']}" if result.failed else "")
        )
        return summary

    def probe(self, workload: Workload, server_name: str) -> dict[str, Any]:
        """The workload's first request, timed, with the RSS it added; availability from it."""
        server = self.servers[server_name]
        try:
            request = workload.probe(self.ctx)
            rss_before = server.rss_mib()
            server.reset_peak_rss()
            started = time.perf_counter()
            response = request.send(server.url)
            elapsed_ms = (time.perf_counter() - started) * 1000
        except (httpx.HTTPError, RuntimeError, KeyError, ValueError) as error:
            return {"status": "failed", "note": f"probe failed: {error}"}
        probe = {
            "http_status": response.status_code,
            "ms": round(elapsed_ms, 2),
            "rss_before_mib": round(rss_before, 1),
            "rss_added_mib": round(max(0.0, server.peak_rss_mib() - rss_before), 1),
            "response_bytes": len(response.content),
        }
        if response.status_code in UNAVAILABLE_STATUSES:
            note = f"{request.method} answered {response.status_code} {response.text[:120]}"
            return {"status": "not available", "note": note, "probe": probe}
        if response.status_code >= 400:
            note = f"{request.method} answered {response.status_code}: {response.text[:300]}"
            return {"status": "failed", "note": note, "probe": probe}
        return {"status": "ok", "probe": probe}

    def run_workload(self, workload: Workload) -> dict[str, Any]:
        """Probe the workload's endpoint, then measure it if it answers."""
        log(f"{workload.key}: {workload.title}")
        result: dict[str, Any] = {"key": workload.key, "title": workload.title}
        if workload.nodes is not None:
            result["nodes"] = workload.nodes
        if workload.fresh_worker:
            self.servers["service"].restart()
            warm_up_small(self.ctx, self.servers["service"].url)
        result |= self.probe(workload, "service")
        if result["status"] == "ok" and workload.run is not None:
            try:
                result |= workload.run(self.ctx)
            except (httpx.HTTPError, OSError, RuntimeError) as error:
                result |= {"status": "failed", "note": f"{type(error).__name__}: {error}"}
        elif result["status"] == "ok":
            try:
                result |= self.measure_workload(workload)
            except NoRequestsError as error:
                result |= {"status": "failed", "note": str(error)}
        if result["status"] != "ok":
            log(f"  {workload.key}: {result['status']}: {result.get('note', '')}")
        return result

    def measure_workload(self, workload: Workload) -> dict[str, Any]:
        """Throughput (alternating service and baseline), then single-client latency."""
        result: dict[str, Any] = {}
        with_baseline = workload.baseline and "baseline" in self.servers
        if with_baseline:
            baseline_probe = self.probe(workload, "baseline")
            if baseline_probe["status"] != "ok":
                raise RuntimeError(f"the baseline fails {workload.key}: {baseline_probe}")
        if workload.throughput:
            result["throughput"] = self.throughput(workload, with_baseline)
        result["single_client"] = {
            name: self.measure(workload, name, connections=1)
            for name in (("service", "baseline") if with_baseline else ("service",))
        }
        if workload.uncached and UNCACHED in self.servers:
            result["single_client"][UNCACHED] = self.measure(workload, UNCACHED, connections=1)
        if workload.key in self.options.profile:
            result["profile"] = {
                name: self.profile(workload, name)
                for name in (("service", "baseline") if with_baseline else ("service",))
            }
        runs = [*result.get("throughput", {}).get("service", [])]
        runs.append(result["single_client"]["service"])
        result["peak_rss_mib"] = max(run["peak_rss_mib"] for run in runs)
        return result

    def profile(self, workload: Workload, server_name: str) -> dict[str, Any]:
        """One extra loaded run with py-spy sampling the server; its summary is kept."""
        server = self.servers[server_name]
        seconds = max(self.options.seconds, workload.min_seconds)
        output = self.options.profile_dir / f"profile-{workload.key}-{server_name}.collapsed"
        output.parent.mkdir(parents=True, exist_ok=True)
        recorder = start_recording(server.worker_pids()[0], seconds, output)
        run = run_wrk(
            server.url,
            workload.script,
            workload.params(self.ctx),
            seconds=seconds,
            connections=self.options.connections,
            threads=self.options.connections if workload.stateful else 1,
        )
        recorder.wait(timeout=seconds + 60)
        wait_until_idle(self.ctx.conninfo)
        summary = summarise(output)
        title = f"{workload.key} {server_name} under py-spy ({run.requests_per_second:.0f} req/s)"
        output.with_suffix(".txt").write_text(profile_text(title, summary))
        log(f"  {workload.key} {server_name} profiled: {output.with_suffix('.txt')}")
        return {"requests_per_second": run.requests_per_second, **summary}

    def throughput(self, workload: Workload, with_baseline: bool) -> dict[str, Any]:
        """Rounds of (service, baseline) runs under `connections` concurrent clients."""
        connections = self.options.connections
        runs: dict[str, list[dict[str, Any]]] = {"service": [], "baseline": []}
        for _round in range(self.options.rounds if with_baseline else 1):
            for name in ("service", "baseline") if with_baseline else ("service",):
                runs[name].append(self.measure(workload, name, connections=connections))
        figures: dict[str, Any] = {"connections": connections, **runs}
        figures["requests_per_second"] = mean_rps(runs["service"])
        figures["p50_ms"] = statistics.median(run["p50_ms"] for run in runs["service"])
        figures["p99_ms"] = statistics.median(run["p99_ms"] for run in runs["service"])
        if with_baseline:
            figures["baseline_requests_per_second"] = mean_rps(runs["baseline"])
            figures["ratio"] = round(
                figures["requests_per_second"] / figures["baseline_requests_per_second"], 3
            )
            figures["server_cpu_ms_per_request"] = mean_cpu_ms(runs["service"])
            figures["baseline_server_cpu_ms_per_request"] = mean_cpu_ms(runs["baseline"])
            figures["cpu_ratio"] = round(
                figures["baseline_server_cpu_ms_per_request"]
                / figures["server_cpu_ms_per_request"],
                3,
            )
            figures["ratio_per_round"] = [
                round(svc["requests_per_second"] / base["requests_per_second"], 3)
                for svc, base in zip(runs["service"], runs["baseline"], strict=True)
            ]
        return figures

    def run_variant(self, variant: Variant, workloads: dict[str, Workload]) -> dict[str, Any]:
        """Alternate runs of the shipped choice and of the variant on the same workloads."""
        log(f"{variant.key}: {variant.title}")
        outcome: dict[str, Any] = {
            "key": variant.key,
            "title": variant.title,
            "bought": variant.bought,
            "single_client": variant.single_client,
            "workloads": {},
        }
        variant_server = variant.start() if variant.start is not None else None
        if variant_server is not None:
            self.servers["variant"] = variant_server
        shipped_server = variant.start_shipped() if variant.start_shipped is not None else None
        reference = variant.reference
        if shipped_server is not None:
            reference = "shipped"
            self.servers[reference] = shipped_server
        try:
            for key in variant.workloads:
                workload = workloads.get(key)
                measured = any(r["key"] == key and r["status"] == "ok" for r in self.results)
                if workload is None or not measured:
                    continue
                shipped: list[dict[str, Any]] = []
                undone: list[dict[str, Any]] = []
                connections = 1 if variant.single_client else self.options.connections
                # Single-client runs last as long as the workload's own single-client runs.
                seconds = None if variant.single_client else self.options.variant_seconds
                for _round in range(self.options.variant_rounds):
                    shipped.append(
                        self.measure(workload, reference, connections=connections, seconds=seconds)
                    )
                    undone.append(
                        self.measure(
                            workload,
                            "variant" if variant_server is not None else variant.reference,
                            connections=connections,
                            prefix=variant.path_prefix,
                            seconds=seconds,
                        )
                    )
                outcome["workloads"][key] = {
                    "shipped_requests_per_second": mean_rps(shipped),
                    "variant_requests_per_second": mean_rps(undone),
                    "gain": round(mean_rps(shipped) / mean_rps(undone) - 1, 3),
                    "shipped_server_cpu_ms_per_request": mean_cpu_ms(shipped),
                    "variant_server_cpu_ms_per_request": mean_cpu_ms(undone),
                    "cpu_gain": round(mean_cpu_ms(undone) / mean_cpu_ms(shipped) - 1, 3),
                    "shipped_p50_ms": statistics.median(run["p50_ms"] for run in shipped),
                    "variant_p50_ms": statistics.median(run["p50_ms"] for run in undone),
                    "connections": connections,
                    "peak_rss_mib": {
                        "shipped": max(run["peak_rss_mib"] for run in shipped),
                        "variant": max(run["peak_rss_mib"] for run in undone),
                        "comparable": shipped_server is not None,
                    },
                }
        finally:
            for name, started in (("variant", variant_server), ("shipped", shipped_server)):
                if started is not None:
                    started.stop()
                    del self.servers[name]
        return outcome
