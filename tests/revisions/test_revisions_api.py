"""Revisions over HTTP: when they are created, what they hold, paging, checkpoints, lifecycle."""

import random
import uuid
from collections.abc import Callable

import httpx
import orjson
import psycopg

from service.db import psycopg_conninfo
from tests.factories import API, create_node, create_workflow, expect, if_match, track
from tests.revisions.helpers import (
    Json,
    checkpoint,
    graph_url,
    node,
    publish,
    put_graph,
    revisions_of,
    valid_graph,
)


async def test_a_save_that_changes_the_definition_creates_a_revision(
    client: httpx.AsyncClient, user_id: uuid.UUID
) -> None:
    workflow = await create_workflow(client)
    assert await revisions_of(client, workflow) == []
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    [revision] = await revisions_of(client, workflow)
    assert revision["number"] == 1
    assert revision["origin"] == "save"
    assert revision["version"] == workflow["version"]
    assert revision["author_id"] == str(user_id)
    assert (revision["node_count"], revision["edge_count"]) == (3, 2)
    assert revision["message"] is None
    assert len(revision["content_hash"]) == 64
    assert "nodes" not in revision  # items carry metadata, not the snapshot


async def test_an_unchanged_save_creates_none(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    await put_graph(client, workflow, nodes, edges)
    shuffled = [
        {**item, "config": dict(reversed(item.get("config", {}).items()))} for item in nodes
    ]
    await put_graph(client, workflow, list(reversed(shuffled)), list(reversed(edges)))
    assert [r["number"] for r in await revisions_of(client, workflow)] == [1]


async def test_the_content_hash_ignores_order_timestamps_and_versions(
    client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    await put_graph(client, workflow, [], [])
    # The same items again: created anew (new timestamps), other order, other key order.
    reordered = [dict(reversed(list(item.items()))) for item in nodes]
    random.Random(3).shuffle(reordered)
    await put_graph(client, workflow, reordered, list(reversed(edges)))
    third, second, first = await revisions_of(client, workflow)
    assert third["content_hash"] == first["content_hash"]
    assert second["content_hash"] != first["content_hash"]
    assert third["created_at"] != first["created_at"]


async def test_fine_grained_writes_create_none_and_the_next_revision_captures_them(
    client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(client)
    step = await create_node(client, workflow)
    response = await client.patch(
        graph_url(workflow, f"nodes/{step['id']}"),
        json={"name": "renamed"},
        headers=if_match(workflow),
    )
    track(workflow, expect(response, 200))
    patched = await client.patch(
        graph_url(workflow, "")[:-1], json={"description": "d"}, headers=if_match(workflow)
    )
    track(workflow, expect(patched, 200))
    assert await revisions_of(client, workflow) == []
    created = await checkpoint(client, workflow, "first cut")
    assert (created["origin"], created["message"], created["node_count"]) == (
        "manual",
        "first cut",
        1,
    )
    snapshot = expect(await client.get(graph_url(workflow, "revisions/1")), 200).json()
    assert snapshot["description"] == "d"
    assert [n["name"] for n in snapshot["nodes"]] == ["renamed"]


async def test_a_checkpoint_answers_201_with_location_then_200_for_the_same_content(
    client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(client)
    response = await client.post(graph_url(workflow, "revisions"), json={"message": "m"})
    expect(response, 201)
    assert response.headers["location"].endswith(f"/workflows/{workflow['id']}/revisions/1")
    assert response.headers["etag"] == f'"{workflow["version"]}"'  # the version is unchanged
    again = await client.post(graph_url(workflow, "revisions"), json={"message": "other"})
    assert expect(again, 200).json() == response.json()
    assert "location" not in again.headers
    no_body = await client.post(graph_url(workflow, "revisions"))
    assert expect(no_body, 200).json()["number"] == 1


async def test_a_checkpoint_checks_if_match_only_when_given(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    stale = await client.post(
        graph_url(workflow, "revisions"), json={}, headers={"If-Match": '"7"'}
    )
    assert expect(stale, 412).json()["current_version"] == workflow["version"]
    current = await client.post(
        graph_url(workflow, "revisions"), json={}, headers=if_match(workflow)
    )
    expect(current, 201)


async def test_a_message_is_at_most_500_characters(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    response = await client.post(graph_url(workflow, "revisions"), json={"message": "x" * 501})
    assert expect(response, 422).json()["errors"][0]["pointer"] == "/message"
    await checkpoint(client, workflow, "x" * 500)


async def test_the_snapshot_is_the_graph_of_its_time_byte_for_byte_and_immutable(
    client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(client, config={"timeout": 60}, variables={"b": 1, "a": [1.5]})
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    graph_then = expect(await client.get(graph_url(workflow)), 200).content
    mermaid_then = (await client.get(graph_url(workflow), params={"format": "mermaid"})).text
    first = expect(await client.get(graph_url(workflow, "revisions/1")), 200)
    [metadata] = await revisions_of(client, workflow)
    revision_member = b',"revision":' + orjson.dumps(metadata) + b"}"
    assert first.content == graph_then[:-1] + revision_member
    await put_graph(client, workflow, nodes[:1], [])
    later = await client.get(graph_url(workflow, "revisions/1"))
    assert later.content == first.content
    assert (
        await client.get(graph_url(workflow, "revisions/1"), params={"format": "mermaid"})
    ).text == mermaid_then


async def test_a_revision_has_a_strong_immutable_etag(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    await checkpoint(client, workflow)
    response = expect(await client.get(graph_url(workflow, "revisions/1")), 200)
    assert response.headers["etag"] == '"r1"'
    assert response.headers["cache-control"] == "private, max-age=31536000, immutable"
    cached = await client.get(graph_url(workflow, "revisions/1"), headers={"If-None-Match": '"r1"'})
    assert cached.status_code == 304
    assert cached.headers["etag"] == '"r1"'
    mermaid = await client.get(
        graph_url(workflow, "revisions/1"), headers={"Accept": "text/vnd.mermaid"}
    )
    assert expect(mermaid, 200).headers["content-type"].startswith("text/vnd.mermaid")
    assert mermaid.headers["etag"] == '"r1"'
    assert mermaid.text.startswith('---\ntitle: "workflow"')


async def test_an_unknown_revision_is_revision_not_found(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    for path in ("revisions/1", "revisions/2/restore", "diff?from=1"):
        method = "POST" if path.endswith("restore") else "GET"
        response = await client.request(
            method, graph_url(workflow, path), headers=if_match(workflow)
        )
        assert expect(response, 404).json()["code"] == "REVISION_NOT_FOUND", path
    published = await publish(client, workflow, 404, revision=3)
    assert published.json()["code"] == "REVISION_NOT_FOUND"


async def test_revisions_are_listed_newest_first_in_keyset_pages(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    for number in range(5):
        await put_graph(client, workflow, [node(f"n{number}")], [])
    pages, url = [], graph_url(workflow, "revisions") + "?limit=2"
    while url:
        response = expect(await client.get(url), 200)
        page = response.json()
        pages.append([item["number"] for item in page["items"]])
        link = response.headers.get("link")
        assert (link is None) == (page["next_cursor"] is None)
        url = link.split(";")[0].strip("<>").removeprefix("http://test") if link else ""
    assert pages == [[5, 4], [3, 2], [1]]


async def test_a_cursor_of_another_list_is_refused(client: httpx.AsyncClient) -> None:
    workflow, other = await create_workflow(client), await create_workflow(client)
    for number in range(2):
        await put_graph(client, workflow, [node(f"n{number}")], [])
    cursor = expect(await client.get(graph_url(workflow, "revisions"), params={"limit": 1}), 200)
    foreign = await client.get(
        graph_url(other, "revisions"), params={"cursor": cursor.json()["next_cursor"]}
    )
    assert expect(foreign, 422).json()["errors"][0]["parameter"] == "cursor"
    garbage = await client.get(graph_url(workflow, "revisions"), params={"cursor": "!!"})
    expect(garbage, 422)


async def test_a_trashed_workflow_keeps_its_revisions_and_restores_with_them(
    client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(client)
    await checkpoint(client, workflow)
    url = graph_url(workflow, "")[:-1]
    deleted = await client.delete(url, headers=if_match(workflow))
    track(workflow, expect(deleted, 204))
    assert (await client.get(graph_url(workflow, "revisions"))).status_code == 404
    restored = await client.post(f"{url}/restore", headers=if_match(workflow))
    track(workflow, expect(restored, 200))
    assert [r["number"] for r in await revisions_of(client, workflow)] == [1]


async def revision_rows(database_url: str, workflow_id: str) -> int:
    """How many revisions of the workflow are stored."""
    async with await psycopg.AsyncConnection.connect(psycopg_conninfo(database_url)) as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM revisions WHERE workflow_id = %s", (workflow_id,)
        )
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


async def test_a_permanent_delete_removes_the_revisions_published_one_included(
    client: httpx.AsyncClient, database_url: str
) -> None:
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    await publish(client, workflow)
    assert await revision_rows(database_url, workflow["id"]) == 1
    gone = await client.delete(
        graph_url(workflow, "")[:-1], params={"permanent": "true"}, headers=if_match(workflow)
    )
    expect(gone, 204)
    assert await revision_rows(database_url, workflow["id"]) == 0


async def test_a_duplicate_starts_a_fresh_history(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    for number in range(3):
        await put_graph(client, workflow, [node(f"n{number}")], [])
    copy = expect(await client.post(graph_url(workflow, "duplicate")), 201).json()
    [first] = await revisions_of(client, copy)
    assert (first["number"], first["origin"], first["version"]) == (1, "manual", 1)
    assert first["message"] == f"Duplicate of workflow {workflow['id']}"
    snapshot = expect(await client.get(graph_url(copy, "revisions/1")), 200).json()
    assert [n["name"] for n in snapshot["nodes"]] == ["n2"]


async def test_purging_a_tool_does_not_alter_stored_snapshots(
    client: httpx.AsyncClient, database_url: str, user_id: uuid.UUID
) -> None:
    from tests.factories import insert_tool

    tool_id = await insert_tool(database_url, user_id)
    workflow = await create_workflow(client)
    await put_graph(client, workflow, [node("call", "tool", tool_id=str(tool_id))], [])
    before = expect(await client.get(graph_url(workflow, "revisions/1")), 200).content
    purged = await client.delete(
        f"{API}/tools/{tool_id}", params={"permanent": "true"}, headers={"If-Match": "*"}
    )
    expect(purged, 204)
    assert (await client.get(graph_url(workflow, "revisions/1"))).content == before
    assert (await client.get(graph_url(workflow))).json()["nodes"][0]["tool_id"] is None


async def test_every_revision_route_hides_other_owners_workflows(
    client: httpx.AsyncClient,
    make_token: Callable[[], str],
) -> None:
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    await publish(client, workflow)
    other = {"Authorization": f"Bearer {make_token()}", "If-Match": "*"}
    requests = [
        ("GET", "revisions"),
        ("POST", "revisions"),
        ("GET", "revisions/1"),
        ("POST", "revisions/1/restore"),
        ("GET", "diff?from=1"),
        ("POST", "publish"),
        ("DELETE", "published"),
        ("GET", "published"),
    ]
    for method, path in requests:
        response = await client.request(method, graph_url(workflow, path), headers=other)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "NOT_FOUND", (method, path)
    assert (await client.get(graph_url(workflow, "published"))).status_code == 200


def pointer_of(item: Json) -> str:
    """The first error pointer of a problem body."""
    return str(item["errors"][0]["pointer"])


async def test_a_changed_edge_alone_makes_a_new_revision(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    await put_graph(client, workflow, nodes, [edges[0], {**edges[1], "label": "else"}])
    second, first = await revisions_of(client, workflow)
    assert second["content_hash"] != first["content_hash"]
