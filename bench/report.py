"""Results: the console table, bench/results/latest.json and the block in docs/performance.md."""

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench.runner import UNCACHED
from bench.workloads import REACTFLOW_COUNTERPARTS

MIB_PER_MB = 1e6 / 2**20
DOCS_START = "<!-- bench:results:start -->"
DOCS_END = "<!-- bench:results:end -->"
RSS_LIMIT_MB = 200
PUT_RSS_LIMIT_MB = 100
PER_NODE_LIMIT = 1.5
# Issue 11: 1,000 open streams on one worker, and one write reaching all of them.
STREAMS_RSS_LIMIT_MB = 50
FAN_OUT_P99_LIMIT_MS = 250
# Issue #10: (workload, the workload it is compared with in the same run, limit, what).
RELATIVE_TARGETS = (
    ("R1", "W5", 1.2, "a save that records a revision"),
    ("R4b", "R4a", 1.1, "GET /published against GET /graph"),
    # Issue #12: a change set moving 20 nodes of a 500-node graph, against moving one node.
    ("C1", "W3", 2.0, "a change set moving 20 of 500 nodes"),
)


def machine_info(postgres_version: str, database: str) -> dict[str, Any]:
    """nproc, memory, CPU model, PostgreSQL, Python and wrk versions."""
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres_version,
        "database": database,
        "wrk": (wrk.stdout or wrk.stderr).split(" [", 1)[0].strip(),
    }


