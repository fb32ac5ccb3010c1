"""The raw baseline of the benchmark answers like the service (a like-for-like ratio)."""

import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from bench import baseline
from bench.__main__ import compared_checkout, selected_workloads
from bench.report import (
    checkout_rows,
    checkout_table,
    reactflow_ratios,
    reactflow_text,
    variants_table,
)
from bench.runner import UNCACHED
from bench.seed import FRESH_EDGE_MIN_STEP, SeedData, edge_pairs, insert_graphs, insert_users
from bench.servers import checkout_python, checkout_service_command
from bench.workloads import REACTFLOW_MEDIA_TYPE, Context, workloads
from bench.wrk import lua_literal
from service.auth import issue_token
from service.config import Settings
from service.db import psycopg_conninfo


@pytest.fixture
async def baseline_client(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, client: httpx.AsyncClient
) -> httpx.AsyncClient:
    """The baseline app in-process, on the test database, with the test user's token."""
    assert settings.jwt_secret is not None
    monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("JWT_SECRET", settings.jwt_secret.get_secret_value())
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "2")
    app = baseline.create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": client.headers["Authorization"]}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://baseline", headers=headers
        ) as baseline_http:
            yield baseline_http


async def test_baseline_answers_w1_like_the_service(
    client: httpx.AsyncClient, baseline_client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/api/v1/workflows", json={"name": "bench", "config": {"timeout": 60}}
    )
    assert created.status_code == 201, created.text
    path = f"/api/v1/workflows/{created.json()['id']}"
    service, raw = await client.get(path), await baseline_client.get(path)
    assert raw.status_code == 200, raw.text
    assert raw.json() == service.json()
    assert raw.headers["etag"] == service.headers["etag"]
    pydantic_way = await baseline_client.get("/pydantic" + path)  # pydantic writes `Z` for UTC
    assert pydantic_way.json().keys() == service.json().keys()
    missing = await baseline_client.get(f"/api/v1/workflows/{uuid.uuid4()}")
    assert missing.status_code == 404


def test_seeded_edges_and_lua_parameters() -> None:
    pairs = edge_pairs(500, 2000)
    assert len(set(pairs)) == 2000
    assert all(source < target < 500 for source, target in pairs)
    assert max(target - source for source, target in pairs) < FRESH_EDGE_MIN_STEP
    assert lua_literal({"paths": ["/a", "/b"], "n": 3, "ok": True}) == (
        '{paths = {"/a", "/b"}, n = 3, ok = true}'
    )


async def test_baseline_answers_w2_and_w3_like_the_service(
    client: httpx.AsyncClient, baseline_client: httpx.AsyncClient
) -> None:
    created = await client.post("/api/v1/workflows", json={"name": "bench graph"})
    path = f"/api/v1/workflows/{created.json()['id']}"
    nodes = [
        {"name": "a", "node_type": "adapter", "position_x": 1.0, "position_y": 2.0},
        {"name": "b", "node_type": "aggregator", "position_x": 3.0, "position_y": 4.0},
    ]
    added = await client.post(
        path + "/nodes/batch", json={"nodes": nodes}, headers={"If-Match": '"1"'}
    )
    assert added.status_code == 201, added.text
    body = added.json()
    node_ids = [node["id"] for node in body["items"]]
    edge = {"source_node_id": node_ids[0], "target_node_id": node_ids[1]}
    linked = await client.post(
        path + "/edges", json=edge, headers={"If-Match": added.headers["etag"]}
    )
    assert linked.status_code == 201, linked.text
    service, raw = await client.get(path + "/graph"), await baseline_client.get(path + "/graph")
    assert raw.json() == service.json()
    move = {"position_x": 9.5}
    etag = {"If-Match": service.headers["etag"]}
    moved = await client.patch(f"{path}/nodes/{node_ids[0]}", json=move, headers=etag)
    assert moved.status_code == 200, moved.text
    etag = {"If-Match": moved.headers["etag"]}
    raw_moved = await baseline_client.patch(f"{path}/nodes/{node_ids[0]}", json=move, headers=etag)
    assert raw_moved.status_code == 200, raw_moved.text
    assert raw_moved.json().keys() == moved.json().keys()
    assert int(raw_moved.headers["etag"].strip('"')) == int(moved.headers["etag"].strip('"')) + 1


def reactflow_context(database_url: str, user_id: uuid.UUID, token: str, scratch: Path) -> Context:
    """A benchmark context whose 500-node graph is a seeded 50-node one of the test user."""
    conninfo = psycopg_conninfo(database_url)
    with psycopg.connect(conninfo) as connection:
        insert_users(connection, [user_id])
        graph = insert_graphs(connection, user_id, "reactflow bench", 1, 50, 150)[0]
    data = SeedData(owner_id=user_id, put_graphs=[graph])
    return Context(data, conninfo, {str(user_id): token}, scratch, "http://test")


