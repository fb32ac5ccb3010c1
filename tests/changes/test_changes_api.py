"""The change log over HTTP: one entry per accepted write, since-paging, 410, actionable 412s."""

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from service.changes.service import DEFAULT_RETENTION, configure_retention
from service.config import Settings
from service.main import create_app
from tests.factories import API, create_edge, create_node, create_workflow, expect, workflow_url
from tests.write_requests import WRITE_REQUESTS, WriteRequest, write_operations

Json = dict[str, Any]

# The operation each write on a workflow logs (duplicate: on the copy).
OPERATIONS = {
    "create_workflow": "workflow.created",
    "update_workflow": "workflow.updated",
    "delete_workflow": "workflow.deleted",
    "restore_workflow": "workflow.restored",
    "create_node": "node.created",
    "create_nodes_batch": "nodes.batch_created",
    "update_node": "node.updated",
    "delete_node": "node.deleted",
    "create_edge": "edge.created",
    "create_edges_batch": "edges.batch_created",
    "update_edge": "edge.updated",
    "delete_edge": "edge.deleted",
    "replace_graph": "graph.saved",
    "change_graph": "graph.changed",
    "duplicate_workflow": "workflow.duplicated",
    "publish_workflow": "workflow.published",
    "unpublish_workflow": "workflow.unpublished",
    "restore_revision": "revision.restored",
}
# Writes that raise no workflow's version (registry entries without nodes, a checkpoint).
NO_WORKFLOW_STEP = {
    "create_tool",
    "update_tool",
    "delete_tool",
    "restore_tool",
    "create_agent",
    "update_agent",
    "delete_agent",
    "restore_agent",
    "create_event_stream_token",  # mints a token, changes nothing
    "create_revision",
}
WORKFLOW_ID = re.compile(r"/workflows/([0-9a-f-]{36})")


def version_of(response: httpx.Response) -> int:
    """The version an ETag names."""
    return int(response.headers["etag"].strip('"'))


def workflow_of(request: WriteRequest) -> str:
    """The id of the workflow a write request targets."""
    found = WORKFLOW_ID.search(request.url)
    assert found is not None
    return found.group(1)


async def changes(client: httpx.AsyncClient, workflow_id: str, since: int = 0) -> list[Json]:
    """Every entry after `since`, following the pages."""
    url: str | None = f"{API}/workflows/{workflow_id}/changes?since={since}&limit=100"
    entries: list[Json] = []
    while url is not None:
        page = expect(await client.get(url), 200).json()
        entries.extend(page["items"])
        url = None
        if page["next_cursor"]:
            url = f"{API}/workflows/{workflow_id}/changes?cursor={page['next_cursor']}&limit=100"
    return entries


def test_every_write_operation_is_classified(openapi: Json) -> None:
    """A new write operation must say which entry it logs."""
    assert set(OPERATIONS) | NO_WORKFLOW_STEP == set(write_operations(openapi))


@pytest.fixture(scope="module")
def openapi() -> Json:
    """The app's OpenAPI document."""
    return create_app().openapi()


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
async def test_an_accepted_write_logs_one_entry(
    client: httpx.AsyncClient, user_id: uuid.UUID, operation_id: str
) -> None:
    """One entry, at the version the answer's ETag names, by the caller, with its operation."""
    request = await WRITE_REQUESTS[operation_id](client)
    creates_workflow = operation_id in {"create_workflow", "duplicate_workflow"}
    target = None if creates_workflow else workflow_of(request)
    before = [] if target is None else await changes(client, target)

    response = await request.send(client)

    assert response.status_code < 300, response.text
    workflow_id = target or WORKFLOW_ID.findall(response.headers["location"])[0]
    after = await changes(client, workflow_id)
    assert after[: len(before)] == before
    [entry] = after[len(before) :]
    assert entry["operation"] == OPERATIONS[operation_id]
    assert entry["version"] == version_of(response)
    assert entry["actor_id"] == str(user_id)


