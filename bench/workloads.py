"""The workloads of issue #6: what each one requests, and the targets it is held to."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.seed import (
    FRESH_EDGE_MIN_STEP,
    Graph,
    SeedData,
    current_versions,
    remove_posted_edges,
)

API = "/api/v1/workflows"
LIST_PAGE_SIZE = 50
DEEP_PAGE = 150
CREATE_BODY = {
    "name": "created by the benchmark",
    "description": "W7: POST /workflows",
    "config": {"timeout": 600, "retry_policy": "exponential"},
    "variables": {"symbol": "ETH-USD"},
}


@dataclass
class Context:
    """What building a workload's requests needs: the data, tokens and a scratch directory."""

    data: SeedData
    conninfo: str
    tokens: dict[str, str]
    scratch: Path
    service_url: str
    service_env: dict[str, str] = field(default_factory=dict)  # as deployed, for fresh workers
    deep_cursor: str | None = None

    def token(self, owner: uuid.UUID) -> str:
        """The bearer token of a seeded user."""
        return self.tokens[str(owner)]


@dataclass(frozen=True)
class Probe:
    """One request sent before a workload runs, to see that its endpoint exists and works."""

    method: str
    path: str
    token: str
    body: str | None = None
    if_match: str | None = None
    media_type: str = "application/json"  # what it asks for, and what its body is

    def headers(self) -> dict[str, str]:
        """Its request headers."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": self.media_type}
        if self.body is not None:
            headers["Content-Type"] = self.media_type
        if self.if_match is not None:
            headers["If-Match"] = self.if_match
        return headers

    def send(self, base_url: str) -> httpx.Response:
        """Send it."""
        return httpx.request(
            self.method, base_url + self.path, headers=self.headers(), content=self.body, timeout=60
        )


@dataclass(frozen=True)
class Workload:
    """A workload: a wrk script and its parameters, plus how it is measured and judged."""

    key: str
    title: str
    script: str
    params: Callable[[Context], dict[str, Any]]
    probe: Callable[[Context], Probe]
    stateful: bool = False  # each connection edits its own workflow: one wrk thread each
    baseline: bool = False  # the raw baseline answers it too
    throughput: bool = True  # measured under load (besides single-client latency)
    prepare: Callable[[Context], None] | None = None  # run before every measurement
    p50_target_ms: float | None = None
    ratio_target: float | None = None
    nodes: int | None = None  # graph size, for the per-node cost
    min_seconds: float = 0  # slow requests: measure at least this long, even in a quick run
    fresh_worker: bool = False  # probe in a just-restarted service (its RSS increase is reported)
    uncached: bool = False  # also single-client on a service without the rendered-graph cache
    run: Callable[[Context], dict[str, Any]] | None = None  # measured by its own code, not wrk


def graph_path(graph: Graph) -> str:
    """GET/PUT path of a graph."""
    return f"{API}/{graph.workflow_id}/graph"


GZIP = {"Accept_Encoding": "gzip"}  # get.lua sends each key with `_` as `-`
REACTFLOW_MEDIA_TYPE = "application/vnd.reactflow+json"
REACTFLOW = {"Accept": REACTFLOW_MEDIA_TYPE, "Content_Type": REACTFLOW_MEDIA_TYPE}
# The plain-format workload each React Flow one is compared with in the same run.
REACTFLOW_COUNTERPARTS = {"RF1": "G1", "RF2": "W5"}


def get_params(
    token: str, paths: list[str], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Parameters of get.lua, with extra request headers."""
    return {"token": token, "paths": paths, "headers": headers or {}}


def versioned_clients(ctx: Context, graphs: list[Graph], item: Callable[[Graph], dict[str, Any]]):  # type: ignore[no-untyped-def]
    """One client per graph, each starting from its workflow's current version (its ETag)."""
    versions = current_versions(ctx.conninfo, [graph.workflow_id for graph in graphs])
    return [
        {**item(graph), "version": version} for graph, version in zip(graphs, versions, strict=True)
    ]


def body_file(ctx: Context, graph: Graph) -> str:
    """The PUT /graph body of a graph, written once to the scratch directory."""
    path = ctx.scratch / f"graph-{graph.workflow_id}.json"
    if not path.exists():
        path.write_text(json.dumps(graph.put_body(), separators=(",", ":")))
    return str(path)


def reactflow_body_file(ctx: Context, graph: Graph) -> str:
    """The PUT /graph body of a graph in React Flow's format, written once."""
    path = ctx.scratch / f"graph-{graph.workflow_id}-reactflow.json"
    if not path.exists():
        path.write_text(json.dumps(graph.reactflow_body(), separators=(",", ":")))
    return str(path)


