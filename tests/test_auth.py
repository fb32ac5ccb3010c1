"""Bearer tokens: what is refused (401), what is accepted, and the `token` command."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from service.__main__ import main
from service.config import Settings, get_settings
from service.main import create_app
from tests.conftest import TEST_SECRET
from tests.workflows.test_workflows_api import assert_problem

ME = "/api/v1/me"
OMIT = object()
SETTINGS_ENV = ("ENVIRONMENT", "DATABASE_URL", "JWT_ALGORITHM", "JWT_AUDIENCE", "JWT_ISSUER")


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for a new user, with `overrides` applied (OMIT drops a claim)."""
    now = int(time.time())
    values = {"sub": str(uuid.uuid4()), "iat": now, "exp": now + 600, **overrides}
    return {key: value for key, value in values.items() if value is not OMIT}


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWTs use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand: HMAC-SHA256 with `key`, or no signature at all."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def hs256(payload: dict[str, Any], secret: str = TEST_SECRET) -> str:
    """A token signed the way the test app expects."""
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response: httpx.Response) -> None:
    """401 problem+json that asks for a bearer token."""
    assert_problem(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"].startswith("Bearer")


@asynccontextmanager
async def app_with(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app built with these settings changed."""
    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    """A fresh RSA key pair as PEM text (private, public)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def test_missing_token_is_401(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get(ME)
    assert_unauthorized(response)
    assert response.headers["www-authenticate"] == "Bearer"  # RFC 6750: no error code


async def test_a_bad_token_gets_the_invalid_token_challenge(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get(ME, headers=bearer("a.b.c"))
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Bearer not-a-jwt", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "token"],
)
async def test_malformed_authorization_is_401(
    app_client: httpx.AsyncClient, authorization: str
) -> None:
    assert_unauthorized(await app_client.get(ME, headers={"Authorization": authorization}))


INVALID_TOKENS: dict[str, Callable[[], str]] = {
    "expired": lambda: hs256(claims(exp=int(time.time()) - 60)),
    "bad signature": lambda: hs256(claims(), secret="another-secret-" + "y" * 40),
    "alg none": lambda: hand_signed({"alg": "none", "typ": "JWT"}, claims(), None),
    "alg none signed": lambda: hand_signed({"alg": "none"}, claims(), TEST_SECRET.encode()),
    "HS512 instead of HS256": lambda: jwt.encode(claims(), TEST_SECRET, algorithm="HS512"),
    "sub not a UUID": lambda: hs256(claims(sub="alice")),
    "sub missing": lambda: hs256(claims(sub=OMIT)),
    "exp missing": lambda: hs256(claims(exp=OMIT)),
    "exp not a number": lambda: hs256(claims(exp="tomorrow")),
    "tampered payload": lambda: hs256(claims()).replace(".", ".e", 1),
}


@pytest.mark.filterwarnings("ignore:The HMAC key is .* below the minimum recommended length")
@pytest.mark.parametrize("make_bad_token", INVALID_TOKENS.values(), ids=INVALID_TOKENS.keys())
async def test_invalid_tokens_are_401(
    app_client: httpx.AsyncClient, make_bad_token: Callable[[], str]
) -> None:
    assert_unauthorized(await app_client.get(ME, headers=bearer(make_bad_token())))


async def test_valid_token_creates_the_user_on_first_use(app_client: httpx.AsyncClient) -> None:
    user_id = uuid.uuid4()
    first = await app_client.get(ME, headers=bearer(hs256(claims(sub=str(user_id)))))
    assert first.status_code == 200, first.text
    assert first.json()["id"] == str(user_id)
    assert first.json()["created_at"]
    again = await app_client.get(ME, headers=bearer(hs256(claims(sub=str(user_id)))))
    assert again.json() == first.json()


async def test_rs256_accepts_its_tokens_and_refuses_algorithm_confusion(
    settings: Settings, rsa_keys: tuple[str, str]
) -> None:
    private, public = rsa_keys
    async with app_with(settings, jwt_algorithm="RS256", jwt_public_key=public) as client:
        user_id = str(uuid.uuid4())
        good = jwt.encode(claims(sub=user_id), private, algorithm="RS256")
        accepted = await client.get(ME, headers=bearer(good))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["id"] == user_id
        confused = hand_signed({"alg": "HS256", "typ": "JWT"}, claims(), public.encode())
        assert_unauthorized(await client.get(ME, headers=bearer(confused)))
        assert_unauthorized(await client.get(ME, headers=bearer(hs256(claims()))))
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(claims(), other_key, algorithm="RS256")
        assert_unauthorized(await client.get(ME, headers=bearer(forged)))


async def test_audience_and_issuer_are_checked_when_configured(settings: Settings) -> None:
    expected = {"aud": "workflow-service", "iss": "https://issuer.example"}
    async with app_with(
        settings, jwt_audience=expected["aud"], jwt_issuer=expected["iss"]
    ) as client:
        good = await client.get(ME, headers=bearer(hs256(claims(**expected))))
        assert good.status_code == 200, good.text
        wrong = [
            {**expected, "aud": "another-service"},
            {**expected, "iss": "https://evil.example"},
            {**expected, "aud": OMIT},
            {**expected, "iss": OMIT},
        ]
        for overrides in wrong:
            response = await client.get(ME, headers=bearer(hs256(claims(**overrides))))
            assert_unauthorized(response)


@pytest.mark.parametrize("secret", [None, "changethis", "short"])
def test_production_refuses_to_start_without_a_strong_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="production",
            database_url="postgresql://app@db:5432/workflows",
            jwt_secret=secret,  # type: ignore[arg-type]
        )


@pytest.fixture
def token_command_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """JWT_SECRET set to the test app's secret, no other settings, settings cache cleared."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_SECRET", TEST_SECRET)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("token_command_env")
async def test_token_command_prints_a_token_the_app_accepts(
    app_client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    user_id = uuid.uuid4()
    assert main(["token", "--user", str(user_id)]) == 0
    token = capsys.readouterr().out.strip()
    decoded = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])
    assert decoded["sub"] == str(user_id)
    assert decoded["exp"] > time.time()
    response = await app_client.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(user_id)
