"""Who may do what: API keys by role, the bootstrap admin key, revocation, the public limit,
and how a presented key is compared with the stored one."""

import hmac

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from server.api.main import create_app
from server.models import ApiKey
from server.settings import Settings
from tests.server.api.conftest import ADMIN_KEY

# (method, path, body, the lowest role that may call it); ids refer to the `city` fixture
ROUTES = [
    ("GET", "/api/v1/shelters", None, "public"),
    ("GET", "/api/v1/summary", None, "public"),
    ("GET", "/api/v1/history?site_id={site}", None, "city"),
    ("GET", "/api/v1/history/sectors", None, "city"),
    ("GET", "/api/v1/devices", None, "city"),
    ("GET", "/api/v1/devices/dial-01", None, "city"),
    ("POST", "/api/v1/shelters", {"name": "New Place"}, "admin"),
    ("PATCH", "/api/v1/shelters/{site}", {"phone": "416-555-0111"}, "admin"),
    (
        "POST",
        "/api/v1/shelters/{site}/programs",
        {"name": "Overflow", "sector": "men", "capacity": 5},
        "admin",
    ),
    ("PATCH", "/api/v1/programs/{program}", {"accepting": False}, "admin"),
    ("POST", "/api/v1/devices", {"id": "dial-02", "site_id": 1}, "admin"),
    ("PATCH", "/api/v1/devices/dial-01", {"mode": "free"}, "admin"),
    ("POST", "/api/v1/devices/dial-01/credentials", None, "admin"),
    ("GET", "/api/v1/api-keys", None, "admin"),
    ("POST", "/api/v1/api-keys", {"name": "x", "role": "city"}, "admin"),
    ("POST", "/api/v1/programs/{program}/holds", {}, "outreach"),
    ("GET", "/api/v1/holds", None, "outreach"),
    ("GET", "/api/v1/holds?scope=all", None, "city"),
    ("POST", "/api/v1/alerts", {"kind": "cold", "name": "Extreme Cold Weather Alert"}, "city"),
]
# What a role below admin may change: outreach its own holds, city staff the alerts
BELOW_ADMIN_CHANGES = {
    "/api/v1/programs/{program_id}/holds",
    "/api/v1/holds/{hold_id}/cancel",
    "/api/v1/alerts",
    "/api/v1/alerts/{alert_id}/end",
    "/api/v1/sms/wishes",  # outreach: texts when a bed opens (not configured here: 503)
    "/api/v1/sms/wishes/{wish_id}",
}
ROLES = ["public", "outreach", "city", "admin"]


@pytest.mark.parametrize(("method", "path", "body", "lowest"), ROUTES)
def test_each_route_lets_in_its_roles_only(client, headers, city, method, path, body, lowest):
    ids = {"site": city["Maple House"]["site"], "program": city["Maple House"]["men"]}
    for role in ROLES:  # the lowest first: a refused call changes nothing for the next
        response = client.request(method, path.format(**ids), json=body, headers=headers[role])
        if ROLES.index(role) >= ROLES.index(lowest):
            assert response.status_code in (200, 201), (role, response.text)
        elif role == "public":
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.json()["error"]["code"] == "unauthorized"
        else:
            assert response.status_code == 403
            assert response.json()["error"] == {
                "code": "forbidden",
                "message": f"this needs the role {lowest} or above; the key is {role}",
            }


def test_the_key_also_works_in_x_api_key(client, headers):
    key = headers["city"]["Authorization"].removeprefix("Bearer ")
    assert client.get("/api/v1/devices", headers={"X-API-Key": key}).status_code == 200


