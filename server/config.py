"""Server settings: command-line options win over ``SOSQUEUE_*`` environment variables."""

from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_REFUSED_SECRETS = {"changethis", "secret", "changeme", "sosqueue"}


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("sosqueue", appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'queue.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOSQUEUE_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    expiry_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    # Signs customer tokens. Without it, the server keeps a generated key in its database,
    # which every server process sharing that database uses.
    secret_key: SecretStr | None = None
    # Creations per minute that one module or user may make, with a burst; 0 turns it off.
    create_rate_per_minute: float = Field(default=60.0, ge=0)
    create_burst: int = Field(default=20, ge=1)
    sweep_interval_seconds: float = Field(default=30.0, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    keepalive_seconds: float = Field(default=15.0, gt=0)

    @field_validator("secret_key")
    @classmethod
    def _refuse_weak_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if secret.lower() in _REFUSED_SECRETS or len(secret) < 32:
            raise ValueError(
                "SOSQUEUE_SECRET_KEY must be a random string of at least 32 characters "
                "(try: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @property
    def expiry_seconds(self) -> float:
        return self.expiry_hours * 3600

    @property
    def effective_sweep_interval(self) -> float:
        """Sweep at least four times per expiry window so short test windows stay sharp."""
        return min(self.sweep_interval_seconds, max(self.expiry_seconds / 4, 0.05))