async def test_node_and_edge_entries_name_the_ids_they_touched(client: httpx.AsyncClient) -> None:
    """created / updated / deleted ids; a deleted node's edges are deleted edges."""
    workflow = await create_workflow(client)
    a = await create_node(client, workflow, name="a")
    b = await create_node(client, workflow, name="b")
    edge = await create_edge(client, workflow, a, b)
    moved = await client.patch(
        workflow_url(workflow, "nodes", a["id"]),
        json={"position_x": 5},
        headers={"If-Match": f'"{workflow["version"]}"'},
    )
    relabelled = await client.patch(
        workflow_url(workflow, "edges", edge["id"]),
        json={"label": "x"},
        headers={"If-Match": f'"{version_of(expect(moved, 200))}"'},
    )
    deleted = await client.delete(
        workflow_url(workflow, "nodes", b["id"]),
        headers={"If-Match": f'"{version_of(expect(relabelled, 200))}"'},
    )
    expect(deleted, 204)

    log = await changes(client, workflow["id"])

    none: Json = {"created": [], "updated": [], "deleted": []}
    assert [(e["operation"], e["nodes"], e["edges"]) for e in log] == [
        ("workflow.created", none, none),
        ("node.created", {**none, "created": [a["id"]]}, none),
        ("node.created", {**none, "created": [b["id"]]}, none),
        ("edge.created", none, {**none, "created": [edge["id"]]}),
        ("node.updated", {**none, "updated": [a["id"]]}, none),
        ("edge.updated", none, {**none, "updated": [edge["id"]]}),
        ("node.deleted", {**none, "deleted": [b["id"]]}, {**none, "deleted": [edge["id"]]}),
    ]
    assert [e["version"] for e in log] == list(range(1, 8))


async def test_a_graph_save_names_what_it_created_updated_and_deleted(
    client: httpx.AsyncClient,
) -> None:
    """PUT /graph: the ids split as the save's counts are."""
    workflow = await create_workflow(client)
    kept = await create_node(client, workflow, name="kept")
    gone = await create_node(client, workflow, name="gone")
    new_id = str(uuid.uuid4())
    body = {
        "nodes": [
            {"id": kept["id"], "name": "renamed", "node_type": "adapter"},
            {"id": new_id, "name": "new", "node_type": "adapter"},
        ],
        "edges": [],
    }
    saved = await client.put(
        workflow_url(workflow, "graph"), json=body, headers={"If-Match": f'"{workflow["version"]}"'}
    )

    [entry] = await changes(client, workflow["id"], since=workflow["version"])

    assert entry["version"] == version_of(expect(saved, 200))
    assert entry["operation"] == "graph.saved"
    assert entry["nodes"] == {"created": [new_id], "updated": [kept["id"]], "deleted": [gone["id"]]}


async def test_a_change_set_names_what_it_created_updated_and_deleted(
    client: httpx.AsyncClient,
) -> None:
    """PATCH /graph: the ids split by kind; a deleted node's edges are deleted edges."""
    workflow = await create_workflow(client)
    kept = await create_node(client, workflow, name="kept")
    gone = await create_node(client, workflow, name="gone")
    edge = await create_edge(client, workflow, kept, gone)
    new_id = str(uuid.uuid4())
    body = {
        "nodes": {
            "create": [{"id": new_id, "name": "new", "node_type": "adapter"}],
            "update": [{"id": kept["id"], "name": "renamed"}],
            "delete": [gone["id"]],
        }
    }
    version = version_of(await client.get(workflow_url(workflow)))
    changed = await client.patch(
        workflow_url(workflow, "graph"), json=body, headers={"If-Match": f'"{version}"'}
    )

    [entry] = await changes(client, workflow["id"], since=version)

    assert entry["version"] == version_of(expect(changed, 200))
    assert entry["operation"] == "graph.changed"
    assert entry["nodes"] == {"created": [new_id], "updated": [kept["id"]], "deleted": [gone["id"]]}
    assert entry["edges"] == {"created": [], "updated": [], "deleted": [edge["id"]]}


