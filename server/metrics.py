"""Prometheus metrics (docs/api.md#metrics lists them and says what each one means).

Two sets, because the ingestor and the API usually run as separate processes:

- INGEST: what the ingestor counts (messages, rejections by reason, lag, commit time). An
  `ingest` process serves them on its own port (SIGNAL_INGEST_METRICS_PORT).
- API: what an API process knows (event stream clients, and devices by status, read from
  the database at each scrape, so every API process reports the same fleet).

`shelter-signal run` (one process) shows both at the API's /metrics. Each set comes with the
process's own figures (CPU, memory, open files) from prometheus_client's default registry.
"""

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)

# The *_created series (when each counter started) only add lines to every scrape: Prometheus
# sees restarts from the counters falling back to zero.
disable_created_metrics()

INGEST = CollectorRegistry()
API = CollectorRegistry()

# Buckets in seconds. Ingest lag: a loaded ingestor answers within milliseconds; the goal
# is under 1 s (docs/benchmarks.md), and a database outage holds messages for minutes.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# A commit of one batch: ~1 ms for one message, tens of ms for a full batch on a busy disk.
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# A reading's age at commit, from the dial's own clock (whole seconds, NTP-set): seconds when
# live, up to hours or days for commits a dial kept through an outage.
AGE_BUCKETS = (1, 2, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600)
# Messages per batch: 1 when idle, up to SIGNAL_INGEST_BATCH_SIZE (at most 5,000) in a burst.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)

MESSAGES = Counter(
    "signal_ingest_messages",
    "MQTT messages the ingestor committed and acknowledged, by outcome: stored (new), "
    "duplicate (a resend, confirmed again), answered (a firmware fetch, answered with a "
    "chunk), rejected (dead-lettered), ignored (our own acks, configs, ota orders and chunks, "
    "seen on signal/#)",
    ["outcome"],
    registry=INGEST,
)
READINGS = Counter(
    "signal_ingest_readings_accepted",
    "Readings stored: one per channel of each new state message",
    registry=INGEST,
)
REJECTED = Counter(
    "signal_ingest_rejected",
    "Messages dead-lettered, by reason code (server/ingest/handler.py REASONS)",
    ["reason"],
    registry=INGEST,
)
LAG = Histogram(
    "signal_ingest_lag_seconds",
    "From the ingestor receiving a message to its acknowledgement, after the commit",
    buckets=LAG_BUCKETS,
    registry=INGEST,
)
AGE = Histogram(
    "signal_ingest_reading_age_seconds",
    "From a stored state's own timestamp (the dial's clock) to its commit",
    buckets=AGE_BUCKETS,
    registry=INGEST,
)
COMMIT = Histogram(
    "signal_ingest_commit_seconds",
    "Time to handle and commit one batch (one transaction)",
    buckets=COMMIT_BUCKETS,
    registry=INGEST,
)
BATCH = Histogram(
    "signal_ingest_batch_messages",
    "Messages per committed batch",
    buckets=BATCH_BUCKETS,
    registry=INGEST,
)
QUEUED = Gauge(
    "signal_ingest_queued_messages",
    "Messages received from the broker and not yet committed",
    registry=INGEST,
)
CONNECTED = Gauge(
    "signal_ingest_broker_connected",
    "Ingestors of this process connected to the broker",
    registry=INGEST,
)
DATABASE_ERRORS = Counter(
    "signal_ingest_database_errors",
    "Failed attempts to commit a batch (the database was unreachable); each is retried",
    registry=INGEST,
)

SSE_CLIENTS = Gauge(
    "signal_sse_clients", "Clients connected to the event stream (/api/v1/events)", registry=API
)
SSE_DROPPED = Counter(
    "signal_sse_dropped",
    "Event stream clients dropped for falling too far behind",
    registry=API,
)
DEVICES = Gauge(
    "signal_devices", "Registered dials by status, from the database", ["status"], registry=API
)
DEVICE_STATUSES = ("online", "offline", "lost", "unknown")  # server/models.py Device.status


def serve_ingest_metrics(host: str, port: int):
    """Serve the ingestor's metrics (and the process's) at http://host:port/metrics, from a
    thread; returns the server, to `shutdown()` at the end."""
    server, _thread = start_http_server(port, host, registry=combined(INGEST))
    return server


def combined(*registries: CollectorRegistry) -> CollectorRegistry:
    """One registry that collects from `registries` and the process's default one."""
    registry = CollectorRegistry(auto_describe=False)
    for part in (REGISTRY, *registries):
        registry.register(part)
    return registry
