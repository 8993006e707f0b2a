"""All server settings, read from the environment (prefix SIGNAL_) or a .env file.

docs/operations.md lists every setting; tests/server/test_settings.py fails when the two drift.
"""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNAL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///shelter-signal.db", description="SQLAlchemy URL of the database."
    )
    mqtt_url: str | None = Field(
        None,
        description="Broker to use, mqtt://host:port. Unset: `run` starts the embedded broker.",
    )
    broker_host: str = Field("127.0.0.1", description="Where the embedded broker listens.")
    broker_port: int = Field(1883, description="Port of the embedded broker.")
    http_host: str = Field("127.0.0.1", description="Where the API and map listen.")
    http_port: int = Field(8000, description="Port of the API and map.")
    ingest_client_id: str = Field(
        "shelter-signal-ingest",
        description="MQTT client id of the ingestor (stable: its session outlives restarts).",
    )
    fresh_minutes: int = Field(30, ge=1, description="A reading younger than this is fresh.")
    stale_minutes: int = Field(
        180, ge=1, description="A reading older than this is stale; between the two it is aging."
    )
    max_payload_bytes: int = Field(
        4096, ge=256, description="Larger MQTT payloads are dead-lettered unread."
    )
    live_poll_seconds: float = Field(
        0.5, gt=0, description="How often the event stream looks for new readings."
    )
    tiles_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png", description="Map tile URL template."
    )
    tiles_attribution: str = Field(
        "&copy; OpenStreetMap contributors", description="Attribution shown for the tiles."
    )
    demo_sites: int = Field(12, ge=1, le=500, description="How many shelters `run` invents.")
    demo_interval_seconds: float = Field(
        4.0, gt=0, description="Mean time between simulated dial turns in the demo."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