async def test_a_drag_names_the_nodes_it_moved(client: httpx.AsyncClient) -> None:
    """The one-statement drag logs the nodes whose position changed, not the unchanged."""
    workflow = await create_workflow(client)
    moved = await create_node(client, workflow, name="moved")
    still = await create_node(client, workflow, name="still")
    body = {
        "nodes": {
            "update": [
                {"id": moved["id"], "position_x": 40.0, "position_y": 2.0},
                {
                    "id": still["id"],
                    "position_x": still["position_x"],
                    "position_y": still["position_y"],
                },
            ]
        }
    }
    version = version_of(await client.get(workflow_url(workflow)))
    changed = await client.patch(
        workflow_url(workflow, "graph"), json=body, headers={"If-Match": f'"{version}"'}
    )

    [entry] = await changes(client, workflow["id"], since=version)

    assert entry["version"] == version_of(expect(changed, 200))
    assert entry["nodes"] == {"created": [], "updated": [moved["id"]], "deleted": []}


async def test_a_workflow_patch_names_the_fields_it_wrote(client: httpx.AsyncClient) -> None:
    """`fields` lists what the PATCH named."""
    workflow = await create_workflow(client)
    patched = await client.patch(
        workflow_url(workflow),
        json={"name": "n", "description": "d"},
        headers={"If-Match": '"1"'},
    )
    expect(patched, 200)

    [entry] = await changes(client, workflow["id"], since=1)

    assert entry["fields"] == ["description", "name"]


@pytest.mark.parametrize("registry", ["tools", "agents"])
async def test_purging_a_referenced_entry_logs_the_nodes_it_emptied(
    client: httpx.AsyncClient, registry: str
) -> None:
    """A purge that empties nodes' references is a step of their workflow."""
    body = {
        "tools": {"name": "x", "tool_type": "http"},
        "agents": {"name": "x", "model_provider": "openai", "model_name": "m"},
    }[registry]
    entry = expect(await client.post(f"{API}/{registry}", json=body), 201).json()
    workflow = await create_workflow(client)
    reference = {"tools": "tool_id", "agents": "agent_id"}[registry]
    node = await create_node(
        client, workflow, node_type=registry.removesuffix("s"), **{reference: entry["id"]}
    )
    purged = await client.delete(
        f"{API}/{registry}/{entry['id']}?permanent=true", headers={"If-Match": '"1"'}
    )
    expect(purged, 204)

    [step] = await changes(client, workflow["id"], since=workflow["version"])

    assert step["operation"] == f"{registry.removesuffix('s')}.purged"
    assert step["version"] == workflow["version"] + 1
    assert step["nodes"]["updated"] == [node["id"]]


@pytest.mark.parametrize("operation_id", sorted(set(OPERATIONS) - {"create_workflow"}))
async def test_a_refused_write_logs_nothing(client: httpx.AsyncClient, operation_id: str) -> None:
    """A stale If-Match is refused, and the log stays as it was."""
    request = await WRITE_REQUESTS[operation_id](client)
    workflow_id = workflow_of(request)
    before = await changes(client, workflow_id)
    headers = {"If-Match": '"999"'}

    response = await client.request(request.method, request.url, json=request.body, headers=headers)

    if operation_id == "duplicate_workflow":  # takes no If-Match: refuse it by a bad body
        response = await client.post(request.url, json={"name": ""})
        expect(response, 422)
    else:
        expect(response, 412)
    assert await changes(client, workflow_id) == before


async def test_an_invalid_write_logs_nothing(client: httpx.AsyncClient) -> None:
    """A write refused after the version was raised rolls its entry back with it."""
    workflow = await create_workflow(client)
    refused = await client.post(
        workflow_url(workflow, "nodes"),
        json={"name": "t", "node_type": "tool", "tool_id": str(uuid.uuid4())},
        headers={"If-Match": '"1"'},
    )
    expect(refused, 422)

    assert [entry["version"] for entry in await changes(client, workflow["id"])] == [1]


