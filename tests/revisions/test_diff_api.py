"""GET .../diff over HTTP: between revisions, against the working copy, reversed."""

import httpx

from tests.factories import create_workflow, expect, if_match, track
from tests.revisions.helpers import Json, edge, graph_url, node, put_graph


async def get_diff(client: httpx.AsyncClient, workflow: Json, **params: object) -> Json:
    """The diff answered for these parameters."""
    response = await client.get(graph_url(workflow, "diff"), params=params)
    return dict(expect(response, 200).json())


async def test_a_diff_names_added_removed_and_changed_items(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client, config={"timeout": 60})
    start, kept, dropped = node("start", "trigger"), node("kept"), node("dropped")
    link, gone = edge(start, kept), edge(kept, dropped)
    await put_graph(client, workflow, [start, kept, dropped], [link, gone])
    patched = await client.patch(
        graph_url(workflow, "")[:-1], json={"config": {"timeout": 90}}, headers=if_match(workflow)
    )
    track(workflow, expect(patched, 200))
    added = node("added")
    changed_kept = {**kept, "name": "renamed", "config": {"mode": "fast"}}
    new_edge = edge(kept, added)
    await put_graph(
        client, workflow, [start, changed_kept, added], [{**link, "label": "go"}, new_edge]
    )
    result = await get_diff(client, workflow, **{"from": 1, "to": 2})
    assert (result["from"], result["to"]) == (1, 2)
    assert result["workflow"] == [
        {"op": "replace", "pointer": "/config/timeout", "old": 60, "new": 90}
    ]
    assert [item["id"] for item in result["nodes"]["added"]] == [added["id"]]
    assert [item["id"] for item in result["nodes"]["removed"]] == [dropped["id"]]
    assert result["nodes"]["removed"][0]["name"] == "dropped"  # the whole item
    assert result["nodes"]["changed"] == [
        {
            "id": kept["id"],
            "changes": [
                {"op": "replace", "pointer": "/name", "old": "kept", "new": "renamed"},
                {"op": "add", "pointer": "/config/mode", "new": "fast"},
            ],
        }
    ]
    assert [item["id"] for item in result["edges"]["added"]] == [new_edge["id"]]
    assert [item["id"] for item in result["edges"]["removed"]] == [gone["id"]]
    assert result["edges"]["changed"] == [
        {
            "id": link["id"],
            "changes": [{"op": "replace", "pointer": "/label", "old": None, "new": "go"}],
        }
    ]
    reverse = await get_diff(client, workflow, **{"from": 2, "to": 1})
    assert reverse["nodes"]["added"] == result["nodes"]["removed"]
    assert reverse["workflow"][0]["old"] == 90


async def test_a_diff_against_the_working_copy(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    await put_graph(client, workflow, [node("a")], [])
    assert (await get_diff(client, workflow, **{"from": 1}))["nodes"]["changed"] == []
    same = await get_diff(client, workflow, **{"from": 1, "to": "current"})
    assert same["to"] == "current"
    assert same["workflow"] == []
    renamed = await client.patch(
        graph_url(workflow, "")[:-1], json={"name": "b"}, headers=if_match(workflow)
    )
    track(workflow, expect(renamed, 200))
    drafted = await get_diff(client, workflow, **{"from": 1})
    assert drafted["workflow"] == [
        {"op": "replace", "pointer": "/name", "old": "workflow", "new": "b"}
    ]


async def test_diff_parameters_are_checked(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    for params in ({}, {"from": 0}, {"from": 1, "to": "latest"}, {"from": "x"}):
        response = await client.get(graph_url(workflow, "diff"), params=params)
        assert expect(response, 422).json()["code"] == "VALIDATION_ERROR", params


async def test_a_diff_finds_unchanged_items_whose_positions_shifted(
    client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(client)
    first, second, third, fourth = node("first"), node("second"), node("third"), node("fourth")
    kept = edge(second, third)
    await put_graph(client, workflow, [first, second, third, fourth], [edge(first, second), kept])
    renamed = {**fourth, "name": "last"}
    await put_graph(client, workflow, [second, third, renamed], [kept])
    result = await get_diff(client, workflow, **{"from": 1, "to": 2})
    assert [item["id"] for item in result["nodes"]["removed"]] == [first["id"]]
    assert result["nodes"]["added"] == []
    assert result["nodes"]["changed"] == [
        {
            "id": fourth["id"],
            "changes": [{"op": "replace", "pointer": "/name", "old": "fourth", "new": "last"}],
        }
    ]
    assert len(result["edges"]["removed"]) == 1
    assert result["edges"]["added"] == result["edges"]["changed"] == []


async def test_a_diff_names_the_revision_that_is_missing(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    await put_graph(client, workflow, [node("only")], [])
    for params, missing in (
        ({"from": 1, "to": 5}, 5),
        ({"from": 4, "to": 1}, 4),
        ({"from": 7, "to": 8}, 7),
    ):
        response = await client.get(graph_url(workflow, "diff"), params=params)
        problem = expect(response, 404).json()
        assert problem["code"] == "REVISION_NOT_FOUND", params
        assert f"no revision {missing}." in problem["detail"], params
