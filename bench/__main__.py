"""`uv run python -m bench`: the benchmark of issue #6 (docs/performance.md tells the method).

Starts a fresh PostgreSQL (embedded, or a new database on DATABASE_URL), migrates and seeds it,
starts the service as deployed and the raw baseline (bench/baseline.py), drives every workload
with wrk from its own process, and writes the table, bench/results/latest.json and the results
block of docs/performance.md.
"""

import argparse
import os
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.postgres import fresh_database, postmaster_pid, server_version
from bench.report import (
    checkout_table,
    evaluate_targets,
    events_table,
    growth,
    machine_info,
    reactflow_ratios,
    reactflow_text,
    results_table,
    targets_table,
    variants_table,
    write_docs,
    write_json,
)
from bench.runner import UNCACHED, Options, Runner, Variant, log
from bench.seed import seed
from bench.servers import (
    Server,
    baseline_command,
    checkout_service_command,
    pure_python_command,
    service_command,
)
from bench.workloads import REACTFLOW_COUNTERPARTS, Context, Workload, workloads
from bench.wrk import WrkMissingError, wrk_path
from service.auth import issue_token
from service.config import Settings

BENCH_DIR = Path(__file__).resolve().parent
DOCS_PATH = BENCH_DIR.parent / "docs" / "performance.md"
LATEST_JSON = BENCH_DIR / "results" / "latest.json"
PARTIAL_JSON = BENCH_DIR / "results" / "partial.json"
TOKEN_TTL_SECONDS = 24 * 3600
NO_GRAPH_CACHE = {"GRAPH_CACHE_BYTES": "0"}
NEVER_PREPARE = "1000000000"  # a prepare threshold never reached: prepared statements off


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: short, no variants")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated workloads, e.g. W1,W2,W6 (RF1 adds G1, RF2 adds W5; see docs)",
    )
    parser.add_argument("--duration", type=float, help="seconds per throughput run (default 10)")
    parser.add_argument(
        "--latency-duration", type=float, help="seconds per single-client run (default 5)"
    )
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per run (default 2)")
    parser.add_argument("--rounds", type=int, help="service/baseline pairs (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="throughput clients")
    parser.add_argument(
        "--variants",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure the design-choice variants (default: on, off with --quick)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="server to create a fresh database on (default: DATABASE_URL, else embedded)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each measured run, wait up to SECONDS for an idle machine (shared boxes)",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="workloads to profile with py-spy, e.g. W1 (needs `uv run --with py-spy`)",
    )
    parser.add_argument(
        "--compare-dir",
        type=Path,
        help="also measure the service from another checkout (A/B against this one)",
    )
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/...)")
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rewrite the results block of docs/performance.md (default: full runs only)",
    )
    return parser.parse_args(argv)


def chosen_options(args: argparse.Namespace) -> Options:
    """Durations for a full or a quick run, with explicit options winning."""
    quick = Options(
        seconds=2,
        warmup_seconds=1,
        latency_seconds=2,
        rounds=1,
        connections=args.connections,
        variant_rounds=1,
        variant_seconds=2,
    )
    full = Options(connections=args.connections)
    base = quick if args.quick else full
    return Options(
        seconds=args.duration if args.duration is not None else base.seconds,
        latency_seconds=(
            args.latency_duration if args.latency_duration is not None else base.latency_seconds
        ),
        warmup_seconds=args.warmup if args.warmup is not None else base.warmup_seconds,
        rounds=args.rounds if args.rounds is not None else base.rounds,
        connections=args.connections,
        variant_rounds=base.variant_rounds,
        variant_seconds=args.duration if args.duration is not None else base.variant_seconds,
        quiet_wait_seconds=args.wait_quiet,
        profile=tuple(name.strip().upper() for name in args.profile.split(",") if name.strip()),
        profile_dir=BENCH_DIR / "results",
    )


def selected_workloads(only: str) -> list[Workload]:
    """All workloads, or those named by --only (W6 names W6a and W6b; RF1 brings G1 along)."""
    everything = workloads()
    if not only:
        return everything
    wanted = [name.strip().upper() for name in only.split(",") if name.strip()]
    named = {w.key for w in everything if any(w.key.upper().startswith(n) for n in wanted)}
    if not named:
        raise SystemExit(
            f"--only {only}: no such workload ({', '.join(w.key for w in everything)})"
        )
    # A React Flow workload is reported as a ratio to its plain counterpart in the same run.
    named |= {REACTFLOW_COUNTERPARTS[key] for key in named if key in REACTFLOW_COUNTERPARTS}
    return [w for w in everything if w.key in named]


