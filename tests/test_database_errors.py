"""A database refusal the service did not foresee answers a problem without PostgreSQL's text."""

from typing import Any

import httpx
import pytest
from psycopg import errors as pg_errors

from service.workflows import repository as workflows

SECRET = 'relation "workflows" constraint "secret_internal_name" on value 4242'


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (pg_errors.UniqueViolation(SECRET), 409, "CONFLICT"),
        (pg_errors.NumericValueOutOfRange(SECRET), 422, "VALIDATION_ERROR"),
    ],
)
async def test_database_refusals_never_show_postgresql_text(
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    code: str,
) -> None:
    async def refused(*_args: Any, **_kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(workflows, "create_workflow", refused)

    response = await client.post("/api/v1/workflows", json={"name": "w"})

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    for fragment in ("secret_internal_name", "4242", "relation", "constraint"):
        assert fragment not in response.text
