"""The pages people open in a browser carry a Content-Security-Policy that names each inline
script and style they hold, and refuse to be framed or sniffed (the map's Chromium tests
fail on anything the policy refuses in a real browser)."""

import base64
import hashlib
import re

import pytest

from server.api.csp import page_headers
from server.webdial import ID_PREFIX


@pytest.mark.parametrize("path", ["/", "/city", f"/dial/{ID_PREFIX}desk"])
def test_pages_carry_a_policy_naming_each_inline_script_and_style(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    policy = dict(
        directive.split(" ", 1)
        for directive in response.headers["content-security-policy"].split("; ")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    for tag, text in re.findall(r"<(script|style)>(.*?)</\1>", response.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy[f"{tag}-src"].split()


@pytest.mark.parametrize(
    ("tiles", "source"),
    [
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("http://127.0.0.1:8080/{z}/{x}/{y}.png", "http://127.0.0.1:8080"),
        ("/static/tiles/{z}/{x}/{y}.png", None),  # this server: 'self'
        ("", None),
    ],
)
def test_images_may_come_from_the_tile_server_only(tiles, source):
    policy = page_headers("<p>map</p>", image_url=tiles)["Content-Security-Policy"]
    [images] = [d for d in policy.split("; ") if d.startswith("img-src ")]
    assert images == " ".join(filter(None, ["img-src 'self' data:", source]))
