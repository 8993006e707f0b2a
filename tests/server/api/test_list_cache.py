"""server/api/list_cache.py: kept lists sent with no query of the data, never stale, on
SQLite and PostgreSQL (the list's content and the cache's rules: test_shelters.py)."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session

from firmware.dialcore import protocol
from server.api.main import create_app
from server.db import make_engine
from server.ingest.handler import handle
from server.settings import Settings
from tests.server.conftest import add_maple_house

LIST = "/api/v1/shelters"


@pytest.fixture
def served(engine_each_database, settings):
    """(client, engine) on a database holding Maple House (a 20-bed program on dial-01)."""
    with Session(engine_each_database) as session:
        add_maple_house(session)
    with TestClient(create_app(settings, engine_each_database)) as client:
        yield client, engine_each_database


def occupied(client, query="") -> int | None:
    response = client.get(f"{LIST}{query}")
    assert response.status_code == 200, response.text
    return response.json()["items"][0]["programs"][0]["occupied"]


def commit_count(engine, seq: int, count: int) -> None:
    with Session(engine) as session:
        state = protocol.encode_state(1, seq, "occupied", 1, [(count, 20)])
        handle(session, protocol.topic("dial-01", "state"), state, 4096)
        session.commit()


def test_a_kept_list_is_sent_without_a_query(served):
    client, engine = served
    assert occupied(client) is None and occupied(client, "?sector=men") is None  # kept
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for query in ("", "?sector=men", ""):
        assert occupied(client, query) is None
    assert statements == []


def test_a_count_committed_elsewhere_is_in_the_very_next_list(served):
    client, engine = served
    other = make_engine(engine.url.render_as_string(hide_password=False))  # as another process
    assert occupied(client) is None
    for seq, count in enumerate([3, 17, 4, 4, 12], start=1):
        commit_count(other, seq, count)  # then at once, with no wait for a notification
        assert occupied(client) == count
        assert occupied(client, "?has_space=true") == count
    other.dispose()


def test_the_public_limit_counts_kept_lists_too(engine, site):
    settings = Settings(_env_file=None, public_rate_per_minute=1, public_rate_burst=3)
    with TestClient(create_app(settings, engine)) as client:
        answers = [client.get(LIST).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_a_kept_list_is_sent_as_the_route_sent_it(client, site, encoding):
    asked = {"Accept-Encoding": encoding}
    built, kept = (client.get(f"{LIST}?sector=men", headers=asked) for _ in range(2))
    assert kept.status_code == built.status_code == 200
    assert kept.headers.items() == built.headers.items()  # ETag, Vary, type, length, encoding
    assert kept.content == built.content