def put_params(
    ctx: Context, graphs: list[Graph], body: Callable[[Context, Graph], str] = body_file
) -> dict[str, Any]:
    """Parameters of put_graph.lua (React Flow's headers when `body` is React Flow's)."""
    return {
        "token": ctx.token(ctx.data.owner_id),
        "headers": REACTFLOW if body is reactflow_body_file else {},
        "clients": versioned_clients(
            ctx, graphs, lambda g: {"graph_path": graph_path(g), "body_file": body(ctx, g)}
        ),
    }


def edited_body_file(ctx: Context, graph: Graph) -> str:
    """The PUT /graph body of a graph with its second node renamed: another definition."""
    path = ctx.scratch / f"graph-{graph.workflow_id}-edited.json"
    if not path.exists():
        body = graph.put_body()
        body["nodes"][1]["name"] = "renamed by the benchmark"
        path.write_text(json.dumps(body, separators=(",", ":")))
    return str(path)


def revision_put_params(ctx: Context) -> dict[str, Any]:
    """R1: each client saves its graph alternating two definitions, so every save records."""
    return {
        "token": ctx.token(ctx.data.owner_id),
        "clients": versioned_clients(
            ctx,
            ctx.data.revision_put_graphs,
            lambda g: {
                "graph_path": graph_path(g),
                "body_files": [edited_body_file(ctx, g), body_file(ctx, g)],
            },
        ),
    }


def revisions_path(ctx: Context) -> str:
    """R2: the first page of 50 of a 1,000-revision history."""
    return f"{API}/{ctx.data.revision_list_workflow_id}/revisions?limit={LIST_PAGE_SIZE}"


def diff_path(ctx: Context) -> str:
    """R3: the diff of two 5,000-node revisions."""
    return f"{API}/{ctx.data.diff_workflow_id}/diff?from=1&to=2"


def published_path(ctx: Context, part: str) -> str:
    """R4: GET /graph or GET /published of the published 100-node graph."""
    assert ctx.data.published_graph is not None
    return f"{API}/{ctx.data.published_graph.workflow_id}/{part}"


def get_workload(key: str, title: str, path: Callable[[Context], str], **options: Any) -> Workload:
    """A single-client workload GETting one path."""
    return Workload(
        key,
        title,
        "get.lua",
        lambda c: get_params(c.token(c.data.owner_id), [path(c)]),
        lambda c: Probe("GET", path(c), c.token(c.data.owner_id)),
        throughput=False,
        **options,
    )


def put_probe(ctx: Context, graph: Graph) -> Probe:
    """The first PUT of a graph, at its current version."""
    version = current_versions(ctx.conninfo, [graph.workflow_id])[0]
    body = Path(body_file(ctx, graph)).read_text()
    return Probe("PUT", graph_path(graph), ctx.token(ctx.data.owner_id), body, f'"{version}"')


def reactflow_put_probe(ctx: Context, graph: Graph) -> Probe:
    """The first PUT of a graph in React Flow's format, at its current version."""
    version = current_versions(ctx.conninfo, [graph.workflow_id])[0]
    body = Path(reactflow_body_file(ctx, graph)).read_text()
    token = ctx.token(ctx.data.owner_id)
    return Probe("PUT", graph_path(graph), token, body, f'"{version}"', REACTFLOW_MEDIA_TYPE)


def reactflow_get_probe(ctx: Context) -> Probe:
    """RF1's GET of the 500-node graph in React Flow's format."""
    path = graph_path(ctx.data.put_graphs[0])
    return Probe("GET", path, ctx.token(ctx.data.owner_id), media_type=REACTFLOW_MEDIA_TYPE)


def patch_params(ctx: Context) -> dict[str, Any]:
    """W3: each client moves the nodes of its own 100-node workflow."""
    return {
        "token": ctx.token(ctx.data.owner_id),
        "clients": versioned_clients(
            ctx,
            ctx.data.patch_graphs,
            lambda g: {
                "nodes_path": f"{API}/{g.workflow_id}/nodes",
                "node_ids": [str(node) for node in g.node_ids],
            },
        ),
    }


def patch_probe(ctx: Context) -> Probe:
    """A first PATCH of W3."""
    graph = ctx.data.patch_graphs[0]
    version = current_versions(ctx.conninfo, [graph.workflow_id])[0]
    path = f"{API}/{graph.workflow_id}/nodes/{graph.node_ids[1]}"
    return Probe("PATCH", path, ctx.token(ctx.data.owner_id), '{"position_x": 1.5}', f'"{version}"')