async def patch_name(client: httpx.AsyncClient, workflow: Json, version: int) -> int:
    """Rename the workflow at `version`; the new version."""
    response = await client.patch(
        workflow_url(workflow), json={"name": f"v{version}"}, headers={"If-Match": f'"{version}"'}
    )
    return version_of(expect(response, 200))


async def test_since_pages_oldest_first_with_a_cursor_and_link(client: httpx.AsyncClient) -> None:
    """limit and cursor page through the entries after `since`, as the other lists do."""
    workflow = await create_workflow(client)
    version = 1
    for _ in range(5):
        version = await patch_name(client, workflow, version)
    url = workflow_url(workflow, "changes")

    first = expect(await client.get(f"{url}?since=2&limit=2"), 200)
    cursor = first.json()["next_cursor"]
    second = expect(await client.get(f"{url}?since=2&limit=2&cursor={cursor}"), 200)

    assert [e["version"] for e in first.json()["items"]] == [3, 4]
    assert 'rel="next"' in first.headers["link"]
    assert [e["version"] for e in second.json()["items"]] == [5, 6]
    assert second.json()["next_cursor"] is None
    current = expect(await client.get(f"{url}?since={version}"), 200)
    assert current.json() == {"items": [], "next_cursor": None}


async def test_a_bad_cursor_is_422(client: httpx.AsyncClient) -> None:
    """A cursor not made by this list names the parameter."""
    workflow = await create_workflow(client)
    response = await client.get(workflow_url(workflow, "changes") + "?cursor=bm9wZQ")
    assert expect(response, 422).json()["errors"][0]["parameter"] == "cursor"


