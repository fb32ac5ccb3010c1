"""Workflows over HTTP, and the contract every versioned resource meets.

`VersionedResourceContract` holds the tests that are the same for workflows, tools and agents
(lifecycle, If-Match rules, lists, isolation, bad input); `TestWorkflowsApi` here and the
classes in `tests/test_tools_api.py` and `tests/test_agents_api.py` run it against their own
endpoints. Workflow-only behaviour is tested below the contract.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx
import pytest

from service.auth import issue_token
from service.config import Settings
from service.main import create_app

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ResourceKind:
    """What differs between the workflow, tool and agent endpoints."""

    path: str
    id_parameter: str
    change: dict[str, Any]
    bad_enum: dict[str, Any]
    required: dict[str, Any] = field(default_factory=dict)

    def body(self, name: str = "entry", **fields: Any) -> dict[str, Any]:
        """A valid create body."""
        return {"name": name, **self.required, **fields}

    def url(self, entry_id: object) -> str:
        """The URL of one entry."""
        return f"{self.path}/{entry_id}"


def if_match(version: int | str) -> dict[str, str]:
    """An If-Match header naming `version`."""
    return {"If-Match": f'"{version}"'}


def as_user(token: str) -> dict[str, str]:
    """An Authorization header for another caller."""
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    return problem


def sort_key(sort: str) -> Callable[[dict[str, Any]], tuple[Any, uuid.UUID]]:
    """The (sort value, id) order the API promises for `sort`."""
    column = sort.lstrip("-")

    def key(item: dict[str, Any]) -> tuple[Any, uuid.UUID]:
        value = item[column] if column == "name" else datetime.fromisoformat(item[column])
        return value, uuid.UUID(item["id"])

    return key


def parameter_errors(response: httpx.Response) -> set[str | None]:
    """The parameters a 422 names."""
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert {error["code"] for error in problem["errors"]} == {"INVALID_VALUE"}
    return {error.get("parameter") for error in problem["errors"]}


class VersionedResourceContract:
    """Every endpoint of a versioned resource: lifecycle, If-Match, lists, isolation, bad input."""

    kind: ClassVar[ResourceKind]

    async def create(self, client: httpx.AsyncClient, name: str = "entry", **fields: Any) -> Any:
        """Create an entry and return its JSON."""
        response = await client.post(self.kind.path, json=self.kind.body(name, **fields))
        assert response.status_code == 201, response.text
        return response.json()

    async def names(self, client: httpx.AsyncClient, query: str = "") -> list[str]:
        """Names in the first page of the list (up to 100)."""
        response = await client.get(f"{self.kind.path}?limit=100{query}")
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    async def test_create_answers_201_with_location_and_etag(
        self, client: httpx.AsyncClient, user_id: uuid.UUID
    ) -> None:
        response = await client.post(
            self.kind.path, json=self.kind.body("Fetch prices", description="d", config={"a": 1})
        )
        assert response.status_code == 201, response.text
        assert response.headers["etag"] == '"1"'
        created = response.json()
        assert response.headers["location"].endswith(self.kind.url(created["id"]))
        assert created["version"] == 1
        assert created["owner_id"] == str(user_id)
        assert created["config"] == {"a": 1}
        assert created["is_active"] is True
        assert created["is_deleted"] is False
        assert created["deleted_at"] is None
        for key, value in self.kind.required.items():
            assert created[key] == value

    async def test_get_answers_etag_and_304_on_if_none_match(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await self.create(client)
        url = self.kind.url(created["id"])
        read = await client.get(url)
        assert read.status_code == 200
        assert read.headers["etag"] == '"1"'
        assert read.json() == created
        for tag in ('"1"', "*", '"7", "1"', 'W/"1"'):
            cached = await client.get(url, headers={"If-None-Match": tag})
            assert cached.status_code == 304, tag
            assert cached.headers["etag"] == '"1"'
        stale = await client.get(url, headers={"If-None-Match": '"2"'})
        assert stale.status_code == 200

    async def test_patch_replaces_named_fields_and_raises_version_on_a_change(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await self.create(client, description="keep", config={"a": {"b": 1}, "c": 2})
        url = self.kind.url(created["id"])
        changes = {"config": {"a": {"x": 1}}, **self.kind.change}
        patched = await client.patch(url, json=changes, headers=if_match(1))
        assert patched.status_code == 200, patched.text
        assert patched.headers["etag"] == '"2"'
        body = patched.json()
        assert body["config"] == {"a": {"x": 1}}
        assert {key: body[key] for key in self.kind.change} == self.kind.change
        assert body["description"] == "keep"
        assert body["version"] == 2
        unchanged = await client.patch(url, json={}, headers=if_match(2))
        assert unchanged.status_code == 200
        assert unchanged.json()["version"] == 2
        cleared = await client.patch(url, json={"description": None}, headers=if_match(2))
        assert cleared.json()["description"] is None
        assert (await client.get(url)).json() == cleared.json()

    async def test_writes_without_if_match_answer_428(self, client: httpx.AsyncClient) -> None:
        created = await self.create(client)
        url = self.kind.url(created["id"])
        assert_problem(await client.patch(url, json={}), 428, "PRECONDITION_REQUIRED")
        assert_problem(await client.delete(url), 428, "PRECONDITION_REQUIRED")
        assert_problem(await client.delete(f"{url}?permanent=true"), 428, "PRECONDITION_REQUIRED")
        assert_problem(await client.post(f"{url}/restore"), 428, "PRECONDITION_REQUIRED")
        assert (await client.get(url)).json()["version"] == 1

    async def test_stale_and_weak_if_match_answer_412(self, client: httpx.AsyncClient) -> None:
        created = await self.create(client)
        url = self.kind.url(created["id"])
        await client.patch(url, json={"name": "v2"}, headers=if_match(1))
        for header in ('"1"', 'W/"2"', '"1", W/"2"', "garbage"):
            stale = await client.patch(url, json={"name": "x"}, headers={"If-Match": header})
            problem = assert_problem(stale, 412, "VERSION_MISMATCH")
            assert problem["current_version"] == 2
            assert stale.headers["etag"] == '"2"'
        assert_problem(await client.delete(url, headers=if_match(1)), 412, "VERSION_MISMATCH")
        purge = await client.delete(f"{url}?permanent=true", headers=if_match(1))
        assert assert_problem(purge, 412, "VERSION_MISMATCH")["current_version"] == 2
        assert (await client.get(url)).json()["name"] == "v2"

    async def test_star_and_tag_lists_match(self, client: httpx.AsyncClient) -> None:
        created = await self.create(client)
        url = self.kind.url(created["id"])
        star = await client.patch(url, json={"name": "s"}, headers={"If-Match": "*"})
        assert star.status_code == 200
        assert star.headers["etag"] == '"2"'
        listed = await client.patch(url, json={"name": "l"}, headers={"If-Match": '"7", "2"'})
        assert listed.status_code == 200
        assert listed.json()["version"] == 3

    async def test_soft_delete_trash_and_restore(self, client: httpx.AsyncClient) -> None:
        created = await self.create(client, "trashed")
        url = self.kind.url(created["id"])
        deleted = await client.delete(url, headers=if_match(1))
        assert deleted.status_code == 204
        assert deleted.headers["etag"] == '"2"'
        assert_problem(await client.get(url), 404, "NOT_FOUND")
        assert_problem(await client.patch(url, json={}, headers=if_match(2)), 404, "NOT_FOUND")
        assert_problem(await client.delete(url, headers=if_match(2)), 404, "NOT_FOUND")
        assert "trashed" not in await self.names(client)
        trash = (await client.get(f"{self.kind.path}?deleted=true")).json()["items"]
        assert [(item["name"], item["version"], item["is_deleted"]) for item in trash] == [
            ("trashed", 2, True)
        ]
        assert trash[0]["deleted_at"] is not None
        stale = await client.post(f"{url}/restore", headers=if_match(1))
        assert assert_problem(stale, 412, "VERSION_MISMATCH")["current_version"] == 2
        restored = await client.post(f"{url}/restore", headers=if_match(2))
        assert restored.status_code == 200, restored.text
        assert restored.headers["etag"] == '"3"'
        assert restored.json()["is_deleted"] is False
        assert restored.json()["deleted_at"] is None
        assert (await client.get(url)).status_code == 200
        again = await client.post(f"{url}/restore", headers=if_match(3))
        assert_problem(again, 409, "NOT_DELETED")
        assert await self.names(client, "&deleted=true") == []

    async def test_permanent_delete_of_live_and_trashed(self, client: httpx.AsyncClient) -> None:
        live = await self.create(client, "live")
        trashed = await self.create(client, "trashed")
        await client.delete(self.kind.url(trashed["id"]), headers=if_match(1))
        for entry, version in ((live, 1), (trashed, 2)):
            url = self.kind.url(entry["id"])
            purged = await client.delete(f"{url}?permanent=true", headers=if_match(version))
            assert purged.status_code == 204, purged.text
            assert "etag" not in purged.headers
            assert_problem(await client.get(url), 404, "NOT_FOUND")
            assert_problem(
                await client.post(f"{url}/restore", headers={"If-Match": "*"}), 404, "NOT_FOUND"
            )
            again = await client.delete(f"{url}?permanent=true", headers={"If-Match": "*"})
            assert_problem(again, 404, "NOT_FOUND")
        assert await self.names(client) == []
        assert await self.names(client, "&deleted=true") == []

    async def test_unknown_id_is_404_everywhere(self, client: httpx.AsyncClient) -> None:
        url = self.kind.url(uuid.uuid4())
        star = {"If-Match": "*"}
        assert_problem(await client.get(url), 404, "NOT_FOUND")
        assert_problem(await client.patch(url, json={}, headers=star), 404, "NOT_FOUND")
        assert_problem(await client.delete(url, headers=star), 404, "NOT_FOUND")
        purge = await client.delete(f"{url}?permanent=true", headers=star)
        assert_problem(purge, 404, "NOT_FOUND")
        assert_problem(await client.post(f"{url}/restore", headers=star), 404, "NOT_FOUND")

    async def test_other_owners_entries_are_invisible(
        self, client: httpx.AsyncClient, make_token: Callable[[uuid.UUID | None], str]
    ) -> None:
        live = await self.create(client, "mine")
        trashed = await self.create(client, "mine-trashed")
        await client.delete(self.kind.url(trashed["id"]), headers=if_match(1))
        stranger = as_user(make_token(None))
        star = {**stranger, "If-Match": "*"}
        for entry in (live, trashed):
            url = self.kind.url(entry["id"])
            assert_problem(await client.get(url, headers=stranger), 404, "NOT_FOUND")
            patch = await client.patch(url, json={"name": "x"}, headers=star)
            assert_problem(patch, 404, "NOT_FOUND")
            assert_problem(await client.delete(url, headers=star), 404, "NOT_FOUND")
            purge = await client.delete(f"{url}?permanent=true", headers=star)
            assert_problem(purge, 404, "NOT_FOUND")
            restore = await client.post(f"{url}/restore", headers=star)
            assert_problem(restore, 404, "NOT_FOUND")
        for query in ("", "?deleted=true"):
            listed = await client.get(f"{self.kind.path}{query}", headers=stranger)
            assert listed.json() == {"items": [], "next_cursor": None}
        assert (await client.get(self.kind.url(live["id"]))).json() == live

    async def test_list_filters_by_is_active_and_name(self, client: httpx.AsyncClient) -> None:
        await self.create(client, "Price Feed")
        await self.create(client, "price_100%", is_active=False)
        await self.create(client, "priceX100a")
        assert sorted(await self.names(client, "&is_active=false")) == ["price_100%"]
        assert len(await self.names(client, "&is_active=true")) == 2
        assert len(await self.names(client, "&q=PRICE")) == 3
        assert await self.names(client, "&q=e_1") == ["price_100%"]
        assert await self.names(client, "&q=0%25") == ["price_100%"]
        assert await self.names(client, "&q=feed&is_active=true") == ["Price Feed"]
        assert await self.names(client, "&q=feed&is_active=false") == []

    async def test_list_sorts_and_pages_with_link(self, client: httpx.AsyncClient) -> None:
        for name in ("b", "a", "b", "c", "a"):
            await self.create(client, name)
        for sort in ("name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"):
            items, url, pages = [], f"{self.kind.path}?limit=2&sort={sort}", 0
            while url:
                page = await client.get(url)
                assert page.status_code == 200, page.text
                body = page.json()
                assert ("link" in page.headers) == (body["next_cursor"] is not None)
                items += body["items"]
                url = page.links["next"]["url"] if body["next_cursor"] else ""
                pages += 1
            expected = sorted(items, key=sort_key(sort), reverse=sort.startswith("-"))
            assert [item["id"] for item in items] == [item["id"] for item in expected], sort
            assert len(items) == 5
            assert pages == 3

    async def test_list_rejects_bad_limit_and_cursor(self, client: httpx.AsyncClient) -> None:
        for limit in ("0", "101", "x"):
            response = await client.get(f"{self.kind.path}?limit={limit}")
            assert parameter_errors(response) == {"limit"}
        bad = await client.get(f"{self.kind.path}?cursor=not-a-cursor")
        assert parameter_errors(bad) == {"cursor"}
        for name in ("a", "b", "c"):
            await self.create(client, name)
        first = (await client.get(f"{self.kind.path}?limit=1&sort=name")).json()
        other_sort = await client.get(f"{self.kind.path}?sort=-name&cursor={first['next_cursor']}")
        assert parameter_errors(other_sort) == {"cursor"}
        assert parameter_errors(await client.get(f"{self.kind.path}?sort=size")) == {"sort"}
        for q in ("%00", "q" * 256):
            assert parameter_errors(await client.get(f"{self.kind.path}?q={q}")) == {"q"}

    @pytest.mark.parametrize(
        "changes",
        [
            {"name": "x" * 256},
            {"name": ""},
            {"name": "nul\x00"},
            {"description": "d" * 10_001},
            {"description": "nul\x00"},
            {"config": {"key": "nul\x00"}},
            {"config": [1]},
            {"is_active": "sometimes"},
        ],
        ids=lambda changes: next(iter(changes)),
    )
    async def test_bad_fields_answer_422(
        self, client: httpx.AsyncClient, changes: dict[str, Any]
    ) -> None:
        created = await client.post(self.kind.path, json=self.kind.body(**changes))
        assert_problem(created, 422, "VALIDATION_ERROR")
        entry = await self.create(client)
        patched = await client.patch(self.kind.url(entry["id"]), json=changes, headers=if_match(1))
        problem = assert_problem(patched, 422, "VALIDATION_ERROR")
        assert problem["errors"][0]["pointer"].startswith(f"/{next(iter(changes))}")

    async def test_unknown_enum_and_missing_fields_answer_422(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await client.post(self.kind.path, json=self.kind.body(**self.kind.bad_enum))
        problem = assert_problem(created, 422, "VALIDATION_ERROR")
        field_name = next(iter(self.kind.bad_enum))
        assert problem["errors"][0]["pointer"].startswith(f"/{field_name}")
        entry = await self.create(client)
        url = self.kind.url(entry["id"])
        patched = await client.patch(url, json=self.kind.bad_enum, headers=if_match(1))
        assert_problem(patched, 422, "VALIDATION_ERROR")
        nulled = await client.patch(url, json={"name": None}, headers=if_match(1))
        assert_problem(nulled, 422, "VALIDATION_ERROR")
        for missing in ("name", *self.kind.required):
            body = {key: value for key, value in self.kind.body().items() if key != missing}
            response = await client.post(self.kind.path, json=body)
            assert_problem(response, 422, "VALIDATION_ERROR")
        assert (await client.get(url)).json()["version"] == 1

    async def test_malformed_uuid_names_the_path_parameter(self, client: httpx.AsyncClient) -> None:
        url = f"{self.kind.path}/not-a-uuid"
        for method, target in (
            ("GET", url),
            ("PATCH", url),
            ("DELETE", url),
            ("POST", f"{url}/restore"),
        ):
            body = {} if method == "PATCH" else None
            response = await client.request(method, target, json=body, headers={"If-Match": "*"})
            assert parameter_errors(response) == {self.kind.id_parameter}, method

    async def test_requests_without_a_token_answer_401(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.get(self.kind.path)
        assert_problem(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"].startswith("Bearer")


class TestWorkflowsApi(VersionedResourceContract):
    """/api/v1/workflows."""

    kind = ResourceKind(
        path="/api/v1/workflows",
        id_parameter="workflow_id",
        change={"variables": {"symbol": "BTC"}, "is_active": False},
        bad_enum={"config": {"retry_policy": "sometimes"}},
    )

    async def test_create_fills_in_defaults(self, client: httpx.AsyncClient) -> None:
        created = await self.create(client, "bare")
        assert created["config"] == {}
        assert created["variables"] == {}
        assert created["description"] is None
        assert created["is_active"] is True
        assert created["created_at"] == created["updated_at"]

    async def test_spec_config_example_is_accepted_as_written(
        self, client: httpx.AsyncClient
    ) -> None:
        """SPEC-003's workflow config example is what editors send; it must round-trip."""
        config = {
            "timeout": 3600,
            "retry_policy": "exponential",
            "max_concurrent_nodes": 5,
            "error_handling": "stop_on_first_error",
        }
        created = await self.create(client, config=config)
        fetched = await client.get(self.kind.url(created["id"]))
        assert created["config"] == fetched.json()["config"] == config

    async def test_patch_replaces_config_and_variables_whole(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await self.create(
            client,
            config={"timeout": 60, "retry_policy": "fixed", "custom": {"a": 1}},
            variables={"a": 1, "b": 2},
        )
        changes = {"config": {"error_handling": "stop_on_first_error"}, "variables": {"b": 3}}
        url = self.kind.url(created["id"])
        patched = await client.patch(url, json=changes, headers=if_match(1))
        assert patched.status_code == 200, patched.text
        assert patched.json()["config"] == {"error_handling": "stop_on_first_error"}
        assert patched.json()["variables"] == {"b": 3}
        assert patched.json()["name"] == created["name"]
        assert patched.json()["updated_at"] > created["updated_at"]

    @pytest.mark.parametrize(
        "changes",
        [
            {"config": {"timeout": 2**40}},
            {"config": {"timeout": 0}},
            {"config": {"max_concurrent_nodes": 1001}},
            {"config": {"error_handling": "panic"}},
            {"variables": [1]},
            {"variables": {"key": "nul\x00"}},
        ],
        ids=str,
    )
    async def test_bad_workflow_documents_answer_422(
        self, client: httpx.AsyncClient, changes: dict[str, Any]
    ) -> None:
        created = await client.post(self.kind.path, json=self.kind.body(**changes))
        problem = assert_problem(created, 422, "VALIDATION_ERROR")
        assert problem["errors"][0]["pointer"].startswith(f"/{next(iter(changes))}")
        entry = await self.create(client)
        patched = await client.patch(self.kind.url(entry["id"]), json=changes, headers=if_match(1))
        assert_problem(patched, 422, "VALIDATION_ERROR")

    @pytest.mark.parametrize("sort", ["-created_at", "created_at", "name", "-name"])
    async def test_keyset_pages_neither_repeat_nor_skip_under_writes(
        self, client: httpx.AsyncClient, sort: str
    ) -> None:
        originals = [(await self.create(client, f"m{n:02d}"))["id"] for n in range(25)]
        deleted: set[str] = set()
        seen: list[str] = []
        url = f"{self.kind.path}?limit=10&sort={sort}"
        for page_number in range(10):
            page = await client.get(url)
            assert page.status_code == 200, page.text
            ids = [item["id"] for item in page.json()["items"]]
            seen += ids
            if not page.json()["next_cursor"]:
                break
            url = page.links["next"]["url"]
            for name in (f"a{page_number}", f"m{page_number:02d}x", f"z{page_number}"):
                await self.create(client, name)
            unseen = [entry_id for entry_id in originals if entry_id not in {*seen, *deleted}]
            for victim, query in ((ids[-1], ""), (unseen[0], "?permanent=true")):
                response = await client.delete(
                    f"{self.kind.url(victim)}{query}", headers={"If-Match": "*"}
                )
                assert response.status_code == 204
                deleted.add(victim)
        assert len(seen) == len(set(seen))
        survivors = set(originals) - deleted
        assert survivors <= set(seen)


@pytest.fixture
async def lenient_client(
    settings: Settings, user_id: uuid.UUID
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app built with REQUIRE_IF_MATCH=false."""
    app = create_app(settings.model_copy(update={"require_if_match": False}))
    headers = {"Authorization": f"Bearer {issue_token(settings, user_id)}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as lenient:
            yield lenient


async def test_without_required_if_match_writes_need_no_tag(
    lenient_client: httpx.AsyncClient,
) -> None:
    created = await lenient_client.post("/api/v1/workflows", json={"name": "lww"})
    url = f"/api/v1/workflows/{created.json()['id']}"
    patched = await lenient_client.patch(url, json={"name": "last write wins"})
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] == '"2"'
    stale = await lenient_client.patch(url, json={"name": "stale"}, headers=if_match(1))
    assert assert_problem(stale, 412, "VERSION_MISMATCH")["current_version"] == 2
    assert (await lenient_client.delete(url)).headers["etag"] == '"3"'
    restored = await lenient_client.post(f"{url}/restore")
    assert restored.json()["version"] == 4
    assert (await lenient_client.delete(f"{url}?permanent=true")).status_code == 204
    assert (await lenient_client.get(url)).status_code == 404