def lua_headers(params: dict[str, Any]) -> dict[str, str]:
    """The headers the wrk scripts send for these parameters (common.lua's auth_headers)."""
    headers = {
        "Authorization": f"Bearer {params['token']}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    return headers | {name.replace("_", "-"): value for name, value in params["headers"].items()}


async def test_reactflow_workloads_are_answered_2xx(
    app_client: httpx.AsyncClient, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    user_id = uuid.uuid4()
    ctx = reactflow_context(database_url, user_id, issue_token(settings, user_id), tmp_path)
    by_key = {workload.key: workload for workload in workloads()}
    rf1, rf2 = by_key["RF1"], by_key["RF2"]
    read = rf1.params(ctx)
    got = await app_client.get(read["paths"][0], headers=lua_headers(read))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == REACTFLOW_MEDIA_TYPE
    assert got.headers["etag"].endswith('-reactflow"')
    assert len(got.json()["nodes"]) == 50
    probe = rf2.probe(ctx)
    probed = await app_client.put(probe.path, content=probe.body, headers=probe.headers())
    assert probed.status_code == 200, probed.text
    write = rf2.params(ctx)
    client = write["clients"][0]
    body = probe.body  # the same body file
    etag = f'"{client["version"]}"'
    for _request in range(2):  # put_graph.lua follows the ETag chain: "N", then "N-reactflow"
        saved = await app_client.put(
            client["graph_path"], content=body, headers=lua_headers(write) | {"If-Match": etag}
        )
        assert saved.status_code == 200, saved.text
        etag = saved.headers["etag"]
        assert etag.endswith('-reactflow"')


def single_client(p50_ms: float, uncached_p50_ms: float | None = None) -> dict[str, Any]:
    """A measured workload result with single-client runs (graph cache on, and off if given)."""
    runs = {"service": {"p50_ms": p50_ms}}
    if uncached_p50_ms is not None:
        runs[UNCACHED] = {"p50_ms": uncached_p50_ms}
    return {"status": "ok", "single_client": runs}


def test_reactflow_workloads_bring_their_counterparts_and_report_ratios() -> None:
    assert [w.key for w in selected_workloads("RF1,RF2")] == ["W5", "G1", "RF1", "RF2"]
    results = [
        {"key": "G1", **single_client(2.0, 20.0)},
        {"key": "RF1", **single_client(5.0, 30.0)},
        {"key": "W5", **single_client(100.0)},
        {"key": "RF2", **single_client(120.0)},
    ]
    ratios = [(r["workload"], r["graph_cache"], r["ratio"]) for r in reactflow_ratios(results)]
    assert ratios == [("RF1", "on", 2.5), ("RF1", "off", 1.5), ("RF2", "on", 1.2)]
    assert "1.20 x W5 (100.00 ms)" in reactflow_text(reactflow_ratios(results))


def test_large_graphs_are_compared_single_client_with_another_checkout(tmp_path: Path) -> None:
    variants = {v.key: v for v in compared_checkout({}, tmp_path, tmp_path)}
    cold, put, loaded = variants["V0c"], variants["V0p"], variants["V0"]
    assert (cold.workloads, cold.reference, cold.single_client) == (("L1",), UNCACHED, True)
    assert (put.workloads, put.reference, put.single_client) == (("L2",), "service", True)
    assert not loaded.single_client
    assert compared_checkout({}, tmp_path, None) == []
    measured = {"shipped_p50_ms": 44.0, "variant_p50_ms": 40.0}
    report = [{"title": "old", "single_client": True, "workloads": {"L1": measured}}]
    assert [(r["workload"], r["ratio"]) for r in checkout_rows(report)] == [("L1", 1.1)]
    assert "44.00 / 40.00 | 1.10 x" in checkout_table(report)


def test_another_checkout_runs_on_its_own_interpreter(tmp_path: Path) -> None:
    assert checkout_python(tmp_path) == sys.executable
    own = tmp_path / ".venv" / "bin" / "python"
    own.parent.mkdir(parents=True)
    own.touch()
    assert checkout_service_command(tmp_path)(8123)[:3] == [str(own), "-m", "service"]


def test_single_client_comparisons_leave_the_variants_table() -> None:
    measured = {"shipped_p50_ms": 44.0, "variant_p50_ms": 40.0}
    report = [{"title": "old", "single_client": True, "workloads": {"L2": measured}}]
    assert variants_table(report) == "No throughput variant in this run."