def service_env(database_url: str, secret: str) -> dict[str, str]:
    """The service's environment as deployed, with limits raised for the 5,000-node graphs."""
    return {
        "DATABASE_URL": database_url,
        "JWT_SECRET": secret,
        "ENVIRONMENT": "production",
        "ACCESS_LOG": "true",
        "LOG_LEVEL": "info",
        "WORKERS": "1",
        "MAX_NODES_PER_WORKFLOW": "10000",
        "MAX_EDGES_PER_WORKFLOW": "1000000",  # W4 adds edges during a run (reset between runs)
        "MAX_BODY_BYTES": str(32 * 1024 * 1024),
    }


def compared_checkout(env: dict[str, str], log_dir: Path, checkout: Path | None) -> list[Variant]:
    """Another checkout's service: W1-W3 under load, and (issue 9) L1 cold and L2 single-client."""
    if checkout is None:
        return []

    def server(extra_env: dict[str, str], name: str) -> Any:
        return lambda: Server(
            name,
            checkout_service_command(checkout.resolve()),
            {**env, **extra_env},
            log_dir / f"{name}.log",
            cwd=checkout.resolve(),
            ready_path="/healthz",
        ).start()

    title = f"the service from {checkout}"
    bought = "this checkout (negative: the other one is faster)"
    return [
        Variant("V0", title, bought, ("W1", "W2", "W3"), "service", start=server({}, "compare")),
        Variant(
            "V0c",
            f"{title}, graph cache off as well",
            bought,
            ("L1",),
            UNCACHED,  # the cold GET is compared cold on both sides
            start=server(NO_GRAPH_CACHE, "compare-uncached"),
            single_client=True,
        ),
        Variant(
            "V0p",
            title,
            bought,
            ("L2",),
            "service",
            start=server({}, "compare-large"),
            single_client=True,
        ),
    ]


