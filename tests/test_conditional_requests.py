"""Conditional requests by RFC 9110, over HTTP: If-Match, If-None-Match and entity tags."""

import httpx
import pytest

from service.preconditions import EntityTags, Precondition, Representation, etag
from tests.factories import create_node, create_workflow, expect, workflow_url
from tests.write_requests import WRITE_REQUESTS, write_operations

Json = dict[str, object]


async def workflow_at_version(client: httpx.AsyncClient, version: int) -> Json:
    """A workflow renamed until it reaches `version`."""
    workflow = await create_workflow(client)
    while workflow["version"] < version:
        response = await client.patch(
            workflow_url(workflow),
            json={"name": f"v{workflow['version'] + 1}"},
            headers={"If-Match": f'"{workflow["version"]}"'},
        )
        workflow = expect(response, 200).json()
    return workflow


async def rename(client: httpx.AsyncClient, workflow: Json, headers: object) -> httpx.Response:
    """PATCH the workflow's name with these headers (a list keeps repeated lines)."""
    return await client.patch(workflow_url(workflow), json={"name": "renamed"}, headers=headers)


async def test_repeated_if_match_lines_combine(client: httpx.AsyncClient) -> None:
    workflow = await workflow_at_version(client, 2)

    lines = await rename(client, workflow, [("If-Match", '"0"'), ("If-Match", '"2"')])

    assert lines.status_code == 200, lines.text


async def test_repeated_if_none_match_lines_combine(client: httpx.AsyncClient) -> None:
    workflow = await workflow_at_version(client, 2)

    response = await client.get(
        workflow_url(workflow), headers=[("If-None-Match", '"0"'), ("If-None-Match", '"2"')]
    )

    assert response.status_code == 304


async def test_if_none_match_star_refuses_a_graph_save(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    body = {"nodes": [{"name": "n", "node_type": "adapter"}], "edges": []}

    response = await client.put(
        workflow_url(workflow, "graph"),
        json=body,
        headers={"If-Match": f'"{workflow["version"]}"', "If-None-Match": "*"},
    )

    assert (response.status_code, response.json()["code"]) == (412, "VERSION_MISMATCH")
    graph = (await client.get(workflow_url(workflow, "graph"))).json()
    assert (graph["version"], graph["nodes"]) == (workflow["version"], [])


@pytest.mark.parametrize(
    ("none_match", "status"),
    [('"2"', 412), ('"1", W/"2"', 412), ('"2-mermaid"', 412), ('"1"', 200), ('"3"', 200)],
)
async def test_if_none_match_on_a_write_refuses_the_current_version(
    client: httpx.AsyncClient, none_match: str, status: int
) -> None:
    workflow = await workflow_at_version(client, 2)

    response = await rename(client, workflow, {"If-Match": "*", "If-None-Match": none_match})

    assert response.status_code == status, response.text


@pytest.mark.parametrize("operation_id", sorted(WRITE_REQUESTS))
async def test_if_none_match_star_refuses_every_conditional_write(
    client: httpx.AsyncClient, app_client: httpx.AsyncClient, operation_id: str
) -> None:
    request = await WRITE_REQUESTS[operation_id](client)
    operation = write_operations((await app_client.get("/openapi.json")).json())[operation_id]
    if "If-Match" not in [parameter["name"] for parameter in operation.get("parameters", [])]:
        pytest.skip("a create: its target does not exist yet")

    response = await request.send(client, **{"If-None-Match": "*"})

    assert response.status_code == 412, response.text
    assert response.headers["etag"] == f'"{request.version}"'


@pytest.mark.parametrize("tag", ['garbage"3"', '"3"garbage', 'W/ "3"', '"3', "3", '"03x"'])
async def test_a_malformed_entity_tag_matches_nothing(client: httpx.AsyncClient, tag: str) -> None:
    workflow = await workflow_at_version(client, 3)

    write = await rename(client, workflow, {"If-Match": tag})
    read = await client.get(workflow_url(workflow), headers={"If-None-Match": tag})

    assert write.status_code == 412, write.text
    assert read.status_code == 200


async def test_weak_tags_never_satisfy_if_match(client: httpx.AsyncClient) -> None:
    workflow = await workflow_at_version(client, 2)

    weak = await rename(client, workflow, {"If-Match": 'W/"2"'})
    weak_read = await client.get(workflow_url(workflow), headers={"If-None-Match": 'W/"2"'})

    assert weak.status_code == 412
    assert weak_read.status_code == 304  # If-None-Match compares weakly


async def test_each_representation_has_its_own_tag_and_if_match_takes_any(
    client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(client)
    await create_node(client, workflow)
    graph_url = workflow_url(workflow, "graph")
    version = workflow["version"]

    as_json = await client.get(graph_url)
    as_mermaid = await client.get(graph_url, params={"format": "mermaid"})

    assert as_json.headers["etag"] == f'"{version}"'
    assert as_mermaid.headers["etag"] == f'"{version}-mermaid"'
    for suffix in ("-mermaid", "-gzip", "-mermaid-gzip"):
        held = f'"{version}{suffix}"'
        nodes = (await client.get(graph_url)).json()["nodes"]
        body = {"nodes": [{**n, "name": f"n{suffix}"} for n in nodes], "edges": []}  # a change
        saved = await client.put(graph_url, json=body, headers={"If-Match": held})
        assert saved.status_code == 200, (held, saved.text)
        version += 1
        assert saved.headers["etag"] == f'"{version}"'
    unknown = await client.put(graph_url, json=body, headers={"If-Match": f'"{version}-svg"'})
    assert unknown.status_code == 412


@pytest.mark.parametrize(
    ("params", "held", "status"),
    [
        ({}, '"2"', 304),
        ({}, '"2-mermaid"', 200),
        ({"format": "mermaid"}, '"2-mermaid"', 304),
        ({"format": "mermaid"}, '"2"', 200),
        ({"format": "mermaid"}, "*", 304),
    ],
)
async def test_if_none_match_on_get_is_per_representation(
    client: httpx.AsyncClient, params: dict[str, str], held: str, status: int
) -> None:
    workflow = await create_workflow(client)
    await create_node(client, workflow)

    response = await client.get(
        workflow_url(workflow, "graph"), params=params, headers={"If-None-Match": held}
    )

    assert response.status_code == status


def test_tags_parse_as_rfc_9110_lists() -> None:
    tags = EntityTags.parse('"1", W/"2", "3-mermaid-gzip", "a,b", garbage"4", "5-svg", ,')

    assert tags.strong_versions() == {1, 3}
    assert tags.versions() == {1, 2, 3}
    assert tags.names(3, Representation.MERMAID)
    assert not tags.names(3, Representation.JSON)
    assert EntityTags.parse(" * ").any
    assert not EntityTags.parse('*, "1"').any
    assert etag(7, Representation.MERMAID, "gzip") == '"7-mermaid-gzip"'


def test_a_precondition_allows_what_if_match_names_less_what_if_none_match_names() -> None:
    both = Precondition.from_headers('"1", "2"', '"2"')
    refuse_all = Precondition.from_headers("*", "*")

    assert (both.matches(1), both.matches(2), both.matches(3)) == (True, False, False)
    assert not refuse_all.matches(1)
    assert Precondition.from_headers("*", None).matches(99)
