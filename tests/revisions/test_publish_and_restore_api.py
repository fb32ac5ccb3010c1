"""Restore and publishing over HTTP: the save path, the validation gate, the published pointer."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from service.auth import issue_token
from service.config import Settings
from service.main import create_app
from tests.factories import API, create_workflow, expect, if_match, insert_tool, track
from tests.revisions.helpers import (
    checkpoint,
    edge,
    graph_url,
    node,
    publish,
    put_graph,
    restore,
    revisions_of,
    valid_graph,
    workflow_state,
)


async def test_restore_makes_the_working_copy_the_snapshot(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client, name="first", variables={"symbol": "BTC"})
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    original = expect(await client.get(graph_url(workflow)), 200).json()
    renamed = await client.patch(
        graph_url(workflow, "")[:-1],
        json={"name": "second", "variables": {}},
        headers=if_match(workflow),
    )
    track(workflow, expect(renamed, 200))
    await put_graph(client, workflow, [nodes[0], node("new")], [])
    before = workflow["version"]
    response = await restore(client, workflow, 1)
    assert workflow["version"] == before + 1
    body = response.json()
    assert body["revision"]["origin"] == "restore"
    assert body["revision"]["message"] == "Restored revision 1"
    assert body["revision"]["number"] == 3
    assert body["revision"]["version"] == workflow["version"]
    graph = expect(await client.get(graph_url(workflow)), 200).json()
    assert {k: body[k] for k in graph} == graph  # the answer is the working copy
    assert (graph["name"], graph["variables"]) == ("first", {"symbol": "BTC"})
    for kind in ("nodes", "edges"):  # items deleted meanwhile come back with their ids
        assert {item["id"] for item in graph[kind]} == {item["id"] for item in original[kind]}
    diff = expect(await client.get(graph_url(workflow, "diff"), params={"from": 1}), 200).json()
    assert diff["workflow"] == []
    assert diff["nodes"]["changed"] == diff["edges"]["changed"] == []
    latest, _second, first = await revisions_of(client, workflow)
    assert latest["content_hash"] == first["content_hash"]


async def test_restore_needs_the_current_version(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    await checkpoint(client, workflow)
    url = graph_url(workflow, "revisions/1/restore")
    assert expect(await client.post(url), 428).json()["code"] == "PRECONDITION_REQUIRED"
    stale = await client.post(url, headers={"If-Match": '"9"'})
    assert expect(stale, 412).json()["code"] == "VERSION_MISMATCH"


@pytest.mark.parametrize("gone", ["soft-deleted", "purged", "inactive"])
async def test_restore_is_refused_when_a_referenced_tool_is_gone(
    client: httpx.AsyncClient, database_url: str, user_id: uuid.UUID, gone: str
) -> None:
    tool_id = await insert_tool(database_url, user_id)
    workflow = await create_workflow(client)
    trigger = node("start", "trigger")
    call = node("call", "tool", tool_id=str(tool_id))
    await put_graph(client, workflow, [trigger, call], [edge(trigger, call)])
    await put_graph(client, workflow, [trigger], [])
    tool_url = f"{API}/tools/{tool_id}"
    if gone == "inactive":
        changed = await client.patch(tool_url, json={"is_active": False}, headers={"If-Match": "*"})
        expect(changed, 200)
    else:
        params = {"permanent": "true"} if gone == "purged" else {}
        expect(await client.delete(tool_url, params=params, headers={"If-Match": "*"}), 204)
    workflow["version"] = (await workflow_state(client, workflow))["version"]
    snapshot = expect(await client.get(graph_url(workflow, "revisions/1")), 200).json()
    position = [item["id"] for item in snapshot["nodes"]].index(call["id"])
    refused = await restore(client, workflow, 1, 422)
    problem = refused.json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert problem["errors"] == [
        {
            "code": "REFERENCE_NOT_FOUND",
            "pointer": f"/nodes/{position}/tool_id",
            "parameter": None,
            "detail": f"Tool {tool_id} is gone or inactive.",
        }
    ]
    assert (await workflow_state(client, workflow))["version"] == workflow["version"]
    assert len(await revisions_of(client, workflow)) == 2


async def test_the_publish_gate_refuses_an_invalid_definition(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    await put_graph(client, workflow, [node("lonely")], [])  # no trigger: an error
    refused = await publish(client, workflow, 422)
    problem = refused.json()
    assert problem["code"] == "VALIDATION_FAILED"
    assert "NO_TRIGGER" in {issue["code"] for issue in problem["issues"]}
    state = await workflow_state(client, workflow)
    assert (state["published_revision"], state["version"]) == (None, workflow["version"])
    assert expect(await client.get(graph_url(workflow, "published")), 404).json()["code"] == (
        "NOT_PUBLISHED"
    )
    by_number = await publish(client, workflow, 422, revision=1)
    assert by_number.json()["code"] == "VALIDATION_FAILED"


async def test_warnings_do_not_block_publishing(warn_dead_ends: httpx.AsyncClient) -> None:
    client = warn_dead_ends
    workflow = await create_workflow(client)
    trigger, check = node("start", "trigger"), node("check", "condition")
    await put_graph(client, workflow, [trigger, check], [edge(trigger, check)])
    report = expect(await client.get(graph_url(workflow, "validation")), 200).json()
    assert report["is_valid"]
    assert [issue["code"] for issue in report["issues"]] == ["DEAD_END"]
    await publish(client, workflow)


async def test_publishing_sets_the_published_revision_and_raises_the_version(
    client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    before = workflow["version"]
    response = await publish(client, workflow, message="go live")
    assert workflow["version"] == before + 1
    body = response.json()
    assert (body["published_revision"], body["has_unpublished_changes"]) == (1, False)
    assert body["version"] == workflow["version"]
    [only] = await revisions_of(client, workflow)  # the save's revision held the content
    assert only["origin"] == "save"
    published = expect(await client.get(graph_url(workflow, "published")), 200)
    assert published.headers["etag"] == '"r1"'
    assert published.headers["content-location"].endswith("/revisions/1")
    assert published.content == (await client.get(graph_url(workflow, "revisions/1"))).content
    cached = await client.get(graph_url(workflow, "published"), headers={"If-None-Match": '"r1"'})
    assert cached.status_code == 304


async def test_publishing_content_no_revision_holds_records_one(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    renamed = await client.patch(
        graph_url(workflow, "")[:-1], json={"name": "live"}, headers=if_match(workflow)
    )
    track(workflow, expect(renamed, 200))
    captured = workflow["version"]
    await publish(client, workflow, message="go live")
    latest, _first = await revisions_of(client, workflow)
    assert (latest["number"], latest["origin"], latest["message"]) == (2, "publish", "go live")
    assert latest["version"] == captured  # the version published, before publishing raised it
    assert (await workflow_state(client, workflow))["published_revision"] == 2


async def test_published_is_unaffected_by_later_edits(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    await publish(client, workflow)
    published = expect(await client.get(graph_url(workflow, "published")), 200).content
    await put_graph(client, workflow, [node("draft")], [])
    assert (await client.get(graph_url(workflow, "published"))).content == published
    assert len(await revisions_of(client, workflow)) == 2


async def test_an_older_revision_can_be_published(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    await put_graph(client, workflow, [node("draft")], [])
    body = (await publish(client, workflow, revision=1)).json()
    assert (body["published_revision"], body["has_unpublished_changes"]) == (1, True)
    published = expect(await client.get(graph_url(workflow, "published")), 200).json()
    assert published["revision"]["number"] == 1
    assert len(await revisions_of(client, workflow)) == 2


async def test_has_unpublished_changes_in_every_state(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    url = graph_url(workflow, "")[:-1]

    async def state() -> tuple[int | None, bool]:
        current = await workflow_state(client, workflow)
        listed = expect(await client.get(f"{API}/workflows"), 200).json()["items"]
        [item] = [item for item in listed if item["id"] == workflow["id"]]
        graph = expect(await client.get(graph_url(workflow)), 200).json()
        pairs = {
            (r["published_revision"], r["has_unpublished_changes"]) for r in (current, item, graph)
        }
        assert len(pairs) == 1, pairs  # every rendering agrees
        return pairs.pop()

    async def patch(**fields: object) -> None:
        response = await client.patch(url, json=fields, headers=if_match(workflow))
        track(workflow, expect(response, 200))

    assert await state() == (None, True)  # nothing published
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    await publish(client, workflow)
    assert await state() == (1, False)
    await patch(name="renamed")
    assert await state() == (1, True)
    await patch(name="workflow")
    assert await state() == (1, False)  # the content is the published one again
    await patch(is_active=False)
    assert await state() == (1, False)  # not part of the definition
    await put_graph(client, workflow, nodes[:1], [])
    assert await state() == (1, True)
    await restore(client, workflow, 1)
    assert await state() == (1, False)
    unpublished = await client.delete(graph_url(workflow, "published"), headers=if_match(workflow))
    track(workflow, expect(unpublished, 204))
    assert await state() == (None, True)


async def test_unpublishing(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    url = graph_url(workflow, "published")
    nothing = await client.delete(url, headers=if_match(workflow))
    assert expect(nothing, 404).json()["code"] == "NOT_PUBLISHED"
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    await publish(client, workflow)
    assert expect(await client.delete(url), 428).json()["code"] == "PRECONDITION_REQUIRED"
    before = workflow["version"]
    response = expect(await client.delete(url, headers=if_match(workflow)), 204)
    assert response.headers["etag"] == f'"{before + 1}"'
    assert expect(await client.get(url), 404).json()["code"] == "NOT_PUBLISHED"


async def test_publish_needs_the_current_version(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    url = graph_url(workflow, "publish")
    assert expect(await client.post(url, json={}), 428).json()["code"] == "PRECONDITION_REQUIRED"
    stale = await client.post(url, json={}, headers={"If-Match": '"5"'})
    assert expect(stale, 412).json()["current_version"] == workflow["version"]


async def test_concurrent_publishes_with_one_tag_have_one_winner(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    version = workflow["version"]
    attempts = [
        client.post(
            graph_url(workflow, "publish"),
            json={"message": f"writer {n}"},
            headers={"If-Match": f'"{version}"'},
        )
        for n in range(16)
    ]
    responses = await asyncio.gather(*attempts)
    assert Counter(r.status_code for r in responses) == {200: 1, 412: 15}
    for response in responses:
        if response.status_code == 412:
            assert response.json()["current_version"] == version + 1
    state = await workflow_state(client, workflow)
    assert (state["version"], state["published_revision"]) == (version + 1, 1)
    assert len(await revisions_of(client, workflow)) == 1


@asynccontextmanager
async def client_of(settings: Settings, **changes: object) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with these settings changed, as a fresh user."""
    app = create_app(settings.model_copy(update=changes))
    token = issue_token(settings, uuid.uuid4())
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as client:
            yield client


