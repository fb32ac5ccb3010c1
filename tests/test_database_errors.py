"""A database refusal the service did not foresee answers a problem without PostgreSQL's text."""

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_correlation_id import CorrelationIdFilter
from fastapi import Request
from psycopg import errors as pg_errors

from service.config import Settings
from service.main import create_app
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


# Statements PostgreSQL refuses, each with words of its own error message.
REFUSED = {
    # DataError (invalid_text_representation): 'invalid input syntax for type integer'
    "data": ("SELECT 'not a number'::int", 422, "VALIDATION_ERROR", "invalid input syntax"),
    # IntegrityError (foreign_key_violation): 'violates foreign key constraint'
    "integrity": (
        "INSERT INTO workflows (id, owner_id, name) VALUES (gen_random_uuid(), %s, 'x')",
        409,
        "CONFLICT",
        "foreign key",
    ),
}


@pytest.fixture(scope="module")
async def refusing_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with one extra route that runs a statement PostgreSQL refuses."""
    app = create_app(settings)

    @app.get("/refused/{kind}")
    async def refused(request: Request, kind: str) -> None:
        async with request.app.state.pool.connection() as connection:
            params = (uuid.uuid4(),) if "%s" in REFUSED[kind][0] else None
            await connection.execute(REFUSED[kind][0], params)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.mark.parametrize("kind", sorted(REFUSED))
async def test_database_refusal_answers_without_database_text(
    refusing_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    _statement, status, code, database_words = REFUSED[kind]
    request_id = f"refused-{kind}-{uuid.uuid4()}"
    caplog.handler.addFilter(CorrelationIdFilter())
    with caplog.at_level(logging.WARNING, logger="service.main"):
        response = await refusing_client.get(
            f"/refused/{kind}", headers={"X-Request-ID": request_id}
        )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    body = response.text.lower()
    assert database_words not in body
    # The database's own words stay in the server log, with the request id.
    [record] = [r for r in caplog.records if r.name == "service.main"]
    assert getattr(record, "correlation_id", None) == request_id
    database_text = str(record.args[-1] if isinstance(record.args, tuple) else "")
    assert database_words in database_text.lower()
    for line in database_text.lower().splitlines():
        assert line.strip() not in body