@pytest.fixture
async def short_log_client(
    settings: Settings, user_id: uuid.UUID, make_token: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app keeping 3 change log entries per workflow."""
    app = create_app(settings.model_copy(update={"change_log_retention": 3}))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {make_token(user_id)}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", headers=headers
            ) as client:
                yield client
    finally:
        configure_retention(DEFAULT_RETENTION)


async def test_since_before_the_retained_log_is_410(short_log_client: httpx.AsyncClient) -> None:
    """CHANGE_LOG_RETENTION=3 keeps versions 4-6 of 6: since=3 is served, since=2 expired."""
    client = short_log_client
    workflow = await create_workflow(client)
    version = 1
    for _ in range(5):
        version = await patch_name(client, workflow, version)
    url = workflow_url(workflow, "changes")

    kept = expect(await client.get(f"{url}?since=3"), 200).json()["items"]
    expired = expect(await client.get(f"{url}?since=2"), 410).json()

    assert [entry["version"] for entry in kept] == [4, 5, 6]
    assert expired["code"] == "CHANGES_EXPIRED"
    assert expect(await client.get(f"{url}?since=0"), 410).json()["code"] == "CHANGES_EXPIRED"


async def test_a_412_carries_exactly_the_missed_steps(client: httpx.AsyncClient) -> None:
    """B, still at version 2, learns that A moved node a and renamed the workflow."""
    workflow = await create_workflow(client)
    a = await create_node(client, workflow, name="a")
    stale = workflow["version"]
    moved = await client.patch(
        workflow_url(workflow, "nodes", a["id"]),
        json={"position_x": 10},
        headers={"If-Match": f'"{stale}"'},
    )
    current = await patch_name(client, workflow, version_of(expect(moved, 200)))

    writes = [
        ("PATCH", workflow_url(workflow), {"name": "b"}),
        ("PATCH", workflow_url(workflow, "nodes", a["id"]), {"position_x": 1}),
        ("PATCH", workflow_url(workflow, "nodes", a["id"]), {"config": {}}),
        ("POST", workflow_url(workflow, "nodes"), {"name": "c", "node_type": "adapter"}),
        ("DELETE", workflow_url(workflow, "nodes", a["id"]), None),
        ("POST", workflow_url(workflow, "publish"), {}),
    ]
    for method, url, body in writes:
        refused = await client.request(method, url, json=body, headers={"If-Match": f'"{stale}"'})
        problem = expect(refused, 412).json()

        assert problem["current_version"] == current
        assert [(e["version"], e["operation"]) for e in problem["changes_since"]] == [
            (stale + 1, "node.updated"),
            (stale + 2, "workflow.updated"),
        ], (method, url)
        assert problem["changes_since"][0]["nodes"]["updated"] == [a["id"]]
        assert problem["changes_truncated"] is False


async def test_an_edge_write_412_carries_the_missed_steps(client: httpx.AsyncClient) -> None:
    """Edge writes take the same path: the steps after the client's version."""
    workflow = await create_workflow(client)
    a = await create_node(client, workflow, name="a")
    b = await create_node(client, workflow, name="b")
    edge = await create_edge(client, workflow, a, b)
    stale = workflow["version"]
    await patch_name(client, workflow, stale)

    refused = await client.patch(
        workflow_url(workflow, "edges", edge["id"]),
        json={"label": "late"},
        headers={"If-Match": f'"{stale}"'},
    )

    problem = expect(refused, 412).json()
    assert [e["version"] for e in problem["changes_since"]] == [stale + 1]


async def test_a_412_beyond_100_missed_steps_is_truncated(client: httpx.AsyncClient) -> None:
    """At most 100 entries, the oldest ones, and changes_truncated."""
    workflow = await create_workflow(client)
    version = 1
    for _ in range(101):
        version = await patch_name(client, workflow, version)

    refused = await client.patch(
        workflow_url(workflow), json={"name": "x"}, headers={"If-Match": '"1"'}
    )

    problem = expect(refused, 412).json()
    assert [e["version"] for e in problem["changes_since"]] == list(range(2, 102))
    assert problem["changes_truncated"] is True


async def test_a_412_without_an_older_if_match_version_lists_nothing(
    client: httpx.AsyncClient,
) -> None:
    """If-Match naming only a future version gives no steps to list."""
    workflow = await create_workflow(client)
    refused = await client.patch(
        workflow_url(workflow), json={"name": "x"}, headers={"If-Match": '"7"'}
    )
    problem = expect(refused, 412).json()
    assert problem["changes_since"] == []
    assert problem["changes_truncated"] is False


async def test_another_owners_log_is_404(
    client: httpx.AsyncClient, app_client: httpx.AsyncClient, make_token: Any
) -> None:
    """Owner-scoped: another owner's workflow does not exist for the caller."""
    workflow = await create_workflow(client)
    stranger = {"Authorization": f"Bearer {make_token(None)}"}
    response = await app_client.get(workflow_url(workflow, "changes"), headers=stranger)
    assert expect(response, 404).json()["code"] == "NOT_FOUND"
    missing = await client.get(f"{API}/workflows/{uuid.uuid4()}/changes")
    expect(missing, 404)


async def test_a_trashed_workflow_keeps_its_log(client: httpx.AsyncClient) -> None:
    """The trash step is readable, so a client learns why its workflow went."""
    workflow = await create_workflow(client)
    expect(await client.delete(workflow_url(workflow), headers={"If-Match": '"1"'}), 204)
    [entry] = await changes(client, workflow["id"], since=1)
    assert entry["operation"] == "workflow.deleted"


async def test_edges_have_updated_at(client: httpx.AsyncClient) -> None:
    """An edge's updated_at moves on a PATCH, as a node's does."""
    workflow = await create_workflow(client)
    a = await create_node(client, workflow, name="a")
    b = await create_node(client, workflow, name="b")
    edge = await create_edge(client, workflow, a, b)
    assert edge["updated_at"] == edge["created_at"]

    patched = await client.patch(
        workflow_url(workflow, "edges", edge["id"]),
        json={"label": "x"},
        headers={"If-Match": f'"{workflow["version"]}"'},
    )

    body = expect(patched, 200).json()
    assert body["updated_at"] > edge["updated_at"]
    assert body["created_at"] == edge["created_at"]