def by_key(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Workload results that were measured, by key."""
    return {result["key"]: result for result in results if result.get("status") == "ok"}


def single_p50(result: dict[str, Any] | None, *, cold: bool = False) -> float | None:
    """The single-client p50 of the service (`cold`: without the graph cache, if measured)."""
    if result is None or "single_client" not in result:
        return None
    runs = result["single_client"]
    return float(runs[UNCACHED if cold and UNCACHED in runs else "service"]["p50_ms"])


def verdict(measured: float | None, limit: float, *, at_least: bool = False) -> bool | None:
    """Pass (True), fail (False) or not measured (None)."""
    if measured is None:
        return None
    return measured >= limit if at_least else measured <= limit


def evaluate_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target of issue #6 with its measured figure and verdict."""
    measured = by_key(results)
    targets: list[dict[str, Any]] = []
    for key in ("W1", "W2", "W3"):
        limit = {"W1": 0.6, "W2": 0.5, "W3": 0.5}[key]
        throughput = measured.get(key, {}).get("throughput", {})
        ratio, cpu_ratio = throughput.get("ratio"), throughput.get("cpu_ratio")
        targets.append(
            {
                "target": f"{key} req/s ≥ {limit} x baseline",
                "measured": None
                if ratio is None
                else f"{ratio:.2f} x (CPU per request: {cpu_ratio:.2f} x)",
                "pass": verdict(ratio, limit, at_least=True),
            }
        )
    p50_limits = {
        "W1": 2,
        "W2": 5,
        "W3": 4,
        "W4": 10,
        "W5": 150,
        "W6a": 10,
        "W6b": 10,
        "W7": 5,
        "L1": 50,
        "L2": 350,
        "R2": 2,
        "R3": 100,
    }
    for key, limit in p50_limits.items():
        p50, cold = single_p50(measured.get(key)), single_p50(measured.get(key), cold=True)
        text = None if p50 is None else f"{p50:.2f} ms"
        if p50 is not None and cold is not None and cold != p50:
            text = f"{cold:.2f} ms without the graph cache, {p50:.2f} ms with it"
        targets.append(
            {
                "target": f"{key} single-client p50 ≤ {limit} ms",
                "measured": text,
                "pass": verdict(cold, limit),
            }
        )
    for verb, small, large in (("GET", "W2", "L1"), ("PUT", "G2", "L2")):
        ratio = per_node_ratio(measured.get(small), measured.get(large))
        targets.append(
            {
                "target": f"{verb} /graph per-node cost at 5,000 ≤ {PER_NODE_LIMIT} x at 100",
                "measured": None if ratio is None else f"{ratio:.2f} x",
                "pass": verdict(ratio, PER_NODE_LIMIT),
            }
        )
    for key, reference, limit, what in RELATIVE_TARGETS:
        p50, reference_p50 = single_p50(measured.get(key)), single_p50(measured.get(reference))
        ratio = None if p50 is None or not reference_p50 else p50 / reference_p50
        targets.append(
            {
                "target": f"{key} ({what}) single-client p50 ≤ {limit} x {reference} p50",
                "measured": None if ratio is None else f"{ratio:.2f} x ({p50:.2f} ms)",
                "pass": verdict(ratio, limit),
            }
        )
    regular = [r["peak_rss_mib"] for k, r in measured.items() if k.startswith("W")]
    everything = [r["peak_rss_mib"] for r in measured.values() if "peak_rss_mib" in r]
    peak = max(regular) if regular else None
    overall = f", {max(everything) / MIB_PER_MB:.0f} MB with the large graphs" if everything else ""
    targets.append(
        {
            "target": f"peak RSS per worker under W1-W7 ≤ {RSS_LIMIT_MB} MB",
            "measured": None if peak is None else f"{peak / MIB_PER_MB:.0f} MB{overall}",
            "pass": verdict(peak, RSS_LIMIT_MB * MIB_PER_MB),
        }
    )
    added = measured.get("L2", {}).get("probe", {}).get("rss_added_mib")
    targets.append(
        {
            "target": f"a 5,000-node PUT adds ≤ {PUT_RSS_LIMIT_MB} MB of RSS",
            "measured": None if added is None else f"{added / MIB_PER_MB:.0f} MB",
            "pass": verdict(added, PUT_RSS_LIMIT_MB * MIB_PER_MB),
        }
    )
    return targets + event_targets(measured)


def event_targets(measured: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 11's stream targets: E1's memory and connections, E2's delivery p99."""
    streams = measured.get("E1", {})
    added = streams.get("rss_added_mib")
    backends = streams.get("backends_added")
    pool = streams.get("db_pool_max_size", 0)
    p99 = measured.get("E2", {}).get("from_send", {}).get("p99_ms")
    return [
        {
            "target": f"E1 1,000 open streams add ≤ {STREAMS_RSS_LIMIT_MB} MB of worker RSS",
            "measured": None
            if added is None
            else f"{added / MIB_PER_MB:.1f} MB ({streams['rss_per_stream_kib']:.1f} KiB a stream)",
            "pass": verdict(added, STREAMS_RSS_LIMIT_MB * MIB_PER_MB),
        },
        {
            "target": "E1 no database connection per stream (added ≤ the pool's"
            f" DB_POOL_MAX_SIZE, {pool}, not one a stream)",
            "measured": None
            if backends is None
            else f"{streams['idle_backends']} -> {streams['open_backends']} ({backends:+d})",
            "pass": verdict(backends, pool),
        },
        {
            "target": f"E2 one write reaches 1,000 streams, p99 ≤ {FAN_OUT_P99_LIMIT_MS} ms"
            " from its send",
            "measured": None if p99 is None else f"{p99:.1f} ms",
            "pass": verdict(p99, FAN_OUT_P99_LIMIT_MS),
        },
    ]


def reactflow_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 12: each React Flow workload's single-client p50 over its plain counterpart's."""
    measured = by_key(results)
    rows = []
    for key, counterpart in REACTFLOW_COUNTERPARTS.items():
        for cold in (False, True):
            own, plain = measured.get(key), measured.get(counterpart)
            if cold and UNCACHED not in (own or {}).get("single_client", {}):
                continue
            p50, plain_p50 = single_p50(own, cold=cold), single_p50(plain, cold=cold)
            if p50 is None or not plain_p50:
                continue
            rows.append(
                {
                    "workload": key,
                    "counterpart": counterpart,
                    "graph_cache": "off" if cold else "on",
                    "p50_ms": round(p50, 2),
                    "counterpart_p50_ms": round(plain_p50, 2),
                    "ratio": round(p50 / plain_p50, 2),
                }
            )
    return rows


def reactflow_text(rows: list[dict[str, Any]]) -> str:
    """The React Flow ratios as Markdown lines (no target: issue 12 sets none)."""
    if not rows:
        return "Not measured in this run."
    return "\n".join(
        f"- {r['workload']} single-client p50 {r['p50_ms']:.2f} ms ="
        f" {r['ratio']:.2f} x {r['counterpart']} ({r['counterpart_p50_ms']:.2f} ms)"
        + (", graph cache off" if r["graph_cache"] == "off" else "")
        for r in rows
    )


def per_node_ratio(small: dict[str, Any] | None, large: dict[str, Any] | None) -> float | None:
    """(p50 per node at the large size) / (p50 per node at the small size)."""
    small_p50, large_p50 = single_p50(small, cold=True), single_p50(large, cold=True)
    if small is None or large is None or small_p50 is None or large_p50 is None:
        return None
    return (large_p50 / large["nodes"]) / (small_p50 / small["nodes"])


def growth(results: list[dict[str, Any]], sizes: dict[str, int]) -> list[dict[str, Any]]:
    """Single-client p50 of GET and PUT /graph by graph size, and per node."""
    measured = by_key(results)
    rows = []
    for verb, keys in (("GET", ("W2", "G1", "L1")), ("PUT", ("G2", "W5", "L2"))):
        for key in keys:
            p50 = single_p50(measured.get(key), cold=True)
            if p50 is None:
                continue
            nodes = sizes[key]
            rows.append(
                {
                    "verb": verb,
                    "workload": key,
                    "nodes": nodes,
                    "p50_ms": round(p50, 2),
                    "us_per_node": round(p50 * 1000 / nodes, 2),
                }
            )
    return rows


def cell(value: float | None, digits: int = 2) -> str:
    """A number, or a dash."""
    return "-" if value is None else f"{value:,.{digits}f}"


def service_runs(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every measured run of the service for a workload."""
    runs = list(result.get("throughput", {}).get("service", []))
    if "single_client" in result:
        runs.append(result["single_client"]["service"])
    return runs


def marks(result: dict[str, Any]) -> str:
    """Footnote marks: failed requests (!) and runs disturbed by other processes (*)."""
    runs = service_runs(result)
    failed = sum(sum(run["errors"].values()) for run in runs)
    text = f" ({failed} failed!)" if failed else ""
    return text + (" *" if any(run.get("disturbed") for run in runs) else "")


def mean_of(runs: list[dict[str, Any]], key: str) -> float | None:
    """Mean of one figure over runs."""
    values = [run[key] for run in runs if key in run]
    return sum(values) / len(values) if values else None


def table_row(name: str, runs: list[dict[str, Any]], single: dict[str, Any], **extra: Any) -> str:
    """One row of the results table."""
    loaded = f"{cell(mean_of(runs, 'p50_ms'))} / {cell(mean_of(runs, 'p99_ms'))}" if runs else "-"
    cpu_runs = runs or [single]
    return (
        f"| {name} | {cell(mean_of(runs, 'requests_per_second'), 0)} | {extra.get('ratio', '-')}"
        f" | {cell(mean_of(cpu_runs, 'server_cpu_ms_per_request'), 3)}"
        f" | {extra.get('cpu_ratio', '-')} | {loaded}"
        f" | {cell(single['p50_ms'])} / {cell(single['p99_ms'])}"
        f" | {cell(extra.get('peak_rss_mib', single['peak_rss_mib']), 0)} |"
    )


def results_table(results: list[dict[str, Any]], connections: int) -> str:
    """The main table as Markdown (it reads fine on a console too)."""
    lines = [
        f"| Workload | req/s (c={connections}) | x baseline | server CPU ms/request"
        f" | x baseline (CPU) | p50 / p99 at c={connections} (ms)"
        " | single-client p50 / p99 (ms) | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        name = f"{result['key']} {result['title']}"
        if result.get("status") == "ok" and "single_client" not in result:
            continue  # the event streams have a table of their own
        if result.get("status") != "ok":
            lines.append(f"| {name} | {result.get('status')}: {result.get('note', '')} |||||||")
            continue
        throughput = result.get("throughput", {})
        ratios = {}
        if "ratio" in throughput:
            ratios = {
                "ratio": cell(throughput["ratio"]),
                "cpu_ratio": cell(throughput["cpu_ratio"]),
            }
        lines.append(
            table_row(
                f"{name}{marks(result)}",
                throughput.get("service", []),
                result["single_client"]["service"],
                peak_rss_mib=result.get("peak_rss_mib"),
                **ratios,
            )
        )
        if UNCACHED in result["single_client"]:
            lines.append(table_row("↳ graph cache off", [], result["single_client"][UNCACHED]))
        if "baseline" in result["single_client"]:
            lines.append(
                table_row(
                    "↳ raw baseline",
                    throughput.get("baseline", []),
                    result["single_client"]["baseline"],
                    ratio="1.00",
                    cpu_ratio="1.00",
                )
            )
    lines += [
        "",
        "x baseline: the service's figure over the baseline's, from alternating runs (req/s:"
        " higher is better; CPU: baseline CPU per request over the service's). \\* another"
        " process used more than a quarter of a core during a run of this row (figures skewed);"
        " `failed!`: requests answered 4xx/5xx or cut off.",
    ]
    return "\n".join(lines)


def targets_table(targets: list[dict[str, Any]]) -> str:
    """Targets with verdicts, as Markdown."""
    marks = {True: "pass", False: "**FAIL**", None: "not measured"}
    lines = ["| Target | Measured | Verdict |", "|---|---:|---|"]
    lines += [f"| {t['target']} | {t['measured'] or '-'} | {marks[t['pass']]} |" for t in targets]
    return "\n".join(lines)


def events_table(results: list[dict[str, Any]]) -> str:
    """E1 and E2 (1,000 open event streams), as Markdown."""
    measured = by_key(results)
    streams, fan_out = measured.get("E1"), measured.get("E2")
    lines = ["| Workload | Figure |", "|---|---|"]
    if streams is not None:
        lines.append(
            f"| E1 {streams['streams']:,} streams opened in {streams['opening_seconds']:.1f} s"
            f" | worker RSS {streams['idle_rss_mib']:.1f} MiB idle -> {streams['open_rss_mib']:.1f}"
            f" MiB ({streams['rss_added_mib']:+.1f} MiB); database connections"
            f" {streams['idle_backends']} -> {streams['open_backends']} |"
        )
    if fan_out is not None:
        send, response = fan_out["from_send"], fan_out["from_response"]
        lines.append(
            f"| E2 {fan_out['writes']} writes x {fan_out['streams']:,} streams"
            f" ({fan_out['deliveries']:,} deliveries, {fan_out['missed']} missed)"
            f" | from the send p50 {send['p50_ms']:.1f} / p99 {send['p99_ms']:.1f} / max"
            f" {send['max_ms']:.1f} ms; from the response p50 {response['p50_ms']:.1f} / p99"
            f" {response['p99_ms']:.1f} ms; the write itself p50 {fan_out['write_p50_ms']:.1f} ms |"
        )
    return "\n".join(lines) if len(lines) > 2 else "Not measured in this run."


def growth_table(rows: list[dict[str, Any]]) -> str:
    """Per-node cost by size, as Markdown."""
    lines = ["| Request | Nodes | p50 (ms) | µs per node |", "|---|---:|---:|---:|"]
    lines += [
        f"| {r['verb']} /graph ({r['workload']}) | {r['nodes']:,} | {cell(r['p50_ms'])}"
        f" | {cell(r['us_per_node'])} |"
        for r in rows
    ]
    return "\n".join(lines)


def rss_pair(peaks: dict[str, Any]) -> str:
    """Peak RSS shipped / undone, where both came from fresh servers (else a dash)."""
    if not peaks.get("comparable"):
        return "-"
    return f"{cell(peaks['shipped'], 1)} / {cell(peaks['variant'], 1)}"


def variants_table(variants: list[dict[str, Any]]) -> str:
    """Before/after figures of design choices, as Markdown."""
    lines = [
        "| Design choice (shipped) | Undone as | Workload | req/s shipped / undone | req/s bought"
        " | server CPU ms/request shipped / undone | CPU bought | peak RSS MiB (fresh servers) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for variant in variants:
        if variant.get("single_client"):
            continue  # in checkout_table: latency, not throughput
        for key, figures in variant["workloads"].items():
            lines.append(
                f"| {variant['bought']} | {variant['title']} | {key}"
                f" | {cell(figures['shipped_requests_per_second'], 0)}"
                f" / {cell(figures['variant_requests_per_second'], 0)} | {figures['gain']:+.0%}"
                f" | {cell(figures['shipped_server_cpu_ms_per_request'], 3)}"
                f" / {cell(figures['variant_server_cpu_ms_per_request'], 3)}"
                f" | {figures['cpu_gain']:+.0%}"
                f" | {rss_pair(figures['peak_rss_mib'])} |"
            )
    return "\n".join(lines) if len(lines) > 2 else "No throughput variant in this run."


def checkout_rows(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 9: single-client p50 of this checkout and of the other one, alternated."""
    rows = []
    for variant in variants:
        if not variant.get("single_client"):
            continue
        for key, figures in variant["workloads"].items():
            this, other = figures["shipped_p50_ms"], figures["variant_p50_ms"]
            rows.append(
                {
                    "workload": key,
                    "compared_as": variant["title"],
                    "this_p50_ms": this,
                    "other_p50_ms": other,
                    "ratio": round(this / other, 3) if other else None,
                }
            )
    return rows


def checkout_table(variants: list[dict[str, Any]]) -> str:
    """The large-graph A/B against another checkout, as Markdown (empty when not measured)."""
    rows = checkout_rows(variants)
    if not rows:
        return ""
    lines = [
        "| Workload | Other checkout | p50 this / other (ms) | this / other |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| {r['workload']} single-client | {r['compared_as']} | {cell(r['this_p50_ms'])}"
        f" / {cell(r['other_p50_ms'])} | {cell(r['ratio'])} x |"
        for r in rows
    ]
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    """The generated block of docs/performance.md."""
    machine = report["machine"]
    options = report["options"]
    memory = report.get("memory", {})
    parts = [
        f"Measured {report['generated_at']} ({report['mode']} run,"
        f" {report['elapsed_seconds']:.0f} s in all) by `uv run python -m bench`.",
        "",
        f"Machine: {machine['nproc']} cores ({machine['cpu_model']}), {machine['memory_gib']} GiB,"
        f" Linux {machine['kernel']}, Python {machine['python']}, PostgreSQL"
        f" {machine['postgresql']} ({machine['database']}), {machine['wrk']}.",
        "",
        f"Each figure: {options['seconds']:g} s measured after {options['warmup_seconds']:g} s of"
        f" warm-up; throughput with {options['connections']} connections, service and baseline"
        f" alternated {options['rounds']} times.",
        "",
        "### Results",
        "",
        results_table(report["workloads"], options["connections"]),
        "",
        "### Targets",
        "",
        targets_table(report["targets"]),
        "",
        "### Growth: per-node cost of GET (graph cache off) and PUT /graph",
        "",
        growth_table(report["growth"]) if report["growth"] else "Not measured in this run.",
        "",
        "### Memory",
        "",
        f"Peak RSS of the service worker over the run: {cell(memory.get('peak_rss_mib'), 0)} MiB;"
        f" RSS added by the first 5,000-node PUT: {cell(memory.get('put_5000_rss_added_mib'), 1)}"
        " MiB.",
        "",
        "### React Flow format against the plain one (no target)",
        "",
        reactflow_text(report.get("reactflow", [])),
        "",
        "### Live events: 1,000 open streams on one worker",
        "",
        events_table(report["workloads"]),
        "",
        "### Design-choice variants (measured; discussed below)",
        "",
        variants_table(report["variants"]) if report["variants"] else "Not measured in this run.",
    ]
    compared = checkout_table(report["variants"])
    if compared:
        parts += ["", "### Same-run A/B of the large graphs against another checkout", ""]
        parts.append(compared)
    return "\n".join(parts)


def write_docs(path: Path, report: dict[str, Any]) -> None:
    """Replace the generated block of docs/performance.md (or append one)."""
    block = f"{DOCS_START}\n{markdown(report)}\n{DOCS_END}"
    text = path.read_text() if path.exists() else "# Performance\n\n"
    if DOCS_START in text and DOCS_END in text:
        head, rest = text.split(DOCS_START, 1)
        tail = rest.split(DOCS_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_json(path: Path, report: dict[str, Any]) -> None:
    """bench/results/latest.json."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