@pytest.fixture
async def keep_three(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app keeping at most three revisions per workflow."""
    async with client_of(settings, max_revisions_per_workflow=3) as client:
        yield client


@pytest.fixture
async def warn_dead_ends(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose validation report warns about dead ends."""
    async with client_of(settings, warn_dead_ends=True) as client:
        yield client


async def test_retention_prunes_the_oldest_but_never_the_published(
    keep_three: httpx.AsyncClient,
) -> None:
    client = keep_three
    workflow = await create_workflow(client)
    nodes, edges = valid_graph()
    await put_graph(client, workflow, nodes, edges)
    await publish(client, workflow)
    for number in range(5):
        await put_graph(client, workflow, [*nodes, node(f"extra {number}")], edges)
    numbers = [r["number"] for r in await revisions_of(client, workflow)]
    assert numbers == [6, 5, 4, 1]
    assert (
        expect(await client.get(graph_url(workflow, "published")), 200).json()["revision"]["number"]
        == 1
    )
    assert expect(await client.get(graph_url(workflow, "revisions/2")), 404).json()["code"] == (
        "REVISION_NOT_FOUND"
    )
    unpublished = await client.delete(graph_url(workflow, "published"), headers=if_match(workflow))
    track(workflow, expect(unpublished, 204))
    await put_graph(client, workflow, nodes, edges)
    assert [r["number"] for r in await revisions_of(client, workflow)] == [7, 6, 5]
