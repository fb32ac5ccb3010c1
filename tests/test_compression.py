"""gzip negotiated by Accept-Encoding, over HTTP: its own ETag, 304s and preconditions."""

import uuid

import httpx
import pytest

from service.compression import accepts_gzip
from service.graph.cache import RenderedGraphs
from tests.factories import create_workflow, expect, workflow_url
from tests.revisions.helpers import edge, node, publish, put_graph

Json = dict[str, object]
GZIP = {"Accept-Encoding": "gzip"}


async def graph_workflow(client: httpx.AsyncClient, nodes: int = 40) -> Json:
    """A workflow whose graph of `nodes` nodes renders far above the gzip threshold."""
    workflow = await create_workflow(client)
    body = {
        "nodes": [
            {"id": str(uuid.uuid4()), "name": f"step {i}", "node_type": "adapter"}
            for i in range(nodes)
        ],
        "edges": [],
    }
    saved = await client.put(
        workflow_url(workflow, "graph"), json=body, headers={"If-Match": '"1"'}
    )
    expect(saved, 200)
    return {**workflow, "version": 2}


async def test_a_large_body_is_gzipped_as_its_own_representation(
    client: httpx.AsyncClient,
) -> None:
    workflow = await graph_workflow(client)
    url = workflow_url(workflow, "graph")

    plain = await client.get(url)
    packed = await client.get(url, headers=GZIP)

    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"] == '"2"'
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["etag"] == '"2-gzip"'
    for response in (plain, packed):
        assert "Accept-Encoding" in response.headers["vary"]
    assert packed.json() == plain.json()
    assert packed.num_bytes_downloaded < plain.num_bytes_downloaded / 5
    assert int(packed.headers["content-length"]) == packed.num_bytes_downloaded


async def test_a_500_node_graph_goes_out_at_most_15_percent_of_its_size(
    client: httpx.AsyncClient,
) -> None:
    workflow = await graph_workflow(client, nodes=500)
    url = workflow_url(workflow, "graph")

    plain = await client.get(url)
    packed = await client.get(url, headers=GZIP)

    assert packed.headers["content-encoding"] == "gzip"
    assert packed.num_bytes_downloaded <= 0.15 * plain.num_bytes_downloaded


async def test_accept_encoding_lines_combine(client: httpx.AsyncClient) -> None:
    workflow = await graph_workflow(client)

    response = await client.get(
        workflow_url(workflow, "graph"),
        headers=[("Accept-Encoding", "br"), ("Accept-Encoding", "gzip")],
    )

    assert response.headers["content-encoding"] == "gzip"


async def test_mermaid_and_write_answers_are_gzipped_with_their_own_tags(
    client: httpx.AsyncClient,
) -> None:
    workflow = await graph_workflow(client)
    url = workflow_url(workflow, "graph")
    nodes = (await client.get(url)).json()["nodes"]

    mermaid = await client.get(url, params={"format": "mermaid"}, headers=GZIP)
    renamed = [{**node, "name": f"{node['name']} renamed"} for node in nodes]  # a change
    saved = await client.put(
        url, json={"nodes": renamed, "edges": []}, headers={**GZIP, "If-Match": '"2-mermaid-gzip"'}
    )

    assert (mermaid.headers["content-encoding"], mermaid.headers["etag"]) == (
        "gzip",
        '"2-mermaid-gzip"',
    )
    assert saved.status_code == 200, saved.text
    assert (saved.headers["content-encoding"], saved.headers["etag"]) == ("gzip", '"3-gzip"')


async def test_a_small_body_is_sent_as_it_is(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)

    response = await client.get(workflow_url(workflow), headers=GZIP)

    assert "content-encoding" not in response.headers
    assert response.headers["etag"] == '"1"'
    assert "Accept-Encoding" in response.headers["vary"]


@pytest.mark.parametrize(
    ("held", "status", "tag"),
    [('"2-gzip"', 304, '"2-gzip"'), ('"2"', 304, '"2"'), ('"1-gzip"', 200, '"2-gzip"')],
)
async def test_if_none_match_with_the_compressed_tag_is_not_modified(
    client: httpx.AsyncClient, held: str, status: int, tag: str
) -> None:
    workflow = await graph_workflow(client)

    response = await client.get(
        workflow_url(workflow, "graph"), headers={**GZIP, "If-None-Match": held}
    )

    assert (response.status_code, response.headers["etag"]) == (status, tag)


async def test_the_compressed_graph_is_kept_with_the_cached_rendering(
    app_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    workflow = await graph_workflow(client)
    url = workflow_url(workflow, "graph")
    transport = app_client._transport
    assert isinstance(transport, httpx.ASGITransport)
    rendered: RenderedGraphs = transport.app.state.rendered_graphs  # type: ignore[attr-defined]

    first = await client.get(url, headers=GZIP)
    second = await client.get(url, headers=GZIP)

    body = rendered.get(uuid.UUID(str(workflow["id"])), 2)
    assert body is not None
    assert rendered.compressed(body) is not None
    assert first.content == second.content


async def test_the_compressed_published_document_is_kept_with_it(
    app_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    workflow = await create_workflow(client)
    trigger = node("start", "trigger")
    steps = [node(f"step {index}") for index in range(30)]
    await put_graph(client, workflow, [trigger, *steps], [edge(trigger, step) for step in steps])
    await publish(client, workflow)
    transport = app_client._transport
    assert isinstance(transport, httpx.ASGITransport)
    kept: RenderedGraphs = transport.app.state.published_documents  # type: ignore[attr-defined]

    first = await client.get(workflow_url(workflow, "published"), headers=GZIP)
    second = await client.get(workflow_url(workflow, "published"), headers=GZIP)

    assert first.headers["content-encoding"] == "gzip"
    body = kept.get(uuid.UUID(str(workflow["id"])), int(workflow["version"]))
    assert body is not None
    assert kept.compressed(body) is not None
    assert first.content == second.content


@pytest.mark.parametrize(
    ("accept_encoding", "gzip"),
    [
        ("gzip", True),
        ("br, gzip;q=0.5", True),
        ("*", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("*;q=0", False),
        ("gzip;q=0, *", False),
        ("identity", False),
        ("gzip;q=nonsense", False),
        ("", False),
        (None, False),
    ],
)
def test_gzip_is_accepted_as_rfc_9110_says(accept_encoding: str | None, gzip: bool) -> None:
    assert accepts_gzip(accept_encoding) is gzip


def test_the_cache_keeps_compressed_forms_within_its_budget() -> None:
    cache = RenderedGraphs(max_bytes=1000)
    first, second = uuid.uuid4(), uuid.uuid4()
    body = b"x" * 600
    cache.put(first, 1, body)

    cache.keep_compressed(b"y" * 600, b"z")  # not a kept rendering
    cache.keep_compressed(body, b"p" * 100)
    cache.put(second, 1, b"w" * 300)  # 600 + 100 + 300 = 1000 still fits

    assert cache.compressed(body) == b"p" * 100
    assert cache.size == 1000
    cache.put(first, 2, b"n" * 600)  # the new version replaces the rendering and its form
    assert cache.compressed(body) is None
    assert cache.size == 900
