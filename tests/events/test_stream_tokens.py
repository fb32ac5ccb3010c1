"""Stream tokens in-process: minted for one workflow, kept out of the access log."""

import uuid
from collections.abc import Callable

import httpx
import pytest

from service.config import Settings
from service.errors import NotFoundError, UnauthorizedError
from service.events.tokens import mint_stream_token, stream_token_user
from tests.factories import create_workflow, workflow_url
from tests.test_observability import json_log

__all__ = ["json_log"]  # the fixture, used by name below


async def test_the_stream_token_never_reaches_the_access_log(
    client: httpx.AsyncClient, json_log: Callable[[], list[dict[str, object]]]
) -> None:
    workflow = await create_workflow(client)
    minted = await client.post(workflow_url(workflow, "events", "token"))
    token = minted.json()["token"]
    bearer = client.headers.pop("Authorization")
    try:
        # HEAD: the in-process transport waits for a body's end, and a stream's never comes.
        opened = await client.head(workflow_url(workflow, "events"), params={"access_token": token})
    finally:
        client.headers["Authorization"] = bearer
    assert opened.status_code == 200
    access = [line for line in json_log() if line["logger"] == "service.access"]
    assert [line["status"] for line in access][-2:] == [200, 200]
    assert token not in str(json_log())
    assert access[-1]["path"] == workflow_url(workflow, "events")


def test_a_token_is_for_its_workflow_and_expires(settings: Settings) -> None:
    user, workflow = uuid.uuid4(), uuid.uuid4()
    token = mint_stream_token(settings, user, workflow)
    assert stream_token_user(settings, token, workflow) == user
    with pytest.raises(UnauthorizedError, match="another workflow"):
        stream_token_user(settings, token, uuid.uuid4())
    expired = mint_stream_token(
        settings.model_copy(update={"events_token_ttl_seconds": -60}), user, workflow
    )
    with pytest.raises(UnauthorizedError, match="expired"):
        stream_token_user(settings, expired, workflow)
    with pytest.raises(UnauthorizedError, match="invalid"):
        stream_token_user(settings, token[:-4] + "AAAA", workflow)


def test_without_a_shared_secret_there_are_no_stream_tokens(settings: Settings) -> None:
    public_key_only = settings.model_copy(update={"jwt_secret": None, "events_token_secret": None})
    with pytest.raises(NotFoundError, match="EVENTS_TOKEN_SECRET"):
        mint_stream_token(public_key_only, uuid.uuid4(), uuid.uuid4())
    token = mint_stream_token(settings, uuid.uuid4(), uuid.uuid4())
    with pytest.raises(UnauthorizedError):
        stream_token_user(public_key_only, token, uuid.uuid4())
