"""Workflows, tools and agents over HTTP: one rendering per version, no compilation per request."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.sql.compiler import Compiled

from service.owned_rows import node_references
from service.registry.models import AgentPublic, ToolPublic
from service.registry.repository import AGENTS, TOOLS
from service.sql import compiled, public_fields
from service.workflows.models import WorkflowPublic
from service.workflows.repository import WORKFLOWS
from tests.factories import API, expect


@dataclass(frozen=True)
class Owned:
    """One owned resource kind: where it lives, what creates and changes it, its schema."""

    path: str
    create: dict[str, Any]
    change: dict[str, Any]
    public: type[BaseModel]


KINDS = {
    "workflows": Owned(
        f"{API}/workflows",
        {"config": {"timeout": 30, "retry_policy": "fixed"}, "variables": {"n": 1, "f": 1.5}},
        {"description": "changed", "variables": {"n": 2.5, "list": [1, "x", None]}},
        WorkflowPublic,
    ),
    "tools": Owned(
        f"{API}/tools",
        {"tool_type": "http", "config": {"url": "https://example.com", "retries": 2}},
        {"tool_type": "mcp", "is_active": False},
        ToolPublic,
    ),
    "agents": Owned(
        f"{API}/agents",
        {"model_provider": "openai", "model_name": "m", "config": {"temperature": 0.5}},
        {"model_name": "n", "config": {}},
        AgentPublic,
    ),
}


def checked(kind: Owned, response: httpx.Response) -> bytes:
    """The body, after checking it validates as the Public model, keys in the model's order."""
    kind.public.model_validate_json(response.content)
    assert list(json.loads(response.content)) == public_fields(kind.public)
    return response.content


def if_match(response: httpx.Response) -> dict[str, str]:
    """If-Match naming the version a response's ETag carries."""
    return {"If-Match": response.headers["etag"]}


async def get(client: httpx.AsyncClient, url: str, kind: Owned, answer: httpx.Response) -> bytes:
    """GET the resource: same ETag as `answer`, and the body checked."""
    response = expect(await client.get(url), 200)
    assert response.headers["etag"] == answer.headers["etag"]
    return checked(kind, response)


async def listed(client: httpx.AsyncClient, kind: Owned, name: str, **params: Any) -> bytes:
    """The list page that holds only the resource called `name`."""
    return expect(await client.get(kind.path, params={"q": name, **params}), 200).content


def page_of(item: bytes) -> bytes:
    """The body of a one-item last page."""
    return b'{"items":[' + item + b'],"next_cursor":null}'


@pytest.mark.parametrize("kind_name", sorted(KINDS))
async def test_every_path_renders_the_same_bytes_for_a_version(
    client: httpx.AsyncClient, kind_name: str
) -> None:
    kind = KINDS[kind_name]
    name = f"bytes-{uuid.uuid4()}"

    created = expect(await client.post(kind.path, json={"name": name, **kind.create}), 201)
    url = created.headers["location"]
    assert checked(kind, created) == await get(client, url, kind, created)
    assert await listed(client, kind, name) == page_of(created.content)

    patched = expect(await client.patch(url, json=kind.change, headers=if_match(created)), 200)
    assert created.headers["etag"] != patched.headers["etag"]
    assert checked(kind, patched) == await get(client, url, kind, patched)
    assert await listed(client, kind, name) == page_of(patched.content)

    deleted = expect(await client.delete(url, headers=if_match(patched)), 204)
    restored = expect(await client.post(f"{url}/restore", headers=if_match(deleted)), 200)
    assert checked(kind, restored) == await get(client, url, kind, restored)
    assert await listed(client, kind, name) == page_of(restored.content)