def design_variants(
    env: dict[str, str], log_dir: Path, compare_dir: Path | None = None
) -> list[Variant]:
    """The design choices measured by undoing them (and another checkout, if given)."""

    def server(command: Any, extra_env: dict[str, str], name: str) -> Any:
        return lambda: Server(name, command, {**env, **extra_env}, log_dir / f"{name}.log").start()

    return [
        *compared_checkout(env, log_dir, compare_dir),
        Variant(
            "V1",
            "uvicorn with the asyncio loop and h11 instead of uvloop and httptools",
            "uvloop + httptools",
            ("W1",),
            "service",
            start=server(pure_python_command, {}, "variant-asyncio-h11"),
        ),
        Variant(
            "V2",
            "prepared statements off (psycopg prepare_threshold never reached)",
            "prepared statements (prepare_threshold 5)",
            ("W1",),
            "service",
            start=server(
                service_command, {"DB_PREPARE_THRESHOLD": NEVER_PREPARE}, "variant-noprep"
            ),
        ),
        Variant(
            "V3",
            "access log off",
            "access log on, as deployed (negative: what it costs)",
            ("W1",),
            "service",
            start=server(service_command, {"ACCESS_LOG": "false"}, "variant-no-access-log"),
        ),
        Variant(
            "V5",
            "per-worker cache of rendered graphs off (GRAPH_CACHE_BYTES=0)",
            "rendered graphs kept per worker by (id, version)",
            ("W2", "L1"),
            "service",
            start=server(service_command, NO_GRAPH_CACHE, "variant-no-graph-cache"),
        ),
        Variant(
            "V6",
            "large bodies not queued (LARGE_BODY_CONCURRENCY=64)",
            "large bodies served two at a time per worker (LARGE_BODY_CONCURRENCY=2)",
            ("W5",),
            "service",
            start=server(
                service_command, {"LARGE_BODY_CONCURRENCY": "64"}, "variant-unqueued-bodies"
            ),
            start_shipped=server(service_command, {}, "variant-shipped-fresh"),
        ),
        Variant(
            "V4",
            "rows hydrated into the Public pydantic models and serialized by pydantic",
            "JSON rendered in PostgreSQL (measured on the baseline app)",
            ("W1", "W2"),
            "baseline",
            path_prefix="/pydantic",
        ),
    ]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Everything between starting PostgreSQL and stopping it; returns the report."""
    options = chosen_options(args)
    chosen = selected_workloads(args.only)
    with_variants = args.variants if args.variants is not None else not args.quick
    with_variants = with_variants or args.compare_dir is not None
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="wf-bench-"))
    log(f"logs and scratch files in {log_dir}")
    with fresh_database(args.database_url) as database:
        log(f"PostgreSQL ready: {database.description}")
        data = seed(database.conninfo, clients=options.connections)
        log(f"seeded in {time.monotonic() - started:.0f} s")
        secret = secrets.token_urlsafe(48)
        settings = Settings(jwt_secret=secret)
        owners: list[uuid.UUID] = [data.owner_id, data.list_owner_id, data.create_owner_id]
        tokens = {str(owner): issue_token(settings, owner, TOKEN_TTL_SECONDS) for owner in owners}
        env = service_env(database.url, secret)
        servers = {"service": Server("service", service_command, env, log_dir / "service.log")}
        if any(workload.baseline for workload in chosen):
            servers["baseline"] = Server(
                "baseline", baseline_command, env, log_dir / "baseline.log"
            )
        if any(workload.uncached for workload in chosen):
            servers[UNCACHED] = Server(
                UNCACHED, service_command, {**env, **NO_GRAPH_CACHE}, log_dir / f"{UNCACHED}.log"
            )
        try:
            for server in servers.values():
                server.start(wait=False)
            for server in servers.values():
                server.wait_ready()
            log("servers ready: " + ", ".join(f"{n} {s.url}" for n, s in servers.items()))
            ctx = Context(data, database.conninfo, tokens, log_dir, servers["service"].url, env)
            runner = Runner(ctx, options, servers, postmaster_pid(database.conninfo))
            for workload in chosen:
                runner.results.append(runner.run_workload(workload))
            if with_variants:
                by_key = {workload.key: workload for workload in chosen}
                variants = design_variants(env, log_dir, args.compare_dir)
                if args.compare_dir is not None and args.variants is not True:
                    variants = [v for v in variants if v.key.startswith("V0")]
                for variant in variants:
                    measurable = any(key in by_key for key in variant.workloads)
                    if measurable and variant.reference in servers:
                        runner.variants.append(runner.run_variant(variant, by_key))
        finally:
            for server in servers.values():
                server.stop()
        postgres_version = server_version(database.conninfo)
        description = database.description.split(" in ")[0]
    results = runner.results
    sizes = {workload.key: workload.nodes or 0 for workload in chosen}
    l2 = next((r for r in results if r["key"] == "L2" and r.get("status") == "ok"), None)
    peaks = [r["peak_rss_mib"] for r in results if "peak_rss_mib" in r]
    return {
        "generated_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "mode": "quick" if args.quick else ("partial" if args.only else "full"),
        "elapsed_seconds": round(time.monotonic() - started, 1),
        "options": {**vars(options), "profile_dir": str(options.profile_dir)},
        "machine": machine_info(postgres_version, description),
        "logs": str(log_dir),
        "workloads": results,
        "targets": evaluate_targets(results),
        "growth": growth(results, sizes),
        "reactflow": reactflow_ratios(results),
        "memory": {
            "peak_rss_mib": max(peaks) if peaks else None,
            "put_5000_rss_added_mib": l2["probe"]["rss_added_mib"] if l2 else None,
        },
        "variants": runner.variants,
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        wrk_path()
    except WrkMissingError as error:
        print(error, file=sys.stderr)
        return 2
    report = run(args)
    full = report["mode"] == "full"
    output = args.output or (LATEST_JSON if full else PARTIAL_JSON)
    write_json(output, report)
    if args.docs if args.docs is not None else full:
        write_docs(DOCS_PATH, report)
    print()
    print(results_table(report["workloads"], report["options"]["connections"]))
    print()
    print(targets_table(report["targets"]))
    print()
    print(reactflow_text(report["reactflow"]))
    print()
    print(events_table(report["workloads"]))
    if report["variants"]:
        print()
        print(variants_table(report["variants"]))
        if checkout_table(report["variants"]):
            print()
            print(checkout_table(report["variants"]))
    print(f"\nJSON: {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
