"""All server settings, read from the environment (prefix SIGNAL_) or a .env file.

docs/operations.md lists every setting; tests/test_docs.py fails when the two drift.
"""

from datetime import time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNAL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///shelter-signal.db", description="SQLAlchemy URL of the database."
    )
    mqtt_url: str | None = Field(
        None,
        description="Broker to use: mqtt://[user:password@]host:port, or mqtts:// for TLS. "
        "Unset: `run` starts the embedded broker.",
    )
    mqtt_ca_file: Path | None = Field(
        None, description="CA certificate that an mqtts:// broker's certificate must chain to."
    )
    broker_host: str = Field("127.0.0.1", description="Where the embedded broker listens.")
    broker_port: int = Field(1883, description="Port of the embedded broker.")
    http_host: str = Field("127.0.0.1", description="Where the API and map listen.")
    http_port: int = Field(8000, description="Port of the API and map.")
    ingest_client_id: str = Field(
        "shelter-signal-ingest",
        description="MQTT client id of the ingestor (stable: its session outlives restarts).",
    )
    ingest_batch_size: int = Field(
        200, ge=1, le=5000, description="Most messages the ingestor commits in one transaction."
    )
    ingest_shared_group: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="MQTT 5 shared-subscription group, to split ingest among processes.",
    )
    ingest_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port where `ingest` serves Prometheus metrics at /metrics; unset: none "
        "(`run` shows them at the API's /metrics).",
    )
    ingest_metrics_host: str = Field(
        "127.0.0.1", description="Where the ingestor's metrics port listens."
    )
    fresh_minutes: int = Field(30, ge=1, description="A reading younger than this is fresh.")
    stale_minutes: int = Field(
        180, ge=1, description="A reading older than this is stale; between the two it is aging."
    )
    max_payload_bytes: int = Field(
        4096, ge=256, description="Larger MQTT payloads are dead-lettered unread."
    )
    live_poll_seconds: float = Field(
        0.5,
        gt=0,
        description="How often the event stream looks for changes (on PostgreSQL it also "
        "wakes at each commit).",
    )
    events_keepalive_seconds: float = Field(
        15,
        gt=0,
        le=300,
        description="How often the event stream sends a keepalive; the map says it is not live "
        "after two of these pass unheard.",
    )
    tiles_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Map tile URL template; empty: no background map (markers, list still work).",
    )
    tiles_attribution: str = Field(
        "&copy; OpenStreetMap contributors", description="Attribution shown for the tiles."
    )
    admin_api_key: SecretStr | None = Field(
        None,
        description="Bootstrap admin key (Bearer or X-API-Key); unset: no admin until set.",
    )
    mosquitto_passwd_file: Path | None = Field(
        None,
        description="Mosquitto password file that device credentials are written to, if any.",
    )
    public_rate_per_minute: float = Field(
        120, gt=0, description="Requests per minute a client without a key may make, per IP."
    )
    public_rate_burst: int = Field(
        60, ge=1, description="Requests such a client may make at once before the limit applies."
    )
    timezone: str = Field(
        "America/Toronto", description="The city's time zone: where history's days begin."
    )
    hold_default_minutes: int = Field(
        90,
        ge=1,
        le=24 * 60,
        description="How long a hold lasts when neither the worker nor its program says "
        "(Finding A Bed Tonight's default).",
    )
    hold_max_minutes: int = Field(
        180,
        ge=1,
        le=24 * 60,
        description="The longest hold the city allows, whatever a program or worker asks "
        "(3 hours: a hospital discharge).",
    )
    country: str = Field(
        "CA",
        pattern=r"^[A-Z]{2}$",
        description="Country of the city's addresses (ISO 3166-1 alpha-2), in HSDS exports.",
    )
    region: str | None = Field(
        None,
        max_length=100,
        description="State or province of the city's addresses, in HSDS exports; unset: "
        "from a Canadian postal code's first letter when the country is CA.",
    )
    count_time: str = Field(
        "04:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="When the city takes its daily count, the morning after, in "
        "SIGNAL_TIMEZONE (HH:MM): the daily occupancy CSV's rows.",
    )
    sms_webhook_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="Where the server POSTs text messages to send (an adapter for the SMS "
        "provider: docs/api.md, Text messages); unset: no wishes by SMS.",
    )
    sms_webhook_token: SecretStr | None = Field(
        None,
        description="Sent to SIGNAL_SMS_WEBHOOK_URL as `Authorization: Bearer <token>`, so "
        "the adapter knows the server; unset: no Authorization header.",
    )
    sms_inbound_token: SecretStr | None = Field(
        None,
        description="What the provider must send to POST /api/v1/sms/inbound (as Bearer, or "
        "as Basic's password); unset: the inbound webhook answers 503.",
    )
    sms_wish_minutes: int = Field(
        240,
        ge=1,
        le=12 * 60,
        description="Longest life of a wish by SMS, with its phone number, in memory only "
        "(4 hours: an evening's wait; 12 at most, a night).",
    )
    sms_areas_file: Path | None = Field(
        None,
        description="CSV of postal-area centres (Postalcode,Latitude,Longitude: what `import "
        "--centroids` reads) that locate a postal code in a text; unset: sites' own codes.",
    )
    demo_sites: int = Field(12, ge=1, le=500, description="How many shelters `run` invents.")
    demo_interval_seconds: float = Field(
        4.0, gt=0, description="Mean time between simulated dial turns in the demo."
    )

    @model_validator(mode="after")
    def _aging_before_stale(self) -> "Settings":
        if self.stale_minutes < self.fresh_minutes:
            raise ValueError(
                f"SIGNAL_STALE_MINUTES ({self.stale_minutes}) must not be below "
                f"SIGNAL_FRESH_MINUTES ({self.fresh_minutes})"
            )
        return self

    @model_validator(mode="after")
    def _hold_default_within_max(self) -> "Settings":
        if self.hold_default_minutes > self.hold_max_minutes:
            raise ValueError(
                f"SIGNAL_HOLD_DEFAULT_MINUTES ({self.hold_default_minutes}) must not be above "
                f"SIGNAL_HOLD_MAX_MINUTES ({self.hold_max_minutes})"
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}; use an IANA name") from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def count_at(self) -> time:
        return time.fromisoformat(self.count_time)


@lru_cache
def get_settings() -> Settings:
    return Settings()
