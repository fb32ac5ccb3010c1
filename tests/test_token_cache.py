"""VerifiedTokens: a token's signature is verified once, its expiry on every use."""

import time
import uuid

import pytest

from service.auth import VerifiedTokens, issue_token
from service.config import Settings
from service.errors import UnauthorizedError

SETTINGS = Settings(_env_file=None, jwt_secret="s" * 40)  # type: ignore[call-arg,arg-type]


def test_a_cached_token_still_expires() -> None:
    cache = VerifiedTokens()
    user_id = uuid.uuid4()
    token = issue_token(SETTINGS, user_id, ttl_seconds=1)
    assert cache.user_id(token, SETTINGS) == user_id
    time.sleep(1.5)
    with pytest.raises(UnauthorizedError, match="expired"):
        cache.user_id(token, SETTINGS)


def test_the_signature_is_verified_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = VerifiedTokens()
    token = issue_token(SETTINGS, uuid.uuid4())
    cache.user_id(token, SETTINGS)
    monkeypatch.setattr("service.auth.verify_token", lambda *_: pytest.fail("verified twice"))
    cache.user_id(token, SETTINGS)


def test_the_cache_is_bounded() -> None:
    cache = VerifiedTokens(max_size=2)
    tokens = [issue_token(SETTINGS, uuid.uuid4()) for _ in range(3)]
    for token in tokens:
        cache.user_id(token, SETTINGS)
    assert len(cache._entries) == 2
    assert tokens[0] not in cache._entries


def test_a_bad_token_is_not_cached() -> None:
    cache = VerifiedTokens()
    with pytest.raises(UnauthorizedError):
        cache.user_id("not.a.token", SETTINGS)
    assert not cache._entries
