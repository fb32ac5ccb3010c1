"""Bearer tokens: issuing and verifying JWTs whose `sub` is the user's UUID."""

import time
import uuid
from collections import OrderedDict
from typing import Any

import jwt

from service.config import Settings
from service.errors import UnauthorizedError

REQUIRED_CLAIMS = ["exp", "sub"]


def signing_key(settings: Settings) -> str:
    """The key that signs tokens (HS*: the shared secret)."""
    if settings.jwt_secret is None:
        raise RuntimeError("JWT_SECRET is not set")
    return settings.jwt_secret.get_secret_value()


def verification_key(settings: Settings) -> str:
    """The key that verifies tokens: the public key for RS256/ES256, else the secret."""
    if settings.jwt_algorithm.startswith("HS"):
        return signing_key(settings)
    if not settings.jwt_public_key:
        raise RuntimeError(f"JWT_PUBLIC_KEY is needed for {settings.jwt_algorithm}")
    return settings.jwt_public_key


def issue_token(settings: Settings, user_id: uuid.UUID, ttl_seconds: int | None = None) -> str:
    """A signed HS* token for `user_id` (what `python -m service token` prints)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + (ttl_seconds or settings.token_ttl_seconds),
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, signing_key(settings), algorithm=settings.jwt_algorithm)


def verify_token(token: str, settings: Settings) -> tuple[uuid.UUID, float]:
    """The verified token's subject and expiry time; UnauthorizedError for anything else."""
    try:
        claims = jwt.decode(
            token,
            verification_key(settings),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS, "verify_aud": settings.jwt_audience is not None},
        )
    except jwt.ExpiredSignatureError as error:
        raise UnauthorizedError("The token has expired.") from error
    except jwt.PyJWTError as error:
        raise UnauthorizedError(f"The token is invalid: {error}") from error
    try:
        return uuid.UUID(str(claims["sub"])), float(claims["exp"])
    except ValueError as error:
        raise UnauthorizedError("The token subject is not a UUID.") from error


class VerifiedTokens:
    """Tokens already verified, with their subject and expiry (an LRU of bounded size).

    Verifying an HMAC or RSA signature on every request costs more than the rest of a small
    read; a token verified once stays valid until its `exp`, so that is checked per request.
    """

    def __init__(self, max_size: int = 10_000) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[str, tuple[uuid.UUID, float]] = OrderedDict()

    def user_id(self, token: str, settings: Settings) -> uuid.UUID:
        """The subject of a valid token, verifying its signature only the first time."""
        entry = self._entries.get(token)
        if entry is not None:
            user_id, expires_at = entry
            if time.time() < expires_at:
                self._entries.move_to_end(token)
                return user_id
            del self._entries[token]
        user_id, expires_at = verify_token(token, settings)
        self._entries[token] = (user_id, expires_at)
        if len(self._entries) > self.max_size:
            self._entries.popitem(last=False)
        return user_id