@pytest.mark.parametrize(
    "sent",
    [
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Bearer 0123456789abcdef.wrong-secret"},
        {"X-API-Key": "not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_a_wrong_key_is_refused_not_treated_as_public(client, sent):
    response = client.get("/api/v1/shelters", headers=sent)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("wrong", ["Authorization", "X-API-Key", None])
def test_a_key_in_both_headers_is_refused_as_ambiguous_whichever_is_wrong(client, headers, wrong):
    key = headers["admin"]["Authorization"].removeprefix("Bearer ")
    sent = {"Authorization": f"Bearer {key}", "X-API-Key": key}
    if wrong:
        sent[wrong] = sent[wrong].replace(key, "0123456789abcdef.wrong-secret")
    response = client.get("/api/v1/api-keys", headers=sent)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "bad_request",
        "message": "send the API key once: Authorization: Bearer or X-API-Key, not both",
    }


def test_a_key_is_shown_once_and_stored_only_hashed(client, headers, session):
    issued = client.post(
        "/api/v1/api-keys",
        json={"name": "Streets team", "role": "outreach"},
        headers=headers["admin"],
    ).json()
    assert set(issued) == {"id", "name", "role", "created_at", "revoked_at", "key"}
    listed = client.get("/api/v1/api-keys", headers=headers["admin"]).json()["items"]
    assert [k["name"] for k in listed][-1] == "Streets team"
    assert all("key" not in k and "key_hash" not in k for k in listed)
    stored = session.exec(select(ApiKey).where(ApiKey.id == issued["id"])).one()
    assert issued["key"].split(".")[1] not in stored.key_hash


def test_a_revoked_key_stops_working_at_once(client, headers):
    city = headers["city"]
    assert client.get("/api/v1/devices", headers=city).status_code == 200  # now remembered
    listed = client.get("/api/v1/api-keys", headers=headers["admin"]).json()["items"]
    key_id = next(k["id"] for k in listed if k["name"] == "test city")
    revoked = client.post(f"/api/v1/api-keys/{key_id}/revoke", headers=headers["admin"])
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/devices", headers=city).status_code == 401
    again = client.post(f"/api/v1/api-keys/{key_id}/revoke", headers=headers["admin"])
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert client.post("/api/v1/api-keys/999/revoke", headers=headers["admin"]).status_code == 404


def test_keys_are_only_for_the_three_roles(client, headers):
    response = client.post(
        "/api/v1/api-keys", json={"name": "x", "role": "public"}, headers=headers["admin"]
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("role: ")


def test_without_the_bootstrap_setting_there_is_no_admin(engine):
    settings = Settings(_env_file=None)  # SIGNAL_ADMIN_API_KEY unset
    with TestClient(create_app(settings, engine)) as client:
        for guess in ("", "None", "admin"):
            sent = {"X-API-Key": guess}
            assert client.get("/api/v1/api-keys", headers=sent).status_code == 401


def test_public_requests_are_limited_per_client_with_retry_after(engine, headers):
    settings = Settings(_env_file=None, public_rate_burst=3, public_rate_per_minute=1)
    with TestClient(create_app(settings, engine)) as client:
        assert client.get("/api/v1/shelters", headers=headers["city"]).status_code == 200
        codes = [client.get("/api/v1/shelters").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]  # the key's request did not count
        limited = client.get("/api/v1/summary")
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60  # one request a minute
        # a valid key is not limited; a wrong one is, before its (slow) check
        assert client.get("/api/v1/shelters", headers=headers["city"]).status_code == 200
        assert client.get("/api/v1/shelters", headers={"X-API-Key": "x"}).status_code == 429
        assert client.get("/api/v1/health").status_code == 200  # supervisors are not limited
        other = TestClient(client.app, client=("203.0.113.9", 5000))  # another address
        assert other.get("/api/v1/shelters").status_code == 200


def test_wrong_keys_count_against_the_public_limit(engine):
    settings = Settings(_env_file=None, public_rate_burst=2, public_rate_per_minute=1)
    with TestClient(create_app(settings, engine)) as client:
        codes = [client.get("/api/v1/shelters", headers={"X-API-Key": "guess"}).status_code]
        codes += [client.get("/api/v1/shelters").status_code for _ in range(2)]
        assert codes == [401, 200, 429]


# --- every route that takes a key, as the OpenAPI spec lists them ---------------------------

EVENTS = "/api/v1/events"  # never ends when let in: called only where it is refused


def _keyed_operations(app) -> list[tuple[str, str, bool]]:
    """(method, path, may the public call it) of every operation that takes an API key."""
    return [
        (method.upper(), path, {} in operation["security"])
        for path, methods in app.openapi()["paths"].items()
        for method, operation in methods.items()
        if {"HTTPBearer": []} in operation.get("security", [])
    ]


@pytest.fixture
def path_values(client, headers, city, release):
    """A value for every path parameter: rows of the `city` fixture, a key to revoke, and a
    firmware release."""
    spare = client.post(
        "/api/v1/api-keys", json={"name": "spare", "role": "city"}, headers=headers["admin"]
    )
    return {
        "site_id": city["Maple House"]["site"],
        "program_id": city["Maple House"]["men"],
        "device_id": "dial-01",
        "key_id": spare.json()["id"],
        "version": release,
        "hold_id": 1,  # none yet: a 404 to whoever is let in
        "alert_id": 1,
        "wish_id": "none-yet",
    }


def test_every_keyed_route_refuses_each_role_below_its_own(client, headers, path_values):
    operations = _keyed_operations(client.app)
    assert len(operations) >= 20  # the spec was read: sites, programs, fleet, keys, exports
    for method, path, public in operations:
        url = path.format(**path_values)
        if path == EVENTS:
            assert public  # the live map reads it without a key
            continue
        answers = {}
        for role in ROLES:  # the lowest first: a refused call changes nothing for the next
            answers[role] = client.request(method, url, headers=headers[role])  # and no body
        let_in = [role for role in ROLES if answers[role].status_code not in (401, 403)]
        assert let_in == ROLES[ROLES.index(let_in[0]) :], (method, path, let_in)  # and above
        lowest = let_in[0]
        assert (lowest == "public") == public, (method, path, "the spec says otherwise")
        if method != "GET" and path not in BELOW_ADMIN_CHANGES:
            assert lowest == "admin", (method, path, "only admins change things")
        for role in ROLES[: ROLES.index(lowest)]:
            refused = answers[role]
            if role == "public":
                assert refused.status_code == 401, (method, path)
                assert refused.headers["WWW-Authenticate"] == "Bearer"
                assert refused.json()["error"]["code"] == "unauthorized"
            else:
                assert refused.status_code == 403, (method, path, role)
                assert refused.json()["error"] == {
                    "code": "forbidden",
                    "message": f"this needs the role {lowest} or above; the key is {role}",
                }


def test_every_keyed_route_refuses_a_wrong_key(client, path_values):
    for method, path, _public in _keyed_operations(client.app):
        sent = {"X-API-Key": "0123456789abcdef.not-the-secret"}
        response = client.request(method, path.format(**path_values), headers=sent)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthorized"


def test_every_keyed_route_counts_against_the_public_limit(engine, path_values):
    settings = Settings(_env_file=None, public_rate_burst=1, public_rate_per_minute=1)
    with TestClient(create_app(settings, engine)) as client:
        for number, (method, path, _public) in enumerate(_keyed_operations(client.app)):
            caller = TestClient(client.app, client=(f"198.51.100.{number}", 5000))  # its own
            assert caller.get("/api/v1/summary").status_code == 200  # the whole burst
            response = caller.request(method, path.format(**path_values))
            assert response.status_code == 429, (method, path)
            assert response.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(response.headers["Retry-After"]) <= 60  # one request a minute


# --- how a key is compared ------------------------------------------------------------------


@pytest.fixture
def comparisons(monkeypatch) -> list[tuple[str, str]]:
    """What each constant-time comparison (hmac.compare_digest) was given, while the test
    runs; the comparison itself still happens."""
    compared, compare = [], hmac.compare_digest

    def recorded(a, b):
        compared.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recorded)
    return compared


def test_a_wrong_key_is_compared_in_constant_time_on_its_hash(client, headers, comparisons):
    """A wrong key that shares all but its last character with a right one, and one that
    shares nothing, are each compared once, in constant time, as a salted hash of the same
    length as the stored one: never the key itself, never with `==` (which stops at the first
    difference, so its time tells how much of a guess is right)."""
    lookup, secret = headers["city"]["Authorization"].removeprefix("Bearer ").split(".")
    last = "A" if secret[-1] != "A" else "B"
    wrong_keys = [
        f"{lookup}.{secret[:-1]}{last}",  # an issued key's row, all but one character right
        f"{lookup}.{'x' * len(secret)}",  # the same row, nothing right
        ADMIN_KEY[:-1] + "?",  # the bootstrap admin key, all but one character right
        "y" * len(ADMIN_KEY),  # nothing right
    ]
    for wrong in wrong_keys:
        comparisons.clear()
        assert client.get("/api/v1/shelters", headers={"X-API-Key": wrong}).status_code == 401
        [(presented, stored)] = comparisons
        assert len(presented) == len(stored) == 64  # hex SHA-256 (PBKDF2), not the keys
        assert secret not in (presented, stored) and wrong not in (presented, stored)
    assert client.get("/api/v1/devices", headers=headers["city"]).status_code == 200
    comparisons.clear()
    assert client.get("/api/v1/devices", headers=headers["city"]).status_code == 200
    assert comparisons == []  # a key checked before is remembered by its SHA-256, not compared


def test_a_revoked_key_is_compared_like_a_wrong_one(client, headers, comparisons):
    """Refused after the same one comparison: its timing does not tell it was once valid."""
    issued = client.post(
        "/api/v1/api-keys", json={"name": "gone", "role": "city"}, headers=headers["admin"]
    ).json()
    client.post(f"/api/v1/api-keys/{issued['id']}/revoke", headers=headers["admin"])
    comparisons.clear()
    assert client.get("/api/v1/devices", headers={"X-API-Key": issued["key"]}).status_code == 401
    assert [len(pair[0]) for pair in comparisons] == [64]
