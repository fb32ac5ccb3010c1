"""Settings: environment variables, `.env` files, and the production safety checks."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from service.config import Settings

STRONG_SECRET = "s3cr3t-" + "k" * 40
DATABASE_URL = "postgresql+psycopg://app:pw@db.internal:5432/workflows"
SETTINGS_ENV = (
    "ENVIRONMENT",
    "DATABASE_URL",
    "JWT_SECRET",
    "JWT_ALGORITHM",
    "JWT_PUBLIC_KEY",
    "PORT",
    "LOG_LEVEL",
    "CORS_ALLOW_ORIGINS",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No settings leak in from the surrounding shell or a `.env` in the working directory."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def settings(**values: Any) -> Settings:
    """Settings from the environment plus `values`, ignoring any `.env` file."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def production(**values: Any) -> Settings:
    """Production settings with a strong secret and a database unless overridden."""
    defaults: dict[str, Any] = {
        "environment": "production",
        "jwt_secret": STRONG_SECRET,
        "database_url": DATABASE_URL,
    }
    return settings(**{**defaults, **values})


def test_defaults_are_local_with_embedded_database() -> None:
    """Without configuration the service runs locally on port 8000 with no DATABASE_URL."""
    loaded = settings()
    assert (loaded.environment, loaded.port, loaded.database_url) == ("local", 8000, None)
    assert loaded.jwt_secret is None


def test_settings_come_from_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """DATABASE_URL, JWT_SECRET, PORT and LOG_LEVEL are read from the environment."""
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("JWT_SECRET", STRONG_SECRET)
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    loaded = settings()
    assert loaded.database_url == DATABASE_URL
    assert loaded.jwt_secret is not None
    assert loaded.jwt_secret.get_secret_value() == STRONG_SECRET
    assert (loaded.port, loaded.log_level) == (9123, "debug")


def test_empty_environment_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """DATABASE_URL= (empty) still means the embedded server."""
    monkeypatch.setenv("DATABASE_URL", "")
    assert settings().database_url is None


def test_invalid_environment_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port outside 1-65535 fails at startup, not later."""
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        settings()


def test_settings_come_from_a_dotenv_file(tmp_path: Path) -> None:
    """A `.env` file supplies the same variables."""
    env_file = tmp_path / "service.env"
    env_file.write_text(
        f"DATABASE_URL={DATABASE_URL}\nJWT_SECRET={STRONG_SECRET}\nPORT=9234\nLOG_LEVEL=warning\n"
    )
    loaded = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert loaded.database_url == DATABASE_URL
    assert loaded.jwt_secret is not None
    assert loaded.jwt_secret.get_secret_value() == STRONG_SECRET
    assert (loaded.port, loaded.log_level) == (9234, "warning")


def test_environment_wins_over_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exported variable overrides the `.env` file."""
    env_file = tmp_path / "service.env"
    env_file.write_text("PORT=9234\n")
    monkeypatch.setenv("PORT", "9345")
    assert Settings(_env_file=env_file).port == 9345  # type: ignore[call-arg]


def test_dotenv_in_working_directory_is_read_by_default(tmp_path: Path) -> None:
    """`Settings()` reads `.env` from the current directory."""
    (tmp_path / ".env").write_text("PORT=9456\n")
    assert Settings().port == 9456


@pytest.mark.parametrize("secret", [None, "", "changethis", "short-secret"])
def test_production_refuses_weak_secret(secret: str | None) -> None:
    """Production needs a JWT secret of at least 32 characters that is not a placeholder."""
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        production(jwt_secret=secret)


def test_production_refuses_missing_database_url() -> None:
    """Production never starts the embedded PostgreSQL."""
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        production(database_url=None)


def test_production_accepts_strong_secret_and_database() -> None:
    """A strong secret and a DATABASE_URL are enough for production."""
    loaded = production()
    assert loaded.environment == "production"


def test_weak_secret_is_fine_outside_production() -> None:
    """Local development may use any secret."""
    assert settings(jwt_secret="changethis").environment == "local"


def test_production_rs256_needs_public_key() -> None:
    """With RS256 tokens are verified with JWT_PUBLIC_KEY, which must be set."""
    with pytest.raises(ValidationError, match="JWT_PUBLIC_KEY"):
        production(jwt_algorithm="RS256", jwt_secret=None)


def test_production_rs256_with_public_key_is_accepted() -> None:
    """RS256 with a public key needs no shared secret."""
    public_key = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"
    loaded = production(jwt_algorithm="RS256", jwt_secret=None, jwt_public_key=public_key)
    assert loaded.jwt_public_key == public_key


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        (
            "https://editor.example, http://localhost:5173",
            ["https://editor.example", "http://localhost:5173"],
        ),
        ('["http://127.0.0.1:5173"]', ["http://127.0.0.1:5173"]),
        ("*", ["*"]),
    ],
)
def test_cors_origins_are_a_comma_or_json_list(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: list[str]
) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", value)

    assert settings().cors_allow_origins == origins


def test_no_origin_is_allowed_by_default() -> None:
    assert settings().cors_allow_origins == []


@pytest.mark.parametrize("value", ["https://editor.example/", "editor.example", "http://a/b"])
def test_an_origin_with_a_path_or_no_scheme_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", value)

    with pytest.raises(ValidationError, match="is not an origin"):
        settings()