@pytest.mark.parametrize("kind_name", sorted(KINDS))
async def test_a_trashed_entry_lists_as_the_same_bytes(
    client: httpx.AsyncClient, kind_name: str
) -> None:
    """The trash list shows exactly what a restore would start from: the stored rendering."""
    kind = KINDS[kind_name]
    name = f"trash-{uuid.uuid4()}"
    created = expect(await client.post(kind.path, json={"name": name, **kind.create}), 201)
    url = created.headers["location"]
    deleted = expect(await client.delete(url, headers=if_match(created)), 204)
    [item] = json.loads(await listed(client, kind, name, deleted="true"))["items"]
    assert item["is_deleted"] is True
    assert item["version"] == int(deleted.headers["etag"].strip('"'))
    assert {**item, "is_deleted": False, "deleted_at": None, "version": 1} == {
        **json.loads(created.content),
        "updated_at": item["updated_at"],
    }


class CompileSpy:
    """Counts SQLAlchemy compilations (every dialect's compiler derives from Compiled)."""

    def __init__(self) -> None:
        self.count = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Wrap Compiled.__init__ so that each compilation is counted."""
        original = Compiled.__init__

        def counting(compiler: Compiled, *args: Any, **kwargs: Any) -> None:
            self.count += 1
            original(compiler, *args, **kwargs)

        monkeypatch.setattr(Compiled, "__init__", counting)


@pytest.fixture
def compile_spy(monkeypatch: pytest.MonkeyPatch) -> CompileSpy:
    """A spy on SQLAlchemy's compiler, proven to see a compilation before it is handed out."""
    spy = CompileSpy()
    spy.install(monkeypatch)
    compiled(select(1))
    assert spy.count == 1
    spy.count = 0
    return spy


async def every_owned_request(client: httpx.AsyncClient) -> None:
    """Each route of the owned resources and of /me, with each kind of list query."""
    expect(await client.get(f"{API}/me"), 200)
    for kind in KINDS.values():
        name = f"compile-{uuid.uuid4()}"
        created = expect(await client.post(kind.path, json={"name": name, **kind.create}), 201)
        url = created.headers["location"]
        other = {"name": f"{name}-other", **kind.create}
        expect(await client.post(kind.path, json=other), 201)
        expect(await client.get(url), 200)
        page = expect(await client.get(kind.path, params={"limit": 1, "sort": "name"}), 200)
        cursor = page.json()["next_cursor"]
        assert cursor is not None
        expect(await client.get(kind.path, params={"cursor": cursor, "sort": "name"}), 200)
        expect(await client.get(kind.path, params={"q": name, "is_active": "true"}), 200)
        patched = expect(await client.patch(url, json=kind.change, headers=if_match(created)), 200)
        stale = await client.patch(url, json=kind.change, headers=if_match(created))
        expect(stale, 412)
        deleted = expect(await client.delete(url, headers=if_match(patched)), 204)
        expect(await client.get(kind.path, params={"deleted": "true"}), 200)
        restored = expect(await client.post(f"{url}/restore", headers=if_match(deleted)), 200)
        expect(
            await client.delete(url, params={"permanent": "true"}, headers=if_match(restored)), 204
        )
        expect(await client.get(url), 404)


async def test_no_request_compiles_sql_once_its_statements_were_used(
    client: httpx.AsyncClient, compile_spy: CompileSpy
) -> None:
    await every_owned_request(client)  # first use compiles what was not compiled at import
    compile_spy.count = 0
    await every_owned_request(client)
    await every_owned_request(client)
    assert compile_spy.count == 0


def test_purge_bumps_workflows_only_through_set_null_references() -> None:
    """Deleting a tool or agent empties node references; a workflow's own nodes just cascade."""
    references = {table.name: table.node_reference for table in (WORKFLOWS, TOOLS, AGENTS)}
    assert references == {"workflows": None, "tools": "tool_id", "agents": "agent_id"}


def test_node_references_are_read_from_the_foreign_keys() -> None:
    assert {column: table.name for column, table in node_references().items()} == {
        "agent_id": "agents",
        "tool_id": "tools",
    }