CHANGE_SET_MOVES = 20


def change_set_params(ctx: Context, prefer: str) -> dict[str, Any]:
    """C1: each client moves 20 nodes of its own 500-node workflow per change set."""
    return {
        "token": ctx.token(ctx.data.owner_id),
        "prefer": prefer,
        "clients": versioned_clients(
            ctx,
            ctx.data.put_graphs,
            lambda g: {"graph_path": graph_path(g), "node_ids": [str(n) for n in g.node_ids]},
        ),
    }


def change_set_probe(ctx: Context) -> Probe:
    """A first change set of C1: the first 20 nodes moved."""
    graph = ctx.data.put_graphs[0]
    version = current_versions(ctx.conninfo, [graph.workflow_id])[0]
    moved = [
        {"id": str(node_id), "position_x": 2.5, "position_y": 3.5}
        for node_id in graph.node_ids[:CHANGE_SET_MOVES]
    ]
    body = json.dumps({"nodes": {"update": moved}})
    return Probe("PATCH", graph_path(graph), ctx.token(ctx.data.owner_id), body, f'"{version}"')


def edge_params(ctx: Context) -> dict[str, Any]:
    """W4: each client adds fresh edges to its own 500-node / 2,000-edge workflow."""
    return {
        "token": ctx.token(ctx.data.owner_id),
        "first_step": FRESH_EDGE_MIN_STEP,
        "clients": versioned_clients(
            ctx,
            ctx.data.edge_graphs,
            lambda g: {
                "edges_path": f"{API}/{g.workflow_id}/edges",
                "node_ids": [str(node) for node in g.node_ids],
            },
        ),
    }


def edge_probe(ctx: Context) -> Probe:
    """A first POST of W4 (an edge the Lua script would add last, so it never collides)."""
    graph = ctx.data.edge_graphs[0]
    version = current_versions(ctx.conninfo, [graph.workflow_id])[0]
    last = len(graph.node_ids) - 1
    body = json.dumps(
        {"source_node_id": str(graph.node_ids[0]), "target_node_id": str(graph.node_ids[last])}
    )
    return Probe(
        "POST",
        f"{API}/{graph.workflow_id}/edges",
        ctx.token(ctx.data.owner_id),
        body,
        f'"{version}"',
    )


def reset_edge_graphs(ctx: Context) -> None:
    """Put the W4 workflows back to 2,000 edges."""
    remove_posted_edges(ctx.conninfo, ctx.data.edge_graphs)


def deep_page_cursor(ctx: Context) -> str:
    """The cursor of page 150 of the 10,000-workflow owner, found by walking the pages once."""
    if ctx.deep_cursor is None:
        token = ctx.token(ctx.data.list_owner_id)
        cursor = None
        with httpx.Client(base_url=ctx.service_url, timeout=30) as client:
            for _page in range(DEEP_PAGE - 1):
                params: dict[str, Any] = {"limit": LIST_PAGE_SIZE}
                if cursor is not None:
                    params["cursor"] = cursor
                response = client.get(
                    API, params=params, headers={"Authorization": f"Bearer {token}"}
                )
                response.raise_for_status()
                cursor = response.json()["next_cursor"]
        if cursor is None:
            raise RuntimeError("the list ended before page 150")
        ctx.deep_cursor = str(cursor)
    return ctx.deep_cursor


def list_path(ctx: Context, page: int) -> str:
    """The list URL of page 1 or of the deep page."""
    path = f"{API}?limit={LIST_PAGE_SIZE}"
    return path if page == 1 else f"{path}&cursor={deep_page_cursor(ctx)}"


