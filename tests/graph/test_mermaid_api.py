"""GET .../graph as Mermaid text, chosen by Accept or ?format=mermaid."""

import uuid

import httpx
import pytest

from service.errors import NotAcceptableError
from service.graph.models import GraphFormat
from service.graph.routes import wants_mermaid
from tests.factories import create_workflow
from tests.graph.test_graph_api import Json, edge, graph_url, node, put_graph

MERMAID = "text/vnd.mermaid; charset=utf-8"
EXPECTED = """---
title: "Daily digest"
---
flowchart TD
    n1(["Start<br/><i>trigger</i>"])
    n2{"Is it #60;big#62;?<br/><i>condition</i>"}
    n3[/"Format<br/><i>adapter</i>"/]
    n4{{"Merge<br/><i>aggregator</i>"}}
    n1 --> n2
    n2 -->|true| n3
    n2 -->|no| n4
    n3 --> n4
    classDef trigger fill:#e8f5e9,stroke:#2e7d32,color:#1b5e20
    classDef condition fill:#fff8e1,stroke:#f9a825,color:#5d4037
    classDef adapter fill:#e0f7fa,stroke:#00838f,color:#004d40
    classDef aggregator fill:#fbe9e7,stroke:#d84315,color:#bf360c
    class n1 trigger
    class n2 condition
    class n3 adapter
    class n4 aggregator
"""


def ordered_ids(count: int) -> list[str]:
    """Fresh ids that sort in list order (items saved together are listed by id)."""
    base = uuid.uuid4().int & ~0xFFFF
    return [str(uuid.UUID(int=base | position)) for position in range(count)]


async def digest_workflow(client: httpx.AsyncClient) -> Json:
    """The workflow whose Mermaid text is EXPECTED."""
    node_ids, edge_ids = ordered_ids(4), ordered_ids(4)
    start = node("Start", "trigger", id=node_ids[0])
    check = node("Is it <big>?", "condition", id=node_ids[1])
    adapt = node("Format", "adapter", id=node_ids[2])
    merge = node("Merge", "aggregator", id=node_ids[3])
    edges = [
        edge(start, check, id=edge_ids[0]),
        edge(check, adapt, id=edge_ids[1], source_handle="true"),
        edge(check, merge, id=edge_ids[2], source_handle="false", label="no"),
        edge(adapt, merge, id=edge_ids[3]),
    ]
    workflow = await create_workflow(client, name="Daily digest")
    await put_graph(client, workflow, [start, check, adapt, merge], edges)
    return workflow


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({}, {"Accept": "text/vnd.mermaid"}),
        ({"format": "mermaid"}, {}),
        ({"format": "mermaid"}, {"Accept": "application/json"}),
        ({}, {"Accept": "application/json;q=0.5, text/vnd.mermaid"}),
    ],
)
async def test_mermaid_text_of_a_known_graph(
    client: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str]
) -> None:
    workflow = await digest_workflow(client)

    response = await client.get(graph_url(workflow), params=params, headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MERMAID
    assert response.headers["etag"] == '"2-mermaid"'
    assert response.headers["vary"] == "Accept, Accept-Encoding"
    assert response.text == EXPECTED


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({}, {}),
        ({}, {"Accept": "*/*"}),
        ({}, {"Accept": "text/vnd.mermaid;q=0.5, application/json"}),
        ({"format": "json"}, {"Accept": "text/vnd.mermaid"}),
    ],
)
async def test_json_unless_mermaid_is_preferred(
    client: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str]
) -> None:
    workflow = await digest_workflow(client)

    response = await client.get(graph_url(workflow), params=params, headers=headers)

    assert response.headers["content-type"] == "application/json"
    assert len(response.json()["nodes"]) == 4


async def test_mermaid_honours_if_none_match_for_its_own_tag(client: httpx.AsyncClient) -> None:
    workflow = await digest_workflow(client)

    async def mermaid_holding(tag: str) -> httpx.Response:
        params = {"format": "mermaid"}
        return await client.get(graph_url(workflow), params=params, headers={"If-None-Match": tag})

    held = await mermaid_holding('"2-mermaid"')
    json_tag = await mermaid_holding('"2"')

    assert (held.status_code, held.headers["etag"]) == (304, '"2-mermaid"')
    assert (json_tag.status_code, json_tag.headers["etag"]) == (200, '"2-mermaid"')


async def test_unacceptable_and_unknown_formats_are_refused(client: httpx.AsyncClient) -> None:
    workflow = await digest_workflow(client)

    html = await client.get(graph_url(workflow), headers={"Accept": "text/html"})
    unknown = await client.get(graph_url(workflow), params={"format": "svg"})

    assert (html.status_code, html.json()["code"]) == (406, "NOT_ACCEPTABLE")
    assert (unknown.status_code, unknown.json()["errors"][0]["parameter"]) == (422, "format")


async def test_an_empty_workflow_renders_a_bare_flowchart(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client, name='Say "hi"')

    response = await client.get(graph_url(workflow), params={"format": "mermaid"})

    assert response.text == '---\ntitle: "Say \\"hi\\""\n---\nflowchart TD\n'


@pytest.mark.parametrize(
    ("accept", "mermaid"),
    [
        (None, False),
        ("  ", False),
        ("text/*", True),
        ("text/*, application/*", False),
        ("text/vnd.mermaid;q=0.9, */*;q=0.1", True),
        ("application/json;q=0, text/vnd.mermaid;q=0.2", True),
        ("TEXT/VND.MERMAID", True),
        ("text/vnd.mermaid;q=high, application/json;q=0.1", False),
        ("text/vnd.mermaid;level=1;q=1.5, application/json", False),
    ],
)
def test_accept_negotiation(accept: str | None, mermaid: bool) -> None:
    assert wants_mermaid(None, accept) is mermaid


def test_format_wins_and_nothing_acceptable_is_refused() -> None:
    assert wants_mermaid(GraphFormat.JSON, "text/vnd.mermaid") is False
    assert wants_mermaid(GraphFormat.MERMAID, "application/json") is True
    with pytest.raises(NotAcceptableError):
        wants_mermaid(None, "application/json;q=0, text/vnd.mermaid;q=0")
