"""Server settings: command-line options win over ``SOSQUEUE_*`` environment variables."""

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_REFUSED_SECRETS = {"changethis", "secret", "changeme", "sosqueue"}


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("sosqueue", appauthor=False))


def default_bases_dir() -> Path:
    return Path(platformdirs.user_cache_dir("sosqueue", appauthor=False)) / "bases"


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

    # Connect sessions (server/connect/): one JPEG screen frame, one JSON message, one chat text.
    connect_max_frame_bytes: int = Field(default=2 * 1024 * 1024, ge=64 * 1024)
    connect_max_message_bytes: int = Field(default=16 * 1024, ge=1024)
    connect_max_chat_chars: int = Field(default=2000, ge=1)
    # Messages waiting for one slow socket before the server drops it (it reconnects).
    connect_max_backlog: int = Field(default=256, ge=16)
    # Remote-control input messages one expert socket may send per second (twice that at once);
    # more are dropped. A browser sends about 60 pointer moves a second at most.
    connect_input_per_second: float = Field(default=120.0, gt=0)

    # Dashboard logins. The cookie is Secure when the request came over HTTPS (behind a TLS
    # proxy: run with --proxy-headers); cookie_secure=true forces it.
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    cookie_secure: bool = False
    login_attempts_per_minute: float = Field(default=10.0, ge=0)
    # The API's documentation pages, /docs and /redoc; /openapi.json is served either way.
    api_docs: bool = True
    # Where supporters reach the dashboard; links in emails and webhooks start with it.
    public_url: str = ""

    # Prebuilt base agents the admin pages stamp downloads from: <bases_dir>/<platform>/sosqueue-agent[.exe]
    # (platform: linux, windows, macos). The default is where `sosqueue build-base` puts them.
    bases_dir: Path = Field(default_factory=default_bases_dir)

    # Email notifications; without smtp_host no email is sent.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_from: str = "sosqueue@localhost"
    notify_timeout_seconds: float = Field(default=10.0, gt=0)
    notify_max_attempts: int = Field(default=8, ge=1, le=50)
    notify_poll_seconds: float = Field(default=2.0, gt=0)
    # Webhooks to loopback and private addresses (an intranet ticket system); set false when
    # companies that must not reach into this server's network share it.
    webhook_allow_private: bool = True

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