def warm_up_small(ctx: Context, base_url: str, requests: int = 50) -> None:
    """A few W1 requests: a fresh worker as it is after serving small requests."""
    headers = {"Authorization": f"Bearer {ctx.token(ctx.data.owner_id)}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for index in range(requests):
            workflow_id = ctx.data.small_workflow_ids[index % len(ctx.data.small_workflow_ids)]
            client.get(f"{API}/{workflow_id}").raise_for_status()


def stream_token_probe(ctx: Context) -> Probe:
    """E1/E2: minting a stream token answers only where the events endpoints exist."""
    path = f"{API}/{ctx.data.small_workflow_ids[0]}/events/token"
    return Probe("POST", path, ctx.token(ctx.data.owner_id))


def events_workload(key: str, title: str, run: Callable[[Context], dict[str, Any]]) -> Workload:
    """An event-stream workload: measured by bench/events.py on a worker of its own."""
    return Workload(key, title, "", lambda _c: {}, stream_token_probe, throughput=False, run=run)


def workloads() -> list[Workload]:
    """Every workload, in the order they run."""
    from bench.events import run_fan_out, run_open_streams  # events builds on this module

    return [
        Workload(
            "W1",
            "GET /workflows/{id}",
            "get.lua",
            lambda c: get_params(
                c.token(c.data.owner_id), [f"{API}/{w}" for w in c.data.small_workflow_ids]
            ),
            lambda c: Probe(
                "GET", f"{API}/{c.data.small_workflow_ids[0]}", c.token(c.data.owner_id)
            ),
            baseline=True,
            p50_target_ms=2,
            ratio_target=0.6,
        ),
        Workload(
            "W2",
            "GET /workflows/{id}/graph (100 nodes / 150 edges)",
            "get.lua",
            lambda c: get_params(c.token(c.data.owner_id), [graph_path(c.data.read_graph)]),
            lambda c: Probe("GET", graph_path(c.data.read_graph), c.token(c.data.owner_id)),
            baseline=True,
            p50_target_ms=5,
            ratio_target=0.5,
            nodes=100,
            uncached=True,
        ),
        Workload(
            "W3",
            "PATCH /workflows/{id}/nodes/{node_id} position, If-Match chain",
            "patch_node.lua",
            patch_params,
            patch_probe,
            stateful=True,
            baseline=True,
            p50_target_ms=4,
            ratio_target=0.5,
        ),
        Workload(
            "W4",
            "POST /workflows/{id}/edges into 500 nodes / 2,000 edges, If-Match chain",
            "post_edge.lua",
            edge_params,
            edge_probe,
            stateful=True,
            prepare=reset_edge_graphs,
            p50_target_ms=10,
        ),
        Workload(
            "W5",
            "PUT /workflows/{id}/graph (500 nodes / 2,000 edges), If-Match chain",
            "put_graph.lua",
            lambda c: put_params(c, c.data.put_graphs),
            lambda c: put_probe(c, c.data.put_graphs[0]),
            stateful=True,
            p50_target_ms=150,
            nodes=500,
            min_seconds=3,
        ),
        Workload(
            "C1",
            "PATCH /workflows/{id}/graph moving 20 of 500 nodes, Prefer: return=minimal",
            "change_set.lua",
            lambda c: change_set_params(c, "return=minimal"),
            change_set_probe,
            stateful=True,
            nodes=500,
        ),
        Workload(
            "C1r",
            "PATCH /workflows/{id}/graph moving 20 of 500 nodes, the graph answered",
            "change_set.lua",
            lambda c: change_set_params(c, ""),
            change_set_probe,
            stateful=True,
            throughput=False,
            nodes=500,
        ),
        Workload(
            "W6a",
            "GET /workflows?limit=50, page 1 of 10,000 workflows",
            "get.lua",
            lambda c: get_params(c.token(c.data.list_owner_id), [list_path(c, 1)]),
            lambda c: Probe("GET", list_path(c, 1), c.token(c.data.list_owner_id)),
            p50_target_ms=10,
        ),
        Workload(
            "W6b",
            "GET /workflows?limit=50, page 150 of 10,000 workflows",
            "get.lua",
            lambda c: get_params(c.token(c.data.list_owner_id), [list_path(c, DEEP_PAGE)]),
            lambda c: Probe("GET", list_path(c, DEEP_PAGE), c.token(c.data.list_owner_id)),
            p50_target_ms=10,
        ),
        Workload(
            "W7",
            "POST /workflows",
            "post_workflow.lua",
            lambda c: {
                "token": c.token(c.data.create_owner_id),
                "path": API,
                "body": json.dumps(CREATE_BODY),
            },
            lambda c: Probe("POST", API, c.token(c.data.create_owner_id), json.dumps(CREATE_BODY)),
            p50_target_ms=5,
        ),
        Workload(
            "G1",
            "GET /workflows/{id}/graph (500 nodes / 2,000 edges)",
            "get.lua",
            lambda c: get_params(c.token(c.data.owner_id), [graph_path(c.data.put_graphs[0])]),
            lambda c: Probe("GET", graph_path(c.data.put_graphs[0]), c.token(c.data.owner_id)),
            throughput=False,
            nodes=500,
            uncached=True,
        ),
        Workload(
            "G1z",
            "GET /workflows/{id}/graph (500 nodes / 2,000 edges), Accept-Encoding: gzip",
            "get.lua",
            lambda c: get_params(
                c.token(c.data.owner_id), [graph_path(c.data.put_graphs[0])], GZIP
            ),
            lambda c: Probe("GET", graph_path(c.data.put_graphs[0]), c.token(c.data.owner_id)),
            throughput=False,
            nodes=500,
            uncached=True,
        ),
        Workload(
            "G2",
            "PUT /workflows/{id}/graph (100 nodes / 150 edges)",
            "put_graph.lua",
            lambda c: put_params(c, [c.data.put_small_graph]),
            lambda c: put_probe(c, c.data.put_small_graph),
            throughput=False,
            nodes=100,
        ),
        Workload(
            "RF1",
            "GET /workflows/{id}/graph (500 nodes / 2,000 edges), React Flow's format",
            "get.lua",
            lambda c: get_params(
                c.token(c.data.owner_id), [graph_path(c.data.put_graphs[0])], REACTFLOW
            ),
            reactflow_get_probe,
            throughput=False,
            nodes=500,
            uncached=True,
        ),
        Workload(
            "RF2",
            "PUT /workflows/{id}/graph (500 nodes / 2,000 edges), React Flow's format,"
            " If-Match chain",
            "put_graph.lua",
            lambda c: put_params(c, [c.data.put_graphs[0]], reactflow_body_file),
            lambda c: reactflow_put_probe(c, c.data.put_graphs[0]),
            stateful=True,
            throughput=False,
            nodes=500,
            min_seconds=3,
        ),
        Workload(
            "L1",
            "GET /workflows/{id}/graph (5,000 nodes / 7,500 edges)",
            "get.lua",
            lambda c: get_params(c.token(c.data.owner_id), [graph_path(c.data.large_graph)]),
            lambda c: Probe("GET", graph_path(c.data.large_graph), c.token(c.data.owner_id)),
            throughput=False,
            p50_target_ms=50,
            nodes=5000,
            min_seconds=3,
            uncached=True,
        ),
        Workload(
            "L1z",
            "GET /workflows/{id}/graph (5,000 nodes / 7,500 edges), Accept-Encoding: gzip",
            "get.lua",
            lambda c: get_params(c.token(c.data.owner_id), [graph_path(c.data.large_graph)], GZIP),
            lambda c: Probe("GET", graph_path(c.data.large_graph), c.token(c.data.owner_id)),
            throughput=False,
            p50_target_ms=25,
            nodes=5000,
            min_seconds=3,
            uncached=True,
        ),
        Workload(
            "L2",
            "PUT /workflows/{id}/graph (5,000 nodes / 7,500 edges)",
            "put_graph.lua",
            lambda c: put_params(c, [c.data.large_graph]),
            lambda c: put_probe(c, c.data.large_graph),
            throughput=False,
            p50_target_ms=350,
            nodes=5000,
            min_seconds=5,
            fresh_worker=True,
        ),
        Workload(
            "R1",
            "PUT /workflows/{id}/graph (500 nodes / 2,000 edges) recording a revision each time",
            "put_graph_revisions.lua",
            revision_put_params,
            lambda c: Probe(
                "PUT",
                graph_path(c.data.revision_put_graphs[0]),
                c.token(c.data.owner_id),
                Path(edited_body_file(c, c.data.revision_put_graphs[0])).read_text(),
                f'"{current_versions(c.conninfo, [c.data.revision_put_graphs[0].workflow_id])[0]}"',
            ),
            stateful=True,
            throughput=False,
            nodes=500,
            min_seconds=3,
        ),
        get_workload(
            "R2",
            "GET /workflows/{id}/revisions?limit=50 of 1,000 revisions",
            revisions_path,
            p50_target_ms=2,
        ),
        get_workload(
            "R3",
            "GET /workflows/{id}/diff of two 5,000-node revisions",
            diff_path,
            p50_target_ms=100,
            min_seconds=3,
        ),
        get_workload(
            "R4a",
            "GET /workflows/{id}/graph of a published 100-node graph",
            lambda c: published_path(c, "graph"),
        ),
        get_workload(
            "R4b",
            "GET /workflows/{id}/published (100 nodes)",
            lambda c: published_path(c, "published"),
        ),
        events_workload(
            "E1",
            "1,000 open GET /workflows/{id}/events streams on one worker: RSS and DB connections",
            run_open_streams,
        ),
        events_workload(
            "E2",
            "one PATCH /workflows/{id} reaching 1,000 open event streams",
            run_fan_out,
        ),
    ]
